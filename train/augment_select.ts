/**
 * Which augmentation `--augment` applies per dataset: the reference's CIFAR recipe for the
 * colour datasets, a label-preserving subset for the grey ones. One `Augment` per run, driven by
 * the batch keys `batches` derives from (seed, epoch, batch index), so resume stays exact.
 * @module
 */
import { type Augment, cifarAugment, randomCrop, randomHorizontalFlip } from "../data/augment.ts";
import type { DatasetName } from "../data/mod.ts";
import { splitKey } from "../tensor/prng.ts";

/**
 * The augmentation of `dataset`: CIFAR-10/100 and Tiny-ImageNet the reference's (random crop after
 * reflect padding 4, horizontal flip, colour jitter); Fashion-MNIST random crop after zero padding
 * 2 plus horizontal flip (garment classes are left–right symmetric; the background is black, so
 * zeros continue it); MNIST the crop only (a flipped digit is another glyph, and jitter means
 * little on one grey channel).
 *
 * @example
 * ```ts
 * import { augmentFor } from "@sll/sll/train";
 * import { keyFromSeed } from "@sll/sll/data";
 * const aug = augmentFor("mnist");
 * aug(new Float32Array(28 * 28), [1, 1, 28, 28], keyFromSeed(0)).length; // 784
 * ```
 */
export function augmentFor(dataset: DatasetName): Augment {
  switch (dataset) {
    case "cifar10":
    case "cifar100":
    case "tiny-imagenet":
      return cifarAugment();
    case "fashion-mnist":
      return (x, shape, key) => {
        const [kCrop, kFlip] = splitKey(key, 2);
        const y = randomCrop(x, shape, kCrop, { padding: 2, padMode: "zeros" });
        return randomHorizontalFlip(y, shape, kFlip);
      };
    case "mnist":
      return (x, shape, key) => randomCrop(x, shape, key, { padding: 2, padMode: "zeros" });
  }
}

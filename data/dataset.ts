/**
 * The in-memory dataset type shared by every reader, plus subsetting.
 * Invariants: `images` is N·C·H·W float32 in [0, 1] (NCHW, row-major), `labels` holds N class
 * indices in [0, numClasses), and `n` equals `labels.length`. Everything stays in host memory.
 * @module
 */

import { type KeyData, permutationHost } from "../tensor/prng.ts";

/** Names of the datasets `loadDataset` knows how to find, download and parse. */
export type DatasetName = "fashion-mnist" | "mnist" | "cifar10" | "cifar100" | "tiny-imagenet";

/** The dataset names, in a stable order (for CLI choices and error messages). */
export const DATASET_NAMES: readonly DatasetName[] = [
  "fashion-mnist",
  "mnist",
  "cifar10",
  "cifar100",
  "tiny-imagenet",
];

/**
 * One split of a dataset in host memory.
 *
 * @example
 * ```ts
 * import type { Dataset } from "@sll/sll/data";
 * const ds: Dataset = {
 *   name: "toy", images: new Float32Array(2 * 1 * 2 * 2), labels: new Int32Array([0, 1]),
 *   n: 2, shape: [1, 2, 2], numClasses: 2,
 * };
 * ```
 */
export interface Dataset {
  /** e.g. "cifar10/train". */
  name: string;
  /** N·C·H·W pixel values in [0, 1]. */
  images: Float32Array;
  /** N class indices in [0, numClasses). */
  labels: Int32Array;
  /** Number of examples. */
  n: number;
  /** Per-example shape [C, H, W]. */
  shape: [number, number, number];
  /** Number of classes. */
  numClasses: number;
}

/**
 * The train and test splits of one dataset.
 *
 * @example
 * ```ts
 * import type { Split } from "@sll/sll/data";
 * const describe = (s: Split): string => `${s.train.n} train / ${s.test.n} test`;
 * ```
 */
export interface Split {
  /** Training examples. */
  train: Dataset;
  /** Test (for Tiny-ImageNet: validation) examples. */
  test: Dataset;
  /** The files (or, for image folders, the directory) the splits were read from. */
  files?: readonly string[];
}

/**
 * Checks the invariants of a dataset (array lengths, label range) and returns it unchanged.
 * Throws a RangeError naming the dataset and the field that is wrong.
 *
 * @example
 * ```ts
 * import { checkDataset } from "@sll/sll/data";
 * checkDataset({
 *   name: "toy", images: new Float32Array(4), labels: new Int32Array([1]), n: 1,
 *   shape: [1, 2, 2], numClasses: 2,
 * });
 * ```
 */
export function checkDataset(ds: Dataset): Dataset {
  const [c, h, w] = ds.shape;
  const per = c * h * w;
  if (ds.labels.length !== ds.n) {
    throw new RangeError(
      `Dataset ${ds.name}: labels has ${ds.labels.length} entries but n is ${ds.n}`,
    );
  }
  if (ds.images.length !== ds.n * per) {
    throw new RangeError(
      `Dataset ${ds.name}: images has ${ds.images.length} values, expected n·C·H·W = ` +
        `${ds.n}·${c}·${h}·${w} = ${ds.n * per}`,
    );
  }
  for (let i = 0; i < ds.n; i++) {
    const y = ds.labels[i];
    if (y < 0 || y >= ds.numClasses) {
      throw new RangeError(
        `Dataset ${ds.name}: label ${i} is ${y}, expected an integer in [0, ${ds.numClasses})`,
      );
    }
  }
  return ds;
}

/**
 * The first `n` examples of `ds` (copied), or, when `key` is given, `n` examples drawn without
 * replacement (kept in their original order). `n` larger than the dataset is clamped.
 *
 * @example
 * ```ts
 * import { keyFromSeed, subset } from "@sll/sll/data";
 * const ds = {
 *   name: "toy", images: new Float32Array(3), labels: new Int32Array([0, 1, 2]), n: 3,
 *   shape: [1, 1, 1] as [number, number, number], numClasses: 3,
 * };
 * subset(ds, 2).labels; // Int32Array [0, 1]
 * subset(ds, 2, keyFromSeed(0)).n; // 2
 * ```
 */
export function subset(ds: Dataset, n: number, key?: KeyData): Dataset {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`subset(${ds.name}): n must be a non-negative integer, got ${n}`);
  }
  const m = Math.min(n, ds.n);
  const per = ds.shape[0] * ds.shape[1] * ds.shape[2];
  if (key === undefined) {
    return {
      ...ds,
      shape: [...ds.shape],
      images: ds.images.slice(0, m * per),
      labels: ds.labels.slice(0, m),
      n: m,
    };
  }
  const chosen = permutationHost(key, ds.n).subarray(0, m).sort();
  return gather(ds, chosen);
}

/**
 * The examples of `ds` at `indices`, in that order (copied).
 *
 * @example
 * ```ts
 * import { gather } from "@sll/sll/data";
 * const ds = {
 *   name: "toy", images: new Float32Array([0, 1, 2]), labels: new Int32Array([0, 1, 2]), n: 3,
 *   shape: [1, 1, 1] as [number, number, number], numClasses: 3,
 * };
 * gather(ds, [2, 0]).images; // Float32Array [2, 0]
 * ```
 */
export function gather(ds: Dataset, indices: ArrayLike<number>): Dataset {
  const per = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const images = new Float32Array(indices.length * per);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    if (!Number.isInteger(j) || j < 0 || j >= ds.n) {
      throw new RangeError(
        `gather(${ds.name}): index ${i} is ${j}, expected an integer in [0, ${ds.n})`,
      );
    }
    images.set(ds.images.subarray(j * per, (j + 1) * per), i * per);
    labels[i] = ds.labels[j];
  }
  return { ...ds, shape: [...ds.shape], images, labels, n: indices.length };
}

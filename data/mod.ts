/**
 * Datasets in host memory: readers for Fashion-MNIST/MNIST (idx, gzip or raw), CIFAR-10/100
 * (binary version) and Tiny-ImageNet (JPEG folders); locating and downloading them with checksum
 * checks; mean shift; key-driven augmentation; deterministic shuffled batching with prefetch.
 *
 * @example
 * ```ts ignore
 * import { batches, cifarAugment, DATASET_MEANS, loadDataset, meanShift } from "./mod.ts";
 * import { keyFromSeed } from "../tensor/prng.ts";
 * const { train } = await loadDataset("cifar10", { download: true });
 * for (const b of batches(train, { batchSize: 256, key: keyFromSeed(0), epoch: 0,
 *   augment: cifarAugment() })) {
 *   const x = meanShift(b.x, DATASET_MEANS.cifar10, train.shape);
 * }
 * ```
 * @module
 */

export {
  checkDataset,
  type Dataset,
  DATASET_NAMES,
  type DatasetName,
  gather,
  type Split,
  subset,
} from "./dataset.ts";
export { DATASET_MEANS, meanShift } from "./preprocess.ts";
export { type IdxArray, idxToDataset, isGzip, maybeGunzip, readIdx } from "./idx.ts";
export { CIFAR_LAYOUTS, type CifarLayout, readCifar } from "./cifar.ts";
export { decodeJpegChw, readTinyImagenet } from "./tiny_imagenet.ts";
export { readTar, type TarEntry } from "./tar.ts";
export {
  digestHex,
  fetchBytes,
  type Progress,
  type ProgressCallback,
  verifyChecksum,
} from "./download.ts";
export {
  DATASET_SOURCES,
  type DatasetSource,
  DEBIAN_FASHION_MNIST_DIR,
  type DownloadFile,
  loadDataset,
  type LoadOptions,
  locateDataset,
  type SearchDir,
  searchDirs,
} from "./load.ts";
export {
  type Augment,
  type BatchShape,
  cifarAugment,
  type CifarAugmentOptions,
  colorJitter,
  type CropOptions,
  type JitterOptions,
  type JitterRange,
  randomCrop,
  randomHorizontalFlip,
  REFERENCE_JITTER,
} from "./augment.ts";
export { type KeyData, keyFromSeed } from "../tensor/prng.ts";
export {
  type Batch,
  batches,
  type BatchOptions,
  epochKey,
  epochOrder,
  numBatches,
  prefetchBatches,
  shardOrder,
} from "./batch.ts";

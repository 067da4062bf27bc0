/**
 * CIFAR-10 and CIFAR-100 "binary version" readers. A record is the label byte(s) followed by
 * 3072 pixel bytes: 1024 red, 1024 green, 1024 blue, each 32×32 row-major — already CHW.
 * CIFAR-10 records have 1 label byte; CIFAR-100 records have 2 (coarse, then fine: we keep fine).
 * @module
 */

import type { Dataset } from "./dataset.ts";

/** Record layout of one CIFAR variant. */
export interface CifarLayout {
  /** Label bytes before the pixels: 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine). */
  labelBytes: 1 | 2;
  /** Classes of the kept label: 10 or 100. */
  numClasses: number;
}

/**
 * Layouts of the two variants.
 *
 * @example
 * ```ts
 * import { CIFAR_LAYOUTS } from "@sll/sll/data";
 * CIFAR_LAYOUTS.cifar100.labelBytes; // 2
 * ```
 */
export const CIFAR_LAYOUTS: {
  readonly cifar10: CifarLayout;
  readonly cifar100: CifarLayout;
} = Object.freeze({
  cifar10: Object.freeze({ labelBytes: 1, numClasses: 10 }) as CifarLayout,
  cifar100: Object.freeze({ labelBytes: 2, numClasses: 100 }) as CifarLayout,
});

const PIXELS = 3 * 32 * 32;

/**
 * Parses one or more CIFAR binary files (in order) into a Dataset of shape [3, 32, 32] with
 * pixels /255. `limit` keeps only the first `limit` records overall. Each file must hold a whole
 * number of records and every label must be in range; errors name the file.
 *
 * @example
 * ```ts
 * import { readCifar } from "@sll/sll/data";
 * const rec = new Uint8Array(1 + 3072); rec[0] = 7;
 * const ds = readCifar([{ bytes: rec, file: "data_batch_1.bin" }], "cifar10", "cifar10/train");
 * ds.labels; // Int32Array [7]
 * ```
 */
export function readCifar(
  files: readonly { bytes: Uint8Array; file: string }[],
  variant: "cifar10" | "cifar100",
  name: string,
  limit?: number,
): Dataset {
  const { labelBytes, numClasses } = CIFAR_LAYOUTS[variant];
  const recordSize = labelBytes + PIXELS;
  let total = 0;
  for (const { bytes, file } of files) {
    if (bytes.length === 0 || bytes.length % recordSize !== 0) {
      throw new Error(
        `${file}: ${bytes.length} bytes is not a whole number of ${variant} records of ` +
          `${recordSize} bytes (${labelBytes} label + 3072 pixels); the file is truncated or ` +
          `not the binary version: download "${variant}" binary (.bin) files again`,
      );
    }
    total += bytes.length / recordSize;
  }
  const n = Math.min(total, limit ?? total);
  const images = new Float32Array(n * PIXELS);
  const labels = new Int32Array(n);
  let i = 0;
  for (const { bytes, file } of files) {
    for (let off = 0; off < bytes.length && i < n; off += recordSize, i++) {
      const y = bytes[off + labelBytes - 1];
      if (y >= numClasses) {
        const recIdx = off / recordSize;
        throw new Error(
          `${file}: record ${recIdx} has label ${y}, expected a class in [0, ${numClasses}); ` +
            `is this a ${variant === "cifar10" ? "CIFAR-100" : "CIFAR-10"} file?`,
        );
      }
      labels[i] = y;
      const px = bytes.subarray(off + labelBytes, off + recordSize);
      const o = i * PIXELS;
      for (let k = 0; k < PIXELS; k++) images[o + k] = px[k] / 255;
    }
  }
  return { name, images, labels, n, shape: [3, 32, 32], numClasses };
}

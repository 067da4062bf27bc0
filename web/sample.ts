/**
 * The page's image files: a few labelled grey images in one small binary, "SLLS" then four
 * big-endian u32 (n, rows, cols, classes), n label bytes, n·rows·cols pixel bytes (0–255, row
 * major, as the idx files of Fashion-MNIST). Browser-clean: bytes in, bytes out.
 * @module
 */

/** A set of labelled grey images as the page holds them. */
export interface ImageSet {
  /** Number of images. */
  n: number;
  /** Image height. */
  rows: number;
  /** Image width. */
  cols: number;
  /** Number of classes (labels are < classes). */
  classes: number;
  /** Labels, one per image. */
  labels: Uint8Array;
  /** Pixels 0–255, n·rows·cols, image after image. */
  pixels: Uint8Array;
}

const MAGIC = "SLLS";
const HEADER = 20;

/**
 * Encodes an image set in the page's format.
 *
 * @example
 * ```ts
 * import { decodeImageSet, encodeImageSet } from "./sample.ts";
 * const bytes = encodeImageSet({
 *   n: 1, rows: 2, cols: 2, classes: 10, labels: new Uint8Array([3]), pixels: new Uint8Array(4),
 * });
 * decodeImageSet(bytes, "x.bin").labels[0]; // 3
 * ```
 */
export function encodeImageSet(s: ImageSet): Uint8Array {
  checkSizes(s.n, s.rows, s.cols, s.labels.length, s.pixels.length, "encodeImageSet");
  const out = new Uint8Array(HEADER + s.n + s.pixels.length);
  out.set(new TextEncoder().encode(MAGIC), 0);
  const v = new DataView(out.buffer);
  v.setUint32(4, s.n);
  v.setUint32(8, s.rows);
  v.setUint32(12, s.cols);
  v.setUint32(16, s.classes);
  out.set(s.labels, HEADER);
  out.set(s.pixels, HEADER + s.n);
  return out;
}

function checkSizes(
  n: number,
  rows: number,
  cols: number,
  labels: number,
  pixels: number,
  source: string,
): void {
  if (labels !== n || pixels !== n * rows * cols) {
    throw new RangeError(
      `${source}: ${n} images of ${rows}×${cols} need ${n} labels and ${
        n * rows * cols
      } pixels, got ${labels} and ${pixels}`,
    );
  }
}

/**
 * Decodes the page's image format; throws a one-line error naming `source` when the bytes are
 * not such a file, are truncated, or hold a label out of range.
 *
 * @example
 * ```ts
 * import { decodeImageSet } from "./sample.ts";
 * try {
 *   decodeImageSet(new Uint8Array(3), "bad.bin");
 * } catch (e) {
 *   console.log((e as Error).message); // bad.bin: not an image set (…)
 * }
 * ```
 */
export function decodeImageSet(bytes: Uint8Array, source: string): ImageSet {
  const magic = new TextDecoder().decode(bytes.subarray(0, 4));
  if (bytes.length < HEADER || magic !== MAGIC) {
    throw new TypeError(
      `${source}: not an image set (expected "${MAGIC}" and a ${HEADER}-byte header, got ${bytes.length} bytes); rebuild the page's assets`,
    );
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = v.getUint32(4), rows = v.getUint32(8), cols = v.getUint32(12);
  const classes = v.getUint32(16);
  const want = HEADER + n + n * rows * cols;
  if (bytes.length !== want || rows === 0 || cols === 0 || classes === 0) {
    throw new RangeError(
      `${source}: ${n} images of ${rows}×${cols} need ${want} bytes, the file has ${bytes.length}; the file is truncated or corrupt`,
    );
  }
  const labels = bytes.slice(HEADER, HEADER + n);
  const bad = labels.findIndex((l) => l >= classes);
  if (bad >= 0) {
    throw new RangeError(
      `${source}: label ${labels[bad]} of image ${bad} is not below the ${classes} classes`,
    );
  }
  return { n, rows, cols, classes, labels, pixels: bytes.slice(HEADER + n) };
}

/** The pixels of image `i` as float32 in [0, 1] (byte / 255, as the dataset readers do). */
export function imageFloats(s: ImageSet, i: number): Float32Array {
  const size = s.rows * s.cols;
  const out = new Float32Array(size);
  for (let j = 0; j < size; j++) out[j] = s.pixels[i * size + j] / 255;
  return out;
}

/** Gunzips `bytes` with the platform's DecompressionStream (browsers and Deno). */
export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

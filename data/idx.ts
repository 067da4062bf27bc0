/**
 * The idx format of MNIST and Fashion-MNIST (`*-idx3-ubyte` images, `*-idx1-ubyte` labels),
 * gzip-compressed or raw, and gzip itself. Every header field and byte count is validated;
 * errors name the file, what was expected and what was found.
 * @module
 */

import { Gunzip } from "fflate";
import { crc32 } from "../io/zip.ts";
import type { Dataset } from "./dataset.ts";

/** A parsed idx file: unsigned bytes plus their dimensions. */
export interface IdxArray {
  /** "images" for magic 2051 (3 dims), "labels" for magic 2049 (1 dim). */
  kind: "images" | "labels";
  /** Dimensions from the header, e.g. [60000, 28, 28]. */
  dims: number[];
  /** The payload (a view of the decompressed bytes), length = product of dims. */
  data: Uint8Array;
}

/**
 * True when `bytes` starts with the gzip magic 1f 8b.
 *
 * @example
 * ```ts
 * import { isGzip } from "./idx.ts";
 * isGzip(new Uint8Array([0x1f, 0x8b, 8])); // true
 * ```
 */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Decompresses gzip data, or returns `bytes` unchanged when it has no gzip magic.
 * A truncated stream decompresses as far as it goes (the caller's size check then reports it);
 * corrupt data, or a complete stream whose CRC-32 or length trailer disagrees, throws an Error
 * naming `file`. One decoder (fflate) for Deno and the browser alike.
 *
 * @example
 * ```ts
 * import { maybeGunzip } from "./idx.ts";
 * import { gzipSync } from "fflate";
 * maybeGunzip(gzipSync(new Uint8Array([1, 2, 3])), "x.gz"); // Uint8Array [1, 2, 3]
 * ```
 */
export function maybeGunzip(bytes: Uint8Array, file = "<bytes>"): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  const corrupt = (why: string): Error =>
    new Error(
      `${file}: not a valid gzip stream (${why}); the file is corrupt: ` +
        `delete it and download it again`,
    );
  const parts: Uint8Array[] = [];
  let truncated = false;
  try {
    const g = new Gunzip((chunk) => parts.push(chunk));
    g.push(bytes, false); // decompress as far as the data goes
    try {
      g.push(new Uint8Array(0), true);
    } catch (e) {
      // a truncated stream yields its prefix instead of an error
      if (!/unexpected EOF/.test((e as Error).message)) throw e;
      truncated = true;
    }
  } catch (e) {
    throw corrupt((e as Error).message);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  if (!truncated) {
    // the trailer: CRC-32 and length (mod 2³²) of the decompressed data, little-endian
    const v = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 8, 8);
    const crc = v.getUint32(0, true), size = v.getUint32(4, true);
    if (crc32(out) !== crc) throw corrupt(`CRC-32 mismatch`);
    if (out.length % 2 ** 32 !== size) throw corrupt(`length mismatch`);
  }
  return out;
}

const MAGIC_IMAGES = 2051;
const MAGIC_LABELS = 2049;

/**
 * Parses an idx file (gzip or raw). Validates the magic number (2051 images, 2049 labels),
 * the header and the byte count implied by the dimensions. `expect` additionally checks the kind.
 *
 * @example
 * ```ts
 * import { readIdx } from "./idx.ts";
 * const bytes = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 7, 3]);
 * readIdx(bytes, "labels.idx"); // { kind: "labels", dims: [2], data: Uint8Array [7, 3] }
 * ```
 */
export function readIdx(
  bytes: Uint8Array,
  file = "<idx bytes>",
  expect?: "images" | "labels",
): IdxArray {
  const gz = isGzip(bytes);
  const raw = maybeGunzip(bytes, file);
  const after = gz ? " after decompression" : "";
  const fix = "; the file is truncated or corrupt: delete it and download it again";
  if (raw.length < 8) {
    throw new Error(
      `${file}: expected at least an 8-byte idx header${after}, got ${raw.length} bytes${fix}`,
    );
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== MAGIC_IMAGES && magic !== MAGIC_LABELS) {
    throw new Error(
      `${file}: bad idx magic number ${magic} (0x${magic.toString(16).padStart(8, "0")}), ` +
        `expected ${MAGIC_IMAGES} for images or ${MAGIC_LABELS} for labels; ` +
        `is this an (uncompressed or gzip) MNIST/Fashion-MNIST idx file?`,
    );
  }
  const kind = magic === MAGIC_IMAGES ? "images" : "labels";
  if (expect !== undefined && expect !== kind) {
    const want = expect === "images" ? MAGIC_IMAGES : MAGIC_LABELS;
    throw new Error(
      `${file}: holds ${kind} (magic ${magic}) but ${expect} (magic ${want}) were expected; ` +
        `check that the image and label files are not swapped`,
    );
  }
  const ndim = magic & 0xff;
  const header = 4 + 4 * ndim;
  if (raw.length < header) {
    throw new Error(
      `${file}: expected a ${header}-byte idx header${after}, got ${raw.length} bytes${fix}`,
    );
  }
  const dims: number[] = [];
  let count = 1;
  for (let d = 0; d < ndim; d++) {
    const size = view.getUint32(4 + 4 * d, false);
    if (size === 0 || size > 1e8) {
      throw new Error(
        `${file}: idx header dimension ${d} is ${size}, expected a size in [1, 1e8]${fix}`,
      );
    }
    dims.push(size);
    count *= size;
  }
  const expected = header + count;
  if (raw.length !== expected) {
    throw new Error(
      `${file}: expected ${expected} bytes${after}, got ${raw.length} ` +
        `(header says ${dims.join("×")} ${kind})${fix}`,
    );
  }
  return { kind, dims, data: raw.subarray(header) };
}

/**
 * Builds a Dataset from parsed idx images [N, H, W] and labels [N]: pixels become /255 floats
 * with one channel. `limit` keeps only the first `limit` examples.
 *
 * @example
 * ```ts
 * import { idxToDataset } from "./idx.ts";
 * const images = { kind: "images" as const, dims: [1, 1, 2], data: new Uint8Array([0, 255]) };
 * const labels = { kind: "labels" as const, dims: [1], data: new Uint8Array([3]) };
 * idxToDataset(images, labels, { name: "toy/train", numClasses: 10 }).images; // [0, 1]
 * ```
 */
export function idxToDataset(
  images: IdxArray,
  labels: IdxArray,
  opts: { name: string; numClasses: number; limit?: number; files?: [string, string] },
): Dataset {
  const [imgFile, lblFile] = opts.files ?? ["images", "labels"];
  if (images.kind !== "images" || images.dims.length !== 3) {
    throw new Error(`${imgFile}: expected idx images with 3 dims, got ${images.kind}`);
  }
  if (labels.kind !== "labels" || labels.dims.length !== 1) {
    throw new Error(`${lblFile}: expected idx labels with 1 dim, got ${labels.kind}`);
  }
  const [n, h, w] = images.dims;
  if (labels.dims[0] !== n) {
    throw new Error(
      `${lblFile}: has ${labels.dims[0]} labels but ${imgFile} has ${n} images; ` +
        `the two files must come from the same split`,
    );
  }
  const m = Math.min(n, opts.limit ?? n);
  const px = images.data;
  const out = new Float32Array(m * h * w);
  for (let i = 0; i < out.length; i++) out[i] = px[i] / 255;
  const y = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    const v = labels.data[i];
    if (v >= opts.numClasses) {
      throw new Error(
        `${lblFile}: label ${i} is ${v}, expected a class in [0, ${opts.numClasses})`,
      );
    }
    y[i] = v;
  }
  return {
    name: opts.name,
    images: out,
    labels: y,
    n: m,
    shape: [1, h, w],
    numClasses: opts.numClasses,
  };
}

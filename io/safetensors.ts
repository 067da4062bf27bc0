// The safetensors format (huggingface/safetensors): an 8-byte little-endian u64 header length,
// a UTF-8 JSON header {name: {dtype, shape, data_offsets}, __metadata__?}, then the byte buffer.
// Reading validates everything the reference implementation does (offsets in range, contiguous,
// covering the whole buffer, sizes matching shapes); writing pads the header with spaces to an
// 8-byte boundary and orders tensors by item size (descending), then name, so data stays aligned.

import {
  hostDataFromBytes,
  type HostDType,
  type HostTensor,
  itemSize,
  numel,
} from "./host_tensor.ts";

/** Contents of a safetensors file. */
export interface Safetensors {
  /** Tensors by name. Their data may be views into the bytes that were read. */
  tensors: Record<string, HostTensor>;
  /** The `__metadata__` string map (empty when the file has none). */
  metadata: Record<string, string>;
}

const TO_FILE: Record<HostDType, string> = {
  float32: "F32",
  float64: "F64",
  int32: "I32",
  int64: "I64",
  uint8: "U8",
  float16: "F16",
  bfloat16: "BF16",
  bool: "BOOL",
};
const FROM_FILE: Record<string, HostDType> = Object.fromEntries(
  Object.entries(TO_FILE).map(([k, v]) => [v, k as HostDType]),
);
const KNOWN = Object.keys(FROM_FILE).join(", ");

/** The reference implementation refuses headers above 100 MB; so do we. */
const MAX_HEADER = 100_000_000;

function fail(msg: string): never {
  throw new Error(`safetensors: ${msg}`);
}

function isIntArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && x >= 0);
}

/**
 * Parses a safetensors file. Throws an Error naming the tensor and the expectation when the
 * header is malformed, a dtype is unknown, offsets are out of range, overlap or leave gaps, or a
 * byte size does not match `product(shape) * itemsize`. Aligned tensors are zero-copy views into
 * `bytes`; unaligned ones are copied.
 *
 * @example
 * ```ts
 * import { readSafetensors, writeSafetensors } from "@sll/sll/io";
 * const bytes = writeSafetensors({ w: { dtype: "float32", shape: [2], data: new Float32Array([1, 2]) } });
 * const { tensors } = readSafetensors(bytes);
 * tensors.w.data; // Float32Array [1, 2]
 * ```
 */
export function readSafetensors(bytes: Uint8Array): Safetensors {
  if (bytes.byteLength < 8) {
    fail(`file is ${bytes.byteLength} bytes, shorter than the 8-byte header length prefix`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(bytes.byteLength - 8)) {
    fail(
      `header length ${n64} exceeds the ${bytes.byteLength - 8} bytes after the length prefix ` +
        `(truncated or not a safetensors file)`,
    );
  }
  const n = Number(n64);
  if (n > MAX_HEADER) fail(`header length ${n} exceeds the ${MAX_HEADER}-byte limit`);
  if (n < 2 || bytes[8] !== 0x7b) fail(`header must be a JSON object starting with "{"`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    fail(`header (bytes 8..${8 + n}) is not valid UTF-8`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    fail("header must be a JSON object mapping tensor names to {dtype, shape, data_offsets}");
  }

  const buffer = bytes.subarray(8 + n);
  const metadata: Record<string, string> = {};
  const entries: { key: string; dtype: HostDType; shape: number[]; begin: number; end: number }[] =
    [];
  for (const [key, info] of Object.entries(header as Record<string, unknown>)) {
    if (key === "__metadata__") {
      if (info === null || typeof info !== "object" || Array.isArray(info)) {
        fail(`"__metadata__" must be an object of strings, got ${JSON.stringify(info)}`);
      }
      for (const [mk, mv] of Object.entries(info as Record<string, unknown>)) {
        if (typeof mv !== "string") {
          fail(`"__metadata__"."${mk}" must be a string, got ${JSON.stringify(mv)}`);
        }
        Object.defineProperty(metadata, mk, {
          value: mv,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      continue;
    }
    if (info === null || typeof info !== "object" || Array.isArray(info)) {
      fail(`tensor "${key}": expected an object {dtype, shape, data_offsets}`);
    }
    const { dtype, shape, data_offsets } = info as Record<string, unknown>;
    if (typeof dtype !== "string" || !Object.hasOwn(FROM_FILE, dtype)) {
      fail(`tensor "${key}": unknown dtype ${JSON.stringify(dtype)} (expected one of ${KNOWN})`);
    }
    if (!isIntArray(shape)) {
      fail(
        `tensor "${key}": shape must be an array of non-negative integers, got ${
          JSON.stringify(shape)
        }`,
      );
    }
    if (!isIntArray(data_offsets) || data_offsets.length !== 2) {
      fail(
        `tensor "${key}": data_offsets must be [begin, end] non-negative integers, got ${
          JSON.stringify(data_offsets)
        }`,
      );
    }
    const [begin, end] = data_offsets;
    if (begin > end) fail(`tensor "${key}": data_offsets [${begin}, ${end}] have begin > end`);
    if (end > buffer.byteLength) {
      fail(
        `tensor "${key}": data_offsets [${begin}, ${end}] exceed the ${buffer.byteLength}-byte ` +
          `data buffer (truncated file?)`,
      );
    }
    const hd = FROM_FILE[dtype];
    const need = numel(shape) * itemSize(hd);
    if (end - begin !== need) {
      fail(
        `tensor "${key}": data_offsets [${begin}, ${end}] span ${end - begin} bytes but ` +
          `shape [${shape.join(", ")}] of ${dtype} needs ${need}`,
      );
    }
    entries.push({ key, dtype: hd, shape, begin, end });
  }

  // The reference requires the tensors to tile the buffer exactly: no gaps, no overlaps.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev = "";
  for (const e of sorted) {
    if (e.begin !== pos) {
      fail(
        `tensor "${e.key}": data_offsets begin at ${e.begin} but ${
          prev ? `tensor "${prev}" ends` : "the buffer starts"
        } at ${pos} (${e.begin < pos ? "overlap" : "gap"}; tensors must be contiguous)`,
      );
    }
    pos = e.end;
    prev = e.key;
  }
  if (pos !== buffer.byteLength) {
    fail(
      `the data buffer is ${buffer.byteLength} bytes but the tensors cover only ${pos} ` +
        `(trailing bytes or a missing tensor)`,
    );
  }

  const tensors: Record<string, HostTensor> = {};
  for (const e of entries) {
    const data = hostDataFromBytes(e.dtype, buffer.subarray(e.begin, e.end), numel(e.shape));
    Object.defineProperty(tensors, e.key, {
      value: { dtype: e.dtype, shape: e.shape, data },
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return { tensors, metadata };
}

/** Positions in the reference's `Dtype` enum (BOOL, U8, I8, F8_*, I16, U16, F16, BF16, I32, U32,
 * F32, F64, I64, U64), which its writer sorts by. */
const DTYPE_RANK: Record<HostDType, number> = {
  bool: 0,
  uint8: 1,
  float16: 7,
  bfloat16: 8,
  int32: 9,
  float32: 11,
  float64: 12,
  int64: 13,
};

const CTOR: Record<HostDType, { name: string }> = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  bool: Uint8Array,
};

/**
 * Serialises tensors (and optional string metadata) to safetensors bytes. Throws when a tensor's
 * dtype is unknown, its data is not the dtype's typed array, or its length differs from
 * `product(shape)`. Tensors are laid out as the reference writer does (dtype, then name).
 *
 * @example
 * ```ts
 * import { writeSafetensors } from "@sll/sll/io";
 * const bytes = writeSafetensors(
 *   { labels: { dtype: "int64", shape: [2], data: new BigInt64Array([3n, 1n]) } },
 *   { format: "pt" },
 * );
 * ```
 */
export function writeSafetensors(
  tensors: Record<string, HostTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const keys = Object.keys(tensors);
  for (const key of keys) {
    const t = tensors[key];
    if (key === "__metadata__") fail(`"__metadata__" is reserved and cannot name a tensor`);
    if (!t || !Object.hasOwn(TO_FILE, t.dtype)) {
      fail(
        `tensor "${key}": unknown dtype "${t?.dtype}" (expected one of ${
          Object.keys(TO_FILE).join(", ")
        })`,
      );
    }
    const ctor = CTOR[t.dtype];
    if (!(t.data instanceof (ctor as unknown as typeof Uint8Array))) {
      fail(
        `tensor "${key}": dtype ${t.dtype} needs a ${ctor.name}, got ${t.data?.constructor?.name}`,
      );
    }
    const count = numel(t.shape);
    if (t.data.length !== count) {
      fail(
        `tensor "${key}": data has ${t.data.length} elements but shape [${t.shape.join(", ")}] ` +
          `needs ${count}`,
      );
    }
  }
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") fail(`metadata "${k}" must be a string, got ${typeof v}`);
    }
  }
  // As the reference writer: by dtype rank descending (larger items first, so every tensor
  // stays aligned), then by name.
  keys.sort((a, b) => {
    const d = DTYPE_RANK[tensors[b].dtype] - DTYPE_RANK[tensors[a].dtype];
    return d !== 0 ? d : a < b ? -1 : a > b ? 1 : 0;
  });

  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const key of keys) {
    const t = tensors[key];
    const size = t.data.byteLength;
    Object.defineProperty(header, key, {
      value: { dtype: TO_FILE[t.dtype], shape: t.shape, data_offsets: [offset, offset + size] },
      enumerable: true,
      writable: true,
      configurable: true,
    });
    offset += size;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength, 8 + padded);
  let pos = 8 + padded;
  for (const key of keys) {
    const d = tensors[key].data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), pos);
    pos += d.byteLength;
  }
  return out;
}

// Host tensor records: a dtype, a shape and a flat row-major typed array in host memory.
// The interchange type of io/: file readers produce it, writers consume it; it knows nothing
// of backends. Invariant: data.length === product(shape); int64 stays BigInt64Array and
// float16/bfloat16 stay raw 16-bit patterns (Uint16Array) until converted explicitly.

/** Element types a host tensor can hold (the union of what safetensors and .pth files carry). */
export type HostDType =
  | "float32"
  | "float64"
  | "int32"
  | "int64"
  | "uint8"
  | "float16"
  | "bfloat16"
  | "bool";

/** The typed arrays backing a {@linkcode HostTensor}. */
export type HostData =
  | Float32Array
  | Float64Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array;

/**
 * A tensor in host memory: row-major (C-contiguous) `data` of `product(shape)` elements.
 * `float16`/`bfloat16` data are raw bit patterns in a Uint16Array; `bool` is a Uint8Array of 0/1.
 *
 * @example
 * ```ts
 * import { type HostTensor } from "@sll/sll/io";
 * const h: HostTensor = { dtype: "float32", shape: [2, 2], data: new Float32Array(4) };
 * ```
 */
export interface HostTensor {
  /** Element type. */
  dtype: HostDType;
  /** Dimensions; `[]` is a scalar with one element. */
  shape: number[];
  /** Flat row-major elements. */
  data: HostData;
}

const ITEM_SIZE: Record<HostDType, number> = {
  float32: 4,
  float64: 8,
  int32: 4,
  int64: 8,
  uint8: 1,
  float16: 2,
  bfloat16: 2,
  bool: 1,
};

/**
 * Bytes per element of a dtype.
 *
 * @example
 * ```ts
 * import { itemSize } from "@sll/sll/io";
 * itemSize("bfloat16"); // 2
 * ```
 */
export function itemSize(dtype: HostDType): number {
  const size = Object.hasOwn(ITEM_SIZE, dtype) ? ITEM_SIZE[dtype] : undefined;
  if (size === undefined) {
    throw new TypeError(
      `Unknown host dtype "${dtype}": expected one of ${Object.keys(ITEM_SIZE).join(", ")}`,
    );
  }
  return size;
}

/**
 * Number of elements of a shape (1 for `[]`). Throws on negative or non-integer dimensions.
 *
 * @example
 * ```ts
 * import { numel } from "@sll/sll/io";
 * numel([2, 3, 4]); // 24
 * ```
 */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new RangeError(
        `Invalid shape [${shape.join(", ")}]: dimensions must be non-negative integers`,
      );
    }
    n *= d;
  }
  return n;
}

/**
 * Allocates a zero-filled typed array of `count` elements for a dtype.
 *
 * @example
 * ```ts
 * import { allocHostData } from "@sll/sll/io";
 * allocHostData("int64", 3); // BigInt64Array(3)
 * ```
 */
export function allocHostData(dtype: HostDType, count: number): HostData {
  switch (dtype) {
    case "float32":
      return new Float32Array(count);
    case "float64":
      return new Float64Array(count);
    case "int32":
      return new Int32Array(count);
    case "int64":
      return new BigInt64Array(count);
    case "uint8":
    case "bool":
      return new Uint8Array(count);
    case "float16":
    case "bfloat16":
      return new Uint16Array(count);
  }
  throw new TypeError(`Unknown host dtype "${dtype}"`);
}

/**
 * Views `count` little-endian elements of `dtype` starting at `bytes[0]`, without copying when
 * the start is aligned to the item size, and copying otherwise. The result may alias `bytes`.
 *
 * @example
 * ```ts
 * import { hostDataFromBytes } from "@sll/sll/io";
 * const d = hostDataFromBytes("float32", new Uint8Array(8), 2); // Float32Array [0, 0]
 * ```
 */
export function hostDataFromBytes(dtype: HostDType, bytes: Uint8Array, count: number): HostData {
  const size = itemSize(dtype);
  if (bytes.byteLength < count * size) {
    throw new RangeError(
      `Cannot read ${count} ${dtype} elements (${
        count * size
      } bytes) from ${bytes.byteLength} bytes`,
    );
  }
  let src = bytes;
  if (bytes.byteOffset % size !== 0) src = bytes.slice(0, count * size); // unaligned: copy
  const { buffer, byteOffset } = src;
  switch (dtype) {
    case "float32":
      return new Float32Array(buffer, byteOffset, count);
    case "float64":
      return new Float64Array(buffer, byteOffset, count);
    case "int32":
      return new Int32Array(buffer, byteOffset, count);
    case "int64":
      return new BigInt64Array(buffer, byteOffset, count);
    case "uint8":
    case "bool":
      return new Uint8Array(buffer, byteOffset, count);
    case "float16":
    case "bfloat16":
      return new Uint16Array(buffer, byteOffset, count);
  }
  throw new TypeError(`Unknown host dtype "${dtype}"`);
}

/**
 * The raw little-endian bytes of a host tensor's data (a view, not a copy).
 *
 * @example
 * ```ts
 * import { hostBytes } from "@sll/sll/io";
 * hostBytes({ dtype: "int32", shape: [1], data: new Int32Array([1]) }); // Uint8Array [1, 0, 0, 0]
 * ```
 */
export function hostBytes(h: HostTensor): Uint8Array {
  return new Uint8Array(h.data.buffer, h.data.byteOffset, h.data.byteLength);
}

/**
 * Decodes an IEEE half-precision bit pattern to a number.
 *
 * @example
 * ```ts
 * import { halfToNumber } from "@sll/sll/io";
 * halfToNumber(0x3c00); // 1
 * ```
 */
export function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // subnormal
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const bf16Scratch = new Float32Array(1);
const bf16Bits = new Uint32Array(bf16Scratch.buffer);

/**
 * Decodes a bfloat16 bit pattern (the top half of a float32) to a number.
 *
 * @example
 * ```ts
 * import { bfloat16ToNumber } from "@sll/sll/io";
 * bfloat16ToNumber(0x3f80); // 1
 * ```
 */
export function bfloat16ToNumber(bits: number): number {
  bf16Bits[0] = (bits & 0xffff) << 16;
  return bf16Scratch[0];
}

function describe(h: HostTensor, what: string): string {
  return `${what} tensor of dtype ${h.dtype} and shape [${h.shape.join(", ")}]`;
}

/** 2^24: every integer of magnitude up to it is exactly representable in float32. */
const F32_EXACT_INT = 16777216;

/**
 * Converts a host tensor to float32 (a copy, or the same tensor when already float32).
 * Throws when a finite value would overflow float32, or an integer exceeds 2^24 in magnitude
 * (it would be rounded silently).
 *
 * @example
 * ```ts
 * import { toFloat32 } from "@sll/sll/io";
 * toFloat32({ dtype: "int64", shape: [2], data: new BigInt64Array([1n, 2n]) }).data; // Float32Array [1, 2]
 * ```
 */
export function toFloat32(h: HostTensor): HostTensor {
  if (h.dtype === "float32") return h;
  const n = h.data.length;
  const out = new Float32Array(n);
  const d = h.data;
  switch (h.dtype) {
    case "float64":
      for (let i = 0; i < n; i++) {
        const v = d[i] as number;
        const f = Math.fround(v);
        if (Number.isFinite(v) && !Number.isFinite(f)) {
          throw new RangeError(
            `Cannot convert ${describe(h, "a")} to float32: element ${i} = ${v} overflows ` +
              `float32 (max 3.4028234663852886e38)`,
          );
        }
        out[i] = f;
      }
      break;
    case "int32":
    case "int64":
      for (let i = 0; i < n; i++) {
        const v = Number(d[i]);
        if (Math.abs(v) > F32_EXACT_INT) {
          throw new RangeError(
            `Cannot convert ${describe(h, "a")} to float32: element ${i} = ${d[i]} exceeds ` +
              `2^24 in magnitude and would be rounded`,
          );
        }
        out[i] = v;
      }
      break;
    case "uint8":
    case "bool":
      for (let i = 0; i < n; i++) out[i] = d[i] as number;
      break;
    case "float16":
      for (let i = 0; i < n; i++) out[i] = halfToNumber(d[i] as number);
      break;
    case "bfloat16":
      for (let i = 0; i < n; i++) out[i] = bfloat16ToNumber(d[i] as number);
      break;
    default:
      throw new TypeError(`Cannot convert ${describe(h, "a")} to float32: unknown dtype`);
  }
  return { dtype: "float32", shape: [...h.shape], data: out };
}

/**
 * Converts a host tensor to int32 (a copy, or the same tensor when already int32).
 * Throws when a value is outside [-2^31, 2^31 - 1] or, for float inputs, not an integer.
 *
 * @example
 * ```ts
 * import { toInt32 } from "@sll/sll/io";
 * toInt32({ dtype: "int64", shape: [2], data: new BigInt64Array([3n, 7n]) }).data; // Int32Array [3, 7]
 * ```
 */
export function toInt32(h: HostTensor): HostTensor {
  if (h.dtype === "int32") return h;
  const n = h.data.length;
  const out = new Int32Array(n);
  const d = h.data;
  const fail = (i: number, v: unknown, why: string): never => {
    throw new RangeError(`Cannot convert ${describe(h, "a")} to int32: element ${i} = ${v} ${why}`);
  };
  switch (h.dtype) {
    case "int64":
      for (let i = 0; i < n; i++) {
        const v = d[i] as bigint;
        if (v < -2147483648n || v > 2147483647n) fail(i, v, "is outside [-2^31, 2^31 - 1]");
        out[i] = Number(v);
      }
      break;
    case "uint8":
    case "bool":
      for (let i = 0; i < n; i++) out[i] = d[i] as number;
      break;
    case "float32":
    case "float64":
    case "float16":
    case "bfloat16": {
      const f = h.dtype === "float32" || h.dtype === "float64" ? d : toFloat32(h).data;
      for (let i = 0; i < n; i++) {
        const v = f[i] as number;
        if (!Number.isInteger(v)) fail(i, v, "is not an integer");
        if (v < -2147483648 || v > 2147483647) fail(i, v, "is outside [-2^31, 2^31 - 1]");
        out[i] = v;
      }
      break;
    }
    default:
      throw new TypeError(`Cannot convert ${describe(h, "a")} to int32: unknown dtype`);
  }
  return { dtype: "int32", shape: [...h.shape], data: out };
}

/**
 * Tensor element types and their host arrays. float64 exists on the CPU backend only (for
 * gradient checks); int32 holds labels, indices and comparison results (0/1).
 * @module
 */

/** Element type of a tensor. */
export type DType = "float32" | "int32" | "float64";

/** Host array holding a tensor's elements, by dtype. */
export type TypedArray = Float32Array | Int32Array | Float64Array;

/** Host array type for each dtype. */
export interface DTypeArrays {
  float32: Float32Array;
  int32: Int32Array;
  float64: Float64Array;
}

/** All dtypes, for validation messages. */
export const DTYPES: readonly DType[] = ["float32", "int32", "float64"];

/** Bytes per element. */
export function itemSize(dtype: DType): number {
  return dtype === "float64" ? 8 : 4;
}

// Pool of large host arrays released by the CPU backend. Fresh multi-megabyte typed arrays cost
// page faults on first touch (~1.7 ms for 6 MB here) while reusing one costs a memset; arrays
// are pooled by (dtype, length) only once their tensor's storage is freed, never while shared.
const POOL_MIN_ELEMENTS = 16384;
const POOL_MAX_BYTES = 512 * 1024 * 1024;
const pool = new Map<string, TypedArray[]>();
let pooledBytes = 0;

/** Returns a host array to the pool (the caller must hold the only reference). */
export function releaseArray(a: TypedArray): void {
  if (a.length < POOL_MIN_ELEMENTS || a.byteOffset !== 0 || a.buffer.byteLength !== a.byteLength) {
    return;
  }
  if (pooledBytes + a.byteLength > POOL_MAX_BYTES) return;
  const key = `${a.constructor.name}:${a.length}`;
  let list = pool.get(key);
  if (!list) pool.set(key, list = []);
  list.push(a);
  pooledBytes += a.byteLength;
}

/** Bytes held by the host-array pool (for memory reports and tests). */
export function pooledHostBytes(): number {
  return pooledBytes;
}

/** A zero-filled host array of `n` elements of `dtype`, reused from the pool when possible. */
export function allocArray(dtype: DType, n: number): TypedArray {
  if (n >= POOL_MIN_ELEMENTS) {
    const name = dtype === "float32"
      ? "Float32Array"
      : dtype === "int32"
      ? "Int32Array"
      : "Float64Array";
    const a = pool.get(`${name}:${n}`)?.pop();
    if (a) {
      pooledBytes -= a.byteLength;
      return a.fill(0);
    }
  }
  return freshArray(dtype, n);
}

function freshArray(dtype: DType, n: number): TypedArray {
  switch (dtype) {
    case "float32":
      return new Float32Array(n);
    case "int32":
      return new Int32Array(n);
    case "float64":
      return new Float64Array(n);
  }
}

/** Copies `values` into a new host array of `dtype` (int32 truncates toward zero). */
export function toArray(dtype: DType, values: ArrayLike<number>): TypedArray {
  switch (dtype) {
    case "float32":
      return Float32Array.from(values);
    case "int32":
      return Int32Array.from(values);
    case "float64":
      return Float64Array.from(values);
  }
}

/** Throws a TypeError unless `d` is a known dtype. */
export function checkDType(d: unknown, what: string): DType {
  if (d !== "float32" && d !== "int32" && d !== "float64") {
    throw new TypeError(
      `${what}: unknown dtype ${JSON.stringify(d)}; expected one of ${DTYPES.join(", ")}`,
    );
  }
  return d;
}

/** True for float32 and float64. */
export function isFloat(d: DType): boolean {
  return d !== "int32";
}

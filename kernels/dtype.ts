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

/** A new zero-filled host array of `n` elements of `dtype`. */
export function newArray(dtype: DType, n: number): TypedArray {
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

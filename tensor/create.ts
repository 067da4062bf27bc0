/**
 * Creating tensors from host values: `tensor` (numbers, flat arrays with a shape, nested
 * arrays), `full`/`zeros`/`ones` and their `…Like` forms, `arange`. Each uploads once to the
 * current backend.
 * @module
 */
import { checkDType, type DType, newArray, toArray, type TypedArray } from "../kernels/dtype.ts";
import { checkShape, fmt, sizeOf } from "../kernels/shape.ts";
import { fromHost } from "./engine.ts";
import type { Tensor } from "./tensor.ts";

/** Nested arrays of numbers, as accepted by `tensor`. */
export type NestedArray = number | readonly NestedArray[];

function flattenNested(v: NestedArray, shape: number[], out: number[], depth: number): void {
  if (typeof v === "number") {
    if (depth !== shape.length && shape.length > 0) {
      throw new TypeError("tensor: ragged nested array");
    }
    out.push(v);
    return;
  }
  if (depth === shape.length) shape.push(v.length);
  else if (shape[depth] !== v.length) {
    throw new TypeError(
      `tensor: ragged nested array: axis ${depth} has lengths ${shape[depth]} and ${v.length}`,
    );
  }
  for (const e of v) flattenNested(e, shape, out, depth + 1);
}

/**
 * Creates a tensor from a number, a flat array-like (with `shape`), or nested arrays.
 *
 * @example
 * ```ts
 * import { tensor } from "@sll/sll";
 * const a = tensor([[1, 2], [3, 4]]);
 * const b = tensor(new Float32Array(6), { shape: [2, 3] });
 * const labels = tensor([0, 3, 1], { dtype: "int32" });
 * ```
 */
export function tensor(
  values: number | ArrayLike<number> | NestedArray,
  options: { shape?: readonly number[]; dtype?: DType } = {},
): Tensor {
  const dtype = options.dtype === undefined ? "float32" : checkDType(options.dtype, "tensor");
  let data: TypedArray;
  let shape: number[];
  if (typeof values === "number") {
    data = toArray(dtype, [values]);
    shape = [];
  } else if (
    ArrayBuffer.isView(values) || !Array.isArray(values) ||
    values.every((v) => typeof v === "number")
  ) {
    data = toArray(dtype, values as ArrayLike<number>);
    shape = [data.length];
  } else {
    const flat: number[] = [];
    shape = [];
    flattenNested(values as NestedArray, shape, flat, 0);
    data = toArray(dtype, flat);
  }
  if (options.shape !== undefined) {
    const s = checkShape(options.shape, "tensor");
    if (sizeOf(s) !== data.length) {
      throw new TypeError(
        `tensor: ${data.length} values do not fill shape ${fmt(s)} (${sizeOf(s)} elements)`,
      );
    }
    shape = s;
  }
  return fromHost(data, shape, dtype);
}

/**
 * A tensor filled with `value`.
 *
 * @example
 * ```ts
 * import { full } from "@sll/sll";
 * const t = full([2, 2], 7);
 * ```
 */
export function full(shape: readonly number[], value: number, dtype: DType = "float32"): Tensor {
  const s = checkShape(shape, "full");
  const d = newArray(checkDType(dtype, "full"), sizeOf(s));
  if (value !== 0) d.fill(value);
  return fromHost(d, s, dtype, "full");
}

/**
 * A tensor of zeros.
 *
 * @example
 * ```ts
 * import { zeros } from "@sll/sll";
 * const z = zeros([3, 4]);
 * ```
 */
export function zeros(shape: readonly number[], dtype: DType = "float32"): Tensor {
  return full(shape, 0, dtype);
}

/**
 * A tensor of ones.
 *
 * @example
 * ```ts
 * import { ones } from "@sll/sll";
 * const o = ones([3]);
 * ```
 */
export function ones(shape: readonly number[], dtype: DType = "float32"): Tensor {
  return full(shape, 1, dtype);
}

/** Zeros with the shape and dtype of `x`. */
export function zerosLike(x: Tensor): Tensor {
  return full(x.shape, 0, x.dtype);
}

/** Ones with the shape and dtype of `x`. */
export function onesLike(x: Tensor): Tensor {
  return full(x.shape, 1, x.dtype);
}

/** 0, 1, …, n−1. */
export function arange(n: number, dtype: DType = "int32"): Tensor {
  const d = newArray(dtype, n);
  for (let i = 0; i < n; i++) d[i] = i;
  return fromHost(d, [n], dtype, "arange");
}

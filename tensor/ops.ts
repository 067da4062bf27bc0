/**
 * The public ops namespace: re-exports the primitive wrappers of every family (tensor/prims/)
 * and creation functions, and defines the composites (relu, softmax, crossEntropy, norm, …),
 * written with primitives only, so they need no gradient rule of their own.
 * @module
 */
import type { DType } from "../kernels/dtype.ts";
import { fmt, normAxes, sizeOf } from "../kernels/shape.ts";
import { arange } from "./create.ts";
import {
  add,
  cast,
  div,
  equal,
  exp,
  greater,
  log,
  maximum,
  minimum,
  mul,
  neg,
  sqrt,
  sub,
  where,
} from "./prims/elementwise.ts";
import { reshape } from "./prims/layout.ts";
import { max, sum } from "./prims/reduce.ts";
import { checkTensor } from "./prims/checks.ts";
import type { Tensor } from "./tensor.ts";
import { untraced } from "./trace.ts";

export {
  arange,
  full,
  type NestedArray,
  ones,
  onesLike,
  tensor,
  zeros,
  zerosLike,
} from "./create.ts";
export {
  abs,
  add,
  cast,
  div,
  equal,
  exp,
  greater,
  greaterEqual,
  less,
  lessEqual,
  log,
  maximum,
  minimum,
  mul,
  neg,
  notEqual,
  sign,
  sqrt,
  sub,
  type TensorLike,
  where,
} from "./prims/elementwise.ts";
export { argmax, max, sum } from "./prims/reduce.ts";
export { matmul, matmulT } from "./prims/linalg.ts";
export {
  broadcastTo,
  concat,
  expandDims,
  pad,
  reshape,
  reverse,
  slice,
  swapLast,
  transpose,
} from "./prims/layout.ts";
export { gather, scatterAdd } from "./prims/index.ts";
export { conv2d, conv2dFilterGrad, type ConvOptions, convTranspose2d } from "./prims/conv.ts";
export { avgPool2d, avgPool2dTranspose, type PoolOptions } from "./prims/pool.ts";
export { type FftOptions, irfft2, rfft2 } from "./prims/fft.ts";
export { inverse, solve, type SolveOptions } from "./prims/solve.ts";

/** x². @example `square(tensor([3]))` */
export function square(x: Tensor): Tensor {
  return mul(x, x);
}

/** max(x, 0), with gradient 0 at 0 (as PyTorch). @example `relu(tensor([-1, 2]))` */
export function relu(x: Tensor): Tensor {
  return where(greater(x, 0), x, 0);
}

/** Clamps into [lo, hi]. @example `clip(tensor([-1, 2]), 0, 1)` */
export function clip(x: Tensor, lo: number, hi: number): Tensor {
  return minimum(maximum(x, lo), hi);
}

/** Mean over `axes` (all when omitted). @example `mean(tensor([1, 2, 3]))` */
export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  checkTensor(x, "mean");
  const ax = normAxes(axes, x.rank, "mean", x.shape);
  const n = sizeOf(ax.map((a) => x.shape[a]));
  return div(sum(x, ax, keepDims), n);
}

/** Min over `axes` (all when omitted). @example `min(tensor([1, 5, 2]))` */
export function min(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  return neg(max(neg(x), axes, keepDims));
}

/** log Σ exp(x) over `axes`, stabilised by the (constant) max. @example `logsumexp(x, -1)` */
export function logsumexp(
  x: Tensor,
  axes: number | readonly number[] = -1,
  keepDims = false,
): Tensor {
  const ax = normAxes(axes, x.rank, "logsumexp", x.shape);
  const m = stopGradient(max(x, ax, true));
  const s = log(sum(exp(sub(x, m)), ax, true));
  const y = add(s, m);
  return keepDims ? y : reshape(y, x.shape.filter((_, i) => !ax.includes(i)));
}

/** log softmax along `axis`. @example `logSoftmax(logits, -1)` */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return sub(x, logsumexp(x, axis, true));
}

/** softmax along `axis`. @example `softmax(logits, -1)` */
export function softmax(x: Tensor, axis = -1): Tensor {
  return exp(logSoftmax(x, axis));
}

/**
 * L2 norm over `axes` (all when omitted). `eps` is added under the square root when given, so
 * the gradient stays finite at 0.
 *
 * @example
 * ```ts
 * import { norm, tensor } from "@sll/sll";
 * const n = norm(tensor([[3, 4]]), 1); // [5]
 * ```
 */
export function norm(
  x: Tensor,
  axes?: number | readonly number[],
  keepDims = false,
  eps = 0,
): Tensor {
  const s = sum(mul(x, x), axes, keepDims);
  return sqrt(eps ? add(s, eps) : s);
}

/**
 * One-hot encoding of int32 `labels` into `[..., n]`.
 *
 * @example
 * ```ts
 * import { oneHot, tensor } from "@sll/sll";
 * const y = oneHot(tensor([0, 2], { dtype: "int32" }), 3); // [[1,0,0],[0,0,1]]
 * ```
 */
export function oneHot(labels: Tensor, n: number, dtype: DType = "float32"): Tensor {
  checkTensor(labels, "oneHot", "labels");
  if (labels.dtype !== "int32") {
    throw new TypeError(`oneHot: labels must be int32, got ${labels.dtype}`);
  }
  const classes = arange(n, "int32");
  const eq = equal(reshape(labels, [...labels.shape, 1]), classes);
  return cast(eq, dtype);
}

/**
 * Mean cross-entropy of `logits` [B, K] against int32 `labels` [B].
 *
 * @example
 * ```ts
 * import { crossEntropy, tensor } from "@sll/sll";
 * const loss = crossEntropy(tensor([[2, 0], [0, 2]]), tensor([0, 1], { dtype: "int32" }));
 * ```
 */
export function crossEntropy(logits: Tensor, labels: Tensor): Tensor {
  checkTensor(logits, "crossEntropy", "logits");
  if (logits.rank !== 2) {
    throw new TypeError(`crossEntropy: logits must be [B, K], got ${fmt(logits.shape)}`);
  }
  if (labels.rank !== 1 || labels.shape[0] !== logits.shape[0]) {
    throw new TypeError(
      `crossEntropy: labels must be [${logits.shape[0]}] int32 to match logits ${
        fmt(logits.shape)
      }, got ${fmt(labels.shape)}`,
    );
  }
  const lp = logSoftmax(logits, -1);
  const picked = sum(mul(lp, oneHot(labels, logits.shape[1], logits.dtype)), -1);
  return neg(mean(picked));
}

/**
 * The same values, cut from the trace: gradients do not flow through the result.
 *
 * @example
 * ```ts
 * import { grad, mul, stopGradient, sum, tensor } from "@sll/sll";
 * const g = grad((x: ReturnType<typeof tensor>) => sum(mul(x, stopGradient(x))))(tensor([3])); // [3]
 * ```
 */
export function stopGradient(x: Tensor): Tensor {
  checkTensor(x, "stopGradient");
  return untraced(() => reshape(x, x.shape));
}

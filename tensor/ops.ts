/**
 * The public ops: free functions over tensors. Primitive wrappers validate arguments and
 * normalise axes before `apply`; composites (relu, softmax, crossEntropy, …) are written with
 * primitives only, so they need no gradient rule of their own.
 * @module
 */
import { allocArray, type DType, toArray, type TypedArray } from "../kernels/dtype.ts";
import type { CompareOp, Pair } from "../kernels/prims.ts";
import { checkShape, fmt, normAxes, normAxis, sizeOf } from "../kernels/shape.ts";
import { apply, dtypeArg, fromHost, isTracked, Tensor, untraced } from "./engine.ts";

/** A tensor or a plain number (converted to a scalar of the other operand's dtype). */
export type TensorLike = Tensor | number;

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
  const dtype = options.dtype === undefined ? "float32" : dtypeArg(options.dtype, "tensor");
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
  const d = allocArray(dtypeArg(dtype, "full"), sizeOf(s));
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
  const d = allocArray(dtype, n);
  for (let i = 0; i < n; i++) d[i] = i;
  return fromHost(d, [n], dtype, "arange");
}

function checkTensor(x: unknown, op: string, what = "argument"): Tensor {
  if (!(x instanceof Tensor)) {
    throw new TypeError(`${op}: ${what} must be a Tensor, got ${x === null ? "null" : typeof x}`);
  }
  return x;
}

/** Runs a binary primitive, converting numbers to scalars and freeing them when untraced. */
function binaryOp(
  op: "add" | "sub" | "mul" | "div" | "maximum" | "minimum" | "compare",
  a: TensorLike,
  b: TensorLike,
  params: Record<string, unknown> = {},
): Tensor {
  if (typeof a === "number" && typeof b === "number") a = tensor(a);
  const temps: Tensor[] = [];
  const like = (typeof a === "number" ? b : a) as Tensor;
  checkTensor(like, op);
  const conv = (v: TensorLike): Tensor => {
    if (typeof v !== "number") return checkTensor(v, op);
    const t = fromHost(toArray(like.dtype, [v]), [], like.dtype, "scalar");
    temps.push(t);
    return t;
  };
  const ta = conv(a), tb = conv(b);
  // deno-lint-ignore no-explicit-any
  return withTemps(temps, () => apply(op, [ta, tb], params as any));
}

/** Runs `fn`; scalar temporaries are freed on error, or after it unless a trace recorded them. */
function withTemps(temps: Tensor[], fn: () => Tensor): Tensor {
  let y: Tensor;
  try {
    y = fn();
  } catch (e) {
    for (const t of temps) t.dispose();
    throw e;
  }
  if (!isTracked(y)) { for (const t of temps) t.dispose(); }
  return y;
}

// ----- elementwise ----------------------------------------------------------------------------

/** −x. @example `neg(tensor([1, -2]))` */
export function neg(x: Tensor): Tensor {
  return apply("neg", [checkTensor(x, "neg")], {});
}
/** eˣ. @example `exp(tensor([0, 1]))` */
export function exp(x: Tensor): Tensor {
  return apply("exp", [checkTensor(x, "exp")], {});
}
/** Natural logarithm. @example `log(tensor([1, 2]))` */
export function log(x: Tensor): Tensor {
  return apply("log", [checkTensor(x, "log")], {});
}
/** Square root. @example `sqrt(tensor([4, 9]))` */
export function sqrt(x: Tensor): Tensor {
  return apply("sqrt", [checkTensor(x, "sqrt")], {});
}
/** |x|. @example `abs(tensor([-1, 2]))` */
export function abs(x: Tensor): Tensor {
  return apply("abs", [checkTensor(x, "abs")], {});
}
/** −1, 0 or 1 (zero gradient). @example `sign(tensor([-3, 0, 2]))` */
export function sign(x: Tensor): Tensor {
  return apply("sign", [checkTensor(x, "sign")], {});
}
/** a + b with broadcasting. @example `add(tensor([1, 2]), 1)` */
export function add(a: TensorLike, b: TensorLike): Tensor {
  return binaryOp("add", a, b);
}
/** a − b with broadcasting. @example `sub(tensor([1, 2]), tensor([1]))` */
export function sub(a: TensorLike, b: TensorLike): Tensor {
  return binaryOp("sub", a, b);
}
/** a · b elementwise with broadcasting. @example `mul(tensor([1, 2]), 3)` */
export function mul(a: TensorLike, b: TensorLike): Tensor {
  return binaryOp("mul", a, b);
}
/** a / b with broadcasting. @example `div(tensor([1, 2]), 2)` */
export function div(a: TensorLike, b: TensorLike): Tensor {
  return binaryOp("div", a, b);
}
/** Elementwise maximum (ties split the gradient). @example `maximum(tensor([1, 5]), 3)` */
export function maximum(a: TensorLike, b: TensorLike): Tensor {
  return binaryOp("maximum", a, b);
}
/** Elementwise minimum (ties split the gradient). @example `minimum(tensor([1, 5]), 3)` */
export function minimum(a: TensorLike, b: TensorLike): Tensor {
  return binaryOp("minimum", a, b);
}
/** x². @example `square(tensor([3]))` */
export function square(x: Tensor): Tensor {
  return mul(x, x);
}

function compareOp(op: CompareOp): (a: TensorLike, b: TensorLike) => Tensor {
  return (a, b) => binaryOp("compare", a, b, { op });
}
/** a == b as int32 0/1. @example `equal(tensor([1, 2]), 2)` */
export const equal: (a: TensorLike, b: TensorLike) => Tensor = compareOp("eq");
/** a != b as int32 0/1. @example `notEqual(tensor([1, 2]), 2)` */
export const notEqual: (a: TensorLike, b: TensorLike) => Tensor = compareOp("ne");
/** a < b as int32 0/1. @example `less(tensor([1, 2]), 2)` */
export const less: (a: TensorLike, b: TensorLike) => Tensor = compareOp("lt");
/** a <= b as int32 0/1. @example `lessEqual(tensor([1, 2]), 2)` */
export const lessEqual: (a: TensorLike, b: TensorLike) => Tensor = compareOp("le");
/** a > b as int32 0/1. @example `greater(tensor([1, 2]), 1)` */
export const greater: (a: TensorLike, b: TensorLike) => Tensor = compareOp("gt");
/** a >= b as int32 0/1. @example `greaterEqual(tensor([1, 2]), 2)` */
export const greaterEqual: (a: TensorLike, b: TensorLike) => Tensor = compareOp("ge");

/**
 * cond ? a : b elementwise (cond int32, nonzero = true), broadcasting all three.
 *
 * @example
 * ```ts
 * import { greater, tensor, where } from "@sll/sll";
 * const x = tensor([-1, 2]);
 * const y = where(greater(x, 0), x, 0); // relu
 * ```
 */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  checkTensor(cond, "where", "condition");
  const like = typeof a === "number" ? (typeof b === "number" ? null : b) : a;
  const dtype = like ? like.dtype : "float32";
  const temps: Tensor[] = [];
  const conv = (v: TensorLike): Tensor => {
    if (typeof v !== "number") return checkTensor(v, "where");
    const t = fromHost(toArray(dtype, [v]), [], dtype, "scalar");
    temps.push(t);
    return t;
  };
  const ta = conv(a), tb = conv(b);
  return withTemps(temps, () => apply("where", [cond, ta, tb], {}));
}

/** Converts to `dtype` (float → int32 truncates). @example `cast(tensor([1.7]), "int32")` */
export function cast(x: Tensor, dtype: DType): Tensor {
  checkTensor(x, "cast");
  return apply("cast", [x], { dtype: dtypeArg(dtype, "cast") });
}

/** max(x, 0), with gradient 0 at 0 (as PyTorch). @example `relu(tensor([-1, 2]))` */
export function relu(x: Tensor): Tensor {
  return where(greater(x, 0), x, 0);
}

/** Clamps into [lo, hi]. @example `clip(tensor([-1, 2]), 0, 1)` */
export function clip(x: Tensor, lo: number, hi: number): Tensor {
  return minimum(maximum(x, lo), hi);
}

// ----- reductions -----------------------------------------------------------------------------

/** Sum over `axes` (all when omitted). @example `sum(tensor([[1, 2], [3, 4]]), 1)` */
export function sum(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  checkTensor(x, "sum");
  return apply("sum", [x], { axes: normAxes(axes, x.rank, "sum", x.shape), keepDims });
}

/** Mean over `axes` (all when omitted). @example `mean(tensor([1, 2, 3]))` */
export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  checkTensor(x, "mean");
  const ax = normAxes(axes, x.rank, "mean", x.shape);
  const n = sizeOf(ax.map((a) => x.shape[a]));
  return div(sum(x, ax, keepDims), n);
}

/** Max over `axes` (all when omitted). @example `max(tensor([1, 5, 2]))` */
export function max(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  checkTensor(x, "max");
  return apply("max", [x], { axes: normAxes(axes, x.rank, "max", x.shape), keepDims });
}

/** Min over `axes` (all when omitted). @example `min(tensor([1, 5, 2]))` */
export function min(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  return neg(max(neg(x), axes, keepDims));
}

/** Index of the maximum along `axis` (int32; first on ties). @example `argmax(logits, -1)` */
export function argmax(x: Tensor, axis = -1, keepDims = false): Tensor {
  checkTensor(x, "argmax");
  return apply("argmax", [x], { axis: normAxis(axis, x.rank, "argmax", x.shape), keepDims });
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

// ----- linear algebra and layout --------------------------------------------------------------

/** Batched matrix product a [..., m, k] · b [..., k, n]. @example `matmul(a, b)` */
export function matmul(a: Tensor, b: Tensor): Tensor {
  return matmulT(a, b, false, false);
}

/**
 * op(a) · op(b) where op transposes the last two axes when its flag is set — the same as
 * `matmul(swapLast(a), b)` etc. without materialising the transpose.
 *
 * @example
 * ```ts
 * import { matmulT, ones } from "@sll/sll";
 * const gram = matmulT(ones([3, 5]), ones([3, 5]), false, true); // [3, 3] = W·Wᵀ
 * ```
 */
export function matmulT(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
  return apply("matmul", [checkTensor(a, "matmul"), checkTensor(b, "matmul")], { transA, transB });
}

/** Swaps the last two axes. @example `swapLast(tensor([[1, 2]]))` */
export function swapLast(x: Tensor): Tensor {
  const r = x.rank;
  if (r < 2) throw new RangeError(`swapLast: needs rank ≥ 2, got ${fmt(x.shape)}`);
  const perm = x.shape.map((_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return transpose(x, perm);
}

/** Permutes axes (reverses them when `perm` is omitted). @example `transpose(x, [1, 0])` */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  checkTensor(x, "transpose");
  const p = perm === undefined
    ? x.shape.map((_, i) => x.rank - 1 - i)
    : perm.map((a) => normAxis(a, x.rank, "transpose", x.shape));
  if (p.length !== x.rank || new Set(p).size !== p.length) {
    throw new RangeError(
      `transpose: ${JSON.stringify(perm)} is not a permutation of the ${x.rank} axes of ${
        fmt(x.shape)
      }`,
    );
  }
  if (p.every((v, i) => v === i)) return reshape(x, x.shape);
  return apply("transpose", [x], { perm: p });
}

/** Same data, new shape; one entry may be −1 (inferred). @example `reshape(x, [2, -1])` */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor(x, "reshape");
  const s = [...shape];
  const inf = s.indexOf(-1);
  if (inf >= 0) {
    const rest = sizeOf(s.filter((_, i) => i !== inf));
    if (rest === 0 || x.size % rest !== 0) {
      throw new TypeError(
        `reshape: cannot infer -1 in ${fmt(shape)} for ${x.size} elements (input ${fmt(x.shape)})`,
      );
    }
    s[inf] = x.size / rest;
  }
  return apply("reshape", [x], { shape: checkShape(s, "reshape") });
}

/** Broadcasts to `shape`. @example `broadcastTo(tensor([1, 2]), [3, 2])` */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor(x, "broadcastTo");
  return apply("broadcastTo", [x], { shape: checkShape(shape, "broadcastTo") });
}

/** Inserts a size-1 axis at `axis`. @example `expandDims(tensor([1, 2]), 0)` */
export function expandDims(x: Tensor, axis: number): Tensor {
  const a = normAxis(axis, x.rank + 1, "expandDims", x.shape);
  const s = [...x.shape];
  s.splice(a, 0, 1);
  return reshape(x, s);
}

/**
 * x[begin : begin + size]; a size of −1 takes the rest of the axis.
 *
 * @example
 * ```ts
 * import { slice, tensor } from "@sll/sll";
 * const y = slice(tensor([[1, 2, 3], [4, 5, 6]]), [0, 1], [2, -1]); // [[2,3],[5,6]]
 * ```
 */
export function slice(x: Tensor, begin: readonly number[], size: readonly number[]): Tensor {
  checkTensor(x, "slice");
  if (begin.length !== x.rank || size.length !== x.rank) {
    throw new RangeError(
      `slice: begin ${JSON.stringify(begin)} and size ${
        JSON.stringify(size)
      } need ${x.rank} entries for ${fmt(x.shape)}`,
    );
  }
  const sz = size.map((s, i) => (s === -1 ? x.shape[i] - begin[i] : s));
  for (let i = 0; i < x.rank; i++) {
    if (!(begin[i] >= 0 && sz[i] >= 0 && begin[i] + sz[i] <= x.shape[i])) {
      throw new RangeError(
        `slice: axis ${i}: [${begin[i]}, ${begin[i] + sz[i]}) is outside [0, ${x.shape[i]}) of ${
          fmt(x.shape)
        }`,
      );
    }
  }
  return apply("slice", [x], { begin: [...begin], size: sz });
}

/**
 * Pads each axis by `widths[i] = [before, after]`, with a constant (default 0) or by reflection
 * (the edge is not repeated, as PyTorch's "reflect").
 *
 * @example
 * ```ts
 * import { pad, tensor } from "@sll/sll";
 * const y = pad(tensor([[1, 2, 3]]), [[0, 0], [2, 2]], { mode: "reflect" }); // [[3,2,1,2,3,2,1]]
 * ```
 */
export function pad(
  x: Tensor,
  widths: readonly (readonly [number, number])[],
  options: { mode?: "constant" | "reflect"; value?: number } = {},
): Tensor {
  checkTensor(x, "pad");
  if (widths.length !== x.rank) {
    throw new RangeError(
      `pad: widths has ${widths.length} entries but ${fmt(x.shape)} has ${x.rank} axes`,
    );
  }
  for (const [i, [lo, hi]] of widths.entries()) {
    if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 0 && hi >= 0)) {
      throw new RangeError(
        `pad: axis ${i}: widths must be non-negative integers, got [${lo}, ${hi}]`,
      );
    }
  }
  const mode = options.mode ?? "constant";
  if (mode === "constant") {
    return apply("pad", [x], {
      widths: widths.map((w) => [w[0], w[1]] as Pair),
      value: options.value ?? 0,
    });
  }
  if (mode !== "reflect") {
    throw new RangeError(`pad: mode must be "constant" or "reflect", got ${JSON.stringify(mode)}`);
  }
  let y = x;
  for (let a = 0; a < x.rank; a++) {
    const [lo, hi] = widths[a];
    if (lo === 0 && hi === 0) continue;
    const n = x.shape[a];
    if (lo >= n || hi >= n) {
      throw new RangeError(
        `pad: reflect padding [${lo}, ${hi}] must be smaller than axis ${a} of size ${n} (${
          fmt(x.shape)
        })`,
      );
    }
    const idx = new Int32Array(n + lo + hi);
    for (let q = 0; q < idx.length; q++) {
      const j = q - lo;
      idx[q] = j < 0 ? -j : j >= n ? 2 * (n - 1) - j : j;
    }
    y = gather(y, fromHost(idx, [idx.length], "int32", "reflectIndex"), a);
  }
  return y;
}

/** Concatenates along `axis`. @example `concat([a, b], 0)` */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(xs) || xs.length === 0) {
    throw new TypeError("concat: needs a non-empty array of tensors");
  }
  xs.forEach((x) => checkTensor(x, "concat"));
  if (xs.length === 1) return reshape(xs[0], xs[0].shape);
  return apply("concat", [...xs], { axis: normAxis(axis, xs[0].rank, "concat", xs[0].shape) });
}

/**
 * Takes entries at int32 `indices` (1-D) along `axis`.
 *
 * @example
 * ```ts
 * import { gather, tensor } from "@sll/sll";
 * const y = gather(tensor([10, 20, 30]), tensor([2, 0], { dtype: "int32" }), 0); // [30, 10]
 * ```
 */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  checkTensor(x, "gather");
  checkTensor(indices, "gather", "indices");
  return apply("gather", [x, indices], { axis: normAxis(axis, x.rank, "gather", x.shape) });
}

/** Adjoint of gather: sums slices of `g` into `size` slots at `indices` along `axis`. */
export function scatterAdd(g: Tensor, indices: Tensor, axis: number, size: number): Tensor {
  checkTensor(g, "scatterAdd");
  return apply("scatterAdd", [g, indices], {
    axis: normAxis(axis, g.rank, "scatterAdd", g.shape),
    size,
  });
}

/** Reverses `axis`. @example `reverse(tensor([1, 2, 3]), 0)` */
export function reverse(x: Tensor, axis: number): Tensor {
  const a = normAxis(axis, x.rank, "reverse", x.shape);
  const n = x.shape[a];
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = n - 1 - i;
  return gather(x, fromHost(idx, [n], "int32", "reverseIndex"), a);
}

function pair(
  v: number | readonly number[] | undefined,
  dflt: number,
  op: string,
  what: string,
): Pair {
  const p: Pair = v === undefined ? [dflt, dflt] : typeof v === "number" ? [v, v] : [v[0], v[1]];
  if (
    !p.every((e) => Number.isInteger(e) && e >= 0) ||
    (what !== "padding" && what !== "outputPadding" && p.some((e) => e < 1))
  ) {
    throw new RangeError(
      `${op}: ${what} must be ${
        what.endsWith("adding") ? "non-negative" : "positive"
      } integers, got ${JSON.stringify(v)}`,
    );
  }
  return p;
}

/** Stride/padding options of the convolutions. */
export interface ConvOptions {
  /** Step between windows (default 1). */
  stride?: number | readonly [number, number];
  /** Zero padding on each side (default 0). */
  padding?: number | readonly [number, number];
}

/**
 * 2-D cross-correlation: x [B, C, H, W], w [O, C, kh, kw] → [B, O, Ho, Wo].
 *
 * @example
 * ```ts
 * import { conv2d, ones } from "@sll/sll";
 * const y = conv2d(ones([1, 1, 4, 4]), ones([2, 1, 3, 3]), { padding: 1 });
 * ```
 */
export function conv2d(x: Tensor, w: Tensor, options: ConvOptions = {}): Tensor {
  return apply("conv2d", [checkTensor(x, "conv2d"), checkTensor(w, "conv2d", "weight")], {
    stride: pair(options.stride, 1, "conv2d", "stride"),
    padding: pair(options.padding, 0, "conv2d", "padding"),
  });
}

/**
 * The adjoint of conv2d with the same weight w [O, C, kh, kw]: y [B, O, …] → [B, C, …]
 * (PyTorch's conv_transpose2d with that weight).
 *
 * @example
 * ```ts
 * import { convTranspose2d, ones } from "@sll/sll";
 * const x = convTranspose2d(ones([1, 2, 4, 4]), ones([2, 1, 3, 3]), { padding: 1 });
 * ```
 */
export function convTranspose2d(
  y: Tensor,
  w: Tensor,
  options: ConvOptions & { outputPadding?: number | readonly [number, number] } = {},
): Tensor {
  const stride = pair(options.stride, 1, "convTranspose2d", "stride");
  const outputPadding = pair(options.outputPadding, 0, "convTranspose2d", "outputPadding");
  if (outputPadding[0] >= stride[0] || outputPadding[1] >= stride[1]) {
    throw new RangeError(
      `convTranspose2d: outputPadding ${outputPadding} must be smaller than stride ${stride}`,
    );
  }
  return apply("convTranspose2d", [
    checkTensor(y, "convTranspose2d"),
    checkTensor(w, "convTranspose2d", "weight"),
  ], {
    stride,
    padding: pair(options.padding, 0, "convTranspose2d", "padding"),
    outputPadding,
  });
}

/** Weight gradient of conv2d: x [B,C,H,W], gy [B,O,Ho,Wo] → [O, C, kh, kw]. */
export function conv2dFilterGrad(
  x: Tensor,
  gy: Tensor,
  options: ConvOptions & { kernel: number | readonly [number, number] },
): Tensor {
  return apply("conv2dFilterGrad", [x, gy], {
    stride: pair(options.stride, 1, "conv2dFilterGrad", "stride"),
    padding: pair(options.padding, 0, "conv2dFilterGrad", "padding"),
    kernel: pair(options.kernel, 1, "conv2dFilterGrad", "kernel"),
  });
}

/** Options of avgPool2d. */
export interface PoolOptions {
  /** Window size. */
  size: number | readonly [number, number];
  /** Step (default: the window size). */
  stride?: number | readonly [number, number];
  /** Zero padding (default 0). */
  padding?: number | readonly [number, number];
  /** Divide window sums by this (default: the window area), as PyTorch's divisor_override. */
  divisor?: number;
}

/**
 * Average pooling over NCHW windows; `divisor` overrides the window area.
 *
 * @example
 * ```ts
 * import { avgPool2d, ones } from "@sll/sll";
 * const y = avgPool2d(ones([1, 1, 8, 8]), { size: 4, divisor: 4 }); // window sums / 4
 * ```
 */
export function avgPool2d(x: Tensor, options: PoolOptions): Tensor {
  const size = pair(options.size, 1, "avgPool2d", "size");
  const divisor = options.divisor ?? size[0] * size[1];
  if (!(divisor > 0)) throw new RangeError(`avgPool2d: divisor must be positive, got ${divisor}`);
  return apply("avgPool2d", [checkTensor(x, "avgPool2d")], {
    size,
    stride: options.stride === undefined ? size : pair(options.stride, 1, "avgPool2d", "stride"),
    padding: pair(options.padding, 0, "avgPool2d", "padding"),
    divisor,
  });
}

/** Adjoint of avgPool2d back to spatial size `inSize`. */
export function avgPool2dTranspose(
  g: Tensor,
  p: { size: Pair; stride: Pair; padding: Pair; divisor: number; inSize: Pair },
): Tensor {
  return apply("avgPool2dTranspose", [g], p);
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

/**
 * CPU elementwise kernels (unary, binary, compare, where, cast) over host typed arrays, generic
 * in dtype. Loops are generated once per operator with `new Function` so each one is
 * monomorphic for V8; broadcasting goes through precomputed index maps.
 * @module
 */
import { allocArray, type DType, type TypedArray } from "../dtype.ts";
import { broadcastStrides, sameShape, sizeOf } from "../shape.ts";
import type { BinaryName, CompareOp, UnaryName } from "../prims.ts";

/** Scalar expression of each unary op, in terms of `a`. */
export const UNARY_EXPR: Record<UnaryName, string> = {
  neg: "-a",
  exp: "Math.exp(a)",
  log: "Math.log(a)",
  sqrt: "Math.sqrt(a)",
  abs: "Math.abs(a)",
  sign: "(a > 0 ? 1 : a < 0 ? -1 : 0)",
};

/** Scalar expression of each binary op, in terms of `a` and `b`. */
export const BINARY_EXPR: Record<BinaryName, string> = {
  add: "a + b",
  sub: "a - b",
  mul: "a * b",
  div: "a / b",
  // NaN-propagating like IEEE maximum in PyTorch
  maximum: "(a > b || a !== a ? a : b)",
  minimum: "(a < b || a !== a ? a : b)",
};

/** Scalar expression of each comparison, producing 0/1. */
export const COMPARE_EXPR: Record<CompareOp, string> = {
  eq: "(a === b ? 1 : 0)",
  ne: "(a !== b ? 1 : 0)",
  lt: "(a < b ? 1 : 0)",
  le: "(a <= b ? 1 : 0)",
  gt: "(a > b ? 1 : 0)",
  ge: "(a >= b ? 1 : 0)",
};

type Loop1 = (x: TypedArray, o: TypedArray, n: number) => void;
type Loop2 = (
  x: TypedArray,
  y: TypedArray,
  o: TypedArray,
  n: number,
  ix: Int32Array | null,
  iy: Int32Array | null,
  mode: number,
) => void;

const unaryCache = new Map<string, Loop1>();
const binaryCache = new Map<string, Loop2>();

function unaryLoop(expr: string): Loop1 {
  let f = unaryCache.get(expr);
  if (!f) {
    f = new Function(
      "x",
      "o",
      "n",
      `for (let i = 0; i < n; i++) { const a = x[i]; o[i] = ${expr}; }`,
    ) as Loop1;
    unaryCache.set(expr, f);
  }
  return f;
}

function binaryLoop(expr: string): Loop2 {
  let f = binaryCache.get(expr);
  if (!f) {
    // mode 0: both contiguous; 1: y scalar; 2: x scalar; 3: index maps (null = identity)
    f = new Function(
      "x",
      "y",
      "o",
      "n",
      "ix",
      "iy",
      "mode",
      `if (mode === 0) {
         for (let i = 0; i < n; i++) { const a = x[i], b = y[i]; o[i] = ${expr}; }
       } else if (mode === 1) {
         const b = y[0];
         for (let i = 0; i < n; i++) { const a = x[i]; o[i] = ${expr}; }
       } else if (mode === 2) {
         const a = x[0];
         for (let i = 0; i < n; i++) { const b = y[i]; o[i] = ${expr}; }
       } else {
         for (let i = 0; i < n; i++) {
           const a = x[ix === null ? i : ix[i]], b = y[iy === null ? i : iy[i]];
           o[i] = ${expr};
         }
       }`,
    ) as Loop2;
    binaryCache.set(expr, f);
  }
  return f;
}

/**
 * Index map from each output element to the source element of an input broadcast to
 * `outShape`; null when no map is needed (same shape, or a single element).
 */
export function broadcastIndex(
  inShape: readonly number[],
  outShape: readonly number[],
): Int32Array | null {
  if (sameShape(inShape, outShape)) return null;
  const n = sizeOf(outShape);
  if (sizeOf(inShape) === 1) return null;
  const st = broadcastStrides(inShape, outShape);
  const rank = outShape.length;
  const idx = new Int32Array(n);
  const counter = new Array<number>(rank).fill(0);
  let off = 0;
  const last = rank - 1;
  const dl = outShape[last];
  const sl = st[last];
  for (let i = 0; i < n;) {
    for (let j = 0; j < dl; j++, i++) idx[i] = off + j * sl;
    // advance the outer counters
    for (let d = last - 1; d >= 0; d--) {
      counter[d]++;
      off += st[d];
      if (counter[d] < outShape[d]) break;
      off -= st[d] * outShape[d];
      counter[d] = 0;
    }
  }
  return idx;
}

/** y = f(x) elementwise. */
export function unary(expr: string, x: TypedArray, dtype: DType): TypedArray {
  const o = allocArray(dtype, x.length);
  unaryLoop(expr)(x, o, x.length);
  return o;
}

/** o = f(x, y) elementwise with broadcasting of both inputs to `outShape`. */
export function binary(
  expr: string,
  x: TypedArray,
  xShape: readonly number[],
  y: TypedArray,
  yShape: readonly number[],
  outShape: readonly number[],
  outDType: DType,
): TypedArray {
  const n = sizeOf(outShape);
  const o = allocArray(outDType, n);
  if (n === 0) return o;
  const xs = x.length === 1 && n > 1, ys = y.length === 1 && n > 1;
  const ix = xs ? new Int32Array(n) : broadcastIndex(xShape, outShape);
  const iy = ys ? new Int32Array(n) : broadcastIndex(yShape, outShape);
  const mode = ix === null && iy === null ? 0 : ix === null && ys ? 1 : iy === null && xs ? 2 : 3;
  binaryLoop(expr)(x, y, o, n, ix, iy, mode);
  return o;
}

/** o = cond ? a : b, broadcasting all three to `outShape`. */
export function where(
  c: TypedArray,
  cShape: readonly number[],
  a: TypedArray,
  aShape: readonly number[],
  b: TypedArray,
  bShape: readonly number[],
  outShape: readonly number[],
  dtype: DType,
): TypedArray {
  const n = sizeOf(outShape);
  const o = allocArray(dtype, n);
  const ic = broadcastIndex(cShape, outShape);
  const ia = broadcastIndex(aShape, outShape);
  const ib = broadcastIndex(bShape, outShape);
  const cs = c.length === 1, as = a.length === 1, bs = b.length === 1;
  for (let i = 0; i < n; i++) {
    const ci = cs ? 0 : ic === null ? i : ic[i];
    o[i] = c[ci] !== 0 ? a[as ? 0 : ia === null ? i : ia[i]] : b[bs ? 0 : ib === null ? i : ib[i]];
  }
  return o;
}

/** Converts to `dtype` (float → int32 truncates toward zero, as PyTorch's `.int()`). */
export function cast(x: TypedArray, dtype: DType): TypedArray {
  const o = allocArray(dtype, x.length);
  if (dtype === "int32") {
    for (let i = 0; i < x.length; i++) o[i] = Math.trunc(x[i]);
  } else {
    o.set(x);
  }
  return o;
}

/**
 * CPU elementwise kernels (unary, binary, compare, where, cast) over host typed arrays, generic
 * in dtype. Loops are generated once per operator with `new Function` so each one is
 * monomorphic for V8; broadcasting goes through precomputed index maps.
 * @module
 */
import type { DType, TypedArray } from "../dtype.ts";
import { allocUninit } from "./host_pool.ts";
import { broadcastStrides, sameShape, sizeOf } from "../shape.ts";
import { planBroadcast } from "./strided.ts";
import type { BinaryName, CompareOp, UnaryName } from "../prims.ts";
import {
  ELEMENTWISE,
  type ElementwiseKind,
  type ElementwiseName,
  elementwiseNames,
} from "../elementwise.ts";

/** JS expression of each operation of one kind, read from the shared `ELEMENTWISE` table. */
function exprsOf<N extends ElementwiseName>(kind: ElementwiseKind): Record<N, string> {
  return Object.fromEntries(
    elementwiseNames(kind).map((n) => [n, ELEMENTWISE[n].js("float32", "float32")]),
  ) as Record<N, string>;
}

/** Scalar expression of each unary op, in terms of `a` (from `ELEMENTWISE`). */
export const UNARY_EXPR: Record<UnaryName, string> = exprsOf("unary");

/** Scalar expression of each binary op, in terms of `a` and `b` (from `ELEMENTWISE`). */
export const BINARY_EXPR: Record<BinaryName, string> = exprsOf("binary");

/** Scalar expression of each comparison, producing 0/1 (from `ELEMENTWISE`). */
export const COMPARE_EXPR: Record<CompareOp, string> = exprsOf("compare");

type Loop1 = (x: TypedArray, o: TypedArray, n: number) => void;
type Loop2 = (
  x: TypedArray,
  y: TypedArray,
  o: TypedArray,
  rows: number,
  inner: number,
  sx: number,
  sy: number,
  ox: Int32Array,
  oy: Int32Array,
) => void;

type WhereLoop = (
  c: TypedArray,
  a: TypedArray,
  b: TypedArray,
  o: TypedArray,
  rows: number,
  L: number,
  sc: number,
  sa: number,
  sb: number,
  oc: Int32Array,
  oa: Int32Array,
  ob: Int32Array,
) => void;

const whereCache = new Map<string, WhereLoop>();
const unaryCache = new Map<string, Loop1>();
const binaryCache = new Map<string, Loop2>();

// Each generated loop is cached per (expression, array types), so V8 sees one element kind per
// function and keeps the loads and stores monomorphic.
function unaryLoop(expr: string, key: string): Loop1 {
  let f = unaryCache.get(expr + key);
  if (!f) {
    f = new Function(
      "x",
      "o",
      "n",
      `for (let i = 0; i < n; i++) { const a = x[i]; o[i] = ${expr}; }`,
    ) as Loop1;
    unaryCache.set(expr + key, f);
  }
  return f;
}

function binaryLoop(expr: string, key: string): Loop2 {
  let f = binaryCache.get(expr + key);
  if (!f) {
    // one specialised inner loop per (stride x, stride y) ∈ {0, 1}², rows from the plan
    const body = (ax: string, by: string) =>
      `for (let j = 0; j < inner; j++, i++) { const a = ${ax}, b = ${by}; o[i] = ${expr}; }`;
    f = new Function(
      "x",
      "y",
      "o",
      "rows",
      "inner",
      "sx",
      "sy",
      "ox",
      "oy",
      `let i = 0;
       for (let r = 0; r < rows; r++) {
         const px = ox[r], py = oy[r];
         if (sx === 1 && sy === 1) { ${body("x[px + j]", "y[py + j]")} }
         else if (sx === 1) { const yb = y[py]; ${body("x[px + j]", "yb")} }
         else if (sy === 1) { const xb = x[px]; ${body("xb", "y[py + j]")} }
         else { const xb = x[px], yb = y[py]; ${body("xb", "yb")} }
       }`,
    ) as Loop2;
    binaryCache.set(expr + key, f);
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
  const o = allocUninit(dtype, x.length);
  unaryLoop(expr, x.constructor.name + o.constructor.name)(x, o, x.length);
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
  const o = allocUninit(outDType, n);
  if (n === 0) return o;
  const p = planBroadcast([xShape, yShape], outShape);
  const key = x.constructor.name + y.constructor.name + o.constructor.name;
  binaryLoop(expr, key)(
    x,
    y,
    o,
    p.rows,
    p.inner,
    p.innerStrides[0],
    p.innerStrides[1],
    p.rowOffsets[0],
    p.rowOffsets[1],
  );
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
  const o = allocUninit(dtype, n);
  if (n === 0) return o;
  const p = planBroadcast([cShape, aShape, bShape], outShape);
  const key = c.constructor.name + a.constructor.name + b.constructor.name + o.constructor.name;
  let f = whereCache.get(key);
  if (!f) {
    f = new Function(
      "c",
      "a",
      "b",
      "o",
      "rows",
      "L",
      "sc",
      "sa",
      "sb",
      "oc",
      "oa",
      "ob",
      `let i = 0;
       for (let r = 0; r < rows; r++) {
         const pc = oc[r], pa = oa[r], pb = ob[r];
         if (sc === 1 && sa === 1 && sb === 0) {
           const bv = b[pb];
           for (let j = 0; j < L; j++, i++) o[i] = c[pc + j] !== 0 ? a[pa + j] : bv;
         } else if (sc === 1 && sa === 0 && sb === 1) {
           const av = a[pa];
           for (let j = 0; j < L; j++, i++) o[i] = c[pc + j] !== 0 ? av : b[pb + j];
         } else {
           for (let j = 0; j < L; j++, i++) o[i] = c[pc + j * sc] !== 0 ? a[pa + j * sa] : b[pb + j * sb];
         }
       }`,
    ) as WhereLoop;
    whereCache.set(key, f);
  }
  const [sc, sa, sb] = p.innerStrides;
  const [oc, oa, ob] = p.rowOffsets;
  if (dtype !== "float64") {
    // 4-byte elements: select on the bit patterns with a mask, branch-free and exact
    const bits = (t: TypedArray) => new Int32Array(t.buffer, t.byteOffset, t.length);
    whereBits(c, bits(a), bits(b), bits(o), p.rows, p.inner, sc, sa, sb, oc, oa, ob);
    return o;
  }
  f(c, a, b, o, p.rows, p.inner, sc, sa, sb, oc, oa, ob);
  return o;
}

function whereBits(
  c: TypedArray,
  a: Int32Array,
  b: Int32Array,
  o: Int32Array,
  rows: number,
  L: number,
  sc: number,
  sa: number,
  sb: number,
  oc: Int32Array,
  oa: Int32Array,
  ob: Int32Array,
): void {
  let i = 0;
  for (let r = 0; r < rows; r++) {
    const pc = oc[r], pa = oa[r], pb = ob[r];
    if (sc === 1 && sa === 1 && sb === 0) {
      const bv = b[pb];
      for (let j = 0; j < L; j++, i++) {
        const m = -(+(c[pc + j] !== 0));
        o[i] = (a[pa + j] & m) | (bv & ~m);
      }
    } else if (sc === 1 && sa === 1 && sb === 1) {
      for (let j = 0; j < L; j++, i++) {
        const m = -(+(c[pc + j] !== 0));
        o[i] = (a[pa + j] & m) | (b[pb + j] & ~m);
      }
    } else {
      for (let j = 0; j < L; j++, i++) {
        const m = -(+(c[pc + j * sc] !== 0));
        o[i] = (a[pa + j * sa] & m) | (b[pb + j * sb] & ~m);
      }
    }
  }
}

/**
 * Converts to `dtype`: float → int32 truncates toward zero (as PyTorch's `.int()`), saturates
 * at the int32 range and maps NaN to 0 (the `ELEMENTWISE.cast` rule).
 */
export function cast(x: TypedArray, dtype: DType): TypedArray {
  const expr = ELEMENTWISE.cast.js(dtype, x instanceof Int32Array ? "int32" : "float32");
  if (expr !== "a") return unary(expr, x, dtype);
  const o = allocUninit(dtype, x.length);
  o.set(x);
  return o;
}

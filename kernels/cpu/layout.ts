/**
 * CPU layout and reduction kernels: transpose, broadcastTo, slice, pad, concat, gather,
 * scatterAdd, sum/max/argmax over axes. Generic over dtype; reductions accumulate in float64.
 * @module
 */
import type { DType, TypedArray } from "../dtype.ts";
import { allocArray, allocArrayForKernels } from "./host_pool.ts";
import { sizeOf, stridesOf } from "../shape.ts";
import { broadcastIndex } from "./elementwise.ts";

/** General N-d permutation: out.shape[i] = shape[perm[i]]. */
export function transpose(
  x: TypedArray,
  shape: readonly number[],
  perm: readonly number[],
  dtype: DType,
): TypedArray {
  const n = x.length;
  const o = allocArray(dtype, n);
  const rank = shape.length;
  if (n === 0) return o;
  const inSt = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]);
  const st = perm.map((p) => inSt[p]); // input stride for each output axis
  if (rank === 2 && perm[0] === 1) {
    // blocked 2-D transpose for cache friendliness
    const R = shape[0], C = shape[1], B = 32;
    for (let i0 = 0; i0 < R; i0 += B) {
      for (let j0 = 0; j0 < C; j0 += B) {
        const i1 = Math.min(R, i0 + B), j1 = Math.min(C, j0 + B);
        for (let i = i0; i < i1; i++) for (let j = j0; j < j1; j++) o[j * R + i] = x[i * C + j];
      }
    }
    return o;
  }
  const counter = new Array<number>(rank).fill(0);
  const last = rank - 1;
  const dl = outShape[last], sl = st[last];
  let off = 0;
  for (let i = 0; i < n;) {
    for (let j = 0; j < dl; j++, i++) o[i] = x[off + j * sl];
    for (let d = last - 1; d >= 0; d--) {
      counter[d]++;
      off += st[d];
      if (counter[d] < outShape[d]) break;
      off -= st[d] * outShape[d];
      counter[d] = 0;
    }
  }
  return o;
}

/** Materialises `x` broadcast to `shape`. */
export function broadcastTo(
  x: TypedArray,
  xShape: readonly number[],
  shape: readonly number[],
  dtype: DType,
): TypedArray {
  const n = sizeOf(shape);
  const o = allocArray(dtype, n);
  const idx = broadcastIndex(xShape, shape);
  if (idx === null) {
    if (x.length === n) o.set(x);
    else o.fill(x[0]);
  } else {
    for (let i = 0; i < n; i++) o[i] = x[idx[i]];
  }
  return o;
}

/**
 * Copies the box [begin, begin+size) of `x` into a new array; with `inverse`, writes a
 * contiguous `x` of shape `size` into a zero array of shape `shape` at `begin` (used by pad).
 */
function boxCopy(
  src: TypedArray,
  dst: TypedArray,
  big: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  bigIsSrc: boolean,
): void {
  const rank = big.length;
  const n = sizeOf(size);
  if (n === 0) return;
  if (rank === 0) {
    dst[0] = src[0];
    return;
  }
  const bst = stridesOf(big);
  let base = 0;
  for (let d = 0; d < rank; d++) base += begin[d] * bst[d];
  const last = rank - 1;
  const dl = size[last];
  const counter = new Array<number>(rank).fill(0);
  let off = base;
  for (let i = 0; i < n;) {
    if (bigIsSrc) { for (let j = 0; j < dl; j++, i++) dst[i] = src[off + j]; }
    else for (let j = 0; j < dl; j++, i++) dst[off + j] = src[i];
    for (let d = last - 1; d >= 0; d--) {
      counter[d]++;
      off += bst[d];
      if (counter[d] < size[d]) break;
      off -= bst[d] * size[d];
      counter[d] = 0;
    }
  }
}

/** x[begin : begin + size]. */
export function slice(
  x: TypedArray,
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  dtype: DType,
): TypedArray {
  const o = allocArray(dtype, sizeOf(size));
  boxCopy(x, o, shape, begin, size, true);
  return o;
}

/** Constant padding: `widths[i] = [before, after]` (non-negative). */
export function pad(
  x: TypedArray,
  shape: readonly number[],
  widths: readonly (readonly [number, number])[],
  value: number,
  dtype: DType,
): TypedArray {
  const outShape = shape.map((d, i) => d + widths[i][0] + widths[i][1]);
  // a padded image often feeds a convolution next: where it can, in the wasm kernels' memory
  const o = allocArrayForKernels(dtype, sizeOf(outShape));
  if (value !== 0) o.fill(value);
  boxCopy(x, o, outShape, widths.map((w) => w[0]), shape, false);
  return o;
}

/** Concatenation along `axis`. */
export function concat(
  xs: { data: TypedArray; shape: readonly number[] }[],
  axis: number,
  dtype: DType,
): TypedArray {
  const shape0 = xs[0].shape;
  const outer = sizeOf(shape0.slice(0, axis));
  const inner = sizeOf(shape0.slice(axis + 1));
  const total = xs.reduce((s, x) => s + x.shape[axis], 0);
  const o = allocArray(dtype, outer * total * inner);
  let off = 0;
  for (const x of xs) {
    const blk = x.shape[axis] * inner;
    for (let i = 0; i < outer; i++) {
      o.set(x.data.subarray(i * blk, (i + 1) * blk), i * total * inner + off);
    }
    off += blk;
  }
  return o;
}

/** out[.., i, ..] = x[.., indices[i], ..] along `axis`; indices are bounds-checked. */
export function gather(
  x: TypedArray,
  shape: readonly number[],
  indices: TypedArray,
  axis: number,
  dtype: DType,
): TypedArray {
  const outer = sizeOf(shape.slice(0, axis));
  const inner = sizeOf(shape.slice(axis + 1));
  const d = shape[axis];
  const m = indices.length;
  const o = allocArray(dtype, outer * m * inner);
  for (let k = 0; k < m; k++) {
    const j = indices[k];
    if (!(j >= 0 && j < d)) {
      throw new RangeError(
        `gather: index ${j} at position ${k} is out of range for axis ${axis} of size ${d}`,
      );
    }
  }
  for (let i = 0; i < outer; i++) {
    for (let k = 0; k < m; k++) {
      const src = (i * d + indices[k]) * inner;
      o.set(x.subarray(src, src + inner), (i * m + k) * inner);
    }
  }
  return o;
}

/** Adjoint of gather: out (size `size` along axis) accumulates g's slices at `indices`. */
export function scatterAdd(
  g: TypedArray,
  shape: readonly number[],
  indices: TypedArray,
  axis: number,
  size: number,
  dtype: DType,
): TypedArray {
  const outer = sizeOf(shape.slice(0, axis));
  const inner = sizeOf(shape.slice(axis + 1));
  const m = indices.length;
  const o = allocArray(dtype, outer * size * inner);
  for (let k = 0; k < m; k++) {
    const j = indices[k];
    if (!(j >= 0 && j < size)) {
      throw new RangeError(
        `scatterAdd: index ${j} at position ${k} is out of range for axis ${axis} of size ${size}`,
      );
    }
  }
  for (let i = 0; i < outer; i++) {
    for (let k = 0; k < m; k++) {
      const dst = (i * size + indices[k]) * inner;
      const src = (i * m + k) * inner;
      for (let t = 0; t < inner; t++) o[dst + t] += g[src + t];
    }
  }
  return o;
}

/**
 * Single-pass reduction over `axes`: adjacent axes with the same status (kept/reduced) are
 * merged, the input is walked in memory order, and each contiguous run of the last group either
 * folds into one output slot (reduced) or into a slice of them (kept). No transposed copies.
 */
function reduceInto(
  x: TypedArray,
  shape: readonly number[],
  axes: readonly number[],
  acc: Float64Array,
  isMax: boolean,
): void {
  const sizes: number[] = [], red: boolean[] = [];
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const r = axes.includes(d);
    if (sizes.length && red[red.length - 1] === r) sizes[sizes.length - 1] *= shape[d];
    else {
      sizes.push(shape[d]);
      red.push(r);
    }
  }
  if (x.length === 0) return;
  if (sizes.length === 0) {
    acc[0] = isMax ? Math.max(acc[0], x[0]) : acc[0] + x[0];
    return;
  }
  const g = sizes.length;
  const outStride = new Array<number>(g).fill(0);
  for (let d = g - 1, st = 1; d >= 0; d--) {
    if (!red[d]) {
      outStride[d] = st;
      st *= sizes[d];
    }
  }
  const L = sizes[g - 1], lastRed = red[g - 1];
  const counter = new Array<number>(g - 1).fill(0);
  let outOff = 0;
  for (let off = 0; off < x.length; off += L) {
    if (lastRed) {
      if (isMax) {
        let m = acc[outOff];
        for (let j = 0; j < L; j++) {
          const v = x[off + j];
          if (v > m || v !== v) m = v;
        }
        acc[outOff] = m;
      } else {
        let sum = 0;
        for (let j = 0; j < L; j++) sum += x[off + j];
        acc[outOff] += sum;
      }
    } else if (isMax) {
      for (let j = 0; j < L; j++) {
        const v = x[off + j];
        if (v > acc[outOff + j] || v !== v) acc[outOff + j] = v;
      }
    } else {
      for (let j = 0; j < L; j++) acc[outOff + j] += x[off + j];
    }
    for (let d = g - 2; d >= 0; d--) {
      counter[d]++;
      outOff += outStride[d];
      if (counter[d] < sizes[d]) break;
      outOff -= outStride[d] * sizes[d];
      counter[d] = 0;
    }
  }
}

function outSize(shape: readonly number[], axes: readonly number[]): number {
  let n = 1;
  shape.forEach((d, i) => {
    if (!axes.includes(i)) n *= d;
  });
  return n;
}

/** Sum over `axes` (accumulated in float64). */
export function sum(
  x: TypedArray,
  shape: readonly number[],
  axes: readonly number[],
  dtype: DType,
): TypedArray {
  const acc = new Float64Array(outSize(shape, axes));
  reduceInto(x, shape, axes, acc, false);
  const o = allocArray(dtype, acc.length);
  o.set(acc);
  return o;
}

/** Max over `axes` (NaN propagates; -Infinity for an empty reduction). */
export function max(
  x: TypedArray,
  shape: readonly number[],
  axes: readonly number[],
  dtype: DType,
): TypedArray {
  const acc = new Float64Array(outSize(shape, axes)).fill(-Infinity);
  reduceInto(x, shape, axes, acc, true);
  const o = allocArray(dtype, acc.length);
  o.set(acc);
  return o;
}

/** Moves `axis` last, returning the permuted data and (kept size, axis size). */
function reduceLayout(
  x: TypedArray,
  shape: readonly number[],
  axes: readonly number[],
  dtype: DType,
): { data: TypedArray; outer: number; inner: number } {
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const perm = [...kept, ...axes];
  const identity = perm.every((p, i) => p === i);
  const data = identity ? x : transpose(x, shape, perm, dtype);
  return {
    data,
    outer: sizeOf(kept.map((i) => shape[i])),
    inner: sizeOf(axes.map((i) => shape[i])),
  };
}

/** Index of the first maximum along `axis` (int32). */
export function argmax(
  x: TypedArray,
  shape: readonly number[],
  axis: number,
  dtype: DType,
): TypedArray {
  const { data, outer, inner } = reduceLayout(x, shape, [axis], dtype);
  const o = new Int32Array(outer);
  for (let i = 0; i < outer; i++) {
    let m = -Infinity, k = 0;
    const base = i * inner;
    for (let j = 0; j < inner; j++) {
      const v = data[base + j];
      if (v > m) {
        m = v;
        k = j;
      }
    }
    o[i] = k;
  }
  return o;
}

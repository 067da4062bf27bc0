/**
 * Reduction runners on WebGPU (beside their builders in reduce.wgsl.ts): sum, max and argmax
 * over any axes, viewed as [outer, r, inner] (copying x with the reduced axes moved last when
 * they are not one contiguous block), reduced in passes of at most CHUNK entries each (Mesa's
 * loop limit); and `sumParts`, which the matmul and convolution runners use to add split-k
 * partial results.
 * @module
 */
import type { DType } from "../dtype.ts";
import { sizeOf, stridesOf } from "../shape.ts";
import { type Arg, type Ctx, type GpuKernel, label } from "./context.ts";
import { mapKernel } from "./map.wgsl.ts";
import { argmaxPass, partsOf, reducePass } from "./reduce.wgsl.ts";
import { BYTES, type GpuStorage } from "./storage.ts";

/** Reduces x [outer, r, inner] over the middle axis in passes of ≤ CHUNK entries. */
export function reduceMiddle(
  ctx: Ctx,
  lbl: string,
  op: "sum" | "max",
  x: GpuStorage,
  outer: number,
  r: number,
  inner: number,
  dtype: DType,
): GpuStorage {
  let cur = x;
  for (;;) {
    const parts = partsOf(r);
    const o = ctx.alloc(outer * parts * inner * BYTES);
    ctx.dispatch(lbl, reducePass(op, outer, r, inner, dtype), [cur], o);
    if (cur !== x) ctx.release(cur);
    if (parts === 1) return o;
    cur = o;
    r = parts;
  }
}

/**
 * Views a reduction over `axes` as [outer, r, inner]; when the reduced axes are not one
 * contiguous block, first copies x with them moved last.
 */
function reduceLayout(
  ctx: Ctx,
  lbl: string,
  x: Arg,
  axes: readonly number[],
): { buf: GpuStorage; outer: number; r: number; inner: number; temp: boolean } {
  const dims = x.shape.map((d, i) => ({ d, red: axes.includes(i), i })).filter((e) => e.d !== 1);
  const first = dims.findIndex((e) => e.red);
  const last = dims.length - 1 - [...dims].reverse().findIndex((e) => e.red);
  const prod = (es: typeof dims) => es.reduce((a, e) => a * e.d, 1);
  if (first < 0) return { buf: x.storage, outer: prod(dims), r: 1, inner: 1, temp: false };
  if (dims.slice(first, last + 1).every((e) => e.red)) {
    return {
      buf: x.storage,
      outer: prod(dims.slice(0, first)),
      r: prod(dims.slice(first, last + 1)),
      inner: prod(dims.slice(last + 1)),
      temp: false,
    };
  }
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const perm = [...kept, ...axes];
  const st = stridesOf(x.shape);
  const shapeT = perm.map((p) => x.shape[p]);
  const t = ctx.alloc(sizeOf(x.shape) * BYTES);
  ctx.dispatch(
    `${lbl} (transpose)`,
    mapKernel(
      "a",
      [{ offset: 0, strides: perm.map((p) => st[p]), dtype: x.dtype }],
      shapeT,
      x.dtype,
    ),
    [x.storage],
    t,
  );
  return {
    buf: t,
    outer: sizeOf(kept.map((i) => x.shape[i])),
    r: sizeOf(axes.map((i) => x.shape[i])),
    inner: 1,
    temp: true,
  };
}

/** The sum or max kernel over `params.axes`. */
export function reduceKernel(op: "sum" | "max"): GpuKernel<"sum" | "max"> {
  return (ctx, [x], p, out) => {
    const lbl = label(op, [x]);
    const l = reduceLayout(ctx, lbl, x, p.axes);
    const o = reduceMiddle(ctx, lbl, op, l.buf, l.outer, l.r, l.inner, out.dtype);
    if (l.temp) ctx.release(l.buf);
    return o;
  };
}

/** argmax along one axis: (value, index) pairs reduced in passes, indices written last. */
export const argmaxKernel: GpuKernel<"argmax"> = (ctx, [x], p) => {
  const lbl = label("argmax", [x]);
  const l = reduceLayout(ctx, lbl, x, [p.axis]);
  let cur = l.buf, r = l.r, from: "x" | "pairs" = "x";
  for (;;) {
    const parts = partsOf(r);
    const to = parts === 1 ? "index" : "pairs";
    const o = ctx.alloc(l.outer * parts * l.inner * BYTES * (to === "pairs" ? 2 : 1));
    ctx.dispatch(lbl, argmaxPass(l.outer, r, l.inner, x.dtype, from, to), [cur], o);
    if (cur !== x.storage) ctx.release(cur);
    if (to === "index") return o;
    cur = o;
    r = parts;
    from = "pairs";
  }
};

/** Sums `parts` slabs of `per` elements laid side by side (split-k and chunked kernels). */
export function sumParts(
  ctx: Ctx,
  lbl: string,
  buf: GpuStorage,
  parts: number,
  per: number,
): GpuStorage {
  if (parts === 1) return buf;
  const o = reduceMiddle(
    ctx,
    `${lbl} (sum of ${parts} parts)`,
    "sum",
    buf,
    1,
    parts,
    per,
    "float32",
  );
  ctx.release(buf);
  return o;
}

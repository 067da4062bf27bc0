/**
 * The WebGPU kernel table: one kernel per primitive, typed over the primitive names (a missing
 * kernel is a compile error). Elementwise primitives dispatch their `ELEMENTWISE` expression
 * on their own (the fuser usually takes them first); layout primitives are map kernels over
 * strided views or the layout.wgsl.ts builders; reductions, matmul, convolution and pooling
 * come from their runners. `reshape` has no kernel: the engine aliases its storage.
 * @module
 */
import type { KernelName, PrimName } from "../prims.ts";
import { sizeOf, stridesOf } from "../shape.ts";
import { type GpuKernel, label, mapOut } from "./context.ts";
import {
  avgPool2dKernel,
  avgPool2dTransposeKernel,
  conv2dFilterGradKernel,
  conv2dKernel,
  convTranspose2dKernel,
} from "./conv.ts";
import { elementwiseExpr } from "./fusion.ts";
import { irfft2Kernel, rfft2Kernel } from "./fft.ts";
import { solveKernel } from "./solve.ts";
import { concatPartKernel, gatherKernel, padKernel, scatterAddKernel } from "./layout.wgsl.ts";
import { broadcastView } from "./map.wgsl.ts";
import { matmulRun } from "./matmul.ts";
import { argmaxKernel, reduceKernel, reduceMiddle } from "./reduce.ts";
import { BYTES } from "./storage.ts";

/** One dispatch of an elementwise primitive, its inputs broadcast to the output (no fusion). */
const elementwise = <P extends PrimName>(prim: P): GpuKernel<P> => (ctx, inputs, p, out) =>
  mapOut(
    ctx,
    prim,
    elementwiseExpr(prim, p, inputs, out.dtype)!,
    inputs,
    inputs.map((x) => broadcastView(x.shape, out.shape, x.dtype)),
    out,
  );

/** The kernel of every primitive that runs on the backend. */
export const KERNELS: { [P in KernelName]: GpuKernel<P> } = {
  neg: elementwise("neg"),
  exp: elementwise("exp"),
  log: elementwise("log"),
  sqrt: elementwise("sqrt"),
  abs: elementwise("abs"),
  sign: elementwise("sign"),
  add: elementwise("add"),
  sub: elementwise("sub"),
  mul: elementwise("mul"),
  div: elementwise("div"),
  maximum: elementwise("maximum"),
  minimum: elementwise("minimum"),
  compare: elementwise("compare"),
  where: elementwise("where"),
  cast: elementwise("cast"),
  sum: reduceKernel("sum"),
  max: reduceKernel("max"),
  argmax: argmaxKernel,
  matmul: (ctx, inputs, p, out) => matmulRun(ctx, inputs, out, p.transA, p.transB),
  transpose: (ctx, [x], p, out) => {
    const st = stridesOf(x.shape);
    return mapOut(ctx, "transpose", "a", [x], [{
      offset: 0,
      strides: p.perm.map((d) => st[d]),
      dtype: x.dtype,
    }], out);
  },
  broadcastTo: (ctx, [x], _p, out) =>
    mapOut(ctx, "broadcastTo", "a", [x], [broadcastView(x.shape, out.shape, x.dtype)], out),
  slice: (ctx, [x], p, out) => {
    const st = stridesOf(x.shape);
    const offset = p.begin.reduce((s, b, d) => s + b * st[d], 0);
    return mapOut(ctx, "slice", "a", [x], [{ offset, strides: st, dtype: x.dtype }], out);
  },
  pad: (ctx, [x], p, out) => {
    const o = ctx.alloc(sizeOf(out.shape) * BYTES);
    ctx.dispatch(label("pad", [x]), padKernel(x.shape, p.widths, p.value, x.dtype), [x.storage], o);
    return o;
  },
  concat: (ctx, xs, p, out) => {
    const o = ctx.alloc(sizeOf(out.shape) * BYTES);
    const outer = sizeOf(out.shape.slice(0, p.axis));
    const inner = sizeOf(out.shape.slice(p.axis + 1));
    const total = out.shape[p.axis];
    let off = 0;
    const lbl = label("concat", xs);
    for (const x of xs) {
      const dx = x.shape[p.axis];
      if (dx * outer * inner > 0) {
        ctx.dispatch(lbl, concatPartKernel(outer, dx, inner, total, off, x.dtype), [x.storage], o);
      }
      off += dx;
    }
    return o;
  },
  gather: (ctx, [x, idx], p, out) => {
    const o = ctx.alloc(sizeOf(out.shape) * BYTES);
    const outer = sizeOf(x.shape.slice(0, p.axis));
    const inner = sizeOf(x.shape.slice(p.axis + 1));
    ctx.dispatch(
      label("gather", [x, idx]),
      gatherKernel(outer, x.shape[p.axis], inner, idx.shape[0], x.dtype),
      [x.storage, idx.storage],
      o,
    );
    return o;
  },
  scatterAdd: (ctx, [g, idx], p, out) => {
    const outer = sizeOf(g.shape.slice(0, p.axis));
    const inner = sizeOf(g.shape.slice(p.axis + 1));
    const ks = scatterAddKernel(outer, g.shape[p.axis], inner, p.size, g.dtype);
    const per = sizeOf(out.shape);
    const lbl = label("scatterAdd", [g, idx]);
    const o = ctx.alloc(ks.parts * per * BYTES);
    ctx.dispatch(lbl, ks, [g.storage, idx.storage], o);
    if (ks.parts === 1) return o;
    const s = reduceMiddle(ctx, `${lbl} (sum of parts)`, "sum", o, 1, ks.parts, per, g.dtype);
    ctx.release(o);
    return s;
  },
  conv2d: conv2dKernel,
  convTranspose2d: convTranspose2dKernel,
  conv2dFilterGrad: conv2dFilterGradKernel,
  avgPool2d: avgPool2dKernel,
  avgPool2dTranspose: avgPool2dTransposeKernel,
  rfft2: rfft2Kernel,
  irfft2: irfft2Kernel,
  solve: solveKernel,
};

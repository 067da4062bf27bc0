/**
 * Convolution and pooling runners on WebGPU (beside their builders in conv.wgsl.ts). The
 * "software" profile runs conv2d, convTranspose2d and the filter gradient as im2col + the
 * large-register-tile matmul, in chunks of batch items under `colsBytes`; the "gpu" profile as
 * implicit GEMMs on the workgroup-memory tiled kernel (gemm.wgsl.ts), reading x, w, y, gy in
 * place. Long reductions are split into parts (Mesa's loop limit) and summed.
 * @module
 */
import { type ConvGeom, convGeom, type PrimParams } from "../prims.ts";
import { type PoolGeom, poolGeom, sizeOf } from "../shape.ts";
import {
  type Arg,
  checkGrid,
  contiguous,
  type Ctx,
  floatOnly,
  type GpuKernel,
  label,
} from "./context.ts";
import {
  avgPoolKernel,
  avgPoolTransposeKernel,
  convOperands,
  filterGradOperands,
  im2colKernel,
} from "./conv.wgsl.ts";
import { gemmKernel, type GemmOperands, pickGemmTile } from "./gemm.wgsl.ts";
import { concatPartKernel } from "./layout.wgsl.ts";
import { mapKernel } from "./map.wgsl.ts";
import { gemm } from "./matmul.ts";
import { reduceMiddle, sumParts } from "./reduce.ts";
import { BYTES, type GpuStorage } from "./storage.ts";
import { LOOP_BUDGET } from "./wgsl.ts";

/** Default bytes of one im2col buffer at most. */
export const COLS_BYTES = 1 << 27;

/** Elements [off, off + len) of `buf` as a buffer of their own (the buffer itself when off = 0). */
function sub(ctx: Ctx, lbl: string, buf: GpuStorage, off: number, len: number): GpuStorage {
  if (off === 0) return buf;
  const t = ctx.alloc(len * BYTES);
  ctx.dispatch(
    `${lbl} (batch chunk)`,
    mapKernel("a", [{ offset: off, strides: [1], dtype: "float32" }], [len], "float32"),
    [buf],
    t,
  );
  return t;
}

/**
 * conv2d / convTranspose2d as im2col + GEMM: per chunk of batch items, the column matrix
 * [nb, red·kh·kw, space] is built and multiplied by the weight matrix [rows, red·kh·kw].
 */
function convGemm(
  ctx: Ctx,
  prim: string,
  inputs: Arg[],
  g: ConvGeom,
  transposed: boolean,
): GpuStorage {
  const lbl = label(prim, inputs);
  const w = inputs[1];
  const kk = g.kh * g.kw;
  const rows = transposed ? g.c : g.o;
  const red = transposed ? g.o : g.c;
  const R = red * kk;
  const Q = transposed ? g.h * g.w : g.ho * g.wo;
  const total = g.b * rows * Q;
  let wm = w.storage;
  if (transposed) {
    // w [O, C, kk] → [C, O, kk]: the weight matrix [C, O·kk] of the transposed convolution
    wm = ctx.alloc(sizeOf(w.shape) * BYTES);
    ctx.dispatch(
      `${lbl} (weight transpose)`,
      mapKernel("a", [{ offset: 0, strides: [kk, g.c * kk, 1], dtype: "float32" }], [
        g.c,
        g.o,
        kk,
      ], "float32"),
      [w.storage],
      wm,
    );
  }
  const chunk = Math.max(1, Math.min(g.b, Math.floor(ctx.colsBytes / Math.max(1, R * Q * BYTES))));
  let result: GpuStorage | null = null;
  for (let b0 = 0; b0 < g.b; b0 += chunk) {
    const nb = Math.min(chunk, g.b - b0);
    const cols = ctx.alloc(nb * R * Q * BYTES);
    ctx.dispatch(
      `${lbl} (im2col)`,
      im2colKernel(g, transposed, b0, nb, R, { sB: R * Q, sR: Q, sQ: 1 }),
      [inputs[0].storage],
      cols,
    );
    const o = gemm(ctx, lbl, wm, 0, false, cols, R * Q, rows, R, Q, nb);
    ctx.release(cols);
    if (nb === g.b) {
      result = o;
      break;
    }
    result ??= ctx.alloc(total * BYTES);
    ctx.dispatch(
      `${lbl} (gather chunks)`,
      concatPartKernel(1, nb * rows * Q, 1, total, b0 * rows * Q, "float32"),
      [o],
      result,
    );
    ctx.release(o);
  }
  if (transposed) ctx.release(wm);
  return result!;
}

/**
 * conv2dFilterGrad as GEMM: dw [O, C·kh·kw] = Σ_chunks gyᵀ [O, nb·space] · cols [nb·space, R]
 * with the column matrix laid out row-major and its width padded to a multiple of 4 (vec4
 * loads); the padding columns are dropped at the end.
 */
function filterGradGemm(ctx: Ctx, inputs: Arg[], g: ConvGeom): GpuStorage {
  const lbl = label("conv2dFilterGrad", inputs);
  const [x, gy] = inputs;
  const R = g.c * g.kh * g.kw, Rp = Math.ceil(R / 4) * 4;
  const Q = g.ho * g.wo;
  const chunk = Math.max(1, Math.min(g.b, Math.floor(ctx.colsBytes / Math.max(1, Rp * Q * BYTES))));
  let acc: GpuStorage | null = null;
  for (let b0 = 0; b0 < g.b; b0 += chunk) {
    const nb = Math.min(chunk, g.b - b0);
    const cols = ctx.alloc(nb * Q * Rp * BYTES);
    ctx.dispatch(
      `${lbl} (im2col)`,
      im2colKernel(g, false, b0, nb, Rp, { sB: Q * Rp, sR: 1, sQ: Rp }),
      [x.storage],
      cols,
    );
    // per item: gy_b [O, Q] · cols_b [Q, Rp] (both cache-sized), then the batch summed
    const gyc = sub(ctx, lbl, gy.storage, b0 * g.o * Q, nb * g.o * Q);
    const per = gemm(
      ctx,
      lbl,
      gyc,
      g.o * Q,
      false,
      cols,
      Q * Rp,
      g.o,
      Q,
      Rp,
      nb,
    );
    ctx.release(cols);
    if (gyc !== gy.storage) ctx.release(gyc);
    const part = nb === 1
      ? per
      : reduceMiddle(ctx, `${lbl} (sum over the batch)`, "sum", per, 1, nb, g.o * Rp, "float32");
    if (part !== per) ctx.release(per);
    if (!acc) acc = part;
    else {
      const s = ctx.alloc(g.o * Rp * BYTES);
      const v = contiguous([g.o * Rp], "float32");
      ctx.dispatch(`${lbl} (sum of chunks)`, mapKernel("a + b", [v, v], [g.o * Rp], "float32"), [
        acc,
        part,
      ], s);
      ctx.release(acc);
      ctx.release(part);
      acc = s;
    }
  }
  if (Rp === R) return acc!;
  const o = ctx.alloc(g.o * R * BYTES);
  ctx.dispatch(
    `${lbl} (drop padding columns)`,
    mapKernel("a", [{ offset: 0, strides: [Rp, 1], dtype: "float32" }], [g.o, R], "float32"),
    [acc!],
    o,
  );
  ctx.release(acc!);
  return o;
}

/** One GEMM on the tiled kernel: out [z < nb][m][n] from x0, x1 read by `ops`, parts summed. */
function tiledGemm(
  ctx: Ctx,
  lbl: string,
  inputs: [GpuStorage, GpuStorage],
  m: number,
  k: number,
  n: number,
  nb: number,
  ops: GemmOperands,
): GpuStorage {
  const size = nb * m * n;
  const ks = gemmKernel(pickGemmTile(ctx.limits, m, n, nb), m, k, n, nb, ops);
  checkGrid(lbl, ks);
  const o = ctx.alloc(ks.parts * size * BYTES);
  if (size > 0) ctx.dispatch(lbl, ks, inputs, o); // k = 0 writes zeros (the k loop is empty)
  return sumParts(ctx, lbl, o, ks.parts, size);
}

function convRun(
  ctx: Ctx,
  prim: string,
  inputs: Arg[],
  g: ConvGeom,
  transposed: boolean,
  outSize: number,
): GpuStorage {
  inputs.forEach((x) => floatOnly(prim, x));
  if (ctx.profile === "software" && outSize > 0) return convGemm(ctx, prim, inputs, g, transposed);
  const kk = g.kh * g.kw;
  const [m, k, n] = transposed ? [g.c, g.o * kk, g.h * g.w] : [g.o, g.c * kk, g.ho * g.wo];
  const [x, w] = inputs;
  return tiledGemm(
    ctx,
    label(prim, inputs),
    [w.storage, x.storage],
    m,
    k,
    n,
    g.b,
    convOperands(g, transposed),
  );
}

/** conv2d: x [B, C, H, W] ⋆ w [O, C, kh, kw] → [B, O, Ho, Wo]. */
export const conv2dKernel: GpuKernel<"conv2d"> = (ctx, [x, w], p, out) =>
  convRun(
    ctx,
    "conv2d",
    [x, w],
    convGeom(x.shape, w.shape, out.shape, p),
    false,
    sizeOf(out.shape),
  );

/** convTranspose2d: the adjoint of conv2d, y [B, O, Ho, Wo] → [B, C, H, W]. */
export const convTranspose2dKernel: GpuKernel<"convTranspose2d"> = (ctx, [y, w], p, out) =>
  convRun(
    ctx,
    "convTranspose2d",
    [y, w],
    convGeom(out.shape, w.shape, y.shape, p),
    true,
    sizeOf(out.shape),
  );

/** conv2dFilterGrad: dW [O, C, kh, kw] from x and the output gradient gy. */
export const conv2dFilterGradKernel: GpuKernel<"conv2dFilterGrad"> = (ctx, [x, gy], p, out) => {
  floatOnly("conv2dFilterGrad", x);
  floatOnly("conv2dFilterGrad", gy);
  const g = convGeom(x.shape, out.shape, gy.shape, p);
  if (ctx.profile === "software" && sizeOf(out.shape) > 0) return filterGradGemm(ctx, [x, gy], g);
  return tiledGemm(
    ctx,
    label("conv2dFilterGrad", [x, gy]),
    [gy.storage, x.storage],
    g.o,
    g.b * g.ho * g.wo,
    g.c * g.kh * g.kw,
    1,
    filterGradOperands(g),
  );
};

/** The pooling geometry, refusing windows over the loop budget. */
function gpuPoolGeom(
  inShape: readonly number[],
  outShape: readonly number[],
  p: PrimParams["avgPool2d"],
): PoolGeom {
  if (p.size[0] * p.size[1] > LOOP_BUDGET) {
    throw new RangeError(
      `avgPool2d: window ${p.size[0]}×${p.size[1]} exceeds ${LOOP_BUDGET} taps on webgpu`,
    );
  }
  return poolGeom(inShape, outShape, p);
}

/** avgPool2d: window sums / divisor. */
export const avgPool2dKernel: GpuKernel<"avgPool2d"> = (ctx, [x], p, out) => {
  floatOnly("avgPool2d", x);
  const o = ctx.alloc(sizeOf(out.shape) * BYTES);
  ctx.dispatch(label("avgPool2d", [x]), avgPoolKernel(gpuPoolGeom(x.shape, out.shape, p)), [
    x.storage,
  ], o);
  return o;
};

/** avgPool2dTranspose: the adjoint of avgPool2d. */
export const avgPool2dTransposeKernel: GpuKernel<"avgPool2dTranspose"> = (ctx, [g], p, out) => {
  floatOnly("avgPool2dTranspose", g);
  const o = ctx.alloc(sizeOf(out.shape) * BYTES);
  ctx.dispatch(
    label("avgPool2dTranspose", [g]),
    avgPoolTransposeKernel(gpuPoolGeom(out.shape, g.shape, p)),
    [g.storage],
    o,
  );
  return o;
};

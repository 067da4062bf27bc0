/**
 * The matmul runner on WebGPU (beside its builders): batched op(A)·op(B) with broadcast batch
 * axes. The "gpu" profile runs the workgroup-memory tiled GEMM (gemm.wgsl.ts), which reads
 * either operand transposed in place; the "software" profile picks the narrow or wide
 * register-tiled kernel (matmul.wgsl.ts) and copies an operand when that kernel wants another
 * layout (transposed, packed). A partly broadcast batch is copied out on both. int32 runs as
 * float32 between two casts. `gemm` is the software profile's raw-buffer entry for im2col convs.
 * @module
 */
import { sizeOf } from "../shape.ts";
import type { OutInfo } from "../prims.ts";
import { type Arg, castTo, checkGrid, type Ctx, label } from "./context.ts";
import { transpose4Kernel } from "./layout.wgsl.ts";
import { broadcastView, mapKernel } from "./map.wgsl.ts";
import { matmulKernel, matmulParts, readsTransB } from "./matmul.wgsl.ts";
import { gemmKernel, matmulOperands, pickGemmTile } from "./gemm.wgsl.ts";
import { sumParts } from "./reduce.ts";
import { BYTES, type GpuStorage } from "./storage.ts";

/** C = op(A)·op(B) for the matmul primitive (transA/transB as its params). */
export function matmulRun(
  ctx: Ctx,
  [a, b]: Arg[],
  out: OutInfo,
  transA: boolean,
  transB: boolean,
): GpuStorage {
  const lbl = label("matmul", [a, b]);
  if (a.dtype === "int32") {
    const fa = castTo(ctx, `${lbl} (to float32)`, a, "float32");
    const fb = castTo(ctx, `${lbl} (to float32)`, b, "float32");
    const fo = matmulRun(
      ctx,
      [{ ...a, storage: fa, dtype: "float32" }, { ...b, storage: fb, dtype: "float32" }],
      { shape: out.shape, dtype: "float32" },
      transA,
      transB,
    );
    ctx.release(fa);
    ctx.release(fb);
    const o = castTo(
      ctx,
      `${lbl} (to int32)`,
      { storage: fo, shape: out.shape, dtype: "float32" },
      "int32",
    );
    ctx.release(fo);
    return o;
  }
  const r = out.shape.length;
  const ra = a.shape.length, rb = b.shape.length;
  const [m, k] = transA ? [a.shape[ra - 1], a.shape[ra - 2]] : [a.shape[ra - 2], a.shape[ra - 1]];
  const n = transB ? b.shape[rb - 2] : b.shape[rb - 1];
  const outBatch = out.shape.slice(0, r - 2);
  const nb = sizeOf(outBatch);
  const temps: GpuStorage[] = [];
  // an operand is read as stored, or copied (transposed when `trans`, or its batch broadcast)
  const operand = (x: Arg, trans: boolean): { buf: GpuStorage; stride: number } => {
    const xr = x.shape.length;
    const mat = x.shape[xr - 2] * x.shape[xr - 1];
    const xb = sizeOf(x.shape.slice(0, -2));
    if (!trans && (xb === nb || xb === 1)) return { buf: x.storage, stride: xb === 1 ? 0 : mat };
    const batch = xb === 1 ? [] : outBatch;
    const [r0, c0] = [x.shape[xr - 2], x.shape[xr - 1]];
    if (trans && (xb === nb || xb === 1) && r0 % 4 === 0 && c0 % 4 === 0 && x.dtype === "float32") {
      const t = ctx.alloc(xb * r0 * c0 * BYTES);
      ctx.dispatch(`${lbl} (transpose)`, transpose4Kernel(xb, r0, c0), [x.storage], t);
      temps.push(t);
      return { buf: t, stride: xb === 1 ? 0 : mat };
    }
    const stored = [...batch, x.shape[xr - 2], x.shape[xr - 1]];
    const v = broadcastView(x.shape, stored, x.dtype);
    let shape = stored;
    if (trans) {
      const st = v.strides;
      [st[st.length - 2], st[st.length - 1]] = [st[st.length - 1], st[st.length - 2]];
      shape = [...batch, x.shape[xr - 1], x.shape[xr - 2]];
    }
    const t = ctx.alloc(sizeOf(shape) * BYTES);
    ctx.dispatch(
      `${lbl} (${trans ? "transpose" : "broadcast batch"})`,
      mapKernel("a", [v], shape, x.dtype),
      [x.storage],
      t,
    );
    temps.push(t);
    return { buf: t, stride: xb === 1 ? 0 : mat };
  };
  if (ctx.profile === "gpu") {
    // the tiled kernel reads either operand plain or transposed in place
    const A = operand(a, false), B = operand(b, false);
    const size = nb * m * n;
    const ks = gemmKernel(
      pickGemmTile(ctx.limits, m, n, nb),
      m,
      k,
      n,
      nb,
      matmulOperands(A.stride, B.stride, transA, transB),
    );
    checkGrid(lbl, ks);
    const o = ctx.alloc(ks.parts * size * BYTES);
    if (size > 0) ctx.dispatch(lbl, ks, [A.buf, B.buf], o);
    for (const t of temps) ctx.release(t);
    return sumParts(ctx, lbl, o, ks.parts, size);
  }
  // the narrow kernel (a few columns) reads B as stored; the wide one wants B [k, n] and, on
  // software adapters, A [k, m] (one vec4 load per 4 rows)
  const narrow = readsTransB(ctx.tile, n);
  const packA = !narrow && ctx.tile.packA && !transA && m % 4 === 0 && k % 4 === 0;
  const A = operand(a, packA), B = operand(b, transB && !narrow);
  const o = gemm(
    ctx,
    lbl,
    A.buf,
    A.stride,
    transA || packA,
    B.buf,
    B.stride,
    m,
    k,
    n,
    nb,
    transB && narrow,
  );
  for (const t of temps) ctx.release(t);
  return o;
}

/** C[z] = op(A[z])·B[z] for z < nb from raw buffers (k split into parts when long). */
export function gemm(
  ctx: Ctx,
  lbl: string,
  a: GpuStorage,
  aStride: number,
  transA: boolean,
  b: GpuStorage,
  bStride: number,
  m: number,
  k: number,
  n: number,
  nb: number,
  transB = false,
): GpuStorage {
  const { parts } = matmulParts(k);
  const ks = matmulKernel(m, k, n, nb, aStride, bStride, transA, ctx.tile, transB);
  checkGrid(lbl, ks);
  const o = ctx.alloc(parts * nb * m * n * BYTES);
  if (nb * m * n > 0) ctx.dispatch(lbl, ks, [a, b], o);
  return sumParts(ctx, lbl, o, parts, nb * m * n);
}

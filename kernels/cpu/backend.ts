/**
 * The CPU backend: storage is a host typed array, one kernel per primitive in a table typed
 * over `KernelName` (a missing kernel is a compile error). float32 matmul and convolutions may be
 * routed to faster kernels registered with `setFastCpuKernels`; everything else is plain TS.
 * @module
 */
import type { DType, TypedArray } from "../dtype.ts";
import { allocUninit } from "./host_pool.ts";
import { envVar } from "../env.ts";
import {
  type CpuStorage,
  freeStorage,
  fusableExpr,
  materialize,
  Pending,
  record,
} from "./fusion.ts";
import {
  type Backend,
  type ConvGeom,
  convGeom,
  type KernelArg,
  type KernelName,
  type OutInfo,
  type Pair,
  type PrimParams,
} from "../prims.ts";
import {
  binary,
  BINARY_EXPR,
  cast,
  COMPARE_EXPR,
  unary,
  UNARY_EXPR,
  where,
} from "./elementwise.ts";
import { poolGeom } from "../shape.ts";
import * as L from "./layout.ts";
import * as M from "./linalg.ts";
import * as F from "./fft.ts";
import { solve as solveKernel } from "./solve.ts";
import { fftGeom, fftScales } from "../fft.ts";

type Arg = KernelArg<TypedArray>;
type CpuKernel<P extends KernelName> = (
  inputs: Arg[],
  params: PrimParams[P],
  out: OutInfo,
) => TypedArray;

/** Optional fast float32 kernels (e.g. WebAssembly SIMD); each returns null to decline. */
export interface FastCpuKernels {
  matmul?(a: Arg, b: Arg, out: OutInfo, transA: boolean, transB: boolean): Float32Array | null;
  conv2d?(x: Arg, w: Arg, d: ConvGeom): Float32Array | null;
  convTranspose2d?(y: Arg, w: Arg, d: ConvGeom, outputPadding: Pair): Float32Array | null;
  conv2dFilterGrad?(x: Arg, gy: Arg, d: ConvGeom): Float32Array | null;
  /** x = op(a)⁻¹·b per matrix (a [..., n, n], b [..., n, k]); singular: solve.ts's RangeError. */
  solve?(a: Arg, b: Arg, transA: boolean): Float32Array | null;
  /** rfft2 of x [..., h, w] times `scale` (see fft.ts). */
  rfft2?(x: Arg, batch: number, h: number, w: number, scale: number): Float32Array | null;
  /** irfft2 into [..., h, w] times `scale` (see fft.ts). */
  irfft2?(z: Arg, batch: number, h: number, w: number, scale: number): Float32Array | null;
}

let fast: FastCpuKernels = {};

/** Registers fast float32 kernels (pass `{}` to go back to the reference loops). */
export function setFastCpuKernels(k: FastCpuKernels): void {
  fast = k;
}

const un = (name: keyof typeof UNARY_EXPR): CpuKernel<KernelName> => ([x], _p, out) =>
  unary(UNARY_EXPR[name], x.storage, out.dtype);
const bin = (name: keyof typeof BINARY_EXPR): CpuKernel<KernelName> => ([a, b], _p, out) =>
  binary(BINARY_EXPR[name], a.storage, a.shape, b.storage, b.shape, out.shape, out.dtype);

const KERNELS: { [P in KernelName]: CpuKernel<P> } = {
  neg: un("neg"),
  exp: un("exp"),
  log: un("log"),
  sqrt: un("sqrt"),
  abs: un("abs"),
  sign: un("sign"),
  add: bin("add"),
  sub: bin("sub"),
  mul: bin("mul"),
  div: bin("div"),
  maximum: bin("maximum"),
  minimum: bin("minimum"),
  compare: ([a, b], p, out) =>
    binary(COMPARE_EXPR[p.op], a.storage, a.shape, b.storage, b.shape, out.shape, "int32"),
  where: ([c, a, b], _p, out) =>
    where(c.storage, c.shape, a.storage, a.shape, b.storage, b.shape, out.shape, out.dtype),
  cast: ([x], p) => cast(x.storage, p.dtype),
  sum: ([x], p, out) => L.sum(x.storage, x.shape, p.axes, out.dtype),
  max: ([x], p, out) => L.max(x.storage, x.shape, p.axes, out.dtype),
  argmax: ([x], p) => L.argmax(x.storage, x.shape, p.axis, x.dtype),
  matmul: ([a, b], p, out) =>
    (out.dtype === "float32" && fast.matmul?.(a, b, out, p.transA, p.transB)) ||
    M.matmul(a.storage, a.shape, b.storage, b.shape, out.shape, out.dtype, p.transA, p.transB),

  transpose: ([x], p, out) => L.transpose(x.storage, x.shape, p.perm, out.dtype),
  broadcastTo: ([x], p, out) => L.broadcastTo(x.storage, x.shape, p.shape, out.dtype),
  slice: ([x], p, out) => L.slice(x.storage, x.shape, p.begin, p.size, out.dtype),
  pad: ([x], p, out) => L.pad(x.storage, x.shape, p.widths, p.value, out.dtype),
  concat: (xs, p, out) =>
    L.concat(xs.map((x) => ({ data: x.storage, shape: x.shape })), p.axis, out.dtype),
  gather: ([x, idx], p, out) => L.gather(x.storage, x.shape, idx.storage, p.axis, out.dtype),
  scatterAdd: ([g, idx], p, out) =>
    L.scatterAdd(g.storage, g.shape, idx.storage, p.axis, p.size, out.dtype),
  conv2d: ([x, w], p, out) => {
    const d = convGeom(x.shape, w.shape, out.shape, p);
    return (out.dtype === "float32" && fast.conv2d?.(x, w, d)) ||
      M.conv2d(x.storage, w.storage, d, out.dtype);
  },
  convTranspose2d: ([y, w], p, out) => {
    const d = convGeom(out.shape, w.shape, y.shape, p);
    return (out.dtype === "float32" && fast.convTranspose2d?.(y, w, d, p.outputPadding)) ||
      M.convTranspose2d(y.storage, w.storage, d, out.dtype);
  },
  conv2dFilterGrad: ([x, gy], p, out) => {
    const d = convGeom(x.shape, out.shape, gy.shape, p);
    return (out.dtype === "float32" && fast.conv2dFilterGrad?.(x, gy, d)) ||
      M.conv2dFilterGrad(x.storage, gy.storage, d, out.dtype);
  },
  avgPool2d: ([x], p, out) => M.avgPool2d(x.storage, poolGeom(x.shape, out.shape, p), out.dtype),
  avgPool2dTranspose: ([g], p, out) =>
    M.avgPool2dTranspose(g.storage, poolGeom(out.shape, g.shape, p), out.dtype),
  rfft2: ([x], p, out) => {
    const d = fftGeom(x.shape), scale = fftScales(p.norm, d.h * d.w)[0];
    return (out.dtype === "float32" && fast.rfft2?.(x, d.batch, d.h, d.w, scale)) ||
      F.rfft2(x.storage, d.batch, d.h, d.w, scale, out.dtype);
  },
  irfft2: ([z], p, out) => {
    const d = fftGeom(out.shape), scale = fftScales(p.norm, d.h * d.w)[1];
    return (out.dtype === "float32" && fast.irfft2?.(z, d.batch, d.h, d.w, scale)) ||
      F.irfft2(z.storage, d.batch, d.h, d.w, scale, out.dtype);
  },
  solve: ([a, b], p, out) =>
    (out.dtype === "float32" && fast.solve?.(a, b, p.transA)) ||
    solveKernel(
      a.storage,
      b.storage,
      b.shape.slice(0, -2),
      b.shape[b.shape.length - 2],
      b.shape[b.shape.length - 1],
      p.transA,
      out.dtype,
    ),
};

/** SLL_CPU_FUSION=off|0|false|no turns elementwise fusion off (on when unset). */
function fusionFromEnv(): boolean {
  return !["off", "0", "false", "no"].includes((envVar("SLL_CPU_FUSION") ?? "").toLowerCase());
}

let fusion: boolean | null = null;

/**
 * Turns the CPU backend's elementwise fusion (kernels/cpu/fusion.ts) on or off; returns the
 * previous setting. On by default unless `SLL_CPU_FUSION=off`. Values already pending still run
 * fused.
 */
export function setCpuFusion(on: boolean): boolean {
  const was = fusion ??= fusionFromEnv();
  fusion = on;
  return was;
}

function unpended(x: KernelArg<CpuStorage>): Arg {
  const s = x.storage;
  return s instanceof Pending
    ? { storage: materialize(s), shape: x.shape, dtype: x.dtype }
    : x as Arg;
}

/** Creates the CPU backend. */
export function createCpuBackend(): Backend<CpuStorage> {
  fusion ??= fusionFromEnv();
  return {
    name: "cpu",
    dtypes: ["float32", "int32", "float64"],
    upload(data: TypedArray, dtype: DType): TypedArray {
      const o = allocUninit(dtype, data.length);
      o.set(data);
      return o;
    },
    run<P extends KernelName>(
      prim: P,
      inputs: KernelArg<CpuStorage>[],
      params: PrimParams[P],
      out: OutInfo,
    ): CpuStorage {
      if (fusion) {
        const expr = fusableExpr(prim, params, out.dtype, inputs[0]?.dtype ?? out.dtype);
        if (expr !== null) return record(prim, params, expr, inputs, out);
      }
      return (KERNELS[prim] as CpuKernel<P>)(inputs.map(unpended), params, out);
    },
    read(storage: CpuStorage): Promise<TypedArray> {
      return Promise.resolve(materialize(storage).slice());
    },
    readSync(storage: CpuStorage): TypedArray {
      return materialize(storage).slice();
    },
    free(storage: CpuStorage): void {
      freeStorage(storage);
    },
    settle(storage: CpuStorage): void {
      materialize(storage);
    },
  };
}

/**
 * The WebGPU backend: storage is a pooled GPUBuffer; one kernel per primitive in a table typed
 * over `PrimName` (a missing kernel is a compile error), each built from the `*.wgsl.ts`
 * builders. Dispatches are encoded into one pending compute pass and submitted in batches (or
 * when a read needs them); all Params of a batch live in one uniform buffer written just before
 * its submit. Invariant: a buffer that pending (unsubmitted) work touches is never handed out
 * again before that submit — queue.writeBuffer would otherwise land before the work that reads
 * it. Device errors are collected per batch and rethrown, naming the ops, at the next read.
 * @module
 */
import { type DType, newArray, type TypedArray } from "../dtype.ts";
import {
  type Backend,
  type ConvGeom,
  convGeom,
  type KernelArg,
  type OutInfo,
  type PrimName,
  type PrimParams,
} from "../prims.ts";
import { fmt, sameShape, sizeOf, stridesOf } from "../shape.ts";
import { envVar } from "../env.ts";
import type { AdapterDescription } from "./device.ts";
import {
  broadcastView,
  FUSED_CONST,
  type FusedConst,
  fusedKernel,
  type FusedNode,
  mapKernel,
  type View,
} from "./map.wgsl.ts";
import {
  concatPartKernel,
  gatherKernel,
  padKernel,
  scatterAddKernel,
  transpose4Kernel,
} from "./layout.wgsl.ts";
import { argmaxPass, partsOf, reducePass } from "./reduce.wgsl.ts";
import {
  CPU_TILE,
  GPU_TILE,
  matmulKernel,
  matmulParts,
  type MatmulTile,
  readsTransB,
} from "./matmul.wgsl.ts";
import {
  avgPoolKernel,
  avgPoolTransposeKernel,
  convKernel,
  filterGradKernel,
  im2colKernel,
  type PoolGeom,
} from "./conv.wgsl.ts";
import { type KernelSource, LOOP_BUDGET, MAX_GROUPS } from "./wgsl.ts";

/**
 * A tensor's storage on the GPU: a pooled buffer and the batch that last used it — or, while
 * the value is the pending result of elementwise ops (fusion), the expression computing it and
 * no buffer yet.
 */
export interface GpuStorage {
  /** The buffer (its size is the size class, ≥ `bytes`); null while `expr` is pending. */
  buffer: GPUBuffer | null;
  /** Bytes the tensor uses. */
  bytes: number;
  /** Size class (the buffer's size). */
  cls: number;
  /** Id of the last batch that encoded work touching this buffer. */
  batch: number;
  /** True once released by its owner (double frees are ignored). */
  freed: boolean;
  /** The fused elementwise expression that will compute it, until it is materialised. */
  expr: Fused | null;
  /** Pending expressions reading this buffer: it is pooled only when they are done too. */
  readers: number;
}

/**
 * A pending fused elementwise computation: nodes over input views of real buffers (leaves),
 * evaluated by one `fusedKernel` dispatch when the value is needed.
 */
export interface Fused {
  shape: number[];
  dtype: DType;
  leaves: GpuStorage[];
  views: View[];
  /** Scalar constants (uploads of one element become constants, not buffers). */
  consts: FusedConst[];
  nodes: FusedNode[];
  /** Per node, the primitive and its inputs, for error messages. */
  ops: { prim: string; inputs: { dtype: DType; shape: readonly number[] }[] }[];
}

/** Pool and queue statistics of the WebGPU backend. */
export interface WebGpuStats {
  /** Buffers currently handed out (live storage and in-flight temporaries). */
  liveBuffers: number;
  /** Buffers parked in the pool for reuse. */
  pooledBuffers: number;
  /** Bytes parked in the pool. */
  pooledBytes: number;
  /** Bytes of every buffer created and not destroyed. */
  allocatedBytes: number;
  /** Compiled compute pipelines (cached by WGSL source). */
  pipelines: number;
  /** Dispatches encoded since the backend was created. */
  dispatches: number;
  /** Command buffers submitted since the backend was created. */
  submits: number;
  /** Elementwise ops recorded as pending values instead of dispatched on their own. */
  fused: number;
}

/** The WebGPU backend object: a `Backend` plus flush, statistics and the adapter. */
export interface WebGpuBackend extends Backend<GpuStorage> {
  /** The device every buffer lives on. */
  readonly device: GPUDevice;
  /** The adapter it came from, described. */
  readonly adapter: AdapterDescription;
  /** Submits pending work now (reads do this themselves). */
  flush(): void;
  /** Waits until the queue is idle and rethrows any device error. */
  sync(): Promise<void>;
  /** Pool and queue statistics. */
  stats(): WebGpuStats;
  /** Destroys pooled buffers (live ones are kept). */
  trim(): void;
  /**
   * Elementwise fusion: consecutive elementwise ops (unary, binary, compare, where, cast,
   * broadcastTo) are recorded and run as one kernel when their result is needed (read, kept, or used by any other
   * op). On by default; `SLL_WEBGPU_FUSION=off` in the environment turns it off.
   */
  fusion: boolean;
  /** Computes a pending (fused) value now; called by `keep()` on values that live on. */
  settle(storage: GpuStorage): void;
}

type Arg = KernelArg<GpuStorage>;

/** What a kernel gets: allocation, release of temporaries, dispatch. */
interface Ctx {
  alloc(bytes: number): GpuStorage;
  release(s: GpuStorage): void;
  dispatch(label: string, k: KernelSource, inputs: GpuStorage[], out: GpuStorage): void;
  /** True on CPU-backed adapters (llvmpipe, lavapipe): kernels pick large register tiles. */
  cpuLike: boolean;
  /** Matmul register tile for this adapter. */
  tile: MatmulTile;
  /** Bytes of one im2col buffer at most (batch items are processed in chunks under it). */
  colsBytes: number;
}

type GpuKernel<P extends PrimName> = (
  ctx: Ctx,
  inputs: Arg[],
  params: PrimParams[P],
  out: OutInfo,
) => GpuStorage;

const BYTES = 4; // float32 and int32

/** Most operations one fused kernel evaluates (bounds the work a pending value can repeat). */
const MAX_FUSED_NODES = 24;
/** Most input buffers of one fused kernel (and at most the adapter's storage bindings − 1). */
const MAX_FUSED_LEAVES = 8;

/** Dispatches per submitted command buffer. */
const MAX_BATCH = 512;
/**
 * Bytes every dispatch's Params binding spans (at its dynamic offset): one fixed window, so a
 * bind group fits every kernel with the same buffers (the largest Params struct is ~150 bytes).
 */
const PARAMS_WINDOW = 256;
/** Bytes of the per-batch uniform buffer. */
const UNIFORM_BYTES = 1 << 18;

/**
 * Size class of a request: 256 B minimum, then quarter steps between powers of two.
 *
 * @example
 * ```ts
 * import { sizeClass } from "./backend.ts";
 * sizeClass(1000); // 1024
 * ```
 */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const p = 2 ** Math.floor(Math.log2(bytes));
  const q = p / 4;
  return Math.ceil(bytes / q) * q;
}

// ----- scalar expressions ----------------------------------------------------------------------

const UNARY: Record<"neg" | "exp" | "log" | "sqrt" | "abs" | "sign", (t: DType) => string> = {
  neg: () => "-a",
  exp: () => "exp(a)",
  log: () => "log(a)",
  sqrt: () => "sqrt(a)",
  abs: () => "abs(a)",
  // NaN → 0 as on the CPU (both comparisons are false)
  sign: (t) =>
    t === "int32"
      ? "select(select(0i, -1i, a < 0i), 1i, a > 0i)"
      : "select(select(0.0, -1.0, a < 0.0), 1.0, a > 0.0)",
};

const BINARY: Record<
  "add" | "sub" | "mul" | "div" | "maximum" | "minimum",
  (t: DType) => string
> = {
  add: () => "a + b",
  sub: () => "a - b",
  mul: () => "a * b",
  div: () => "a / b",
  // NaN-propagating, like the CPU kernels
  maximum: (t) => t === "int32" ? "max(a, b)" : "select(b, a, a > b || a != a)",
  minimum: (t) => t === "int32" ? "min(a, b)" : "select(b, a, a < b || a != a)",
};

const CMP = { eq: "==", ne: "!=", lt: "<", le: "<=", gt: ">", ge: ">=" } as const;

function contiguous(shape: readonly number[], dtype: DType): View {
  return { offset: 0, strides: stridesOf(shape), dtype };
}

function label(prim: string, inputs: readonly Arg[]): string {
  return `${prim} ${inputs.map((x) => `${x.dtype}${fmt(x.shape)}`).join(", ")}`;
}

function mapOut(
  ctx: Ctx,
  prim: string,
  expr: string,
  inputs: Arg[],
  views: View[],
  out: OutInfo,
): GpuStorage {
  const o = ctx.alloc(sizeOf(out.shape) * BYTES);
  ctx.dispatch(
    label(prim, inputs),
    mapKernel(expr, views, out.shape, out.dtype),
    inputs.map((x) => x.storage),
    o,
  );
  return o;
}

/**
 * The scalar WGSL expression (operands a, b, c in input order, each read through a broadcast
 * view of the output) of an elementwise primitive or broadcastTo, or null for every other
 * primitive. These are what the backend fuses.
 */
function elementwiseExpr<P extends PrimName>(
  prim: P,
  params: PrimParams[P],
  inputs: readonly Arg[],
  outDType: DType,
): string | null {
  switch (prim) {
    case "neg":
    case "exp":
    case "log":
    case "sqrt":
    case "abs":
    case "sign":
      return UNARY[prim as keyof typeof UNARY](outDType);
    case "add":
    case "sub":
    case "mul":
    case "div":
    case "maximum":
    case "minimum":
      return BINARY[prim as keyof typeof BINARY](outDType);
    case "compare":
      return `select(0i, 1i, a ${CMP[(params as PrimParams["compare"]).op]} b)`;
    case "where": // a is the condition
      return "select(c, b, a != 0i)";
    case "cast": {
      const to = (params as PrimParams["cast"]).dtype;
      return inputs[0].dtype === to ? "a" : to === "int32" ? "i32(a)" : "f32(a)";
    }
    case "broadcastTo": // a copy through a broadcast view: the identity per output element
      return "a";
    default:
      return null;
  }
}

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

/** Reduces x [outer, r, inner] over the middle axis in passes of ≤ CHUNK entries. */
function reduceMiddle(
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

function reduceKernel(op: "sum" | "max"): GpuKernel<"sum" | "max"> {
  return (ctx, [x], p, out) => {
    const lbl = label(op, [x]);
    const l = reduceLayout(ctx, lbl, x, p.axes);
    const o = reduceMiddle(ctx, lbl, op, l.buf, l.outer, l.r, l.inner, out.dtype);
    if (l.temp) ctx.release(l.buf);
    return o;
  };
}

/** Sums `parts` slabs of `per` elements laid side by side (split-k and chunked kernels). */
function sumParts(ctx: Ctx, lbl: string, buf: GpuStorage, parts: number, per: number): GpuStorage {
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

function castTo(ctx: Ctx, lbl: string, x: Arg, dtype: DType): GpuStorage {
  const o = ctx.alloc(sizeOf(x.shape) * BYTES);
  ctx.dispatch(
    lbl,
    mapKernel(
      dtype === "int32" ? "i32(a)" : "f32(a)",
      [contiguous(x.shape, x.dtype)],
      x.shape,
      dtype,
    ),
    [x.storage],
    o,
  );
  return o;
}

function floatOnly(prim: string, x: Arg): void {
  if (x.dtype !== "float32") {
    throw new TypeError(
      `${prim}: the webgpu backend runs ${prim} on float32 only, got ${x.dtype} ${
        fmt(x.shape)
      }; cast() to float32 first`,
    );
  }
}

function checkGrid(lbl: string, k: KernelSource): void {
  if (k.grid.some((g) => g > MAX_GROUPS)) {
    throw new RangeError(
      `${lbl}: needs a ${
        k.grid.join("×")
      } workgroup grid, over the ${MAX_GROUPS} per dimension WebGPU allows; split the batch`,
    );
  }
}

function matmulRun(
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
function gemm(
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

/** Default bytes of one im2col buffer at most. */
const COLS_BYTES = 1 << 27;

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

function poolGeom(
  inShape: readonly number[],
  outShape: readonly number[],
  p: PrimParams["avgPool2d"],
): PoolGeom {
  if (p.size[0] * p.size[1] > LOOP_BUDGET) {
    throw new RangeError(
      `avgPool2d: window ${p.size[0]}×${p.size[1]} exceeds ${LOOP_BUDGET} taps on webgpu`,
    );
  }
  return {
    planes: inShape[0] * inShape[1],
    h: inShape[2],
    w: inShape[3],
    ho: outShape[2],
    wo: outShape[3],
    size: p.size,
    stride: p.stride,
    padding: p.padding,
    divisor: p.divisor,
  };
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
  // CPU-backed adapters: im2col + the large-tile GEMM; GPUs: the direct implicit-GEMM kernel
  if (ctx.cpuLike && outSize > 0) return convGemm(ctx, prim, inputs, g, transposed);
  const lbl = label(prim, inputs);
  const ks = convKernel(g, transposed);
  checkGrid(lbl, ks);
  const o = ctx.alloc(ks.parts * outSize * BYTES);
  if (outSize > 0) ctx.dispatch(lbl, ks, [inputs[0].storage, inputs[1].storage], o);
  return sumParts(ctx, lbl, o, ks.parts, outSize);
}

const KERNELS: { [P in PrimName]: GpuKernel<P> } = {
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
  argmax: (ctx, [x], p) => {
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
  },
  matmul: (ctx, inputs, p, out) => matmulRun(ctx, inputs, out, p.transA, p.transB),
  // reshape aliases storage in the engine; the kernel (a copy) exists for completeness
  reshape: (ctx, [x], _p, out) =>
    mapOut(ctx, "reshape", "a", [x], [contiguous(x.shape, x.dtype)], out),
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
  conv2d: (ctx, [x, w], p, out) =>
    convRun(
      ctx,
      "conv2d",
      [x, w],
      convGeom(x.shape, w.shape, out.shape, p),
      false,
      sizeOf(out.shape),
    ),
  convTranspose2d: (ctx, [y, w], p, out) =>
    convRun(
      ctx,
      "convTranspose2d",
      [y, w],
      convGeom(out.shape, w.shape, y.shape, p),
      true,
      sizeOf(out.shape),
    ),
  conv2dFilterGrad: (ctx, [x, gy], p, out) => {
    floatOnly("conv2dFilterGrad", x);
    floatOnly("conv2dFilterGrad", gy);
    const g = convGeom(x.shape, out.shape, gy.shape, p);
    if (ctx.cpuLike && sizeOf(out.shape) > 0) return filterGradGemm(ctx, [x, gy], g);
    const lbl = label("conv2dFilterGrad", [x, gy]);
    const ks = filterGradKernel(g);
    checkGrid(lbl, ks);
    const size = sizeOf(out.shape);
    const o = ctx.alloc(ks.parts * size * BYTES);
    if (size > 0) ctx.dispatch(lbl, ks, [x.storage, gy.storage], o);
    return sumParts(ctx, lbl, o, ks.parts, size);
  },
  avgPool2d: (ctx, [x], p, out) => {
    floatOnly("avgPool2d", x);
    const o = ctx.alloc(sizeOf(out.shape) * BYTES);
    ctx.dispatch(label("avgPool2d", [x]), avgPoolKernel(poolGeom(x.shape, out.shape, p)), [
      x.storage,
    ], o);
    return o;
  },
  avgPool2dTranspose: (ctx, [g], p, out) => {
    floatOnly("avgPool2dTranspose", g);
    const o = ctx.alloc(sizeOf(out.shape) * BYTES);
    ctx.dispatch(
      label("avgPool2dTranspose", [g]),
      avgPoolTransposeKernel(poolGeom(out.shape, g.shape, p)),
      [g.storage],
      o,
    );
    return o;
  },
};

function sameView(a: View, b: View): boolean {
  return a.offset === b.offset && a.dtype === b.dtype && sameShape(a.strides, b.strides);
}

/** SLL_WEBGPU_FUSION=off|0|false|no turns elementwise fusion off (on when unset). */
function fusionFromEnv(): boolean {
  return !["off", "0", "false", "no"].includes((envVar("SLL_WEBGPU_FUSION") ?? "").toLowerCase());
}

interface BatchErrors {
  labels: string[];
  checks: Promise<void>;
}

/**
 * Creates the WebGPU backend on `device` (see `initWebGpu` for the public entry point).
 *
 * @example
 * ```ts
 * import { requestGpuDevice } from "./device.ts";
 * import { createWebGpuBackend } from "./backend.ts";
 * const { device, description } = await requestGpuDevice();
 * const gpu = createWebGpuBackend(device, description);
 * ```
 */
export function createWebGpuBackend(
  device: GPUDevice,
  adapter: AdapterDescription,
  options: { colsBytes?: number; fusion?: boolean } = {},
): WebGpuBackend {
  const queue = device.queue;
  const uniformAlign = Math.max(16, device.limits.minUniformBufferOffsetAlignment);
  const maxBinding = device.limits.maxStorageBufferBindingSize;
  const pool = new Map<number, GpuStorage[]>();
  // freed while the pending batch uses them: fine as kernel outputs later in the same batch
  // (the GPU orders dispatches), not for uploads (writeBuffer runs before the batch)
  const deferred = new Map<number, GpuStorage[]>();
  let deferredCount = 0, deferredBytes = 0;
  const stagingPool = new Map<number, GPUBuffer[]>();
  const pipelines = new Map<string, GPUComputePipeline>();
  let batchId = 1;
  let nextBufferId = 1;
  const bufferIds = new WeakMap<GPUBuffer, number>();
  const idOf = (b: GPUBuffer): number => {
    let id = bufferIds.get(b);
    if (id === undefined) bufferIds.set(b, id = nextBufferId++);
    return id;
  };
  let encoder: GPUCommandEncoder | null = null;
  let pass: GPUComputePassEncoder | null = null;
  let inBatch = 0;
  let lastPipeline: GPUComputePipeline | null = null; // set on the pending pass
  let labels: string[] = [];
  const uniformStage = new Uint32Array(UNIFORM_BYTES / 4);
  let uniformUsed = 0;
  const uniformBuffer = device.createBuffer({
    label: "sll params (one batch)",
    size: UNIFORM_BYTES,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  let live = 0, pooledCount = 0, pooledBytes = 0, allocatedBytes = 0;
  let dispatches = 0, submits = 0, fusedOps = 0;
  let fusion = options.fusion ?? fusionFromEnv();
  const maxLeaves = Math.min(
    MAX_FUSED_LEAVES,
    device.limits.maxStorageBuffersPerShaderStage - 1,
  );
  let pendingChecks: Promise<void>[] = [];
  let deviceError: Error | null = null;
  let lost: string | null = null;

  device.lost.then((info) => {
    lost = `${info.reason}: ${info.message}`;
  });
  device.addEventListener("uncapturederror", (e) => {
    const err = (e as GPUUncapturedErrorEvent).error;
    deviceError ??= new Error(`webgpu: uncaptured device error: ${err.message}`);
  });

  function checkAlive(op: string): void {
    if (lost !== null) {
      throw new Error(
        `${op}: the WebGPU device was lost (${lost}); call initWebGpu() again and recreate the tensors`,
      );
    }
    if (deviceError) {
      const e = deviceError;
      deviceError = null;
      throw e;
    }
  }

  function checkBytes(bytes: number): void {
    if (bytes > maxBinding) {
      throw new RangeError(
        `needs a ${bytes}-byte buffer, over this adapter's ${maxBinding}-byte storage binding limit; use smaller batches`,
      );
    }
  }

  function alloc(bytes: number, forUpload = false): GpuStorage {
    checkBytes(bytes);
    const cls = sizeClass(Math.max(bytes, 4));
    live++;
    const d = forUpload ? undefined : deferred.get(cls);
    if (d && d.length) {
      const s = d.pop()!;
      deferredCount--;
      deferredBytes -= cls;
      s.bytes = bytes;
      s.freed = false;
      return s;
    }
    const list = pool.get(cls);
    if (list && list.length) {
      const s = list.pop()!;
      pooledCount--;
      pooledBytes -= cls;
      s.bytes = bytes;
      s.freed = false;
      return s;
    }
    const buffer = device.createBuffer({
      label: `sll tensor (${cls} B class)`,
      size: cls,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    allocatedBytes += cls;
    return { buffer, bytes, cls, batch: 0, freed: false, expr: null, readers: 0 };
  }

  function toPool(s: GpuStorage): void {
    let list = pool.get(s.cls);
    if (!list) pool.set(s.cls, list = []);
    list.push(s);
    pooledCount++;
    pooledBytes += s.cls;
  }

  function release(s: GpuStorage): void {
    if (s.freed) return;
    s.freed = true;
    if (s.expr) { // never computed: nothing to run, only the inputs to let go
      dropLeaves(s.expr);
      s.expr = null;
      return;
    }
    if (s.readers === 0) recycle(s); // else the last pending reader recycles it
  }

  function dropLeaves(e: Fused): void {
    for (const l of e.leaves) if (--l.readers === 0 && l.freed) recycle(l);
  }

  /** Hands a buffer nobody needs any more back to the pool. */
  function recycle(s: GpuStorage): void {
    live--;
    // pending work still reads or writes it: reuse only after that batch is submitted
    if (s.batch === batchId && encoder) {
      let list = deferred.get(s.cls);
      if (!list) deferred.set(s.cls, list = []);
      list.push(s);
      deferredCount++;
      deferredBytes += s.cls;
    } else toPool(s);
  }

  // One layout per input count, shared by every kernel (uniforms → inputs → output); the
  // Params binding has a dynamic offset, so a bind group only names buffers and is reusable.
  const layouts = new Map<number, { group: GPUBindGroupLayout; pipe: GPUPipelineLayout }>();
  function layoutFor(nIn: number): { group: GPUBindGroupLayout; pipe: GPUPipelineLayout } {
    let l = layouts.get(nIn);
    if (!l) {
      const entries: GPUBindGroupLayoutEntry[] = [{
        binding: 0,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: "uniform", hasDynamicOffset: true },
      }];
      for (let i = 0; i < nIn; i++) {
        entries.push({
          binding: i + 1,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: "read-only-storage" },
        });
      }
      entries.push({
        binding: nIn + 1,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: "storage" },
      });
      const group = device.createBindGroupLayout({ label: `sll ${nIn}-input layout`, entries });
      const pipe = device.createPipelineLayout({
        label: `sll ${nIn}-input pipeline layout`,
        bindGroupLayouts: [group],
      });
      layouts.set(nIn, l = { group, pipe });
    }
    return l;
  }

  function pipeline(code: string, lbl: string, nIn: number): GPUComputePipeline {
    let p = pipelines.get(code);
    if (!p) {
      const module = device.createShaderModule({ label: `sll ${lbl.split(" ")[0]}`, code });
      p = device.createComputePipeline({
        label: `sll ${lbl.split(" ")[0]} pipeline`,
        layout: layoutFor(nIn).pipe,
        compute: { module, entryPoint: "main" },
      });
      pipelines.set(code, p);
    }
    return p;
  }

  // bind groups by (input count, buffer ids); buffers are never destroyed while
  // pooled, so a cached group stays valid until trim()
  const bindGroups = new Map<string, GPUBindGroup>();
  function bindGroup(lbl: string, inputs: GpuStorage[], out: GpuStorage): GPUBindGroup {
    let key = `${inputs.length}|${idOf(out.buffer!)}`;
    for (const s of inputs) key += `,${idOf(s.buffer!)}`;
    let bg = bindGroups.get(key);
    if (!bg) {
      const entries: GPUBindGroupEntry[] = [
        { binding: 0, resource: { buffer: uniformBuffer, offset: 0, size: PARAMS_WINDOW } },
      ];
      inputs.forEach((s, i) => entries.push({ binding: i + 1, resource: { buffer: s.buffer! } }));
      entries.push({ binding: inputs.length + 1, resource: { buffer: out.buffer! } });
      if (bindGroups.size >= 16384) bindGroups.clear();
      bg = device.createBindGroup({ label: lbl, layout: layoutFor(inputs.length).group, entries });
      bindGroups.set(key, bg);
    }
    return bg;
  }

  function begin(): void {
    device.pushErrorScope("out-of-memory");
    device.pushErrorScope("validation");
    encoder = device.createCommandEncoder({ label: `sll batch ${batchId}` });
    pass = encoder.beginComputePass({ label: `sll batch ${batchId} pass` });
    lastPipeline = null;
  }

  function flush(): void {
    if (!encoder) return;
    pass!.end();
    if (uniformUsed) queue.writeBuffer(uniformBuffer, 0, uniformStage, 0, uniformUsed / 4);
    queue.submit([encoder.finish()]);
    submits++;
    const errs: BatchErrors = { labels, checks: Promise.resolve() };
    const v = device.popErrorScope();
    const m = device.popErrorScope();
    errs.checks = Promise.all([v, m]).then(([ve, me]) => {
      const e = ve ?? me;
      if (e) {
        const ops = [...new Set(errs.labels)].slice(0, 12).join("; ");
        deviceError ??= new Error(
          `webgpu: ${
            me && !ve ? "out of memory" : "validation error"
          } in a batch running: ${ops}: ${e.message}`,
        );
      }
    });
    pendingChecks.push(errs.checks);
    encoder = null;
    pass = null;
    inBatch = 0;
    uniformUsed = 0;
    labels = [];
    batchId++;
    for (const list of deferred.values()) for (const s of list) toPool(s);
    deferred.clear();
    deferredCount = 0;
    deferredBytes = 0;
  }

  const cpuLike = adapter.isFallbackAdapter ||
    /llvmpipe|lavapipe|swiftshader|softpipe/i.test(adapter.description);
  const ctx: Ctx = {
    alloc,
    release,
    cpuLike,
    tile: cpuLike ? CPU_TILE : GPU_TILE,
    colsBytes: Math.min(options.colsBytes ?? COLS_BYTES, maxBinding),
    dispatch(lbl, k, inputs, out) {
      const bytes = k.params.byteLength;
      const slot = Math.ceil(bytes / uniformAlign) * uniformAlign;
      if (bytes > PARAMS_WINDOW) {
        throw new RangeError(
          `${lbl}: ${bytes} bytes of Params exceed the ${PARAMS_WINDOW}-byte window`,
        );
      }
      if (encoder && (inBatch >= MAX_BATCH || uniformUsed + PARAMS_WINDOW > UNIFORM_BYTES)) {
        flush();
      }
      if (!encoder) begin();
      for (const s of inputs) {
        if (!s.buffer) throw new Error(`${lbl}: internal error: an input was never computed`);
      }
      const pipe = pipeline(k.code, lbl, inputs.length);
      const off = uniformUsed;
      uniformStage.set(k.params, off / 4);
      uniformUsed += slot;
      for (const s of inputs) s.batch = batchId;
      out.batch = batchId;
      const bg = bindGroup(lbl, inputs, out);
      labels.push(lbl);
      if (pipe !== lastPipeline) pass!.setPipeline(pipe);
      lastPipeline = pipe;
      pass!.setBindGroup(0, bg, [off]);
      pass!.dispatchWorkgroups(k.grid[0], k.grid[1], k.grid[2]);
      inBatch++;
      dispatches++;
    },
  };

  /** Computes a pending value into a buffer of its own (in the current batch); else nothing. */
  function settle(s: GpuStorage): void {
    const e = s.expr;
    if (!e) return;
    const o = alloc(s.bytes);
    const what = e.ops.map((op) =>
      `${op.prim} ${op.inputs.map((x) => `${x.dtype}${fmt(x.shape)}`).join(", ")}`
    );
    ctx.dispatch(
      what.length === 1 ? what[0] : `fused (${what.join("; ")})`,
      fusedKernel(e.nodes, e.views, e.consts, e.shape, e.dtype),
      e.leaves,
      o,
    );
    s.buffer = o.buffer;
    s.cls = o.cls;
    s.batch = o.batch;
    s.expr = null;
    dropLeaves(e);
  }

  /**
   * Records an elementwise op as a pending value instead of dispatching it. Pending inputs with
   * the output's shape, and pending scalars of any shape, are inlined (their nodes copied,
   * shared subexpressions merged) within MAX_FUSED_NODES nodes, the binding budget and the
   * Params window; any other pending input is materialised first and read as a buffer,
   * broadcast as needed.
   */
  function fuse(prim: PrimName, expr: string, inputs: Arg[], out: OutInfo): GpuStorage {
    checkBytes(sizeOf(out.shape) * BYTES); // fail at the op, not later where it runs
    const r = out.shape.length;
    // Params words: n and the dims, per input an offset and r strides, one per constant
    const words = (nLeaves: number, nConsts: number) => 1 + r + nLeaves * (1 + r) + nConsts;
    let leaves: GpuStorage[] = [];
    let views: View[] = [];
    let consts: FusedConst[] = [];
    let nodes: FusedNode[] = [];
    let ops: Fused["ops"] = [];
    // node keys for merging shared subexpressions; built only once a second source needs it
    let index: Map<string, number> | null = null;
    const keyOf = (nd: FusedNode) => `${nd.expr}(${nd.args})`;
    const leafOf = (s: GpuStorage, v: View): number => {
      for (let k = 0; k < leaves.length; k++) {
        if (leaves[k] === s && sameView(views[k], v)) return -(k + 1);
      }
      leaves.push(s);
      views.push(v);
      return -leaves.length;
    };
    const constOf = (c: FusedConst): number => {
      let k = consts.findIndex((d) => d.dtype === c.dtype && Object.is(d.value, c.value));
      if (k < 0) k = consts.push(c) - 1;
      return FUSED_CONST + k;
    };
    const nodeOf = (nd: FusedNode, op: Fused["ops"][number]): number => {
      index ??= new Map(nodes.map((x, j) => [keyOf(x), j]));
      const key = keyOf(nd);
      let j = index.get(key);
      if (j === undefined) {
        index.set(key, j = nodes.length);
        nodes.push(nd);
        ops.push(op);
      }
      return j;
    };
    const args = inputs.map((x, i) => {
      const s = x.storage, e = s.expr;
      const rest = inputs.length - 1 - i; // later inputs may each need a binding
      if (
        e && (
          (e.leaves.length === 0 && sizeOf(e.shape) === 1) || // a scalar: any shape
          (sameShape(e.shape, out.shape) && sameShape(x.shape, out.shape))
        ) &&
        nodes.length + e.nodes.length < MAX_FUSED_NODES &&
        leaves.length + e.leaves.length + rest <= maxLeaves &&
        words(leaves.length + e.leaves.length + rest, consts.length + e.consts.length) <=
          PARAMS_WINDOW / 4
      ) {
        if (nodes.length === 0 && leaves.length === 0 && consts.length === 0) {
          // the first source: its nodes and leaves are already distinct, copy them as they are
          nodes = e.nodes.slice();
          ops = e.ops.slice();
          leaves = e.leaves.slice();
          views = e.views.slice();
          consts = e.consts.slice();
          return nodes.length - 1;
        }
        const lmap = e.leaves.map((l, k) => leafOf(l, e.views[k]));
        const cmap = e.consts.map(constOf);
        const nmap: number[] = [];
        e.nodes.forEach((nd, j) =>
          nmap.push(nodeOf({
            expr: nd.expr,
            args: nd.args.map((a) =>
              a < 0 ? lmap[-a - 1] : a >= FUSED_CONST ? cmap[a - FUSED_CONST] : nmap[a]
            ),
          }, e.ops[j]))
        );
        return nmap[nmap.length - 1];
      }
      settle(s);
      return leafOf(s, broadcastView(x.shape, out.shape, x.dtype));
    });
    const op = { prim, inputs: inputs.map((x) => ({ dtype: x.dtype, shape: x.shape })) };
    if (index) nodeOf({ expr, args }, op);
    else { // one source or none: no key index to consult (the common chain case)
      nodes.push({ expr, args });
      ops.push(op);
    }
    for (const l of leaves) l.readers++;
    fusedOps++;
    return pending({ shape: out.shape, dtype: out.dtype, leaves, views, consts, nodes, ops });
  }

  /** A storage whose value `e` computes when it is needed. */
  function pending(e: Fused): GpuStorage {
    return {
      buffer: null,
      bytes: sizeOf(e.shape) * BYTES,
      cls: 0,
      batch: 0,
      freed: false,
      expr: e,
      readers: 0,
    };
  }

  async function drainChecks(): Promise<void> {
    const c = pendingChecks;
    pendingChecks = [];
    await Promise.all(c);
  }

  function staging(cls: number): GPUBuffer {
    const list = stagingPool.get(cls);
    if (list && list.length) return list.pop()!;
    return device.createBuffer({
      label: `sll read-back staging (${cls} B)`,
      size: cls,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
  }

  const backend: WebGpuBackend = {
    name: "webgpu",
    dtypes: ["float32", "int32"],
    device,
    adapter,
    upload(data: TypedArray, dtype: DType): GpuStorage {
      checkAlive("upload");
      if (fusion && data.length === 1) {
        // a scalar becomes a constant of the kernels that use it: no buffer, no write
        return pending({
          shape: [],
          dtype,
          leaves: [],
          views: [],
          consts: [{ value: data[0], dtype }],
          nodes: [{ expr: "a", args: [FUSED_CONST] }],
          ops: [{ prim: "upload", inputs: [] }],
        });
      }
      const s = alloc(data.byteLength, true);
      if (data.byteLength) {
        queue.writeBuffer(
          s.buffer!,
          0,
          data.buffer as ArrayBuffer,
          data.byteOffset,
          data.byteLength,
        );
      }
      return s;
    },
    run<P extends PrimName>(
      prim: P,
      inputs: Arg[],
      params: PrimParams[P],
      out: OutInfo,
    ): GpuStorage {
      checkAlive(prim);
      if (fusion) {
        const expr = elementwiseExpr(prim, params, inputs, out.dtype);
        if (expr !== null) return fuse(prim, expr, inputs, out);
      }
      for (const x of inputs) settle(x.storage);
      return (KERNELS[prim] as GpuKernel<P>)(ctx, inputs, params, out);
    },
    async read(storage: GpuStorage, dtype: DType, size: number): Promise<TypedArray> {
      checkAlive("read");
      settle(storage);
      flush();
      const bytes = size * BYTES;
      const result = newArray(dtype, size);
      if (bytes === 0) {
        await drainChecks();
        checkAlive("read");
        return result;
      }
      const cls = sizeClass(bytes);
      const st = staging(cls);
      const enc = device.createCommandEncoder({ label: "sll read-back" });
      enc.copyBufferToBuffer(storage.buffer!, 0, st, 0, bytes);
      queue.submit([enc.finish()]);
      submits++;
      batchId++; // later frees of `storage` may go straight to the pool: the copy is queued
      try {
        await st.mapAsync(GPUMapMode.READ, 0, bytes);
      } catch (e) {
        await drainChecks();
        checkAlive("read");
        throw new Error(`read: mapping the read-back buffer failed: ${(e as Error).message}`);
      }
      const mapped = st.getMappedRange(0, bytes);
      new Uint8Array(result.buffer).set(new Uint8Array(mapped));
      st.unmap();
      let list = stagingPool.get(cls);
      if (!list) stagingPool.set(cls, list = []);
      list.push(st);
      await drainChecks();
      checkAlive("read");
      return result;
    },
    free(storage: GpuStorage): void {
      release(storage);
    },
    flush,
    get fusion() {
      return fusion;
    },
    set fusion(on: boolean) {
      fusion = on;
    },
    settle,
    async sync(): Promise<void> {
      flush();
      await queue.onSubmittedWorkDone();
      await drainChecks();
      checkAlive("sync");
    },
    stats(): WebGpuStats {
      return {
        liveBuffers: live,
        pooledBuffers: pooledCount + deferredCount,
        pooledBytes: pooledBytes + deferredBytes,
        allocatedBytes,
        pipelines: pipelines.size,
        dispatches,
        submits,
        fused: fusedOps,
      };
    },
    trim(): void {
      for (const list of pool.values()) {
        for (const s of list) {
          s.buffer!.destroy();
          allocatedBytes -= s.cls;
        }
      }
      pool.clear();
      bindGroups.clear();
      pooledCount = 0;
      pooledBytes = 0;
    },
  };
  return backend;
}

/**
 * Public synchronous entry points of the wasm kernels: argument checks, arena layout (inputs,
 * tile-padded outputs, per-thread scratch), dispatch, and copying results out to fresh
 * Float32Arrays. Inputs are never modified; f32 row-major throughout.
 * @module
 */

import { J, JobKind, packScratchBytes, TILE } from "./driver.ts";
import { arena, dispatch, getRuntime, threadCount } from "./runtime.ts";

/** Below this many flops a call runs on one thread (waking the helper costs ~50 µs). */
const PARALLEL_FLOPS = 1 << 22;

const roundUp = (x: number, m: number): number => Math.ceil(x / m) * m;

/** Options of {@linkcode sgemm}. */
export interface GemmOptions {
  /** Rows of op(A) and of C. */
  m: number;
  /** Columns of op(B) and of C. */
  n: number;
  /** Columns of op(A) = rows of op(B). */
  k: number;
  /** Number of independent products (default 1). */
  batch?: number;
  /** A is stored k×m (use its transpose). */
  transA?: boolean;
  /** B is stored n×k (use its transpose). */
  transB?: boolean;
  /** Elements between batch items of A; 0 broadcasts one matrix (default m·k). */
  strideA?: number;
  /** Elements between batch items of B; 0 broadcasts one matrix (default k·n). */
  strideB?: number;
}

/** Geometry of a 2-D convolution, NCHW with weights [O, C, kh, kw]. */
export interface Conv2dOptions {
  /** Batch size. */
  b: number;
  /** Input channels. */
  c: number;
  /** Input height. */
  h: number;
  /** Input width. */
  w: number;
  /** Output channels. */
  o: number;
  /** Kernel height. */
  kh: number;
  /** Kernel width. */
  kw: number;
  /** Stride (both axes, default 1). */
  stride?: number;
  /** Zero padding (both axes, default 0). */
  padding?: number;
}

/** Options of {@linkcode conv2dBackwardInput}: the forward geometry plus an optional check. */
export interface Conv2dBackwardInputOptions extends Conv2dOptions {
  /**
   * PyTorch's output_padding; since h and w are given it is implied, ((h + 2p − kh) mod s),
   * and is only checked against that when passed.
   */
  outputPadding?: number;
}

function checkInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) {
    throw new RangeError(`Invalid ${name} = ${v}: expected an integer >= ${min}`);
  }
}

function checkLength(what: string, arr: Float32Array, need: number, shape: string): void {
  if (!(arr instanceof Float32Array)) {
    throw new TypeError(
      `${what} must be a Float32Array, got ${Object.prototype.toString.call(arr)}`,
    );
  }
  if (arr.length < need) {
    throw new TypeError(`${what} has ${arr.length} elements, but ${shape} needs ${need}`);
  }
}

function requireRuntime(): NonNullable<ReturnType<typeof getRuntime>> {
  const rt = getRuntime();
  if (!rt) {
    throw new Error("WebAssembly SIMD is not available in this runtime; use the plain CPU kernels");
  }
  return rt;
}

/** Writes `src` into the memory at byte address `at`. */
function put(memory: WebAssembly.Memory, at: number, src: Float32Array): void {
  new Float32Array(memory.buffer, at, src.length).set(src);
}

/** Copies `rows` rows of `n` elements (source row stride `ld`) starting at byte `at` into `dst`. */
function take(
  memory: WebAssembly.Memory,
  at: number,
  dst: Float32Array,
  dstOff: number,
  rows: number,
  n: number,
  ld: number,
): void {
  const src = new Float32Array(memory.buffer, at, rows * ld);
  if (ld === n) {
    dst.set(src.subarray(0, rows * n), dstOff);
  } else if (n >= 32) {
    for (let r = 0; r < rows; r++) dst.set(src.subarray(r * ld, r * ld + n), dstOff + r * n);
  } else {
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < n; j++) dst[dstOff + r * n + j] = src[r * ld + j];
    }
  }
}

function zeroBytes(memory: WebAssembly.Memory, at: number, bytes: number): void {
  new Uint8Array(memory.buffer, at, bytes).fill(0);
}

/**
 * Batched single-precision matrix product: C[bi] = op(A[bi]) · op(B[bi]) for bi < batch, with
 * op(A) m×k and op(B) k×n, row-major. Returns C as a new Float32Array [batch, m, n].
 *
 * @example
 * ```ts
 * const c = sgemm(new Float32Array([1, 2, 3, 4]), new Float32Array([1, 0, 0, 1]), { m: 2, n: 2, k: 2 });
 * // c = [1, 2, 3, 4]
 * ```
 */
export function sgemm(a: Float32Array, b: Float32Array, opts: GemmOptions): Float32Array {
  const { m, n, k, batch = 1, transA = false, transB = false } = opts;
  const strideA = opts.strideA ?? m * k, strideB = opts.strideB ?? k * n;
  checkInt("m", m, 0), checkInt("n", n, 0), checkInt("k", k, 0), checkInt("batch", batch, 0);
  checkInt("strideA", strideA, 0), checkInt("strideB", strideB, 0);
  const lenA = batch > 0 && m * k > 0 ? (batch - 1) * strideA + m * k : 0;
  const lenB = batch > 0 && k * n > 0 ? (batch - 1) * strideB + k * n : 0;
  checkLength(
    "sgemm: A",
    a,
    lenA,
    `batch ${batch} × [${transA ? `${k}, ${m}` : `${m}, ${k}`}] with strideA ${strideA}`,
  );
  checkLength(
    "sgemm: B",
    b,
    lenB,
    `batch ${batch} × [${transB ? `${n}, ${k}` : `${k}, ${n}`}] with strideB ${strideB}`,
  );
  const out = new Float32Array(batch * m * n);
  if (out.length === 0 || k === 0) return out;
  const rt = requireRuntime();
  const mPad = roundUp(m, TILE.mr), nPad = roundUp(n, TILE.nr);
  const threads = 2 * m * n * k * batch >= PARALLEL_FLOPS ? threadCount() : 1;
  arena.reset();
  const aAt = arena.alloc(lenA * 4), bAt = arena.alloc(lenB * 4);
  const cAt = arena.alloc(batch * mPad * nPad * 4);
  const scratchStride = roundUp(packScratchBytes(m, n), 64);
  const scratch = arena.alloc(scratchStride * threads);
  arena.commit(rt.memory);
  put(rt.memory, aAt, lenA === a.length ? a : a.subarray(0, lenA));
  put(rt.memory, bAt, lenB === b.length ? b : b.subarray(0, lenB));
  zeroBytes(rt.memory, cAt, batch * mPad * nPad * 4);
  const job = new Int32Array(J.size);
  job[J.kind] = JobKind.gemm;
  job[J.a] = aAt, job[J.b] = bAt, job[J.c] = cAt;
  job[J.m] = m, job[J.n] = n, job[J.k] = k;
  job[J.rsA] = transA ? 1 : k, job[J.csA] = transA ? m : 1;
  job[J.rsB] = transB ? k : 1, job[J.csB] = transB ? 1 : n;
  job[J.ldc] = nPad, job[J.batch] = batch;
  job[J.strideA] = strideA, job[J.strideB] = strideB, job[J.strideC] = mPad * nPad;
  job[J.scratch] = scratch, job[J.scratchStride] = scratchStride;
  dispatch(rt, job, threads);
  for (let bi = 0; bi < batch; bi++) {
    take(rt.memory, cAt + bi * mPad * nPad * 4, out, bi * m * n, m, n, nPad);
  }
  return out;
}

interface ConvGeometry {
  B: number;
  C: number;
  H: number;
  W: number;
  O: number;
  kh: number;
  kw: number;
  s: number;
  p: number;
  ho: number;
  wo: number;
  K: number;
  P: number;
}

function convGeometry(op: string, o: Conv2dOptions): ConvGeometry {
  const s = o.stride ?? 1, p = o.padding ?? 0;
  checkInt(`${op}: b`, o.b, 0), checkInt(`${op}: c`, o.c, 1), checkInt(`${op}: h`, o.h, 1);
  checkInt(`${op}: w`, o.w, 1), checkInt(`${op}: o`, o.o, 1), checkInt(`${op}: kh`, o.kh, 1);
  checkInt(`${op}: kw`, o.kw, 1), checkInt(`${op}: stride`, s, 1), checkInt(`${op}: padding`, p, 0);
  const ho = Math.floor((o.h + 2 * p - o.kh) / s) + 1,
    wo = Math.floor((o.w + 2 * p - o.kw) / s) + 1;
  if (ho < 1 || wo < 1) {
    throw new RangeError(
      `${op}: a ${o.kh}×${o.kw} kernel with padding ${p} does not fit a ${o.h}×${o.w} input (output ${ho}×${wo}); increase padding or use a smaller kernel`,
    );
  }
  const K = o.c * o.kh * o.kw;
  return {
    B: o.b,
    C: o.c,
    H: o.h,
    W: o.w,
    O: o.o,
    kh: o.kh,
    kw: o.kw,
    s,
    p,
    ho,
    wo,
    K,
    P: ho * wo,
  };
}

function convJob(kind: number, g: ConvGeometry, a: number, b: number, c: number): Int32Array {
  const job = new Int32Array(J.size);
  job[J.kind] = kind, job[J.a] = a, job[J.b] = b, job[J.c] = c;
  job[J.cb] = g.B, job[J.cc] = g.C, job[J.ch] = g.H, job[J.cw] = g.W, job[J.co] = g.O;
  job[J.ckh] = g.kh, job[J.ckw] = g.kw, job[J.cs] = g.s, job[J.cp] = g.p;
  job[J.cho] = g.ho, job[J.cwo] = g.wo;
  return job;
}

/** Per-thread scratch: the column buffer [K padded to mr][P padded to nr] + packing blocks. */
function convScratchBytes(g: ConvGeometry): number {
  const col = roundUp(roundUp(g.K, TILE.mr) * roundUp(g.P, TILE.nr) * 4, 64);
  return roundUp(col + packScratchBytes(Math.max(g.O, g.K), Math.max(g.P, g.K)), 64);
}

function convThreads(g: ConvGeometry): number {
  return g.B >= 2 && 2 * g.B * g.O * g.K * g.P >= PARALLEL_FLOPS ? threadCount() : 1;
}

/**
 * 2-D convolution (cross-correlation, zero padding, PyTorch semantics): x [B, C, H, W] and
 * w [O, C, kh, kw] give y [B, O, Ho, Wo] with Ho = floor((H + 2p − kh)/s) + 1.
 *
 * @example
 * ```ts
 * const y = conv2d(new Float32Array(16).fill(1), new Float32Array(9).fill(1),
 *   { b: 1, c: 1, h: 4, w: 4, o: 1, kh: 3, kw: 3, padding: 1 });
 * // y[5] = 9 (interior), y[0] = 4 (corner)
 * ```
 */
export function conv2d(x: Float32Array, w: Float32Array, opts: Conv2dOptions): Float32Array {
  const g = convGeometry("conv2d", opts);
  checkLength("conv2d: x", x, g.B * g.C * g.H * g.W, `[${g.B}, ${g.C}, ${g.H}, ${g.W}]`);
  checkLength("conv2d: w", w, g.O * g.K, `[${g.O}, ${g.C}, ${g.kh}, ${g.kw}]`);
  const out = new Float32Array(g.B * g.O * g.P);
  if (out.length === 0) return out;
  const rt = requireRuntime();
  const threads = convThreads(g);
  const oPad = roundUp(g.O, TILE.mr), pPad = roundUp(g.P, TILE.nr);
  arena.reset();
  const xAt = arena.alloc(g.B * g.C * g.H * g.W * 4), wAt = arena.alloc(g.O * g.K * 4);
  const yAt = arena.alloc(g.B * oPad * pPad * 4);
  const stride = convScratchBytes(g), scratch = arena.alloc(stride * threads);
  arena.commit(rt.memory);
  put(rt.memory, xAt, x.subarray(0, g.B * g.C * g.H * g.W));
  put(rt.memory, wAt, w.subarray(0, g.O * g.K));
  zeroBytes(rt.memory, yAt, g.B * oPad * pPad * 4);
  const job = convJob(JobKind.convForward, g, xAt, wAt, yAt);
  job[J.scratch] = scratch, job[J.scratchStride] = stride;
  dispatch(rt, job, threads);
  for (let bi = 0; bi < g.B; bi++) {
    take(rt.memory, yAt + bi * oPad * pPad * 4, out, bi * g.O * g.P, g.O, g.P, pPad);
  }
  return out;
}

/**
 * Gradient of {@linkcode conv2d} with respect to x (its adjoint): gy [B, O, Ho, Wo] and
 * w [O, C, kh, kw] give dx [B, C, H, W]. Equals PyTorch's conv_transpose2d(gy, w, stride, padding,
 * output_padding) with output_padding = (H + 2p − kh) mod s.
 *
 * @example
 * ```ts
 * const dx = conv2dBackwardInput(new Float32Array(16).fill(1), new Float32Array(9).fill(1),
 *   { b: 1, c: 1, h: 4, w: 4, o: 1, kh: 3, kw: 3, padding: 1 });
 * ```
 */
export function conv2dBackwardInput(
  gy: Float32Array,
  w: Float32Array,
  opts: Conv2dBackwardInputOptions,
): Float32Array {
  const g = convGeometry("conv2dBackwardInput", opts);
  if (opts.outputPadding !== undefined) {
    const implied = (g.H + 2 * g.p - g.kh) % g.s;
    const impliedW = (g.W + 2 * g.p - g.kw) % g.s;
    if (opts.outputPadding !== implied || opts.outputPadding !== impliedW) {
      throw new RangeError(
        `conv2dBackwardInput: outputPadding ${opts.outputPadding} does not match h=${g.H}, w=${g.W} (implied ${implied}, ${impliedW}); pass the forward input size or drop outputPadding`,
      );
    }
  }
  checkLength("conv2dBackwardInput: gy", gy, g.B * g.O * g.P, `[${g.B}, ${g.O}, ${g.ho}, ${g.wo}]`);
  checkLength("conv2dBackwardInput: w", w, g.O * g.K, `[${g.O}, ${g.C}, ${g.kh}, ${g.kw}]`);
  const out = new Float32Array(g.B * g.C * g.H * g.W);
  if (out.length === 0) return out;
  const rt = requireRuntime();
  const threads = convThreads(g);
  arena.reset();
  const gyAt = arena.alloc(g.B * g.O * g.P * 4), wAt = arena.alloc(g.O * g.K * 4);
  const dxAt = arena.alloc(out.length * 4);
  const stride = convScratchBytes(g), scratch = arena.alloc(stride * threads);
  arena.commit(rt.memory);
  put(rt.memory, gyAt, gy.subarray(0, g.B * g.O * g.P));
  put(rt.memory, wAt, w.subarray(0, g.O * g.K));
  zeroBytes(rt.memory, dxAt, out.length * 4);
  const job = convJob(JobKind.convBackwardInput, g, gyAt, wAt, dxAt);
  job[J.scratch] = scratch, job[J.scratchStride] = stride;
  dispatch(rt, job, threads);
  out.set(new Float32Array(rt.memory.buffer, dxAt, out.length));
  return out;
}

/**
 * Gradient of {@linkcode conv2d} with respect to w: x [B, C, H, W] and gy [B, O, Ho, Wo] give
 * dW [O, C, kh, kw] = Σ_b gy_b · im2col(x_b)ᵀ.
 *
 * @example
 * ```ts
 * const dw = conv2dBackwardFilter(new Float32Array(16).fill(1), new Float32Array(16).fill(1),
 *   { b: 1, c: 1, h: 4, w: 4, o: 1, kh: 3, kw: 3, padding: 1 });
 * ```
 */
export function conv2dBackwardFilter(
  x: Float32Array,
  gy: Float32Array,
  opts: Conv2dOptions,
): Float32Array {
  const g = convGeometry("conv2dBackwardFilter", opts);
  checkLength(
    "conv2dBackwardFilter: x",
    x,
    g.B * g.C * g.H * g.W,
    `[${g.B}, ${g.C}, ${g.H}, ${g.W}]`,
  );
  checkLength(
    "conv2dBackwardFilter: gy",
    gy,
    g.B * g.O * g.P,
    `[${g.B}, ${g.O}, ${g.ho}, ${g.wo}]`,
  );
  const out = new Float32Array(g.O * g.K);
  if (g.B === 0) return out;
  const rt = requireRuntime();
  const threads = convThreads(g);
  const oPad = roundUp(g.O, TILE.mr), kPad = roundUp(g.K, TILE.nr);
  arena.reset();
  const xAt = arena.alloc(g.B * g.C * g.H * g.W * 4), gyAt = arena.alloc(g.B * g.O * g.P * 4);
  const dwAt = arena.alloc(threads * oPad * kPad * 4);
  const stride = convScratchBytes(g), scratch = arena.alloc(stride * threads);
  arena.commit(rt.memory);
  put(rt.memory, xAt, x.subarray(0, g.B * g.C * g.H * g.W));
  put(rt.memory, gyAt, gy.subarray(0, g.B * g.O * g.P));
  zeroBytes(rt.memory, dwAt, threads * oPad * kPad * 4);
  const job = convJob(JobKind.convBackwardFilter, g, xAt, gyAt, dwAt);
  job[J.scratch] = scratch, job[J.scratchStride] = stride;
  dispatch(rt, job, threads);
  take(rt.memory, dwAt, out, 0, g.O, g.K, kPad);
  if (threads > 1) {
    const part = new Float32Array(out.length);
    for (let t = 1; t < threads; t++) {
      take(rt.memory, dwAt + t * oPad * kPad * 4, part, 0, g.O, g.K, kPad);
      for (let i = 0; i < out.length; i++) out[i] += part[i];
    }
  }
  return out;
}

/**
 * Public synchronous entry points of the wasm kernels: argument checks, arena layout (inputs,
 * tile-padded outputs, per-thread scratch), dispatch, and copying results out to fresh
 * Float32Arrays. Inputs that are heap arrays (runtime.ts) are read in place, and the direct and
 * Winograd convolutions write their outputs in place into heap arrays where they can, so a chain
 * of them copies nothing in or out. Inputs are never modified; f32 row-major throughout.
 * @module
 */

import { allocArray, allocKernelF32 } from "../host_pool.ts";
import { mirrorLower } from "../linalg.ts";
import { DIRECT_K, DIRECT_TILE, packDirect } from "./direct.ts";
import { directLayout, J, JobKind, packScratchBytes, TILE } from "./driver.ts";
import {
  arena,
  dispatch,
  fillInputs as fill,
  getRuntime,
  heapAddress,
  placeInput as input,
  threadCount,
} from "./runtime.ts";
import { packWinograd, unpackWinogradFilter, WINO_OB, winogradLayout } from "./winograd.ts";

/** Below this many flops a call runs on one thread (waking the helper costs ~50 µs). */
const PARALLEL_FLOPS = 1 << 22;

const roundUp = (x: number, m: number): number => Math.ceil(x / m) * m;

/**
 * The direct 3×3 kernels run when the reduction C·9 (O·9 for the input gradient, max(C, O)·9 for
 * the filter gradient) is at most this. Measured on one thread: direct is 1.5–5× faster for
 * C ≤ 64 (no 9× column matrix to write and re-read), on par at C = 128; beyond, the GEMM's
 * packed panels reuse each load more and win.
 */
let directMaxK = 128 * 9;

/** Sets the largest reduction length that uses the direct kernels (0: never); returns the old. */
export function setDirectLimit(k: number): number {
  const prev = directMaxK;
  directMaxK = k;
  return prev;
}

/**
 * The 3×3 stride-1 convolutions take Winograd F(2×2, 3×3) (winograd.ts) instead of the direct
 * kernels when both channel counts are at least these: its transforms cost per channel what the
 * product saves per channel pair. Forward and input gradient: from 12 channels (one thread,
 * batch 128 of 28×28, load ~5: direct 4.9–10.4 vs Winograd 9.8–11.8 ms forward at 8 channels,
 * Winograd ahead at 12 and 16); the filter gradient, whose output transform is per step and not
 * per image, from 8 (Winograd 8.0–10.9 vs direct 8.7–9.6 ms at 8).
 */
export interface WinogradThresholds {
  /** Fewest channels for the forward and input-gradient convolutions. */
  forward: number;
  /** Fewest channels for the filter gradient. */
  filter: number;
}

let winograd: WinogradThresholds = { forward: 12, filter: 8 };

/**
 * Sets the fewest channels (input and output) that use Winograd (Infinity: never), one number
 * for all three convolutions or each; returns the previous thresholds.
 */
export function setWinogradMinChannels(c: number | WinogradThresholds): WinogradThresholds {
  const prev = winograd;
  winograd = typeof c === "number" ? { forward: c, filter: c } : { ...c };
  return prev;
}

/** Upper bound on the filter-gradient partials (one per image group) in bytes. */
const GROUP_BYTES = 64 << 20;

/** Fixed image groups of a filter gradient: ≤ 16, ≤ B, and partials within GROUP_BYTES. */
function filterGroups(B: number, partialBytes: number): number {
  return Math.max(1, Math.min(B, 16, Math.floor(GROUP_BYTES / Math.max(1, partialBytes))));
}

/** Allocates the work-stealing counter (call before arena.commit; zero it after). */
function allocCounter(): number {
  return arena.alloc(64);
}

function zeroCounter(memory: WebAssembly.Memory, at: number): void {
  new Int32Array(memory.buffer, at, 1)[0] = 0;
}

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

/**
 * Gram matrix C = A·Aᵀ of A [n, k] (row-major): the lower triangle is computed (about half the
 * multiply-adds of sgemm) and mirrored. Returns C as a new Float32Array [n, n].
 *
 * @example
 * ```ts
 * const g = gram(new Float32Array([1, 2, 3, 4]), { n: 2, k: 2 }); // [5, 11, 11, 25]
 * ```
 */
export function gram(a: Float32Array, opts: { n: number; k: number }): Float32Array {
  const { n, k } = opts;
  checkInt("gram: n", n, 0), checkInt("gram: k", k, 0);
  checkLength("gram: A", a, n * k, `[${n}, ${k}]`);
  const c = gemmInto(a, a, { m: n, n, k, transB: true }, true);
  mirrorLower(c, n);
  return c;
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

/** Options of {@linkcode convTranspose2d}: the forward geometry plus an optional check. */
export interface ConvTranspose2dOptions extends Conv2dOptions {
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
  return gemmInto(a, b, opts, false);
}

function gemmInto(
  a: Float32Array,
  b: Float32Array,
  opts: GemmOptions,
  lower: boolean,
): Float32Array {
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
  const out = allocArray("float32", batch * m * n) as Float32Array;
  if (out.length === 0 || k === 0) return out;
  const rt = requireRuntime();
  const mPad = roundUp(m, TILE.mr), nPad = roundUp(n, TILE.nr);
  const threads = 2 * m * n * k * batch >= PARALLEL_FLOPS ? threadCount() : 1;
  arena.reset();
  const aIn = input(a, lenA), bIn = a === b && lenA === lenB ? aIn : input(b, lenB);
  const aAt = aIn.at, bAt = bIn.at;
  const cAt = arena.alloc(batch * mPad * nPad * 4);
  const scratchStride = roundUp(packScratchBytes(m, n), 64);
  const scratch = arena.alloc(scratchStride * threads);
  arena.commit(rt.memory);
  fill(rt.memory, aIn);
  if (bIn !== aIn) fill(rt.memory, bIn);
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
  job[J.lower] = lower ? 1 : 0;
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

/** Whether the direct 3×3 kernels apply: stride 1, a 3×3 kernel, a short reduction. */
function directFits(g: ConvGeometry, reduceChannels: number): boolean {
  return g.s === 1 && g.kh === DIRECT_K && g.kw === DIRECT_K &&
    reduceChannels * DIRECT_K * DIRECT_K <= directMaxK;
}

/**
 * y [B, O, H+2p−2, W+2p−2] = direct 3×3 stride-1 correlation of x [B, C, H, W] (padding p) with
 * the packed kernel wp (see packDirect), or by Winograd F(2×2, 3×3) with the transformed kernel
 * (`winograd`; see packWinograd); images handed out by work stealing.
 */
function directForward(
  x: Float32Array,
  wp: Float32Array,
  B: number,
  C: number,
  H: number,
  W: number,
  O: number,
  p: number,
  winograd = false,
): Float32Array {
  const L = directLayout(C, H, W, O, p);
  const scratchBytes = winograd ? winogradLayout(C, H, W, O, p).scratchBytes : L.scratchBytes;
  const rt = requireRuntime();
  // every element is written by the kernels (in place when `out` is a heap array)
  const out = allocKernelF32(B * O * L.ho * L.wo);
  const outAt = heapAddress(out);
  const threads = B >= 2 && 2 * B * O * C * 9 * L.ho * L.wo >= PARALLEL_FLOPS ? threadCount() : 1;
  arena.reset();
  const xIn = input(x, B * C * H * W), wIn = input(wp, wp.length);
  const xAt = xIn.at, wAt = wIn.at;
  const yAt = outAt ?? arena.alloc(out.length * 4), counter = allocCounter();
  const scratch = arena.alloc(scratchBytes * threads);
  arena.commit(rt.memory);
  fill(rt.memory, xIn, wIn);
  zeroCounter(rt.memory, counter);
  const job = new Int32Array(J.size);
  job[J.kind] = winograd ? JobKind.winograd : JobKind.directForward;
  job[J.a] = xAt, job[J.b] = wAt, job[J.c] = yAt;
  job[J.cb] = B, job[J.cc] = C, job[J.ch] = H, job[J.cw] = W, job[J.co] = O, job[J.cp] = p;
  job[J.counter] = counter, job[J.scratch] = scratch, job[J.scratchStride] = scratchBytes;
  dispatch(rt, job, threads);
  if (outAt === null) out.set(new Float32Array(rt.memory.buffer, yAt, out.length));
  return out;
}

/** Sums `groups` consecutive partials of `n` elements (row stride `ld`, `rows` rows) in order. */
function sumPartials(
  memory: WebAssembly.Memory,
  at: number,
  groups: number,
  partialBytes: number,
  rows: number,
  n: number,
  ld: number,
): Float32Array {
  const out = new Float32Array(rows * n);
  take(memory, at, out, 0, rows, n, ld);
  const part = new Float32Array(out.length);
  for (let g = 1; g < groups; g++) {
    take(memory, at + g * partialBytes, part, 0, rows, n, ld);
    for (let i = 0; i < out.length; i++) out[i] += part[i];
  }
  return out;
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
  if (g.B * g.O * g.P === 0) return new Float32Array(0);
  if (directFits(g, g.C)) {
    const tap = (o: number, c: number, i: number, j: number): number =>
      w[((o * g.C + c) * 3 + i) * 3 + j];
    const wino = Math.min(g.C, g.O) >= winograd.forward;
    const wp = wino ? packWinograd(g.O, g.C, tap) : packDirect(g.O, g.C, tap);
    return directForward(x, wp, g.B, g.C, g.H, g.W, g.O, g.p, wino);
  }
  const out = allocArray("float32", g.B * g.O * g.P) as Float32Array;
  const rt = requireRuntime();
  const threads = convThreads(g);
  const oPad = roundUp(g.O, TILE.mr), pPad = roundUp(g.P, TILE.nr);
  arena.reset();
  const xIn = input(x, g.B * g.C * g.H * g.W), wIn = input(w, g.O * g.K);
  const xAt = xIn.at, wAt = wIn.at;
  const yAt = arena.alloc(g.B * oPad * pPad * 4), counter = allocCounter();
  const stride = convScratchBytes(g), scratch = arena.alloc(stride * threads);
  arena.commit(rt.memory);
  fill(rt.memory, xIn, wIn);
  zeroBytes(rt.memory, yAt, g.B * oPad * pPad * 4);
  zeroCounter(rt.memory, counter);
  const job = convJob(JobKind.convForward, g, xAt, wAt, yAt);
  job[J.scratch] = scratch, job[J.scratchStride] = stride, job[J.counter] = counter;
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
 * const dx = convTranspose2d(new Float32Array(16).fill(1), new Float32Array(9).fill(1),
 *   { b: 1, c: 1, h: 4, w: 4, o: 1, kh: 3, kw: 3, padding: 1 });
 * ```
 */
export function convTranspose2d(
  gy: Float32Array,
  w: Float32Array,
  opts: ConvTranspose2dOptions,
): Float32Array {
  const g = convGeometry("convTranspose2d", opts);
  if (opts.outputPadding !== undefined) {
    const implied = (g.H + 2 * g.p - g.kh) % g.s;
    const impliedW = (g.W + 2 * g.p - g.kw) % g.s;
    if (opts.outputPadding !== implied || opts.outputPadding !== impliedW) {
      throw new RangeError(
        `convTranspose2d: outputPadding ${opts.outputPadding} does not match h=${g.H}, w=${g.W} (implied ${implied}, ${impliedW}); pass the forward input size or drop outputPadding`,
      );
    }
  }
  checkLength("convTranspose2d: gy", gy, g.B * g.O * g.P, `[${g.B}, ${g.O}, ${g.ho}, ${g.wo}]`);
  checkLength("convTranspose2d: w", w, g.O * g.K, `[${g.O}, ${g.C}, ${g.kh}, ${g.kw}]`);
  if (g.B * g.C * g.H * g.W === 0) return new Float32Array(0);
  if (directFits(g, g.O) && g.p <= DIRECT_K - 1) {
    // dx = correlation of gy (padding k−1−p) with the flipped kernel, channels swapped:
    // w'[c][o][i][j] = w[o][c][2−i][2−j].
    const tap = (c: number, o: number, i: number, j: number): number =>
      w[((o * g.C + c) * 3 + 2 - i) * 3 + 2 - j];
    const wino = Math.min(g.C, g.O) >= winograd.forward;
    const wp = wino ? packWinograd(g.C, g.O, tap) : packDirect(g.C, g.O, tap);
    return directForward(gy, wp, g.B, g.O, g.ho, g.wo, g.C, DIRECT_K - 1 - g.p, wino);
  }
  const out = allocArray("float32", g.B * g.C * g.H * g.W) as Float32Array;
  const rt = requireRuntime();
  const threads = convThreads(g);
  arena.reset();
  const gyIn = input(gy, g.B * g.O * g.P), wIn = input(w, g.O * g.K);
  const gyAt = gyIn.at, wAt = wIn.at;
  const dxAt = arena.alloc(out.length * 4), counter = allocCounter();
  const stride = convScratchBytes(g), scratch = arena.alloc(stride * threads);
  arena.commit(rt.memory);
  fill(rt.memory, gyIn, wIn);
  zeroBytes(rt.memory, dxAt, out.length * 4);
  zeroCounter(rt.memory, counter);
  const job = convJob(JobKind.convTranspose2d, g, gyAt, wAt, dxAt);
  job[J.scratch] = scratch, job[J.scratchStride] = stride, job[J.counter] = counter;
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
 * const dw = conv2dFilterGrad(new Float32Array(16).fill(1), new Float32Array(16).fill(1),
 *   { b: 1, c: 1, h: 4, w: 4, o: 1, kh: 3, kw: 3, padding: 1 });
 * ```
 */
export function conv2dFilterGrad(
  x: Float32Array,
  gy: Float32Array,
  opts: Conv2dOptions,
): Float32Array {
  const g = convGeometry("conv2dFilterGrad", opts);
  checkLength(
    "conv2dFilterGrad: x",
    x,
    g.B * g.C * g.H * g.W,
    `[${g.B}, ${g.C}, ${g.H}, ${g.W}]`,
  );
  checkLength(
    "conv2dFilterGrad: gy",
    gy,
    g.B * g.O * g.P,
    `[${g.B}, ${g.O}, ${g.ho}, ${g.wo}]`,
  );
  if (g.B === 0) return new Float32Array(g.O * g.K);
  const rt = requireRuntime();
  const direct = directFits(g, Math.max(g.C, g.O));
  const wino = direct && Math.min(g.C, g.O) >= winograd.filter;
  const L = directLayout(g.C, g.H, g.W, g.O, g.p);
  const WL = wino ? winogradLayout(g.C, g.H, g.W, g.O, g.p) : null;
  // Winograd: the partials are dU [16][nob·4][cPad], rows of cPad
  const oPad = WL
    ? 16 * WL.nob * WINO_OB
    : direct
    ? L.nobFilter * DIRECT_TILE.obFilter
    : roundUp(g.O, TILE.mr);
  const kPad = WL ? WL.cPad : direct ? g.K : roundUp(g.K, TILE.nr);
  const partialBytes = roundUp(oPad * kPad * 4, 64), groups = filterGroups(g.B, partialBytes);
  const threads = Math.min(convThreads(g), groups);
  arena.reset();
  const xIn = input(x, g.B * g.C * g.H * g.W), gyIn = input(gy, g.B * g.O * g.P);
  const xAt = xIn.at, gyAt = gyIn.at;
  const dwAt = arena.alloc(groups * partialBytes), counter = allocCounter();
  const stride = WL ? WL.scratchBytes : direct ? L.scratchBytes : convScratchBytes(g);
  const scratch = arena.alloc(stride * threads);
  arena.commit(rt.memory);
  fill(rt.memory, xIn, gyIn);
  zeroBytes(rt.memory, dwAt, groups * partialBytes);
  zeroCounter(rt.memory, counter);
  const kind = wino
    ? JobKind.winogradFilter
    : direct
    ? JobKind.directFilter
    : JobKind.conv2dFilterGrad;
  const job = convJob(kind, g, xAt, gyAt, dwAt);
  job[J.scratch] = scratch, job[J.scratchStride] = stride, job[J.counter] = counter;
  job[J.groups] = groups, job[J.groupStride] = partialBytes;
  dispatch(rt, job, threads);
  if (WL) {
    const du = sumPartials(rt.memory, dwAt, groups, partialBytes, oPad, kPad, kPad);
    return unpackWinogradFilter(du, g.O, g.C);
  }
  return sumPartials(rt.memory, dwAt, groups, partialBytes, g.O, g.K, kPad);
}

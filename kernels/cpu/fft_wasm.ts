/**
 * The CPU backend's float32 rfft2/irfft2 on the wasm SIMD kernels (wasm/fft_kernels.ts) over two
 * threads (wasm/fft_driver.ts): plans per length (mixed radix 4/2/3/5/7/11/13 Stockham stages,
 * or Bluestein's chirp-z with a power-of-two sub-plan when another prime divides the length or
 * the convolution is cheaper) with their twiddles, chirps and kernels precomputed here in
 * float64 and written to the kernels' memory as float32 per call. fft.ts stays the reference.
 * @module
 */

import { allocArray } from "./host_pool.ts";
import { factorize } from "../fft.ts";
import { bluesteinChoice, fftMany, fftPlan } from "./fft.ts";
import { FD, fftChunkLayout, FI, FJ } from "./wasm/fft_driver.ts";
import { FFT_RADICES } from "./wasm/fft_kernels.ts";
import { J, JobKind } from "./wasm/driver.ts";
import { arena, dispatch, getRuntime, threadCount } from "./wasm/runtime.ts";

/** One direction of a plan as float32 tables (index 0 forward, 1 inverse). */
interface WasmPlan {
  n: number;
  /** Mixed radix: (p, m, twiddles per direction) per stage. */
  stages: { p: number; m: number; tw: [Float32Array, Float32Array] }[];
  /** Bluestein: m, chirp in/out and kernel per direction, the power-of-two sub-plan. */
  blue: {
    m: number;
    chirpIn: [Float32Array, Float32Array];
    ker: [Float32Array, Float32Array];
    chirpOut: [Float32Array, Float32Array];
    sub: WasmPlan;
  } | null;
}

const plans = new Map<string, WasmPlan>();

/**
 * The wasm plan of length n (cached): Bluestein when a prime factor has no stage kernel or the
 * three power-of-two transforms cost less than the radix-p butterflies (as fft.ts's planner);
 * `bluestein` forces the choice (tests cover both paths).
 */
export function wasmFftPlan(n: number, bluestein?: boolean): WasmPlan {
  const key = `${n}:${bluestein ?? "auto"}`;
  let plan = plans.get(key);
  if (plan) return plan;
  const factors = factorize(n);
  const { m, cheaper } = bluesteinChoice(n, factors);
  const unsupported = factors.some((p) => !FFT_RADICES.includes(p));
  const useBlue = n > 1 && (bluestein ?? (unsupported || cheaper));
  plan = { n, stages: [], blue: null };
  if (useBlue) plan.blue = bluesteinTables(n, m);
  else {
    let l = n;
    for (const p of factors) {
      const sm = l / p,
        tw: [Float32Array, Float32Array] = [
          new Float32Array(sm * (p - 1) * 2),
          new Float32Array(sm * (p - 1) * 2),
        ];
      for (let j = 0; j < sm; j++) {
        for (let t = 1; t < p; t++) {
          const a = (2 * Math.PI * ((j * t) % l)) / l, i = (j * (p - 1) + t - 1) * 2;
          tw[0][i] = tw[1][i] = Math.cos(a);
          tw[0][i + 1] = -Math.sin(a);
          tw[1][i + 1] = Math.sin(a);
        }
      }
      plan.stages.push({ p, m: sm, tw });
      l = sm;
    }
  }
  plans.set(key, plan);
  return plan;
}

/** Chirps c_t = exp(σ·iπt²/n) and kernels FFT_m(conj c_|u|) per direction σ = ∓1, in float64. */
function bluesteinTables(n: number, m: number): NonNullable<WasmPlan["blue"]> {
  const sub = wasmFftPlan(m, false), ref = fftPlan(m, false);
  const chirpIn: Float32Array[] = [], chirpOut: Float32Array[] = [], ker: Float32Array[] = [];
  for (const sigma of [-1, 1]) {
    const ci = new Float32Array(2 * n), co = new Float32Array(2 * n);
    const kr = new Float64Array(m), ki = new Float64Array(m);
    for (let t = 0; t < n; t++) {
      const a = (Math.PI * ((t * t) % (2 * n))) / n, c = Math.cos(a), s = sigma * Math.sin(a);
      ci[2 * t] = c, ci[2 * t + 1] = s;
      co[2 * t] = c / m, co[2 * t + 1] = s / m;
      kr[t] = c, ki[t] = -s;
      if (t > 0) (kr[m - t] = c, ki[m - t] = -s);
    }
    fftMany(ref, kr, ki, 1, false);
    const k = new Float32Array(2 * m);
    for (let i = 0; i < m; i++) (k[2 * i] = kr[i], k[2 * i + 1] = ki[i]);
    chirpIn.push(ci), chirpOut.push(co), ker.push(k);
  }
  const pair = (a: Float32Array[]): [Float32Array, Float32Array] => [a[0], a[1]];
  return { m, chirpIn: pair(chirpIn), ker: pair(ker), chirpOut: pair(chirpOut), sub };
}

/** The length the plan's work buffers hold per line (m for Bluestein, else n). */
function workLength(p: WasmPlan): number {
  return p.blue ? p.blue.m : p.n;
}

/** Writes the plan's descriptor and tables for direction `d` into the arena; its byte address. */
function writePlan(mem: WebAssembly.Memory, p: WasmPlan, d: 0 | 1): number {
  const sign = d === 0 ? -1 : 1;
  if (p.blue) {
    const b = p.blue;
    const at = arena.alloc(9 * 4);
    const tables = [b.chirpIn[d], b.ker[d], b.chirpOut[d]].map((t) => put(mem, t));
    const subF = writePlan(mem, b.sub, 0), subI = writePlan(mem, b.sub, 1);
    const w: number[] = [];
    w[FD.kind] = 1, w[FD.sign] = sign, w[FD.n] = p.n, w[FD.m] = b.m;
    w[FD.chirpIn] = tables[0], w[FD.ker] = tables[1], w[FD.chirpOut] = tables[2];
    w[FD.subFwd] = subF, w[FD.subInv] = subI;
    words(mem, at, w);
    return at;
  }
  const at = arena.alloc((3 + 3 * p.stages.length) * 4);
  const w: number[] = [];
  w[FD.kind] = 0, w[FD.sign] = sign, w[FD.nStages] = p.stages.length;
  p.stages.forEach((st, i) => {
    const o = FD.stages + 3 * i;
    w[o] = st.p, w[o + 1] = st.m, w[o + 2] = put(mem, st.tw[d]);
  });
  words(mem, at, w);
  return at;
}

function put(mem: WebAssembly.Memory, data: Float32Array): number {
  const at = arena.alloc(data.length * 4);
  arena.commit(mem);
  new Float32Array(mem.buffer, at, data.length).set(data);
  return at;
}

function words(mem: WebAssembly.Memory, at: number, w: number[]): void {
  arena.commit(mem);
  new Int32Array(mem.buffer, at, w.length).set(w);
}

/** Per-thread scratch (floats) that keeps a chunk's buffers within about 1 MiB. */
const CHUNK_FLOATS = 1 << 18;

/** Below this many output values a transform runs on one thread (a helper wake-up costs ~50 µs). */
const PARALLEL_VALUES = 1 << 14;

/** Inputs and outputs above this many bytes in all go to the TypeScript kernels instead. */
export const WASM_MAX_BYTES = 1 << 30;

/** Whether the wasm FFT can run here. */
export function wasmFftAvailable(): boolean {
  return getRuntime() !== null;
}

/**
 * rfft2 (inverse false: x real [batch, h, w] → [batch, h, ⌊w/2⌋+1, 2]) or irfft2 (inverse true:
 * the half spectrum → real [batch, h, w]) times `scale`, as fft.ts's, on the wasm kernels.
 * `bluestein` forces both axes' plans (tests). Returns null where wasm SIMD is unavailable.
 */
export function wasmRfft2(
  input: Float32Array,
  batch: number,
  h: number,
  w: number,
  scale: number,
  inverse: boolean,
  bluestein?: boolean,
): Float32Array | null {
  const rt = getRuntime();
  if (!rt) return null;
  const wh = Math.floor(w / 2) + 1, inLen = batch * h * (inverse ? wh * 2 : w);
  const outLen = batch * h * (inverse ? w : wh * 2);
  // the kernels' memory is addressed by i32: far larger calls take the TypeScript path
  if ((inLen + outLen) * 4 > WASM_MAX_BYTES) return null;
  const out = allocArray("float32", outLen) as Float32Array;
  if (batch === 0) return out;
  const pw = wasmFftPlan(w, bluestein), ph = wasmFftPlan(h, bluestein);
  const lw = workLength(pw), lh = workLength(ph);
  const perPlane = fftChunkLayout(h, w, 1, lw, lh).floats;
  const threads = outLen >= PARALLEL_VALUES && batch >= 2 ? threadCount() : 1;
  const chunk = Math.max(
    1,
    Math.min(Math.floor(CHUNK_FLOATS / perPlane), Math.ceil(batch / (4 * threads))),
  );
  const L = fftChunkLayout(h, w, chunk, lw, lh);
  arena.reset();
  const xAt = arena.alloc(inLen * 4), oAt = arena.alloc(outLen * 4);
  const counter = arena.alloc(64), info = arena.alloc(FI.size * 4);
  const stride = Math.ceil((L.floats * 4) / 64) * 64 + 64;
  const scratch = arena.alloc(stride * threads);
  const d = inverse ? 1 : 0;
  const rowDesc = writePlan(rt.memory, pw, d), colDesc = writePlan(rt.memory, ph, d);
  arena.commit(rt.memory);
  new Float32Array(rt.memory.buffer, xAt, inLen).set(input.subarray(0, inLen));
  new Int32Array(rt.memory.buffer, counter, 1)[0] = 0;
  const iw = new Int32Array(FI.size);
  iw[FI.inverse] = inverse ? 1 : 0, iw[FI.batch] = batch, iw[FI.h] = h, iw[FI.w] = w;
  iw[FI.chunk] = chunk, iw[FI.rowDesc] = rowDesc, iw[FI.colDesc] = colDesc;
  iw[FI.scale] = new Int32Array(new Float32Array([scale]).buffer)[0];
  iw[FI.lw] = lw, iw[FI.lh] = lh;
  new Int32Array(rt.memory.buffer, info, FI.size).set(iw);
  const job = new Int32Array(J.size);
  job[FJ.kind] = JobKind.fft, job[FJ.x] = xAt, job[FJ.out] = oAt, job[FJ.info] = info;
  job[FJ.counter] = counter, job[FJ.scratch] = scratch, job[FJ.stride] = stride;
  dispatch(rt, job, threads);
  out.set(new Float32Array(rt.memory.buffer, oAt, outLen));
  return out;
}

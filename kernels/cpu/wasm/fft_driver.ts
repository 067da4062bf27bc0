/**
 * The FFT job's per-thread driver (main thread and helper alike): planes handed out in chunks by
 * the shared ticket counter; per chunk, the layout passes (gather rows, Hermitian split, scatter)
 * in JS on the shared memory and the transforms of many interleaved lines by the wasm stage
 * kernels of fft_kernels.ts, or Bluestein's chirp convolution around them. Plans are descriptor
 * words in the memory (written by fft_wasm.ts), so both threads read the same plan.
 * @module
 */

/** A rows ↔ lines layout pass, one signature for both directions (fft_layout.ts). */
type RowsPass = (
  x: number,
  rr: number,
  ri: number,
  p: number,
  h: number,
  w: number,
  cnt: number,
  hp: number,
  scale: number,
) => void;

/** A column lines ↔ interleaved half-spectrum pass, one signature for both directions. */
type SpectrumPass = (
  z: number,
  sr: number,
  si: number,
  p: number,
  h: number,
  wh: number,
  cols: number,
  scale: number,
) => void;

/** The wasm exports the FFT driver calls (a subset of the kernel module's). */
export interface FftKernels {
  /** The module's (shared) memory, exported. */
  memory: WebAssembly.Memory;
  /** fft_r<p>: one Stockham stage of radix p (fft_kernels.ts). */
  [stage: `fft_r${number}`]: (
    xr: number,
    xi: number,
    yr: number,
    yi: number,
    tw: number,
    m: number,
    s: number,
    sign: number,
  ) => void;
  /** y[k][c] = x[k][c]·w_k for k < n, c < count. */
  fft_cmul(xr: number, xi: number, yr: number, yi: number, w: number, n: number, c: number): void;
  /** Rows two at a time into complex lines [w][cnt] (fft_layout.ts); scale unused. */
  fft_rows_in: RowsPass;
  /** Lines back to rows, times scale. */
  fft_rows_out: RowsPass;
  /** The Hermitian split of row spectra into column lines. */
  fft_split(
    rr: number,
    ri: number,
    sr: number,
    si: number,
    p: number,
    h: number,
    w: number,
    cnt: number,
    cols: number,
    hp: number,
    wh: number,
  ): void;
  /** Its inverse over the full Hermitian extension (nyq = w/2, or −1 for odd w). */
  fft_join(
    sr: number,
    si: number,
    rr: number,
    ri: number,
    p: number,
    h: number,
    w: number,
    cnt: number,
    cols: number,
    hp: number,
    wh: number,
    nyq: number,
  ): void;
  /** Column lines to the interleaved half spectrum, times scale. */
  fft_spec_out: SpectrumPass;
  /** The interleaved half spectrum to column lines; scale unused. */
  fft_spec_in: SpectrumPass;
  /** dst[i] = 0 for i < n floats. */
  zero(dst: number, n: number): void;
  /** Returns the i32 at addr and increments it (atomically on shared memory). */
  next(addr: number): number;
}

/** Job words of an FFT job (Int32; the job's kind word stays at index 0). */
export const FJ = { kind: 0, x: 1, out: 2, info: 3, counter: 4, scratch: 5, stride: 6 } as const;

/**
 * Words of the info block: direction, geometry, planes per ticket, plan descriptors, the scale
 * (f32 bits), the padded line counts and the lengths the work buffers hold (m for Bluestein).
 */
export const FI = {
  inverse: 0,
  batch: 1,
  h: 2,
  w: 3,
  chunk: 4,
  rowDesc: 5,
  colDesc: 6,
  scale: 7,
  lw: 8,
  lh: 9,
  size: 10,
} as const;

/** Plan descriptor words: kind (0 stages, 1 Bluestein) and sign, then the kind's fields. */
export const FD = {
  kind: 0,
  sign: 1,
  /** stages: their count, then (p, m, twiddle address) per stage */
  nStages: 2,
  stages: 3,
  /** Bluestein: n, m, chirp in, kernel, chirp out (scaled 1/m), sub plans forward / inverse */
  n: 2,
  m: 3,
  chirpIn: 4,
  ker: 5,
  chirpOut: 6,
  subFwd: 7,
  subInv: 8,
} as const;

const pad4 = (x: number): number => Math.ceil(x / 4) * 4;

/** Line counts and per-thread scratch (floats) of a chunk of `chunk` planes h × w. */
export function fftChunkLayout(
  h: number,
  w: number,
  chunk: number,
  lw: number,
  lh: number,
): { cnt: number; cols: number; work: number; floats: number } {
  const cnt = pad4(chunk * Math.ceil(h / 2)), cols = pad4(chunk * (Math.floor(w / 2) + 1));
  const work = 4 * Math.max(lw * cnt, lh * cols);
  return { cnt, cols, work, floats: 2 * w * cnt + 2 * h * cols + work };
}

/**
 * In-place unnormalised DFTs of `count` interleaved lines at (xr, xi) (bytes) by the plan at
 * `desc`; `work` holds 4·L·count floats (L = n, or m for Bluestein).
 */
export function fftLines(
  kx: FftKernels,
  words: Int32Array,
  desc: number,
  xr: number,
  xi: number,
  count: number,
  work: number,
): void {
  const d = desc >> 2;
  if (words[d + FD.kind] === 0) {
    runStages(kx, words, d, xr, xi, count, work);
    return;
  }
  const n = words[d + FD.n], m = words[d + FD.m], plane = m * count * 4;
  const br = work, bi = work + plane, tmp = work + 2 * plane;
  kx.zero(br, 2 * m * count);
  kx.fft_cmul(xr, xi, br, bi, words[d + FD.chirpIn], n, count);
  runStages(kx, words, words[d + FD.subFwd] >> 2, br, bi, count, tmp);
  kx.fft_cmul(br, bi, br, bi, words[d + FD.ker], m, count);
  runStages(kx, words, words[d + FD.subInv] >> 2, br, bi, count, tmp);
  kx.fft_cmul(br, bi, xr, xi, words[d + FD.chirpOut], n, count);
}

/** The Stockham stages of the plan at word `d`, ping-ponging through `tmp`; result in (xr, xi). */
function runStages(
  kx: FftKernels,
  words: Int32Array,
  d: number,
  xr: number,
  xi: number,
  count: number,
  tmp: number,
): void {
  const k = words[d + FD.nStages], sign = words[d + FD.sign];
  if (k === 0) return;
  let n = 1;
  for (let i = 0; i < k; i++) n *= words[d + FD.stages + 3 * i];
  const bytes = n * count * 4;
  let ar = xr, ai = xi, cr = tmp, ci = tmp + bytes, s = count;
  for (let i = 0; i < k; i++) {
    const at = d + FD.stages + 3 * i, p = words[at];
    kx[`fft_r${p}`](ar, ai, cr, ci, words[at + 2], words[at + 1], s, sign);
    [ar, cr] = [cr, ar];
    [ai, ci] = [ci, ai];
    s *= p;
  }
  if (ar !== xr) {
    const u8 = new Uint8Array(kx.memory.buffer);
    u8.copyWithin(xr, ar, ar + bytes);
    u8.copyWithin(xi, ai, ai + bytes);
  }
}

/** Runs this thread's tickets of an rfft2 or irfft2 job (see fft_wasm.ts for the layout). */
export function runFft(kx: FftKernels, job: Int32Array, t: number): void {
  const buf = kx.memory.buffer;
  const words = new Int32Array(buf), F = new Float32Array(buf);
  const info = job[FJ.info] >> 2;
  const inverse = words[info + FI.inverse] === 1, batch = words[info + FI.batch];
  const h = words[info + FI.h], w = words[info + FI.w], chunk = words[info + FI.chunk];
  const scale = F[info + FI.scale];
  const L = fftChunkLayout(h, w, chunk, words[info + FI.lw], words[info + FI.lh]);
  const base = job[FJ.scratch] + t * job[FJ.stride];
  const rowR = base, rowI = rowR + w * L.cnt * 4;
  const specR = rowI + w * L.cnt * 4, specI = specR + h * L.cols * 4;
  const work = specI + h * L.cols * 4;
  const tickets = Math.ceil(batch / chunk);
  const hp = Math.ceil(h / 2), wh = Math.floor(w / 2) + 1, nyq = w % 2 === 0 ? w / 2 : -1;
  const x = job[FJ.x], out = job[FJ.out];
  for (let u = kx.next(job[FJ.counter]); u < tickets; u = kx.next(job[FJ.counter])) {
    const b0 = u * chunk, P = Math.min(chunk, batch - b0);
    // padding lines and columns stay zero (finite) through the transforms
    if (P * hp < L.cnt) kx.zero(rowR, 2 * w * L.cnt);
    if (P * wh < L.cols) kx.zero(specR, 2 * h * L.cols);
    if (!inverse) {
      kx.fft_rows_in(x + b0 * h * w * 4, rowR, rowI, P, h, w, L.cnt, hp, 1);
      fftLines(kx, words, words[info + FI.rowDesc], rowR, rowI, L.cnt, work);
      kx.fft_split(rowR, rowI, specR, specI, P, h, w, L.cnt, L.cols, hp, wh);
      fftLines(kx, words, words[info + FI.colDesc], specR, specI, L.cols, work);
      kx.fft_spec_out(out + b0 * h * wh * 8, specR, specI, P, h, wh, L.cols, scale);
    } else {
      kx.fft_spec_in(x + b0 * h * wh * 8, specR, specI, P, h, wh, L.cols, 1);
      fftLines(kx, words, words[info + FI.colDesc], specR, specI, L.cols, work);
      kx.fft_join(specR, specI, rowR, rowI, P, h, w, L.cnt, L.cols, hp, wh, nyq);
      fftLines(kx, words, words[info + FI.rowDesc], rowR, rowI, L.cnt, work);
      kx.fft_rows_out(out + b0 * h * w * 4, rowR, rowI, P, h, w, L.cnt, hp, scale);
    }
  }
}

/**
 * The FFT job's per-thread driver (main thread and helper alike): planes handed out in chunks by
 * the shared ticket counter; per chunk, the layout passes (gather rows, Hermitian split, scatter)
 * in JS on the shared memory and the transforms of many interleaved lines by the wasm stage
 * kernels of fft_kernels.ts, or Bluestein's chirp convolution around them. Plans are descriptor
 * words in the memory (written by fft_wasm.ts), so both threads read the same plan.
 * @module
 */

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
  for (let u = kx.next(job[FJ.counter]); u < tickets; u = kx.next(job[FJ.counter])) {
    const b0 = u * chunk, P = Math.min(chunk, batch - b0);
    const g: Chunk = {
      F,
      b0,
      P,
      h,
      w,
      cnt: L.cnt,
      cols: L.cols,
      rowR: rowR >> 2,
      rowI: rowI >> 2,
      specR: specR >> 2,
      specI: specI >> 2,
    };
    if (!inverse) {
      gatherRows(g, job[FJ.x] >> 2);
      fftLines(kx, words, words[info + FI.rowDesc], rowR, rowI, L.cnt, work);
      splitRows(g);
      fftLines(kx, words, words[info + FI.colDesc], specR, specI, L.cols, work);
      scatterSpectrum(g, job[FJ.out] >> 2, scale);
    } else {
      gatherSpectrum(g, job[FJ.x] >> 2);
      fftLines(kx, words, words[info + FI.colDesc], specR, specI, L.cols, work);
      joinRows(g);
      fftLines(kx, words, words[info + FI.rowDesc], rowR, rowI, L.cnt, work);
      scatterRows(g, job[FJ.out] >> 2, scale);
    }
  }
}

/** One chunk's geometry and buffers (float indices into F). */
interface Chunk {
  F: Float32Array;
  b0: number;
  P: number;
  h: number;
  w: number;
  cnt: number;
  cols: number;
  rowR: number;
  rowI: number;
  specR: number;
  specI: number;
}

/** Rows two at a time as one complex line (x[2r] + i·x[2r+1]), laid out [w][cnt]; pads zeroed. */
function gatherRows(g: Chunk, x: number): void {
  const { F, b0, P, h, w, cnt, rowR, rowI } = g, hp = Math.ceil(h / 2);
  for (let pl = 0; pl < P; pl++) {
    const xo = x + (b0 + pl) * h * w;
    for (let r = 0; r < hp; r++) {
      const line = pl * hp + r, two = 2 * r + 1 < h, a = xo + 2 * r * w, b = a + w;
      for (let j = 0; j < w; j++) {
        F[rowR + j * cnt + line] = F[a + j];
        F[rowI + j * cnt + line] = two ? F[b + j] : 0;
      }
    }
  }
  for (let line = P * hp; line < cnt; line++) {
    for (let j = 0; j < w; j++) F[rowR + j * cnt + line] = F[rowI + j * cnt + line] = 0;
  }
}

/** A_k = (Z_k + conj Z_{−k})/2, B_k = (Z_k − conj Z_{−k})/(2i), into the columns [h][cols]. */
function splitRows(g: Chunk): void {
  const { F, P, h, w, cnt, cols, rowR, rowI, specR, specI } = g;
  const hp = Math.ceil(h / 2), wh = Math.floor(w / 2) + 1;
  for (let pl = 0; pl < P; pl++) {
    for (let r = 0; r < hp; r++) {
      const line = pl * hp + r, two = 2 * r + 1 < h;
      for (let k = 0; k < wh; k++) {
        const zi = k * cnt + line, ni = ((w - k) % w) * cnt + line;
        const zr = F[rowR + zi], zm = F[rowI + zi], cr = F[rowR + ni], cm = -F[rowI + ni];
        const o = 2 * r * cols + pl * wh + k;
        F[specR + o] = (zr + cr) * 0.5;
        F[specI + o] = (zm + cm) * 0.5;
        if (two) (F[specR + o + cols] = (zm - cm) * 0.5, F[specI + o + cols] = (cr - zr) * 0.5);
      }
    }
  }
  zeroPadColumns(g);
}

function zeroPadColumns(g: Chunk): void {
  const { F, P, h, w, cols, specR, specI } = g, used = P * (Math.floor(w / 2) + 1);
  if (used === cols) return;
  for (let r = 0; r < h; r++) {
    F.fill(0, specR + r * cols + used, specR + (r + 1) * cols);
    F.fill(0, specI + r * cols + used, specI + (r + 1) * cols);
  }
}

function scatterSpectrum(g: Chunk, out: number, scale: number): void {
  const { F, b0, P, h, w, cols, specR, specI } = g, wh = Math.floor(w / 2) + 1;
  for (let pl = 0; pl < P; pl++) {
    const oo = out + (b0 + pl) * h * wh * 2;
    for (let r = 0; r < h; r++) {
      for (let k = 0; k < wh; k++) {
        const s = r * cols + pl * wh + k, o = oo + (r * wh + k) * 2;
        F[o] = F[specR + s] * scale;
        F[o + 1] = F[specI + s] * scale;
      }
    }
  }
}

function gatherSpectrum(g: Chunk, z: number): void {
  const { F, b0, P, h, w, cols, specR, specI } = g, wh = Math.floor(w / 2) + 1;
  for (let pl = 0; pl < P; pl++) {
    const zo = z + (b0 + pl) * h * wh * 2;
    for (let r = 0; r < h; r++) {
      for (let k = 0; k < wh; k++) {
        const s = r * cols + pl * wh + k, i = zo + (r * wh + k) * 2;
        F[specR + s] = F[i];
        F[specI + s] = F[i + 1];
      }
    }
  }
  zeroPadColumns(g);
}

/**
 * Z = A + i·B over the rows' full Hermitian extensions (DC/Nyquist imaginary parts dropped, as
 * numpy's irfft), two rows per complex line, [w][cnt]; pads zeroed.
 */
function joinRows(g: Chunk): void {
  const { F, P, h, w, cnt, cols, rowR, rowI, specR, specI } = g;
  const hp = Math.ceil(h / 2), wh = Math.floor(w / 2) + 1, nyq = w % 2 === 0 ? w / 2 : -1;
  for (let pl = 0; pl < P; pl++) {
    for (let r = 0; r < hp; r++) {
      const line = pl * hp + r, two = 2 * r + 1 < h;
      for (let k = 0; k < w; k++) {
        const src = k < wh ? k : w - k, cj = k < wh ? 1 : -1;
        const real = k === 0 || k === nyq, s = 2 * r * cols + pl * wh + src;
        const ar = F[specR + s], ai = real ? 0 : cj * F[specI + s];
        const br = two ? F[specR + s + cols] : 0, bi = two && !real ? cj * F[specI + s + cols] : 0;
        F[rowR + k * cnt + line] = ar - bi;
        F[rowI + k * cnt + line] = ai + br;
      }
    }
  }
  for (let line = P * hp; line < cnt; line++) {
    for (let j = 0; j < w; j++) F[rowR + j * cnt + line] = F[rowI + j * cnt + line] = 0;
  }
}

function scatterRows(g: Chunk, out: number, scale: number): void {
  const { F, b0, P, h, w, cnt, rowR, rowI } = g, hp = Math.ceil(h / 2);
  for (let pl = 0; pl < P; pl++) {
    const xo = out + (b0 + pl) * h * w;
    for (let r = 0; r < hp; r++) {
      const line = pl * hp + r, two = 2 * r + 1 < h;
      for (let j = 0; j < w; j++) {
        F[xo + 2 * r * w + j] = F[rowR + j * cnt + line] * scale;
        if (two) F[xo + (2 * r + 1) * w + j] = F[rowI + j * cnt + line] * scale;
      }
    }
  }
}

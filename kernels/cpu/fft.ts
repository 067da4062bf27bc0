/**
 * CPU FFT kernels: complex DFTs of any length n in O(n log n) — a mixed-radix Stockham autosort
 * over the factors 4, 2, 3, 5, … of n, or Bluestein's chirp-z convolution (a power-of-two FFT
 * of size ≥ 2n − 1) when a large prime factor would make radix-p butterflies cost more — and the
 * 2-D real transforms rfft2/irfft2 over the last two axes, batched over the rest. Lines are
 * transformed many at a time, interleaved ([n][count], line innermost), so the innermost loops
 * run over contiguous lines. Work is in float64 whatever the dtype; plans are cached per length.
 * @module
 */
import type { DType, TypedArray } from "../dtype.ts";
import { factorize } from "../fft.ts";
import { allocArray } from "./host_pool.ts";

export { factorize };

/** Bluestein's data for one length n: the chirp and the transformed convolution kernels. */
interface Bluestein {
  /** Power-of-two convolution length m ≥ 2n − 1. */
  m: number;
  /** The plan of length m. */
  sub: FftPlan;
  /** c_t = exp(−iπ t²/n), t < n (the forward chirp; the inverse uses its conjugate). */
  chirpRe: Float64Array;
  chirpIm: Float64Array;
  /** FFT_m of b_t = conj(c_|t|) wrapped to length m, per direction (made on first use). */
  ker: { re: Float64Array; im: Float64Array }[];
}

/** One Stockham stage: radix p on sub-length l (= p·m) with its twiddles W_l^{j·t}, j < m, t < p. */
interface Stage {
  p: number;
  m: number;
  /** Twiddle j·p + t: cos and sin of 2π·j·t/l. */
  twCos: Float64Array;
  twSin: Float64Array;
}

/** A reusable plan for complex DFTs of length n. */
export interface FftPlan {
  /** Length. */
  n: number;
  /** Radices of the mixed-radix path, product n (empty when Bluestein is used). */
  factors: number[];
  /** The Stockham stages, outermost first. */
  stages: Stage[];
  /** Set when the transform runs as Bluestein's convolution. */
  blue: Bluestein | null;
}

const plans = new Map<string, FftPlan>();

/**
 * Bluestein's power-of-two length m ≥ 2n − 1 for a length-n transform, and whether its cost
 * (~3·m·log2(m) + 2n) undercuts the mixed-radix one (n·Σ factors) — shared by the TypeScript and
 * the wasm planners.
 */
export function bluesteinChoice(
  n: number,
  factors: readonly number[],
): { m: number; cheaper: boolean } {
  let m = 1;
  while (m < 2 * n - 1) m *= 2;
  const direct = n * factors.reduce((s, p) => s + p, 0);
  return { m, cheaper: 3 * m * Math.log2(Math.max(m, 2)) + 2 * n < direct };
}

/**
 * The plan of length n (cached). The mixed-radix path costs ~n·Σ p complex multiply-adds (a
 * radix-p butterfly is a p-point DFT); Bluestein costs three power-of-two FFTs of size m ≥ 2n − 1,
 * ~3·m·log2(m) plus 2n for the chirps. The cheaper one is taken; `bluestein` forces a choice
 * (tests exercise both paths on every length).
 */
export function fftPlan(n: number, bluestein?: boolean): FftPlan {
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`fft: length must be ≥ 1, got ${n}`);
  const key = `${n}:${bluestein ?? "auto"}`;
  let plan = plans.get(key);
  if (plan) return plan;
  const factors = factorize(n);
  const { m, cheaper } = bluesteinChoice(n, factors);
  const useBlue = n > 1 && (bluestein ?? cheaper);
  const stages: Stage[] = [];
  if (!useBlue) {
    let l = n;
    for (const p of factors) {
      const sm = l / p, twCos = new Float64Array(sm * p), twSin = new Float64Array(sm * p);
      for (let j = 0; j < sm; j++) {
        for (let t = 0; t < p; t++) {
          const a = (2 * Math.PI * ((j * t) % l)) / l;
          twCos[j * p + t] = Math.cos(a);
          twSin[j * p + t] = Math.sin(a);
        }
      }
      stages.push({ p, m: sm, twCos, twSin });
      l = sm;
    }
  }
  plan = { n, factors: useBlue ? [] : factors, stages, blue: useBlue ? bluesteinOf(n, m) : null };
  plans.set(key, plan);
  return plan;
}

function bluesteinOf(n: number, m: number): Bluestein {
  const chirpRe = new Float64Array(n), chirpIm = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    // t² mod 2n keeps the angle exact for large t: exp(−iπ t²/n) has period 2n in t²
    const a = (Math.PI * ((t * t) % (2 * n))) / n;
    chirpRe[t] = Math.cos(a);
    chirpIm[t] = -Math.sin(a);
  }
  return { m, sub: fftPlan(m, false), chirpRe, chirpIm, ker: [] };
}

/** The transformed kernel of direction `s` (−1 forward, +1 inverse): FFT_m of conj(c^s). */
function kernelOf(b: Bluestein, n: number, s: number): { re: Float64Array; im: Float64Array } {
  const d = s < 0 ? 0 : 1;
  if (!b.ker[d]) {
    const re = new Float64Array(b.m), im = new Float64Array(b.m);
    for (let t = 0; t < n; t++) {
      // forward chirp c, inverse conj(c); the kernel is the conjugate of the direction's chirp
      const cr = b.chirpRe[t], ci = s < 0 ? -b.chirpIm[t] : b.chirpIm[t];
      re[t] = cr;
      im[t] = ci;
      if (t > 0) (re[b.m - t] = cr, im[b.m - t] = ci);
    }
    fftMany(b.sub, re, im, 1, false);
    b.ker[d] = { re, im };
  }
  return b.ker[d];
}

let scratch = new Float64Array(0);

/** Scratch of at least `n` float64s (grown, never shrunk; the transforms are synchronous). */
function scratchOf(n: number): Float64Array {
  if (scratch.length < n) scratch = new Float64Array(Math.max(n, 2 * scratch.length));
  return scratch;
}

/**
 * In-place unnormalised DFTs of `count` interleaved lines: element t of line c at t·count + c
 * in (re, im). X_k = Σ_t x_t·exp(∓2πi·kt/n), sign − forward and + when `inverse` (no 1/n).
 */
export function fftMany(
  plan: FftPlan,
  re: Float64Array,
  im: Float64Array,
  count: number,
  inverse: boolean,
): void {
  const n = plan.n, total = n * count;
  if (n === 1 || count === 0) return;
  if (plan.blue) return bluesteinMany(plan.blue, n, re, im, count, inverse);
  const s0 = inverse ? 1 : -1;
  const buf = scratchOf(2 * total);
  let xr = re, xi = im;
  let yr = buf.subarray(0, total), yi = buf.subarray(total, 2 * total);
  let s = count;
  for (const st of plan.stages) {
    stage(st, s0, s, xr, xi, yr, yi);
    [xr, yr] = [yr, xr];
    [xi, yi] = [yi, xi];
    s *= st.p;
  }
  if (xr !== re) (re.set(xr), im.set(xi));
}

/**
 * One decimation-in-frequency Stockham stage on sub-length l = p·m with stride s (s lines and
 * earlier sub-problems interleaved): for j < m, t < p, q < s,
 * y[q + s(p·j + t)] = W_l^{j·t}·Σ_r x[q + s(j + r·m)]·W_p^{r·t}.
 */
function stage(
  st: Stage,
  sign: number,
  s: number,
  xr: Float64Array,
  xi: Float64Array,
  yr: Float64Array,
  yi: Float64Array,
): void {
  const { p, m, twCos, twSin } = st;
  const sm = s * m;
  if (p === 2) {
    for (let j = 0; j < m; j++) {
      const wr = twCos[2 * j + 1], wi = sign * twSin[2 * j + 1];
      const i0 = s * j, o0 = s * 2 * j;
      for (let q = 0; q < s; q++) {
        const ar = xr[i0 + q], ai = xi[i0 + q], br = xr[i0 + sm + q], bi = xi[i0 + sm + q];
        yr[o0 + q] = ar + br, yi[o0 + q] = ai + bi;
        const dr = ar - br, di = ai - bi;
        yr[o0 + s + q] = dr * wr - di * wi, yi[o0 + s + q] = dr * wi + di * wr;
      }
    }
    return;
  }
  if (p === 4) {
    for (let j = 0; j < m; j++) {
      const w1r = twCos[4 * j + 1], w1i = sign * twSin[4 * j + 1];
      const w2r = twCos[4 * j + 2], w2i = sign * twSin[4 * j + 2];
      const w3r = twCos[4 * j + 3], w3i = sign * twSin[4 * j + 3];
      const i0 = s * j, o0 = s * 4 * j;
      for (let q = 0; q < s; q++) {
        const a = i0 + q;
        const x0r = xr[a], x0i = xi[a], x1r = xr[a + sm], x1i = xi[a + sm];
        const x2r = xr[a + 2 * sm],
          x2i = xi[a + 2 * sm],
          x3r = xr[a + 3 * sm],
          x3i = xi[a + 3 * sm];
        const ar = x0r + x2r, ai = x0i + x2i, br = x0r - x2r, bi = x0i - x2i;
        const cr = x1r + x3r, ci = x1i + x3i, dr = x1r - x3r, di = x1i - x3i;
        // W_4 = exp(sign·iπ/2) = sign·i: X1 = b + sign·i·d, X3 = b − sign·i·d
        const o = o0 + q;
        yr[o] = ar + cr, yi[o] = ai + ci;
        const t1r = br - sign * di, t1i = bi + sign * dr;
        yr[o + s] = t1r * w1r - t1i * w1i, yi[o + s] = t1r * w1i + t1i * w1r;
        const t2r = ar - cr, t2i = ai - ci;
        yr[o + 2 * s] = t2r * w2r - t2i * w2i, yi[o + 2 * s] = t2r * w2i + t2i * w2r;
        const t3r = br + sign * di, t3i = bi - sign * dr;
        yr[o + 3 * s] = t3r * w3r - t3i * w3i, yi[o + 3 * s] = t3r * w3i + t3i * w3r;
      }
    }
    return;
  }
  // generic radix p: the p-point DFT W_p^{r·t} read from the twiddles of j = 1 scaled (t·m)
  const dftCos = new Float64Array(p * p), dftSin = new Float64Array(p * p);
  for (let r = 0; r < p; r++) {
    for (let t = 0; t < p; t++) {
      const a = (2 * Math.PI * ((r * t) % p)) / p;
      dftCos[r * p + t] = Math.cos(a);
      dftSin[r * p + t] = sign * Math.sin(a);
    }
  }
  const ar = new Float64Array(p), ai = new Float64Array(p);
  for (let j = 0; j < m; j++) {
    const i0 = s * j, o0 = s * p * j;
    for (let q = 0; q < s; q++) {
      for (let r = 0; r < p; r++) (ar[r] = xr[i0 + r * sm + q], ai[r] = xi[i0 + r * sm + q]);
      for (let t = 0; t < p; t++) {
        let sr = 0, si = 0;
        for (let r = 0; r < p; r++) {
          const c = dftCos[r * p + t], d = dftSin[r * p + t];
          sr += ar[r] * c - ai[r] * d;
          si += ar[r] * d + ai[r] * c;
        }
        const wr = twCos[j * p + t], wi = sign * twSin[j * p + t];
        yr[o0 + t * s + q] = sr * wr - si * wi;
        yi[o0 + t * s + q] = sr * wi + si * wr;
      }
    }
  }
}

/** X = c ⊙ (a ⊛ b) with a_t = x_t·c_t: each line's DFT as a convolution with the chirp. */
function bluesteinMany(
  b: Bluestein,
  n: number,
  re: Float64Array,
  im: Float64Array,
  count: number,
  inverse: boolean,
): void {
  const { m } = b, s = inverse ? 1 : -1, ker = kernelOf(b, n, s);
  const cs = inverse ? -1 : 1; // the inverse chirp is the conjugate of the forward one
  const br = new Float64Array(m * count), bi = new Float64Array(m * count);
  for (let t = 0; t < n; t++) {
    const cr = b.chirpRe[t], ci = cs * b.chirpIm[t];
    for (let c = 0; c < count; c++) {
      const i = t * count + c;
      br[i] = re[i] * cr - im[i] * ci;
      bi[i] = re[i] * ci + im[i] * cr;
    }
  }
  fftMany(b.sub, br, bi, count, false);
  for (let k = 0; k < m; k++) {
    const kr = ker.re[k], ki = ker.im[k];
    for (let c = 0; c < count; c++) {
      const i = k * count + c, xr = br[i], xi = bi[i];
      br[i] = xr * kr - xi * ki;
      bi[i] = xr * ki + xi * kr;
    }
  }
  fftMany(b.sub, br, bi, count, true);
  const inv = 1 / m;
  for (let k = 0; k < n; k++) {
    const cr = b.chirpRe[k] * inv, ci = cs * b.chirpIm[k] * inv;
    for (let c = 0; c < count; c++) {
      const i = k * count + c, yr = br[i], yi = bi[i];
      re[i] = yr * cr - yi * ci;
      im[i] = yr * ci + yi * cr;
    }
  }
}

/** In-place unnormalised DFT of one line (re, im) of length plan.n (see fftMany). */
export function fftInPlace(
  plan: FftPlan,
  re: Float64Array,
  im: Float64Array,
  inverse: boolean,
): void {
  fftMany(plan, re, im, 1, inverse);
}

/** Planes per chunk: about 2^15 values of h × w at a time, so the lines interleave widely. */
function chunkOf(batch: number, h: number, w: number): number {
  return Math.max(1, Math.min(batch, Math.floor(32768 / (h * w))));
}

/**
 * rfft2 of x seen as [batch, h, w] real → [batch, h, ⌊w/2⌋+1, 2] times `scale`: rows first
 * (two real rows as one complex line, split by Hermitian symmetry), then the kept columns.
 */
export function rfft2(
  x: TypedArray,
  batch: number,
  h: number,
  w: number,
  scale: number,
  dtype: DType,
): TypedArray {
  const wh = Math.floor(w / 2) + 1, hp = Math.ceil(h / 2);
  const out = allocArray(dtype, batch * h * wh * 2);
  const pw = fftPlan(w), ph = fftPlan(h), chunk = chunkOf(batch, h, w);
  const rowRe = new Float64Array(w * chunk * hp), rowIm = new Float64Array(w * chunk * hp);
  const specRe = new Float64Array(h * chunk * wh), specIm = new Float64Array(h * chunk * wh);
  for (let b0 = 0; b0 < batch; b0 += chunk) {
    const P = Math.min(chunk, batch - b0), cnt = P * hp, cols = P * wh;
    // rows: line (plane, r) = x[2r] + i·x[2r + 1], laid out [w][cnt]
    for (let pl = 0; pl < P; pl++) {
      const xo = (b0 + pl) * h * w;
      for (let r = 0; r < hp; r++) {
        const line = pl * hp + r, two = 2 * r + 1 < h;
        for (let j = 0; j < w; j++) {
          rowRe[j * cnt + line] = x[xo + 2 * r * w + j];
          rowIm[j * cnt + line] = two ? x[xo + (2 * r + 1) * w + j] : 0;
        }
      }
    }
    fftMany(pw, rowRe, rowIm, cnt, false);
    // A_k = (Z_k + conj Z_{−k})/2, B_k = (Z_k − conj Z_{−k})/(2i), into columns [h][P·wh]
    for (let pl = 0; pl < P; pl++) {
      for (let r = 0; r < hp; r++) {
        const line = pl * hp + r, two = 2 * r + 1 < h;
        for (let k = 0; k < wh; k++) {
          const zi = k * cnt + line, ni = ((w - k) % w) * cnt + line;
          const zr = rowRe[zi], zm = rowIm[zi], cr = rowRe[ni], cm = -rowIm[ni];
          const o = 2 * r * cols + pl * wh + k;
          specRe[o] = (zr + cr) / 2;
          specIm[o] = (zm + cm) / 2;
          if (two) (specRe[o + cols] = (zm - cm) / 2, specIm[o + cols] = -(zr - cr) / 2);
        }
      }
    }
    fftMany(ph, specRe, specIm, cols, false);
    for (let pl = 0; pl < P; pl++) {
      const oo = (b0 + pl) * h * wh * 2;
      for (let r = 0; r < h; r++) {
        for (let k = 0; k < wh; k++) {
          const s = r * cols + pl * wh + k, o = oo + (r * wh + k) * 2;
          out[o] = specRe[s] * scale;
          out[o + 1] = specIm[s] * scale;
        }
      }
    }
  }
  return out;
}

/**
 * irfft2 of z seen as [batch, h, ⌊w/2⌋+1, 2] → real [batch, h, w] times `scale` (unnormalised
 * sums: the caller's scale holds the 1/(hw)): x = Re Σ_{k1, k2 < ⌊w/2⌋+1} c_k2·Z·exp(+iθ) with
 * c = 1 on the DC and Nyquist columns and 2 elsewhere, as numpy (their imaginary parts do not
 * enter). Columns first, then rows two at a time as one complex inverse line.
 */
export function irfft2(
  z: TypedArray,
  batch: number,
  h: number,
  w: number,
  scale: number,
  dtype: DType,
): TypedArray {
  const wh = Math.floor(w / 2) + 1, hp = Math.ceil(h / 2), nyq = w % 2 === 0 ? w / 2 : -1;
  const out = allocArray(dtype, batch * h * w);
  const pw = fftPlan(w), ph = fftPlan(h), chunk = chunkOf(batch, h, w);
  const rowRe = new Float64Array(w * chunk * hp), rowIm = new Float64Array(w * chunk * hp);
  const specRe = new Float64Array(h * chunk * wh), specIm = new Float64Array(h * chunk * wh);
  for (let b0 = 0; b0 < batch; b0 += chunk) {
    const P = Math.min(chunk, batch - b0), cnt = P * hp, cols = P * wh;
    for (let pl = 0; pl < P; pl++) {
      const zo = (b0 + pl) * h * wh * 2;
      for (let r = 0; r < h; r++) {
        for (let k = 0; k < wh; k++) {
          const s = r * cols + pl * wh + k, i = zo + (r * wh + k) * 2;
          specRe[s] = z[i];
          specIm[s] = z[i + 1];
        }
      }
    }
    fftMany(ph, specRe, specIm, cols, true);
    // Z = A + i·B over the rows' full Hermitian extensions (DC/Nyquist imaginary parts dropped)
    for (let pl = 0; pl < P; pl++) {
      for (let r = 0; r < hp; r++) {
        const line = pl * hp + r, two = 2 * r + 1 < h;
        for (let k = 0; k < w; k++) {
          const src = k < wh ? k : w - k, cj = k < wh ? 1 : -1;
          const real = k === 0 || k === nyq, s = 2 * r * cols + pl * wh + src;
          const ar = specRe[s], ai = real ? 0 : cj * specIm[s];
          const br = two ? specRe[s + cols] : 0, bi = two && !real ? cj * specIm[s + cols] : 0;
          rowRe[k * cnt + line] = ar - bi;
          rowIm[k * cnt + line] = ai + br;
        }
      }
    }
    fftMany(pw, rowRe, rowIm, cnt, true);
    for (let pl = 0; pl < P; pl++) {
      const xo = (b0 + pl) * h * w;
      for (let r = 0; r < hp; r++) {
        const line = pl * hp + r, two = 2 * r + 1 < h;
        for (let j = 0; j < w; j++) {
          out[xo + 2 * r * w + j] = rowRe[j * cnt + line] * scale;
          if (two) out[xo + (2 * r + 1) * w + j] = rowIm[j * cnt + line] * scale;
        }
      }
    }
  }
  return out;
}

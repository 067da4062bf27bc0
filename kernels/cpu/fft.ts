/**
 * CPU FFT kernels: complex DFTs of any length n in O(n log n) — mixed-radix Cooley–Tukey over
 * the factors 4, 2, 3, 5, … of n, or Bluestein's chirp-z convolution (a power-of-two FFT of
 * size ≥ 2n − 1) when a large prime factor would make the radix-p butterflies cost more — and
 * the 2-D real transforms rfft2/irfft2 over the last two axes, batched over the rest. Work is
 * in float64 whatever the tensor dtype; plans (twiddles, chirps) are cached per length.
 * @module
 */
import type { DType, TypedArray } from "../dtype.ts";
import { allocArray } from "./host_pool.ts";

/** Bluestein's data for one length n: the chirp and the transformed convolution kernel. */
interface Bluestein {
  /** Power-of-two convolution length m ≥ 2n − 1. */
  m: number;
  /** The plan of length m. */
  sub: FftPlan;
  /** c_t = exp(−iπ t²/n), t < n (the forward chirp; the inverse uses its conjugate). */
  chirpRe: Float64Array;
  chirpIm: Float64Array;
  /** FFT_m of b_t = conj(c_|t|) (forward), wrapped to length m; the inverse's is lazily made. */
  kerRe: Float64Array;
  kerIm: Float64Array;
  invKerRe: Float64Array | null;
  invKerIm: Float64Array | null;
  /** Scratch of length m. */
  bufRe: Float64Array;
  bufIm: Float64Array;
}

/** A reusable plan for complex DFTs of length n. */
export interface FftPlan {
  /** Length. */
  n: number;
  /** Radices of the mixed-radix path, product n (empty when Bluestein is used). */
  factors: number[];
  /** cos(2π t/n) and sin(2π t/n), t < n. */
  cos: Float64Array;
  sin: Float64Array;
  /** Set when the transform runs as Bluestein's convolution. */
  blue: Bluestein | null;
  /** Scratch of length n (the input copy of the out-of-place recursion). */
  tmpRe: Float64Array;
  tmpIm: Float64Array;
}

/** Factors of n: 4s first (fewer passes), then 2, 3, 5 and the remaining primes ascending. */
export function factorize(n: number): number[] {
  const f: number[] = [];
  while (n % 4 === 0) (f.push(4), n /= 4);
  for (let p = 2; p * p <= n; p += p === 2 ? 1 : 2) {
    while (n % p === 0) (f.push(p), n /= p);
  }
  if (n > 1) f.push(n);
  return f;
}

const plans = new Map<string, FftPlan>();

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
  let m = 1;
  while (m < 2 * n - 1) m *= 2;
  const direct = n * factors.reduce((s, p) => s + p, 0);
  const chirp = 3 * m * Math.log2(Math.max(m, 2)) + 2 * n;
  const useBlue = n > 1 && (bluestein ?? direct > chirp);
  const cos = new Float64Array(n), sin = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    cos[t] = Math.cos((2 * Math.PI * t) / n);
    sin[t] = Math.sin((2 * Math.PI * t) / n);
  }
  plan = {
    n,
    factors: useBlue ? [] : factors,
    cos,
    sin,
    blue: useBlue ? bluesteinOf(n, m) : null,
    tmpRe: new Float64Array(n),
    tmpIm: new Float64Array(n),
  };
  plans.set(key, plan);
  return plan;
}

function bluesteinOf(n: number, m: number): Bluestein {
  const sub = fftPlan(m, false);
  const chirpRe = new Float64Array(n), chirpIm = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    // t² mod 2n keeps the angle exact for large t: exp(−iπ t²/n) has period 2n in t²
    const a = (Math.PI * ((t * t) % (2 * n))) / n;
    chirpRe[t] = Math.cos(a);
    chirpIm[t] = -Math.sin(a);
  }
  const kerRe = new Float64Array(m), kerIm = new Float64Array(m);
  for (let t = 0; t < n; t++) {
    kerRe[t] = chirpRe[t];
    kerIm[t] = -chirpIm[t];
    if (t > 0) (kerRe[m - t] = chirpRe[t], kerIm[m - t] = -chirpIm[t]);
  }
  fftInPlace(sub, kerRe, kerIm, false);
  return {
    m,
    sub,
    chirpRe,
    chirpIm,
    kerRe,
    kerIm,
    invKerRe: null,
    invKerIm: null,
    bufRe: new Float64Array(m),
    bufIm: new Float64Array(m),
  };
}

/**
 * In-place unnormalised DFT of (re, im), length plan.n: X_k = Σ_t x_t·exp(∓2πi·kt/n), the sign
 * − forward and + when `inverse` (no 1/n: callers scale).
 */
export function fftInPlace(
  plan: FftPlan,
  re: Float64Array,
  im: Float64Array,
  inverse: boolean,
): void {
  const n = plan.n;
  if (n === 1) return;
  if (plan.blue) return bluesteinRun(plan.blue, n, re, im, inverse);
  plan.tmpRe.set(re.subarray(0, n));
  plan.tmpIm.set(im.subarray(0, n));
  work(plan, inverse ? 1 : -1, re, im, 0, plan.tmpRe, plan.tmpIm, 0, 1, 0, n);
}

/** X = c ⊙ (a ⊛ b) with a_t = x_t c_t: the DFT as a convolution with the chirp (sign s). */
function bluesteinRun(
  b: Bluestein,
  n: number,
  re: Float64Array,
  im: Float64Array,
  inverse: boolean,
): void {
  const { m, bufRe, bufIm } = b;
  const s = inverse ? -1 : 1; // the inverse chirp is the conjugate of the forward one
  if (inverse && !b.invKerRe) {
    const kr = new Float64Array(m), ki = new Float64Array(m);
    for (let t = 0; t < n; t++) {
      kr[t] = b.chirpRe[t];
      ki[t] = b.chirpIm[t];
      if (t > 0) (kr[m - t] = b.chirpRe[t], ki[m - t] = b.chirpIm[t]);
    }
    fftInPlace(b.sub, kr, ki, false);
    b.invKerRe = kr;
    b.invKerIm = ki;
  }
  const kr = inverse ? b.invKerRe! : b.kerRe, ki = inverse ? b.invKerIm! : b.kerIm;
  bufRe.fill(0);
  bufIm.fill(0);
  for (let t = 0; t < n; t++) {
    const cr = b.chirpRe[t], ci = s * b.chirpIm[t];
    bufRe[t] = re[t] * cr - im[t] * ci;
    bufIm[t] = re[t] * ci + im[t] * cr;
  }
  fftInPlace(b.sub, bufRe, bufIm, false);
  for (let k = 0; k < m; k++) {
    const ar = bufRe[k], ai = bufIm[k];
    bufRe[k] = ar * kr[k] - ai * ki[k];
    bufIm[k] = ar * ki[k] + ai * kr[k];
  }
  fftInPlace(b.sub, bufRe, bufIm, true);
  const inv = 1 / m;
  for (let k = 0; k < n; k++) {
    const cr = b.chirpRe[k], ci = s * b.chirpIm[k];
    const yr = bufRe[k] * inv, yi = bufIm[k] * inv;
    re[k] = yr * cr - yi * ci;
    im[k] = yr * ci + yi * cr;
  }
}

/**
 * Out-of-place decimation in time: the DFT of the n inputs at inOff + j·stride (j < n) into
 * out[outOff, outOff + n). Splits n = p·m: p sub-DFTs of length m (inputs j ≡ r mod p), then
 * X_{k+qm} = Σ_r (W_n^{rk} Y_r[k])·W_p^{rq}; twiddles come from the length-N table at t·N/n.
 */
function work(
  plan: FftPlan,
  s: number,
  outRe: Float64Array,
  outIm: Float64Array,
  outOff: number,
  inRe: Float64Array,
  inIm: Float64Array,
  inOff: number,
  stride: number,
  stage: number,
  n: number,
): void {
  const p = plan.factors[stage], m = n / p;
  if (m === 1) {
    for (let j = 0; j < p; j++) {
      outRe[outOff + j] = inRe[inOff + j * stride];
      outIm[outOff + j] = inIm[inOff + j * stride];
    }
  } else {
    for (let j = 0; j < p; j++) {
      work(
        plan,
        s,
        outRe,
        outIm,
        outOff + j * m,
        inRe,
        inIm,
        inOff + j * stride,
        stride * p,
        stage + 1,
        m,
      );
    }
  }
  const N = plan.n, fs = N / n, cos = plan.cos, sin = plan.sin;
  if (p === 2) {
    for (let k = 0; k < m; k++) {
      const a = outOff + k, b = a + m, t = k * fs;
      const wr = cos[t], wi = s * sin[t];
      const br = outRe[b] * wr - outIm[b] * wi, bi = outRe[b] * wi + outIm[b] * wr;
      const ar = outRe[a], ai = outIm[a];
      outRe[a] = ar + br, outIm[a] = ai + bi;
      outRe[b] = ar - br, outIm[b] = ai - bi;
    }
    return;
  }
  if (p === 4) {
    for (let k = 0; k < m; k++) {
      const i0 = outOff + k, i1 = i0 + m, i2 = i1 + m, i3 = i2 + m;
      const t1 = k * fs, t2 = 2 * t1, t3 = 3 * t1;
      const w1r = cos[t1], w1i = s * sin[t1];
      const w2r = cos[t2 % N], w2i = s * sin[t2 % N];
      const w3r = cos[t3 % N], w3i = s * sin[t3 % N];
      const x0r = outRe[i0], x0i = outIm[i0];
      const x1r = outRe[i1] * w1r - outIm[i1] * w1i, x1i = outRe[i1] * w1i + outIm[i1] * w1r;
      const x2r = outRe[i2] * w2r - outIm[i2] * w2i, x2i = outRe[i2] * w2i + outIm[i2] * w2r;
      const x3r = outRe[i3] * w3r - outIm[i3] * w3i, x3i = outRe[i3] * w3i + outIm[i3] * w3r;
      const ar = x0r + x2r, ai = x0i + x2i, br = x0r - x2r, bi = x0i - x2i;
      const cr = x1r + x3r, ci = x1i + x3i, dr = x1r - x3r, di = x1i - x3i;
      // W_4 = exp(s·iπ/2) = s·i: (dr + i·di)·s·i = −s·di + i·s·dr
      outRe[i0] = ar + cr, outIm[i0] = ai + ci;
      outRe[i2] = ar - cr, outIm[i2] = ai - ci;
      outRe[i1] = br - s * di, outIm[i1] = bi + s * dr;
      outRe[i3] = br + s * di, outIm[i3] = bi - s * dr;
    }
    return;
  }
  // generic radix p: a p-point DFT per k, twiddled inputs held in scratch
  const yr = new Float64Array(p), yi = new Float64Array(p), step = m * fs; // W_p = table[m·fs]
  for (let k = 0; k < m; k++) {
    for (let r = 0; r < p; r++) {
      const idx = outOff + k + r * m, t = (r * k * fs) % N;
      const wr = cos[t], wi = s * sin[t];
      yr[r] = outRe[idx] * wr - outIm[idx] * wi;
      yi[r] = outRe[idx] * wi + outIm[idx] * wr;
    }
    for (let q = 0; q < p; q++) {
      let accR = 0, accI = 0;
      for (let r = 0; r < p; r++) {
        const t = (((r * q) % p) * step) % N;
        const wr = cos[t], wi = s * sin[t];
        accR += yr[r] * wr - yi[r] * wi;
        accI += yr[r] * wi + yi[r] * wr;
      }
      outRe[outOff + k + q * m] = accR;
      outIm[outOff + k + q * m] = accI;
    }
  }
}

/**
 * rfft2 of x seen as [batch, h, w] real → [batch, h, ⌊w/2⌋+1, 2] times `scale`: rows first
 * (two real rows as one complex FFT, split by Hermitian symmetry), then the kept columns.
 */
export function rfft2(
  x: TypedArray,
  batch: number,
  h: number,
  w: number,
  scale: number,
  dtype: DType,
): TypedArray {
  const wh = Math.floor(w / 2) + 1;
  const out = allocArray(dtype, batch * h * wh * 2);
  const pw = fftPlan(w), ph = fftPlan(h);
  const rowRe = new Float64Array(w), rowIm = new Float64Array(w);
  const colRe = new Float64Array(h), colIm = new Float64Array(h);
  const specRe = new Float64Array(h * wh), specIm = new Float64Array(h * wh);
  for (let b = 0; b < batch; b++) {
    const xo = b * h * w;
    for (let r = 0; r < h; r += 2) {
      const two = r + 1 < h;
      for (let j = 0; j < w; j++) {
        rowRe[j] = x[xo + r * w + j];
        rowIm[j] = two ? x[xo + (r + 1) * w + j] : 0;
      }
      fftInPlace(pw, rowRe, rowIm, false);
      for (let k = 0; k < wh; k++) {
        // z = a + i·b: A_k = (Z_k + conj Z_{−k})/2, B_k = (Z_k − conj Z_{−k})/(2i)
        const zr = rowRe[k], zi = rowIm[k], nk = (w - k) % w;
        const cr = rowRe[nk], ci = -rowIm[nk];
        specRe[r * wh + k] = (zr + cr) / 2;
        specIm[r * wh + k] = (zi + ci) / 2;
        if (two) {
          specRe[(r + 1) * wh + k] = (zi - ci) / 2;
          specIm[(r + 1) * wh + k] = -(zr - cr) / 2;
        }
      }
    }
    const oo = b * h * wh * 2;
    for (let k = 0; k < wh; k++) {
      for (let r = 0; r < h; r++) (colRe[r] = specRe[r * wh + k], colIm[r] = specIm[r * wh + k]);
      fftInPlace(ph, colRe, colIm, false);
      for (let r = 0; r < h; r++) {
        out[oo + (r * wh + k) * 2] = colRe[r] * scale;
        out[oo + (r * wh + k) * 2 + 1] = colIm[r] * scale;
      }
    }
  }
  return out;
}

/**
 * irfft2 of z seen as [batch, h, ⌊w/2⌋+1, 2] → real [batch, h, w] times `scale` (unnormalised
 * sums: the caller's scale holds the 1/(hw)): x = Re Σ_{k1, k2 < ⌊w/2⌋+1} c_k2·Z·exp(+iθ) with
 * c = 1 on the DC and Nyquist columns and 2 elsewhere, as numpy (their imaginary parts do not
 * enter). Columns first, then rows two at a time as one complex inverse FFT.
 */
export function irfft2(
  z: TypedArray,
  batch: number,
  h: number,
  w: number,
  scale: number,
  dtype: DType,
): TypedArray {
  const wh = Math.floor(w / 2) + 1;
  const out = allocArray(dtype, batch * h * w);
  const pw = fftPlan(w), ph = fftPlan(h);
  const rowRe = new Float64Array(w), rowIm = new Float64Array(w);
  const colRe = new Float64Array(h), colIm = new Float64Array(h);
  const specRe = new Float64Array(h * wh), specIm = new Float64Array(h * wh);
  const nyq = w % 2 === 0 ? w / 2 : -1;
  for (let b = 0; b < batch; b++) {
    const zo = b * h * wh * 2;
    for (let k = 0; k < wh; k++) {
      for (let r = 0; r < h; r++) {
        colRe[r] = z[zo + (r * wh + k) * 2];
        colIm[r] = z[zo + (r * wh + k) * 2 + 1];
      }
      fftInPlace(ph, colRe, colIm, true);
      for (let r = 0; r < h; r++) (specRe[r * wh + k] = colRe[r], specIm[r * wh + k] = colIm[r]);
    }
    const xo = b * h * w;
    for (let r = 0; r < h; r += 2) {
      const two = r + 1 < h;
      // Z = A + i·B over the full Hermitian extensions (DC/Nyquist imaginary parts dropped)
      for (let k = 0; k < w; k++) {
        const src = k < wh ? k : w - k, cj = k < wh ? 1 : -1;
        const real = k === 0 || k === nyq;
        const ar = specRe[r * wh + src], ai = real ? 0 : cj * specIm[r * wh + src];
        const br = two ? specRe[(r + 1) * wh + src] : 0;
        const bi = two && !real ? cj * specIm[(r + 1) * wh + src] : 0;
        rowRe[k] = ar - bi;
        rowIm[k] = ai + br;
      }
      fftInPlace(pw, rowRe, rowIm, true);
      for (let j = 0; j < w; j++) {
        out[xo + r * w + j] = rowRe[j] * scale;
        if (two) out[xo + (r + 1) * w + j] = rowIm[j] * scale;
      }
    }
  }
  return out;
}

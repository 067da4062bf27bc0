/**
 * Certified upper bounds of spectral norms by Gram iteration (Delattre, Barthélemy, Araujo,
 * Allauzen — "Efficient Bound of Lipschitz Constant for Convolutional Layers by Gram Iteration",
 * ICML 2023): G ← GᴴG with rescaling, ‖A‖₂ ≤ (‖G_t‖)^(1/2^t)·scales. Computed on the host in
 * float64 with every rounding error of the iteration bounded and added, so the result is ≥ the
 * exact spectral norm of the given (already rounded) weights. Convolutions: the exact per-frequency
 * matrices of the circulant operator on a torus large enough that zero padding never wraps.
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";

/** Unit roundoff of float64. */
const U = 2 ** -53;

/** Options of the Gram-iteration bounds. */
export interface GramOptions {
  /**
   * Maximum Gram iterations (default 30; it stops earlier once the bound stops improving); the
   * tightest bound over all iterations is returned. The Frobenius slack after t iterations is at
   * most rank^(1/2^(t+1)).
   */
  iterations?: number;
  /**
   * Stop once `stalls` (3) iterations in a row improve the bound by less than this relative
   * amount (default 1e-13; certificates use 1e-9: far below what a radius can show).
   */
  tolerance?: number;
  /**
   * convSpectralBound only: the convolution's zero padding [top, left] (stride 1), when known.
   * The torus then needs only H + max(p, k − 1 − p) rows (and likewise columns) for the padded
   * convolution to be a block of the circular one — H + 1 for a 3×3 "same" convolution instead
   * of H + 2 — a coarser grid of frequencies whose maximum is often smaller. Default: any
   * padding ≤ k − 1 (torus H + k − 1).
   */
  padding?: readonly [number, number];
}

/** A complex matrix, row-major, rows × cols. */
interface CMat {
  re: Float64Array;
  im: Float64Array;
  rows: number;
  cols: number;
}

function frobenius(m: CMat): number {
  let s = 0;
  for (let i = 0; i < m.re.length; i++) s += m.re[i] * m.re[i] + m.im[i] * m.im[i];
  return Math.sqrt(s);
}

/** Max row sum of |entries|: an upper bound of ‖M‖₂ when M is Hermitian (‖M‖₂ ≤ √(‖M‖₁‖M‖∞)). */
function maxRowSum(m: CMat): number {
  let best = 0;
  for (let i = 0; i < m.rows; i++) {
    let s = 0;
    for (let j = 0; j < m.cols; j++) {
      const r = m.re[i * m.cols + j], c = m.im[i * m.cols + j];
      s += Math.sqrt(r * r + c * c); // ≤ 3u relative per term, inside the caller's (cols + 8)u
    }
    best = Math.max(best, s);
  }
  return best;
}

/**
 * MᴴM (cols × cols) when `left`, else MMᴴ (rows × rows), as dot products of contiguous rows (of
 * Mᵀ for `left`); real matrices (every imaginary part 0) skip the imaginary arithmetic.
 */
function gram(m: CMat, left: boolean): CMat {
  const { rows, cols } = m;
  let re = m.re, im = m.im;
  const n = left ? cols : rows;
  const inner = left ? rows : cols;
  if (left) {
    re = new Float64Array(rows * cols);
    im = new Float64Array(rows * cols);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        re[j * rows + i] = m.re[i * cols + j];
        im[j * rows + i] = m.im[i * cols + j];
      }
    }
  }
  const real = im.every((v) => v === 0);
  // left: G_ij = Σ_k conj(T_ik) T_jk (T = Mᵀ); right: G_ij = Σ_k M_ik conj(M_jk): the same real
  // part, opposite imaginary parts
  const sign = left ? 1 : -1;
  const ore = new Float64Array(n * n), oim = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const a = i * inner;
    for (let j = i; j < n; j++) {
      const b = j * inner;
      let sr = 0, si = 0;
      if (real) {
        // four partial sums (the rounding bound holds for any summation order)
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0, k = 0;
        for (; k + 3 < inner; k += 4) {
          s0 += re[a + k] * re[b + k];
          s1 += re[a + k + 1] * re[b + k + 1];
          s2 += re[a + k + 2] * re[b + k + 2];
          s3 += re[a + k + 3] * re[b + k + 3];
        }
        for (; k < inner; k++) s0 += re[a + k] * re[b + k];
        sr = (s0 + s1) + (s2 + s3);
      } else {
        for (let k = 0; k < inner; k++) {
          const ar = re[a + k], ai = im[a + k], br = re[b + k], bi = im[b + k];
          sr += ar * br + ai * bi;
          si += ar * bi - ai * br;
        }
        si *= sign;
      }
      ore[i * n + j] = sr;
      oim[i * n + j] = si;
      ore[j * n + i] = sr; // Hermitian
      oim[j * n + i] = -si;
    }
  }
  return { re: ore, im: oim, rows: n, cols: n };
}

/**
 * Upper bound of the largest singular value of a complex matrix. With H_k = fl(G_k/r_k),
 * r_k = ‖G_k‖_F, G_{k+1} = fl(H_kᴴH_k): σ(G_k) ≤ r_k·(σ(H_k) + e_k) and
 * σ(H_k)² ≤ σ(G_{k+1}) + d_k, where e_k bounds the rounding of the division and d_k that of the
 * product (|fl(ΣAB) − ΣAB| ≤ γ·Σ|A||B| elementwise, ‖|H|ᴴ|H|‖_F ≤ ‖H‖_F²); σ(G_t) is bounded by
 * its Frobenius norm (and by its max row sum once G is Hermitian). Every bound of every t is valid;
 * the smallest is returned, or the first one ≤ `enough` (the caller takes a maximum with a larger
 * known bound, so iterating further changes nothing).
 */
function gramBound(a: CMat, iterations: number, tolerance: number, enough = -Infinity): number {
  if (a.re.length === 0) return 0;
  for (let i = 0; i < a.re.length; i++) {
    if (!Number.isFinite(a.re[i]) || !Number.isFinite(a.im[i])) return Infinity;
  }
  const up = (x: number, terms: number): number => x * (1 + (terms + 8) * U); // rounded-up norm
  const rs: number[] = []; // r_k
  const es: number[] = []; // e_k: division rounding, absolute (in units of H_k)
  const ds: number[] = []; // d_k: product rounding, absolute (in units of H_k²)
  let g = a;
  let best = Infinity;
  let stalled = 0;
  for (let k = 0; k <= iterations; k++) {
    // Bound σ(G_k) directly, then carry it back to σ(A) through levels k−1 … 0.
    const fro = up(frobenius(g), g.re.length);
    let s = fro;
    if (k > 0) s = Math.min(s, up(maxRowSum(g), g.cols));
    for (let j = k - 1; j >= 0; j--) s = rs[j] * (Math.sqrt(s + ds[j]) + es[j]) * (1 + 8 * U);
    stalled = s < best * (1 - tolerance) ? 0 : stalled + 1;
    best = Math.min(best, s);
    // the caller needs no bound below `enough` (a larger one is already known elsewhere)
    if (best <= enough) break;
    if (k === iterations || !(fro > 0) || !Number.isFinite(fro) || stalled >= 3) break;
    const r = frobenius(g);
    const h: CMat = {
      re: g.re.map((v) => v / r),
      im: g.im.map((v) => v / r),
      rows: g.rows,
      cols: g.cols,
    };
    const fh = up(frobenius(h), h.re.length);
    const left = k > 0 || h.cols <= h.rows; // the smaller Gram first; Hermitian after
    const inner = left ? h.rows : h.cols;
    rs.push(r);
    es.push(2 * U * fh);
    ds.push((4 * inner + 16) * U * fh * fh);
    g = gram(h, left);
  }
  return best;
}

async function hostValues(t: Tensor, what: string): Promise<Float64Array> {
  if (!(t instanceof Tensor)) throw new TypeError(`${what}: expected a Tensor, got ${typeof t}`);
  if (t.dtype === "int32") throw new TypeError(`${what}: expected a float tensor, got int32`);
  return Float64Array.from(await t.data());
}

/**
 * A certified upper bound of ‖W‖₂ (the largest singular value) of a dense weight W [out, in] by
 * Gram iteration in float64 with rounding errors bounded: the returned number is never below the
 * exact spectral norm of W's stored values (a non-finite entry gives Infinity). Exact for
 * orthogonal and rank-one W up to ~1e-13; within (rank)^(1/2^(t+1)) otherwise. Cost O(t·n³) on
 * the host, n = min(out, in).
 *
 * @example
 * ```ts
 * import { tensor } from "@sll/sll";
 * import { denseSpectralBound } from "@sll/sll";
 * const b = await denseSpectralBound(tensor([[3, 0], [0, 1]])); // 3 (up to 1e-13)
 * ```
 */
export async function denseSpectralBound(w: Tensor, options: GramOptions = {}): Promise<number> {
  if (w.rank !== 2) {
    throw new TypeError(
      `denseSpectralBound: the weight must be a matrix [out, in], got shape [${w.shape}]; reshape it first`,
    );
  }
  const re = await hostValues(w, "denseSpectralBound");
  const [rows, cols] = w.shape;
  return gramBound(
    { re, im: new Float64Array(re.length), rows, cols },
    options.iterations ?? 30,
    options.tolerance ?? 1e-13,
  );
}

/**
 * A certified upper bound of the operator norm of the 2-d convolution with kernel K [out, in, kh,
 * kw] on inputs of spatial size `inSize` [H, W], for every zero padding ≤ k−1 and every stride
 * (and of its transpose): the zero-padded convolution is a restriction of the circular one on an
 * (H+kh−1)×(W+kw−1) torus, whose singular values are those of the per-frequency matrices
 * K̂(ω) = Σ_ab K[:, :, a, b]·e^(2πi(ω₁a/N₁ + ω₂b/N₂)); each is bounded by Gram iteration, and the
 * rounding of the DFT (≤ 16u·Σ|K| per entry) is added. Cost O(N₁N₂·t·c³) on the host.
 *
 * @example
 * ```ts
 * import { convSpectralBound, normal, randomKey } from "@sll/sll";
 * const k = normal(randomKey(0), [4, 3, 3, 3]);
 * const b = await convSpectralBound(k, [8, 8]); // ≥ the norm of conv2d(·, k) on [·, 3, 8, 8]
 * ```
 */
export async function convSpectralBound(
  kernel: Tensor,
  inSize: readonly [number, number] | readonly number[],
  options: GramOptions = {},
): Promise<number> {
  if (kernel.rank !== 4) {
    throw new TypeError(
      `convSpectralBound: the kernel must be [out, in, kh, kw], got shape [${kernel.shape}]`,
    );
  }
  if (inSize.length !== 2 || !inSize.every((d) => Number.isInteger(d) && d > 0)) {
    throw new RangeError(
      `convSpectralBound: inSize must be the input's spatial size [H, W], got [${inSize}]`,
    );
  }
  const k = await hostValues(kernel, "convSpectralBound");
  const [o, c, kh, kw] = kernel.shape;
  // the torus on which the zero-padded convolution is a block of the circular one: with left
  // padding p the input taps reach [−p, H − 1 + k − 1 − p]; wrapping must never land in [0, H)
  const pad = options.padding;
  if (
    pad && !(pad.length === 2 && pad.every((v, i) =>
      Number.isInteger(v) && v >= 0 &&
      v <= [kh, kw][i] - 1
    ))
  ) {
    throw new RangeError(
      `convSpectralBound: padding must be two integers in [0, k − 1] for a [${kh}, ${kw}] kernel, got [${pad}]`,
    );
  }
  const n1 = inSize[0] + (pad ? Math.max(pad[0], kh - 1 - pad[0]) : kh - 1);
  const n2 = inSize[1] + (pad ? Math.max(pad[1], kw - 1 - pad[1]) : kw - 1);
  const iterations = options.iterations ?? 30;
  const tol = options.tolerance ?? 1e-13;
  // DFT rounding: each entry sums kh·kw products with twiddles accurate to a few ulps.
  let slack2 = 0;
  for (let i = 0; i < o * c; i++) {
    let s = 0;
    for (let t = 0; t < kh * kw; t++) s += Math.abs(k[i * kh * kw + t]);
    slack2 += s * s;
  }
  const slack = 16 * (kh * kw + 4) * U * Math.sqrt(slack2);
  if (kh === 1 && kw === 1) {
    // a 1×1 kernel is the same matrix at every frequency (no DFT, no DFT rounding)
    return gramBound({ re: k, im: new Float64Array(k.length), rows: o, cols: c }, iterations, tol);
  }
  return torusBound(k, o, c, kh, kw, n1, n2, iterations, tol, slack);
}

/** max over the frequencies of an n1 × n2 torus of the per-frequency Gram bounds (+ slack). */
function torusBound(
  k: Float64Array,
  o: number,
  c: number,
  kh: number,
  kw: number,
  n1: number,
  n2: number,
  iterations: number,
  tol: number,
  slack: number,
): number {
  let best = 0;
  // every K̂(ω) first, then the Gram bounds from the largest Frobenius norm down: a frequency
  // stops iterating as soon as its bound falls below the largest one found (most do at once)
  const mats: { m: CMat; fro: number }[] = [];
  for (let w1 = 0; w1 < n1; w1++) {
    for (let w2 = 0; w2 < n2; w2++) {
      // K̂(ω) for real K has the singular values of K̂(−ω): half the torus suffices.
      const m1 = (n1 - w1) % n1, m2 = (n2 - w2) % n2;
      if (m1 < w1 || (m1 === w1 && m2 < w2)) continue;
      const re = new Float64Array(o * c), im = new Float64Array(o * c);
      for (let a = 0; a < kh; a++) {
        for (let b = 0; b < kw; b++) {
          const phase = 2 * Math.PI * (((w1 * a) % n1) / n1 + ((w2 * b) % n2) / n2);
          const cr = Math.cos(phase), ci = Math.sin(phase);
          for (let i = 0; i < o * c; i++) {
            const v = k[(i * kh + a) * kw + b];
            re[i] += v * cr;
            im[i] += v * ci;
          }
        }
      }
      const m: CMat = { re, im, rows: o, cols: c };
      mats.push({ m, fro: frobenius(m) });
    }
  }
  mats.sort((x, y) => (y.fro > x.fro ? 1 : y.fro < x.fro ? -1 : 0)); // NaN stays, gives Infinity
  for (const { m } of mats) {
    const s = gramBound(m, iterations, tol, best - slack) + slack;
    if (!(s <= best)) best = s; // NaN/Infinity propagate
    if (!Number.isFinite(best)) return Infinity;
  }
  return best;
}

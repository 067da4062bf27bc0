/**
 * The Fourier-domain plumbing of the FFT-based convolutions (Cayley, LOT, Sandwich, BRO): a
 * circular k×k convolution over an H×W grid is block-diagonal in the 2-D DFT, one cout×cin
 * complex matrix per frequency, so a layer orthogonalises those matrices and applies them to
 * rfft2(x). Also the Cayley transform shared by the Cayley and Sandwich layers and the geometry
 * (stride 2 = soc.ts's space-to-depth, as the reference codes; zero or circular padding).
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import {
  add,
  concat,
  div,
  matmul,
  maximum,
  mul,
  pad,
  reshape,
  slice,
  sqrt,
  sub,
  sum,
  swapLast,
  tensor,
  transpose,
} from "../tensor/ops.ts";
import { ceye, cinverse, cmatmul, conj, csolve, ctranspose } from "../tensor/complex.ts";
import { irfft2, rfft2 } from "../tensor/prims/fft.ts";
import { solve } from "../tensor/prims/solve.ts";
import { scope } from "../tensor/scope.ts";
import type { PRNGKey } from "../tensor/random.ts";
import { expectShape, type Initialized, type Layer } from "./layer.ts";

/** How an FFT-based convolution treats the image border. */
export type SpectralPadding = "circular" | "zero";

/**
 * Per-frequency matrices of the circular cross-correlation (conv2d) with `weight`
 * [cout, cin, k, k] centred at tap k//2, over an H×W grid: [H, ⌊W/2⌋+1, cout, cin, 2].
 * With the tap at offset d = u − k//2 placed at d mod H, conv(x)ˆ(ω) = conj(ŵ(ω))·x̂(ω).
 * `centred` false gives the plain rfft2 of the zero-padded kernel instead (no shift, no
 * conjugate: what BRO's reference code transforms). A kernel larger than the grid is folded
 * (taps u and u + H act on the same pixel of a circular H-grid).
 *
 * @example
 * ```ts
 * import { fourierKernel, normal, randomKey } from "@sll/sll";
 * const k = fourierKernel(normal(randomKey(0), [4, 4, 3, 3]), [8, 8]); // [8, 5, 4, 4, 2]
 * ```
 */
export function fourierKernel(
  weight: Tensor,
  size: readonly [number, number],
  centred = true,
): Tensor {
  const [co, ci, kh, kw] = weight.shape;
  const [h, w] = size;
  // pad to whole multiples of the grid and fold: a tap at u acts at u mod H on a circular grid
  const fh = Math.ceil(kh / h), fw = Math.ceil(kw / w);
  let p = pad(weight, [[0, 0], [0, 0], [0, fh * h - kh], [0, fw * w - kw]]);
  if (fh > 1 || fw > 1) p = sum(reshape(p, [co, ci, fh, h, fw, w]), [2, 4]);
  if (!centred) return transpose(rfft2(p), [2, 3, 0, 1, 4]);
  const sh = Math.floor(kh / 2) % h, sw = Math.floor(kw / 2) % w;
  // roll by −k//2 on both axes so that the centre tap sits at index 0
  if (sh > 0) {
    p = concat([
      slice(p, [0, 0, sh, 0], [-1, -1, -1, -1]),
      slice(p, [0, 0, 0, 0], [-1, -1, sh, -1]),
    ], 2);
  }
  if (sw > 0) {
    p = concat([
      slice(p, [0, 0, 0, sw], [-1, -1, -1, -1]),
      slice(p, [0, 0, 0, 0], [-1, -1, -1, sw]),
    ], 3);
  }
  const k = conj(rfft2(p)); // [cout, cin, H, Wf, 2]
  return transpose(k, [2, 3, 0, 1, 4]);
}

/**
 * Applies per-frequency matrices q [H', ⌊W'/2⌋+1, cout, cin, 2] to x [B, cin, H, W]: with
 * `padding` "zero" x is zero-padded by `border` on each side first (H' = H + 2·border) and the
 * result cropped back; orthonormal DFTs, so an orthogonal q gives an orthogonal map.
 *
 * @example
 * ```ts
 * import { applyFourier, fourierKernel, normal, randomKey } from "@sll/sll";
 * const q = fourierKernel(normal(randomKey(0), [2, 3, 3, 3]), [6, 6]);
 * const y = applyFourier(q, normal(randomKey(1), [1, 3, 6, 6]), 0); // [1, 2, 6, 6]
 * ```
 */
export function applyFourier(q: Tensor, x: Tensor, border: number): Tensor {
  const xp = border > 0 ? pad(x, [[0, 0], [0, 0], [border, border], [border, border]]) : x;
  const [b, , h, w] = xp.shape;
  // yᵀ = x̂ᵀ qᵀ per frequency, so that the big operand x̂ goes first in cmatmul (see there)
  const xt = transpose(rfft2(xp, { norm: "ortho" }), [2, 3, 0, 1, 4]); // [H, Wf, B, cin, 2]
  const yt = cmatmul(xt, transpose(q, [0, 1, 3, 2, 4])); // [H, Wf, B, cout, 2]
  const yf = transpose(yt, [2, 3, 0, 1, 4]); // [B, cout, H, Wf, 2]
  const y = irfft2(yf, [h, w], { norm: "ortho" });
  if (border === 0) return y;
  return slice(y, [0, 0, border, border], [b, -1, h - 2 * border, w - 2 * border]);
}

/** The n×n identity in `dtype`, real. */
export function eye(n: number, dtype: Tensor["dtype"]): Tensor {
  const v = new Array<number>(n * n).fill(0);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  return tensor(v, { shape: [n, n], dtype });
}

/**
 * The Cayley transform of real matrices W [..., m, n] (Trockman & Kolter 2021, their
 * generalisation to rectangles): for m ≥ n, U = W[:n], V = W[n:], A = U − Uᵀ + VᵀV and
 * Q = [(I + A)⁻¹(I − A); −2V(I + A)⁻¹], which has orthonormal columns (QᵀQ = I); for m < n,
 * cayley(Wᵀ)ᵀ (orthonormal rows). I + A is invertible: its symmetric part is I + VᵀV ≻ 0.
 *
 * @example
 * ```ts
 * import { cayley, normal, randomKey } from "@sll/sll";
 * const q = cayley(normal(randomKey(0), [5, 3])); // qᵀq = I
 * ```
 */
export function cayley(w: Tensor): Tensor {
  const m = w.shape[w.rank - 2], n = w.shape[w.rank - 1];
  if (m < n) return swapLast(cayley(swapLast(w)));
  const lead = w.shape.slice(0, -2), z = lead.map(() => 0);
  const u = slice(w, [...z, 0, 0], [...lead, n, n]);
  const i = eye(n, w.dtype);
  let a = sub(u, swapLast(u));
  let v: Tensor | null = null;
  if (m > n) {
    v = slice(w, [...z, n, 0], [...lead, m - n, n]);
    a = add(a, matmul(swapLast(v), v));
  }
  const ipa = add(i, a);
  const top = solve(ipa, sub(i, a)); // (I + A)⁻¹(I − A) = (I − A)(I + A)⁻¹: they commute
  if (!v) return top;
  // −2V(I + A)⁻¹ = −2 ((I + A)⁻ᵀ Vᵀ)ᵀ
  const bottom = mul(swapLast(solve(swapLast(ipa), swapLast(v))), -2);
  return concat([top, bottom], -2);
}

/**
 * The Cayley transform of complex matrices W [..., m, n, 2] (skew-Hermitian A = U − U* + V*V):
 * Q = [(I + A)⁻¹(I − A); −2V(I + A)⁻¹] with Q*Q = I for m ≥ n; for m < n, cayley(Wᵀ)ᵀ (plain
 * transpose, as the reference), whose rows are orthonormal.
 *
 * @example
 * ```ts
 * import { ccayley, normal, randomKey } from "@sll/sll";
 * const q = ccayley(normal(randomKey(0), [4, 4, 2])); // unitary
 * ```
 */
export function ccayley(w: Tensor): Tensor {
  const r = w.rank, m = w.shape[r - 3], n = w.shape[r - 2];
  const tr = (t: Tensor): Tensor => {
    const perm = t.shape.map((_, k) => k);
    perm[r - 3] = r - 2;
    perm[r - 2] = r - 3;
    return transpose(t, perm);
  };
  if (m < n) return tr(ccayley(tr(w)));
  const lead = w.shape.slice(0, -3), z = lead.map(() => 0);
  const u = slice(w, [...z, 0, 0, 0], [...lead, n, n, 2]);
  const i = ceye(n, w.dtype);
  let a = sub(u, ctranspose(u));
  let v: Tensor | null = null;
  if (m > n) {
    v = slice(w, [...z, n, 0, 0], [...lead, m - n, n, 2]);
    a = add(a, cmatmul(ctranspose(v), v));
  }
  // square: one solve (I + A)X = I − A; otherwise the inverse serves both blocks
  if (!v) return csolve(add(i, a), sub(i, a));
  const inv = cinverse(add(i, a));
  const top = cmatmul(inv, sub(i, a));
  return concat([top, mul(cmatmul(v, inv), -2)], -3);
}

/**
 * w·α/‖w‖_F (the reference's `alpha * W / W.norm()`), with ‖w‖ floored at 1e-30 so that w = 0
 * gives 0, not NaN.
 *
 * @example
 * ```ts
 * import { normal, randomKey, rescale, tensor } from "@sll/sll";
 * const w = rescale(normal(randomKey(0), [3, 3]), tensor(2)); // Frobenius norm 2
 * ```
 */
export function rescale(w: Tensor, alpha: Tensor): Tensor {
  return mul(div(w, maximum(sqrt(sum(mul(w, w))), 1e-30)), alpha);
}

/**
 * `layer` whose `init` sets α to `norm(weight, inShape)`: the reference codes set α to the norm
 * of the (transformed) initial weight, so the first Q is the transform of W itself.
 *
 * @example
 * ```ts
 * import { cayleyDense, frobenius, randomKey, withAlphaFromWeight } from "@sll/sll";
 * const layer = withAlphaFromWeight(cayleyDense({ features: 3 }), (w) => frobenius(w));
 * const { params } = layer.init(randomKey(0), [3]);
 * ```
 */
export function withAlphaFromWeight<P extends { weight: Tensor; alpha: Tensor }>(
  layer: Layer<P>,
  norm: (weight: Tensor, inShape: readonly number[]) => Tensor,
): Layer<P> {
  return {
    ...layer,
    init(key: PRNGKey, inShape: readonly number[]): Initialized<P> {
      const r = layer.init(key, inShape);
      const shape = r.params.alpha.shape;
      const alpha = scope(() => reshape(norm(r.params.weight, inShape), shape));
      r.params.alpha.dispose();
      r.params.alpha = alpha;
      return r;
    },
  };
}

/**
 * The Frobenius norm of a whole tensor (a scalar).
 *
 * @example
 * ```ts
 * import { frobenius, tensor } from "@sll/sll";
 * const n = frobenius(tensor([3, 4])); // 5
 * ```
 */
export function frobenius(t: Tensor): Tensor {
  return sqrt(sum(mul(t, t)));
}

/**
 * The FFT grid of an input x [B, C, H, W] with `border` zeros on each side: [H + 2b, W + 2b].
 *
 * @example
 * ```ts
 * import { fourierGrid, zeros } from "@sll/sll";
 * fourierGrid(zeros([1, 2, 8, 8]), 1); // [10, 10]
 * ```
 */
export function fourierGrid(x: Tensor, border: number): [number, number] {
  return [x.shape[2] + 2 * border, x.shape[3] + 2 * border];
}

/** Geometry shared by the FFT convolutions: channels, kernel, grid and border after striding. */
export interface SpectralGeometry {
  /** Input channels seen by the convolution (4·C with stride 2). */
  cin: number;
  /** Kernel size after the stride rule. */
  kernel: number;
  /** Output height and width. */
  size: [number, number];
  /** Zero border added before the FFT (k//2 for "zero" padding, else 0). */
  border: number;
  /** The FFT grid: size + 2·border. */
  grid: [number, number];
}

/**
 * Geometry of an FFT convolution for `inShape` [C, H, W] (validates shape, kernel, stride and
 * padding, with errors naming the layer). Stride 2 is space-to-depth (4·C channels, H/2×W/2);
 * `halveKernel` applies the Cayley/Sandwich codes' rule k → max(1, k//2) there (LOT and BRO keep
 * k).
 *
 * @example
 * ```ts
 * import { spectralGeometry } from "@sll/sll";
 * spectralGeometry("cayleyConv", [3, 8, 8], 3, 2, "zero").cin; // 12
 * ```
 */
export function spectralGeometry(
  name: string,
  inShape: readonly number[],
  kernel: number,
  stride: 1 | 2,
  padding: SpectralPadding,
  halveKernel = true,
): SpectralGeometry {
  expectShape(name, inShape, [null, null, null]);
  if (!(Number.isInteger(kernel) && kernel >= 1)) {
    throw new RangeError(`${name}: kernel must be a positive integer, got ${kernel}`);
  }
  if (stride !== 1 && stride !== 2) {
    throw new RangeError(`${name}: stride must be 1 or 2, got ${stride}`);
  }
  if (padding !== "circular" && padding !== "zero") {
    throw new RangeError(`${name}: padding must be "circular" or "zero", got ${padding}`);
  }
  let [c, h, w] = inShape;
  let k = kernel;
  if (stride === 2) {
    if (h % 2 !== 0 || w % 2 !== 0) {
      throw new RangeError(`${name}: stride 2 needs even height and width, got ${h}×${w}`);
    }
    [c, h, w, k] = [c * 4, h / 2, w / 2, halveKernel ? Math.max(1, Math.floor(k / 2)) : k];
  }
  const border = padding === "zero" ? Math.floor(k / 2) : 0;
  const grid: [number, number] = [h + 2 * border, w + 2 * border];
  return { cin: c, kernel: k, size: [h, w], border, grid };
}

/**
 * Layer-wise orthogonal training convolution (LOT; Xu, Li, Li — "LOT: Layer-wise Orthogonal
 * Training on Improving l2 Certified Robustness", NeurIPS 2022): at each frequency of the 2-D
 * DFT the convolution's matrix W(ω) is orthogonalised as (W W*)^(−1/2) W by Newton–Schulz
 * iterations, which keep every singular value ≤ 1 after any number of steps.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { add, div, matmul, mul, reshape, sqrt, sub, sum, swapLast, tensor } from "../tensor/ops.ts";
import { ceye, cinvSqrtNewtonSchulz, cmatmul, ctranspose } from "../tensor/complex.ts";
import type { PRNGKey } from "../tensor/random.ts";
import { fanInUniform, fans, zerosInit } from "./init.ts";
import { defineLayer, expectShape, type Layer, type LayerSetup } from "./layer.ts";
import {
  applyFourier,
  eye,
  fourierGrid,
  fourierKernel,
  spectralGeometry,
  type SpectralPadding,
} from "./fourier.ts";
import { spaceToDepth } from "./soc.ts";

/** Parameters of {@linkcode lotConv} (the reference's names). */
export type LotParams = {
  /** W: [cout, cin, k, k] (4·cin with stride 2). */
  weight: Tensor;
  /** b: [cout]. */
  bias: Tensor;
};

/** Configuration of {@linkcode lotConv}. Input channels are inferred from `inShape`. */
export interface LotConvConfig {
  /** Output channels. */
  features: number;
  /** Kernel size k (default 3). */
  kernel?: number;
  /** 1 (default) or 2 (space-to-depth to 4·cin channels first, kernel kept, as the reference). */
  stride?: 1 | 2;
  /**
   * "zero" (default, the reference: zero-pad k//2, apply on the padded grid, crop; 1-Lipschitz)
   * or "circular" (orthogonal for cin = cout once the iterations converge).
   */
  padding?: SpectralPadding;
  /** Newton–Schulz iterations (default 10, the paper's and the reference's). */
  iterations?: number;
  /** Ridge ε added to W W* (default 1e-4, the reference's; 0 for the exact root). */
  eps?: number;
  /**
   * "identity" (the reference when cin = cout: W = I at the centre tap, b = 0) or "random"
   * (PyTorch's conv init, U(±1/√(cin·k²)) for W and b). Default: identity when cin = cout.
   */
  init?: "identity" | "random";
}

function identityKernel(_key: PRNGKey, shape: readonly number[]): Tensor {
  const [o, i] = shape, k = shape[2] ?? 1;
  const v = new Array<number>(o * i * k * k).fill(0);
  const c = Math.floor(k / 2);
  for (let j = 0; j < Math.min(o, i); j++) v[((j * i + j) * k + c) * k + c] = 1;
  return tensor(v, { shape: [...shape] });
}

/**
 * The LOT per-frequency matrices Q(ω) = (Ŵ Ŵ* + εI)^(−1/2) Ŵ of Ŵ [..., cout, cin, 2], the
 * root by `iterations` Newton–Schulz steps on S/‖S‖_F (eigenvalues in (0, 1]: the scalar map
 * p ↦ p(3 − p)²/4 of each squared singular value of Q keeps it in (0, 1], so ‖Q(ω)‖ ≤ 1 after
 * any number of steps, → 1 as they converge).
 *
 * @example
 * ```ts
 * import { lotOrthogonalize, normal, randomKey } from "@sll/sll";
 * const q = lotOrthogonalize(normal(randomKey(0), [5, 3, 3, 2]), 20, 0); // ≈ unitary 3×3 each
 * ```
 */
export function lotOrthogonalize(w: Tensor, iterations = 10, eps = 1e-4): Tensor {
  const cout = w.shape[w.rank - 3];
  let s = cmatmul(w, ctranspose(w));
  if (eps > 0) s = add(s, mul(ceye(cout, s.dtype), eps));
  return cmatmul(cinvSqrtNewtonSchulz(s, iterations), w);
}

/**
 * LOT convolution (Xu et al., 2022): y = irfft2(Q(ω)·rfft2(x)) + b with
 * Q(ω) = (Ŵ(ω)Ŵ(ω)*)^(−1/2) Ŵ(ω) per frequency ({@linkcode lotOrthogonalize}), Ŵ(ω) the
 * matrix of the convolution with W. 1-Lipschitz after any number of iterations; orthogonal for
 * cin = cout with circular padding once converged. Defaults as the reference: kernel 3, zero
 * padding, 10 iterations, ε = 1e-4, identity init when cin = cout.
 * Input [B, C, H, W] → [B, features, H/stride, W/stride].
 *
 * @example
 * ```ts
 * import { lotConv, normal, randomKey } from "@sll/sll";
 * const layer = lotConv({ features: 4 });
 * const { params } = layer.init(randomKey(0), [4, 8, 8]);
 * const y = layer.apply(params, normal(randomKey(1), [2, 4, 8, 8]));
 * ```
 */
export function lotConv(config: LotConvConfig): Layer<LotParams> {
  const cout = config.features, k0 = config.kernel ?? 3, stride = config.stride ?? 1;
  const padding = config.padding ?? "zero", eps = config.eps ?? 1e-4;
  const iterations = config.iterations ?? 10;
  if (!(Number.isInteger(iterations) && iterations >= 0)) {
    throw new RangeError(`lotConv: iterations must be a non-negative integer, got ${iterations}`);
  }
  if (config.init !== undefined && config.init !== "identity" && config.init !== "random") {
    throw new RangeError(`lotConv: init must be "identity" or "random", got ${config.init}`);
  }
  return defineLayer<LotParams>({
    setup(inShape: readonly number[]): LayerSetup<LotParams> {
      const g = spectralGeometry("lotConv", inShape, k0, stride, padding, false);
      const shape = [cout, g.cin, g.kernel, g.kernel];
      const fi = fans(shape)[0];
      const identity = (config.init ?? (g.cin === cout ? "identity" : "random")) === "identity";
      const uniform = (key: PRNGKey, s: readonly number[]): Tensor => fanInUniform(key, s, fi);
      return {
        outShape: [cout, ...g.size],
        params: {
          weight: { shape, init: identity ? identityKernel : uniform },
          bias: { shape: [cout], init: identity ? zerosInit : uniform },
        },
      };
    },
    apply(params: LotParams, x: Tensor): Tensor {
      const xs = stride === 2 ? spaceToDepth(x, 2) : x;
      const border = padding === "zero" ? Math.floor(params.weight.shape[2] / 2) : 0;
      const q = lotOrthogonalize(
        fourierKernel(params.weight, fourierGrid(xs, border)),
        iterations,
        eps,
      );
      return add(applyFourier(q, xs, border), reshape(params.bias, [1, cout, 1, 1]));
    },
  });
}

/** The real counterpart of `cinvSqrtNewtonSchulz` (same iteration on S/‖S‖_F, real S ≻ 0). */
function invSqrtNewtonSchulz(s: Tensor, iterations: number): Tensor {
  const n = s.shape[s.rank - 1];
  const norm = sqrt(sum(mul(s, s), [-2, -1], true));
  const i = eye(n, s.dtype), i3 = mul(i, 3);
  let y = div(s, norm), z: Tensor = i;
  for (let t = 0; t < iterations; t++) {
    const tt = mul(sub(i3, matmul(z, y)), 0.5);
    y = matmul(y, tt);
    z = matmul(tt, z);
  }
  return div(z, sqrt(norm));
}

/** Configuration of {@linkcode lotDense}. Input features are inferred from `inShape`. */
export interface LotDenseConfig {
  /** Output features. */
  features: number;
  /** Newton–Schulz iterations (default 10, as {@linkcode lotConv}). */
  iterations?: number;
  /** Ridge ε added to W Wᵀ (default 1e-4). */
  eps?: number;
  /** "identity" (default when in = features) or "random" (U(±1/√in) for W and b). */
  init?: "identity" | "random";
}

/**
 * LOT dense layer: {@linkcode lotConv} on a 1×1 grid, i.e. y = (WWᵀ + εI)^(−1/2)W·x + b by the
 * same Newton–Schulz iterations on the real matrix (orthonormal rows once converged; never
 * expanding). Xu et al. (2022) define LOT for convolutions; this is its dense special case, so
 * that LOT networks can have dense layers of the same kind. Input [B, in] → [B, features].
 *
 * @example
 * ```ts
 * import { lotDense, normal, randomKey } from "@sll/sll";
 * const layer = lotDense({ features: 6 });
 * const { params } = layer.init(randomKey(0), [6]);
 * const y = layer.apply(params, normal(randomKey(1), [4, 6]));
 * ```
 */
export function lotDense(config: LotDenseConfig): Layer<LotParams> {
  const out = config.features, eps = config.eps ?? 1e-4;
  const iterations = config.iterations ?? 10;
  if (!(Number.isInteger(iterations) && iterations >= 0)) {
    throw new RangeError(`lotDense: iterations must be a non-negative integer, got ${iterations}`);
  }
  if (config.init !== undefined && config.init !== "identity" && config.init !== "random") {
    throw new RangeError(`lotDense: init must be "identity" or "random", got ${config.init}`);
  }
  return defineLayer<LotParams>({
    setup(inShape: readonly number[]): LayerSetup<LotParams> {
      expectShape("lotDense", inShape, [null]);
      const din = inShape[0];
      const identity = (config.init ?? (din === out ? "identity" : "random")) === "identity";
      const uniform = (key: PRNGKey, s: readonly number[]): Tensor => fanInUniform(key, s, din);
      return {
        outShape: [out],
        params: {
          weight: { shape: [out, din], init: identity ? identityKernel : uniform },
          bias: { shape: [out], init: identity ? zerosInit : uniform },
        },
      };
    },
    apply(params: LotParams, x: Tensor): Tensor {
      const w = params.weight;
      let g = matmul(w, swapLast(w));
      if (eps > 0) g = add(g, mul(eye(out, g.dtype), eps));
      const q = matmul(invSqrtNewtonSchulz(g, iterations), w);
      return add(matmul(x, swapLast(q)), params.bias);
    },
  });
}

/**
 * Cayley-orthogonal layers (Trockman & Kolter — "Orthogonalizing Convolutional Layers with the
 * Cayley Transform", ICLR 2021): the dense weight, or the convolution's matrix at each frequency
 * of the 2-D DFT, rescaled by α/‖W‖ and sent through the Cayley transform, which makes it
 * orthogonal (unitary per frequency) for every W and α.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { add, matmul, ones, reshape, swapLast } from "../tensor/ops.ts";
import type { PRNGKey } from "../tensor/random.ts";
import { fanInUniform, fans } from "./init.ts";
import { defineLayer, expectShape, type Layer, type LayerSetup, type ParamSpec } from "./layer.ts";
import {
  applyFourier,
  cayley,
  ccayley,
  fourierGrid,
  fourierKernel,
  frobenius,
  rescale,
  type SpectralGeometry,
  spectralGeometry,
  type SpectralPadding,
  withAlphaFromWeight,
} from "./fourier.ts";
import { spaceToDepth } from "./soc.ts";

/** Parameters of the Cayley layers (the reference's names). */
export type CayleyParams = {
  /** W: [out, in] (dense) or [cout, cin, k, k] (conv; cin·4 and k//2 with stride 2). */
  weight: Tensor;
  /** b: [out]. */
  bias: Tensor;
  /** α, the Frobenius norm the transformed weight is rescaled to: [1] (dense) or [] (conv). */
  alpha: Tensor;
};

/** Configuration of {@linkcode cayleyDense}. Input features are inferred from `inShape`. */
export interface CayleyDenseConfig {
  /** Output features. */
  features: number;
}

/** U(±1/√fan_in) for the weight and the bias: PyTorch's default `nn.Linear`/`nn.Conv2d` init. */
function fanIn(fanInOf: number): ParamSpec["init"] {
  return (key: PRNGKey, shape: readonly number[]): Tensor => fanInUniform(key, shape, fanInOf);
}

/**
 * Cayley dense layer (Trockman & Kolter, 2021; their `CayleyLinear`): y = Q·x + b with
 * Q = cayley(α·W/‖W‖_F) [features, in] — orthonormal columns when features ≥ in (an isometry),
 * orthonormal rows otherwise; 1-Lipschitz for every W, α. Init as the reference:
 * W, b ~ U(±1/√in), α = ‖W‖_F. Input [B, in] → [B, features].
 *
 * @example
 * ```ts
 * import { cayleyDense, normal, randomKey } from "@sll/sll";
 * const layer = cayleyDense({ features: 8 });
 * const { params } = layer.init(randomKey(0), [8]);
 * const y = layer.apply(params, normal(randomKey(1), [4, 8]));
 * ```
 */
export function cayleyDense(config: CayleyDenseConfig): Layer<CayleyParams> {
  const out = config.features;
  const layer = defineLayer<CayleyParams>({
    setup(inShape: readonly number[]): LayerSetup<CayleyParams> {
      expectShape("cayleyDense", inShape, [null]);
      return {
        outShape: [out],
        params: {
          weight: { shape: [out, inShape[0]], init: fanIn(inShape[0]) },
          bias: { shape: [out], init: fanIn(inShape[0]) },
          alpha: { shape: [1], init: (_k, s) => ones(s) },
        },
      };
    },
    apply(params: CayleyParams, x: Tensor): Tensor {
      return add(matmul(x, swapLast(cayleyDenseWeight(params))), params.bias);
    },
  });
  return withAlphaFromWeight(layer, frobenius);
}

/**
 * The orthogonal weight of {@linkcode cayleyDense}: cayley(α·W/‖W‖_F).
 *
 * @example
 * ```ts
 * import { cayleyDense, cayleyDenseWeight, randomKey } from "@sll/sll";
 * const { params } = cayleyDense({ features: 4 }).init(randomKey(0), [4]);
 * const q = cayleyDenseWeight(params); // orthogonal 4×4
 * ```
 */
export function cayleyDenseWeight(params: CayleyParams): Tensor {
  return cayley(rescale(params.weight, params.alpha));
}

/** Configuration of {@linkcode cayleyConv}. Input channels are inferred from `inShape`. */
export interface CayleyConvConfig {
  /** Output channels. */
  features: number;
  /** Kernel size k (default 3; with stride 2 the reference uses max(1, k//2) on 4·cin channels). */
  kernel?: number;
  /** 1 (default) or 2: stride 2 is the invertible 2×2 space-to-depth, then the stride-1 layer. */
  stride?: 1 | 2;
  /**
   * "circular" (default, the paper's and the authors' code: the DFT diagonalises the circular
   * convolution, so the layer is exactly orthogonal) or "zero" (zero-pad k//2, apply, crop, as
   * the LOT/BRONet re-implementations: 1-Lipschitz, no longer norm preserving).
   */
  padding?: SpectralPadding;
}

/**
 * Cayley convolution (Trockman & Kolter, 2021; their `CayleyConv`): at each frequency ω of the
 * FFT grid, Q(ω) = cayley(α·Ŵ(ω)/‖Ŵ‖_F), Ŵ(ω) the cout×cin matrix of the convolution with W
 * (skew-Hermitian A = U − U* (+ V*V) when cout ≠ cin) and y = irfft2(Q(ω)·rfft2(x)) + b.
 * Orthogonal for cout = cin (norm preserving for cout ≥ cin), 1-Lipschitz always. Defaults as
 * the paper: kernel 3, circular padding, stride 1 (2 = space-to-depth as their code).
 * Init as the reference: W, b ~ U(±1/√(cin·k²)) (PyTorch's conv default), α = ‖Ŵ‖_F.
 * Input [B, C, H, W] → [B, features, H/stride, W/stride].
 *
 * @example
 * ```ts
 * import { cayleyConv, normal, randomKey } from "@sll/sll";
 * const layer = cayleyConv({ features: 4 });
 * const { params } = layer.init(randomKey(0), [4, 8, 8]);
 * const y = layer.apply(params, normal(randomKey(1), [2, 4, 8, 8]));
 * ```
 */
export function cayleyConv(config: CayleyConvConfig): Layer<CayleyParams> {
  const cout = config.features, k0 = config.kernel ?? 3, stride = config.stride ?? 1;
  const padding = config.padding ?? "circular";
  const geometry = (s: readonly number[]): SpectralGeometry =>
    spectralGeometry("cayleyConv", s, k0, stride, padding);
  const layer = defineLayer<CayleyParams>({
    setup(inShape: readonly number[]): LayerSetup<CayleyParams> {
      const g = geometry(inShape);
      const fi = fans([cout, g.cin, g.kernel, g.kernel])[0];
      return {
        outShape: [cout, ...g.size],
        params: {
          weight: { shape: [cout, g.cin, g.kernel, g.kernel], init: fanIn(fi) },
          bias: { shape: [cout], init: fanIn(fi) },
          alpha: { shape: [], init: (_k, s) => ones(s) },
        },
      };
    },
    apply(params: CayleyParams, x: Tensor): Tensor {
      const xs = stride === 2 ? spaceToDepth(x, 2) : x;
      const border = padding === "zero" ? Math.floor(params.weight.shape[2] / 2) : 0;
      const grid = fourierGrid(xs, border);
      const q = ccayley(rescale(fourierKernel(params.weight, grid), params.alpha));
      return add(applyFourier(q, xs, border), reshape(params.bias, [1, cout, 1, 1]));
    },
  });
  return withAlphaFromWeight(
    layer,
    (w, inShape) => frobenius(fourierKernel(w, geometry(inShape).grid)),
  );
}

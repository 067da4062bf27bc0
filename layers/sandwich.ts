/**
 * Sandwich layers (Wang & Manchester — "Direct Parameterization of Lipschitz-Bounded Deep
 * Networks", ICML 2023): y = √2·AᵀΨ·σ(√2·Ψ⁻¹B·x + b) with [A B] the Cayley transform of a free
 * weight (rows orthonormal: AAᵀ + BBᵀ = I), Ψ = diag(e^ψ) and σ = ReLU; 1-Lipschitz for every
 * parameter (their Theorem 3.1). The convolution does the same per frequency of the 2-D DFT.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { add, exp, matmul, mul, neg, ones, relu, reshape, slice, swapLast } from "../tensor/ops.ts";
import { ctranspose } from "../tensor/complex.ts";
import type { PRNGKey } from "../tensor/random.ts";
import { fanInUniform, fans, zerosInit } from "./init.ts";
import { defineLayer, expectShape, type Layer, type LayerSetup } from "./layer.ts";
import {
  applyFourier,
  cayley,
  ccayley,
  fourierKernel,
  frobenius,
  rescale,
  spectralGeometry,
  withAlphaFromWeight,
} from "./fourier.ts";
import { spaceToDepth } from "./soc.ts";

/** Parameters of the Sandwich layers (the reference's names). */
export type SandwichParams = {
  /** The free weight: [out, out + in] (dense) or [cout, cout + cin, k, k] (conv). */
  weight: Tensor;
  /** b: [out]. */
  bias: Tensor;
  /** α, the norm the weight is rescaled to before the Cayley transform: [1] or []. */
  alpha: Tensor;
  /** ψ: [out], Ψ = diag(e^ψ). */
  psi: Tensor;
};

/** Configuration of {@linkcode sandwichDense}. Input features are inferred from `inShape`. */
export interface SandwichDenseConfig {
  /** Output features. */
  features: number;
}

const SQRT2 = Math.SQRT2;
const uniformFanIn = (fi: number) => (key: PRNGKey, s: readonly number[]): Tensor =>
  fanInUniform(key, s, fi);

/**
 * Sandwich dense layer (Wang & Manchester, 2023; their `SandwichFc`):
 * y = √2·AᵀΨ·relu(√2·Ψ⁻¹B·x + b), [A B] = cayley(α·W/‖W‖_F), A [out, out], B [out, in].
 * 1-Lipschitz for every W, α, ψ, b. Init as the reference (`nn.Linear(in + out, out)`):
 * W, b ~ U(±1/√(in + out)), α = ‖W‖_F, ψ = 0. Input [B, in] → [B, features].
 *
 * @example
 * ```ts
 * import { normal, randomKey, sandwichDense } from "@sll/sll";
 * const layer = sandwichDense({ features: 8 });
 * const { params } = layer.init(randomKey(0), [6]);
 * const y = layer.apply(params, normal(randomKey(1), [4, 6]));
 * ```
 */
export function sandwichDense(config: SandwichDenseConfig): Layer<SandwichParams> {
  const out = config.features;
  const layer = defineLayer<SandwichParams>({
    setup(inShape: readonly number[]): LayerSetup<SandwichParams> {
      expectShape("sandwichDense", inShape, [null]);
      const fi = inShape[0] + out;
      return {
        outShape: [out],
        params: {
          weight: { shape: [out, fi], init: uniformFanIn(fi) },
          bias: { shape: [out], init: uniformFanIn(fi) },
          alpha: { shape: [1], init: (_k, s) => ones(s) },
          psi: { shape: [out], init: zerosInit },
        },
      };
    },
    apply(params: SandwichParams, x: Tensor): Tensor {
      const q = cayley(rescale(params.weight, params.alpha)); // [out, out + in]
      const a = slice(q, [0, 0], [out, out]), b = slice(q, [0, out], [out, -1]);
      const z = add(mul(matmul(x, swapLast(b)), mul(exp(neg(params.psi)), SQRT2)), params.bias);
      const h = mul(relu(z), exp(params.psi));
      return mul(matmul(h, a), SQRT2); // rows: (√2 AᵀΨσ)ᵀ = √2 (Ψσ)ᵀA
    },
  });
  return withAlphaFromWeight(layer, frobenius);
}

/** Configuration of {@linkcode sandwichConv}. Input channels are inferred from `inShape`. */
export interface SandwichConvConfig {
  /** Output channels. */
  features: number;
  /** Kernel size k (default 3; with stride 2 the reference uses max(1, k//2) on 4·cin). */
  kernel?: number;
  /** 1 (default) or 2 (space-to-depth to 4·cin channels first, as the reference). */
  stride?: 1 | 2;
}

/**
 * Sandwich convolution (Wang & Manchester, 2023; their `SandwichConv`): with
 * [A(ω) B(ω)] = cayley(α·Ŵ(ω)/‖Ŵ‖_F) per frequency (Ŵ(ω) the cout×(cout + cin) matrix of the
 * circular convolution with W), z = √2·Ψ⁻¹·irfft2(B(ω)·rfft2(x)) + b and
 * y = √2·irfft2(A(ω)*·rfft2(Ψ·relu(z))). 1-Lipschitz for every parameter. Defaults as the
 * reference: kernel 3, circular convolution, stride 1; W, b ~ U(±1/√((cin + cout)·k²)),
 * α = ‖Ŵ‖_F, ψ = 0. Input [B, C, H, W] → [B, features, H/stride, W/stride].
 *
 * @example
 * ```ts
 * import { normal, randomKey, sandwichConv } from "@sll/sll";
 * const layer = sandwichConv({ features: 4 });
 * const { params } = layer.init(randomKey(0), [3, 8, 8]);
 * const y = layer.apply(params, normal(randomKey(1), [2, 3, 8, 8]));
 * ```
 */
export function sandwichConv(config: SandwichConvConfig): Layer<SandwichParams> {
  const cout = config.features, k0 = config.kernel ?? 3, stride = config.stride ?? 1;
  const geometry = (s: readonly number[]) =>
    spectralGeometry("sandwichConv", s, k0, stride, "circular");
  const layer = defineLayer<SandwichParams>({
    setup(inShape: readonly number[]): LayerSetup<SandwichParams> {
      const g = geometry(inShape);
      const shape = [cout, cout + g.cin, g.kernel, g.kernel];
      const fi = fans(shape)[0];
      return {
        outShape: [cout, ...g.size],
        params: {
          weight: { shape, init: uniformFanIn(fi) },
          bias: { shape: [cout], init: uniformFanIn(fi) },
          alpha: { shape: [], init: (_k, s) => ones(s) },
          psi: { shape: [cout], init: zerosInit },
        },
      };
    },
    apply(params: SandwichParams, x: Tensor): Tensor {
      const xs = stride === 2 ? spaceToDepth(x, 2) : x;
      const grid: [number, number] = [xs.shape[2], xs.shape[3]];
      const q = ccayley(rescale(fourierKernel(params.weight, grid), params.alpha));
      const lead = q.shape.slice(0, 2), cin = xs.shape[1];
      const a = slice(q, [0, 0, 0, 0, 0], [...lead, cout, cout, 2]);
      const b = slice(q, [0, 0, 0, cout, 0], [...lead, cout, cin, 2]);
      const perChannel = (t: Tensor): Tensor => reshape(t, [1, cout, 1, 1]);
      const z = add(
        mul(applyFourier(b, xs, 0), perChannel(mul(exp(neg(params.psi)), SQRT2))),
        perChannel(params.bias),
      );
      const h = mul(relu(z), perChannel(exp(params.psi)));
      return mul(applyFourier(ctranspose(a), h, 0), SQRT2);
    },
  });
  return withAlphaFromWeight(
    layer,
    (w, inShape) => frobenius(fourierKernel(w, geometry(inShape).size)),
  );
}

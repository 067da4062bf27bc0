/**
 * Almost-orthogonal layers (AOL; Prach & Lampert — "Almost-Orthogonal Layers for Efficient
 * General-Purpose Lipschitz Networks", ECCV 2022): a free parameter P rescaled per input channel
 * by D_ii = (Σ_j |PᵀP|_ij)^(−1/2), which makes P·D 1-Lipschitz for every P (Theorem 1).
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import {
  abs,
  add,
  conv2d,
  div,
  equal,
  matmul,
  mul,
  reshape,
  sqrt,
  sum,
  swapLast,
  transpose,
  where,
} from "../tensor/ops.ts";
import { xavierNormal, zerosInit } from "./init.ts";
import { defineLayer, expectShape, type Layer, type LayerSetup } from "./layer.ts";

/**
 * s^(−1/2) elementwise with 0 where s = 0 (and a finite, zero gradient there).
 *
 * @example
 * ```ts
 * import { tensor } from "@sll/sll";
 * const r = safeRsqrt(tensor([4, 0])); // [0.5, 0]
 * ```
 */
export function safeRsqrt(s: Tensor): Tensor {
  const isZero = equal(s, 0);
  return where(isZero, 0, div(1, sqrt(where(isZero, 1, s))));
}

/** Configuration of {@linkcode aolDense}. Input features are inferred from `inShape`. */
export interface AolDenseConfig {
  /** Output features. */
  features: number;
}

/** Parameters of the AOL layers: weight P and bias. */
export type AolParams = {
  /** P: [out, in] (dense) or [cout, cin, k, k] (conv). */
  weight: Tensor;
  /** b: [out] (dense) or [1, cout, 1, 1] (conv). */
  bias: Tensor;
};

/**
 * The AOL-rescaled dense weight P·diag(d), d_i = (Σ_j |PᵀP|_ij)^(−1/2).
 *
 * @example
 * ```ts
 * import { normal, randomKey } from "@sll/sll";
 * const w = aolDenseWeight(normal(randomKey(0), [8, 4])); // spectral norm ≤ 1
 * ```
 */
export function aolDenseWeight(p: Tensor): Tensor {
  const d = safeRsqrt(sum(abs(matmul(swapLast(p), p)), 1));
  return mul(p, reshape(d, [1, -1]));
}

/**
 * The AOL-rescaled conv kernel: P [cout, cin, k, k] scaled on axis 1 by
 * d_i = (Σ_{j,u,v} |conv(Pᵀ, Pᵀ, pad k−1)|_ijuv)^(−1/2), Pᵀ = P with axes 0, 1 swapped.
 *
 * @example
 * ```ts
 * import { normal, randomKey } from "@sll/sll";
 * const k = aolConvKernel(normal(randomKey(0), [6, 4, 3, 3]));
 * ```
 */
export function aolConvKernel(p: Tensor): Tensor {
  const pt = transpose(p, [1, 0, 2, 3]); // [cin, cout, k, k]
  const g = conv2d(pt, pt, { padding: [p.shape[2] - 1, p.shape[3] - 1] }); // [cin, cin, ·, ·]
  const d = safeRsqrt(sum(abs(g), [1, 2, 3]));
  return mul(p, reshape(d, [1, -1, 1, 1]));
}

/**
 * AOL dense layer (Prach & Lampert, 2022): y = P·D·x + b. Lipschitz constant ≤ 1 for every P.
 * Init: P Xavier-normal, b = 0. Input [B, in] → [B, features].
 *
 * @example
 * ```ts
 * import { aolDense, normal, randomKey } from "@sll/sll";
 * const layer = aolDense({ features: 8 });
 * const { params } = layer.init(randomKey(0), [16]);
 * const y = layer.apply(params, normal(randomKey(1), [4, 16]));
 * ```
 */
export function aolDense(config: AolDenseConfig): Layer<AolParams> {
  const out = config.features;
  return defineLayer<AolParams>({
    setup(inShape: readonly number[]): LayerSetup<AolParams> {
      expectShape("aolDense", inShape, [null]);
      return {
        outShape: [out],
        params: {
          weight: { shape: [out, inShape[0]], init: xavierNormal },
          bias: { shape: [out], init: zerosInit },
        },
      };
    },
    apply(params: AolParams, x: Tensor): Tensor {
      return add(matmul(x, swapLast(aolDenseWeight(params.weight))), params.bias);
    },
  });
}

/** Configuration of {@linkcode aolConv}. Input channels are inferred from `inShape`. */
export interface AolConvConfig {
  /** Output channels. */
  features: number;
  /** Odd kernel size (default 3); padding k//2 keeps the spatial size. */
  kernel?: number;
}

/**
 * AOL convolution (Prach & Lampert, 2022): y = conv(x, P·D, padding k//2) + b, D from
 * {@linkcode aolConvKernel}. Lipschitz constant ≤ 1 for every P. Init: P Xavier-normal, b = 0.
 * Input [B, C, H, W] → [B, features, H, W].
 *
 * @example
 * ```ts
 * import { aolConv, normal, randomKey } from "@sll/sll";
 * const layer = aolConv({ features: 6 });
 * const { params } = layer.init(randomKey(0), [4, 8, 8]);
 * const y = layer.apply(params, normal(randomKey(1), [2, 4, 8, 8]));
 * ```
 */
export function aolConv(config: AolConvConfig): Layer<AolParams> {
  const cout = config.features;
  const ks = config.kernel ?? 3;
  if (!(Number.isInteger(ks) && ks % 2 === 1)) {
    throw new RangeError(`aolConv: kernel must be an odd integer, got ${ks}`);
  }
  const pad = Math.floor(ks / 2);
  return defineLayer<AolParams>({
    setup(inShape: readonly number[]): LayerSetup<AolParams> {
      expectShape("aolConv", inShape, [null, null, null]);
      return {
        outShape: [cout, inShape[1], inShape[2]],
        params: {
          weight: { shape: [cout, inShape[0], ks, ks], init: xavierNormal },
          bias: { shape: [1, cout, 1, 1], init: zerosInit },
        },
      };
    },
    apply(params: AolParams, x: Tensor): Tensor {
      return add(conv2d(x, aolConvKernel(params.weight), { padding: pad }), params.bias);
    },
  });
}

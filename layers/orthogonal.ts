/**
 * Orthogonal dense layer by Björck orthonormalisation (Björck & Bowie, 1971; used for Lipschitz
 * networks by Anil, Lucas, Grosse, ICML 2019): W is scaled so ‖W‖₂ ≤ 1, then iterated with
 * W ← 1.5W − 0.5·W WᵀW. The map σ ↦ 1.5σ − 0.5σ³ sends [0, 1] into [0, 1] and pushes every
 * singular value towards 1, so the result is 1-Lipschitz after ANY number of iterations.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import {
  abs,
  add,
  div,
  matmul,
  max,
  maximum,
  mul,
  sqrt,
  sub,
  sum,
  swapLast,
} from "../tensor/ops.ts";
import { xavierNormal, zerosInit } from "./init.ts";
import { defineLayer, expectShape, type Layer, type LayerSetup } from "./layer.ts";
import type { LinearParams } from "./basic.ts";

/**
 * Björck orthonormalisation of W [out, in]: W₀ = W/√(‖W‖₁‖W‖_∞) (an upper bound of ‖W‖₂), then
 * `iterations` steps of W ← 1.5W − 0.5·W(WᵀW) (or (WWᵀ)W when out < in).
 *
 * @example
 * ```ts
 * import { bjorck, normal, randomKey } from "@sll/sll";
 * const q = bjorck(normal(randomKey(0), [6, 6]), 20); // ≈ orthogonal
 * ```
 */
export function bjorck(w: Tensor, iterations = 20): Tensor {
  const n1 = max(sum(abs(w), 0));
  const nInf = max(sum(abs(w), 1));
  let q = div(w, maximum(sqrt(mul(n1, nInf)), 1e-12));
  const tall = w.shape[0] >= w.shape[1];
  for (let i = 0; i < iterations; i++) {
    const cube = tall ? matmul(q, matmul(swapLast(q), q)) : matmul(matmul(q, swapLast(q)), q);
    q = sub(mul(q, 1.5), mul(cube, 0.5));
  }
  return q;
}

/** Configuration of {@linkcode orthogonalDense}. */
export interface OrthogonalDenseConfig {
  /** Output features. */
  features: number;
  /** Björck iterations per apply (default 20). */
  iterations?: number;
}

/**
 * Orthogonal dense layer: y = bjorck(W)·x + b. Lipschitz constant ≤ 1 (= 1 and gradient-norm
 * preserving once converged). Init: W Xavier-normal, b = 0. Input [B, D] → [B, features].
 *
 * @example
 * ```ts
 * import { normal, orthogonalDense, randomKey } from "@sll/sll";
 * const layer = orthogonalDense({ features: 8 });
 * const { params } = layer.init(randomKey(0), [8]);
 * const y = layer.apply(params, normal(randomKey(1), [4, 8]));
 * ```
 */
export function orthogonalDense(config: OrthogonalDenseConfig): Layer<LinearParams> {
  const out = config.features;
  const iterations = config.iterations ?? 20;
  return defineLayer<LinearParams>({
    setup(inShape: readonly number[]): LayerSetup<LinearParams> {
      expectShape("orthogonalDense", inShape, [null]);
      return {
        outShape: [out],
        params: {
          weight: { shape: [out, inShape[0]], init: xavierNormal },
          bias: { shape: [out], init: zerosInit },
        },
      };
    },
    apply(params: LinearParams, x: Tensor): Tensor {
      return add(matmul(x, swapLast(bjorck(params.weight, iterations))), params.bias);
    },
  });
}

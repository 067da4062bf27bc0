/**
 * Convex potential layers (CPL; Meunier, Delattre, Araujo, Allauzen — "A Dynamical System
 * Perspective for Lipschitz Neural Networks", ICML 2022): y = x − (2/‖W‖₂²)·Wᵀσ(Wx + b), σ = ReLU.
 * ‖W‖₂ comes from power iteration whose vector `u` is EXPLICIT state in the parameter tree:
 * `apply` never mutates it; `layer.refresh(params, n)` returns new params with u advanced n steps.
 * The estimate σ̂ is below ‖W‖₂ until u converges, and the layer's constant is then
 * max(1, 2‖W‖₂²/σ̂² − 1): `lipschitzClaim` hands certify/ the W and the σ̂² `apply` uses, for a
 * certified bound (never σ̂ alone).
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import {
  add,
  conv2d,
  convTranspose2d,
  div,
  matmul,
  maximum,
  mul,
  norm,
  relu,
  stopGradient,
  sub,
  sum,
  swapLast,
} from "../tensor/ops.ts";
import { normal, type PRNGKey } from "../tensor/random.ts";
import { fanInUniform, fans, xavierNormal } from "./init.ts";
import {
  defineLayer,
  expectShape,
  type Initialized,
  type Layer,
  type LayerSetup,
  type LayerShapes,
  type LipschitzClaim,
} from "./layer.ts";
import { scope } from "../tensor/scope.ts";

/** Parameters of the CPL layers. `u` is power-iteration state, not trained (gradient 0). */
export type CplParams = {
  /** W [inner, D] (dense) or K [inner, C, k, k] (conv). */
  weight: Tensor;
  /** b [1, inner] (dense) or [1, inner, 1, 1] (conv). */
  bias: Tensor;
  /** Unit power-iteration vector in input space: [1, D] or [1, C, H, W]. */
  u: Tensor;
};

/** A CPL layer: a {@linkcode Layer} plus `refresh`, the pure power-iteration state update. */
export interface CplLayer extends Layer<CplParams> {
  /**
   * Returns `{ ...params, u }` with u advanced by `iterations` steps of u ← WᵀWu/‖WᵀWu‖ (u is
   * cut from the gradient). Call it after each optimiser step (one iteration suffices then), or
   * with many iterations before certifying: the bound is exact only when u has converged.
   */
  refresh(params: CplParams, iterations?: number): CplParams;
}

function unit(v: Tensor): Tensor {
  return div(v, maximum(norm(v), 1e-12));
}

function makeCpl(
  name: string,
  fwd: (w: Tensor, x: Tensor) => Tensor,
  adj: (w: Tensor, y: Tensor) => Tensor,
  setup: (inShape: readonly number[]) => LayerSetup<CplParams>,
  applyIterations: number,
  operator: (w: Tensor, inShape: readonly number[]) => LipschitzClaim["operators"][number],
): CplLayer {
  const step = (w: Tensor, u: Tensor): Tensor => unit(adj(w, fwd(w, u)));
  /** σ̂² = ‖W u‖² with u after `applyIterations` steps from the stored u: differentiable in W. */
  const sigma2Of = (params: CplParams): Tensor => {
    const w0 = stopGradient(params.weight);
    let u = stopGradient(params.u);
    for (let i = 0; i < applyIterations; i++) u = step(w0, u);
    const wu = fwd(params.weight, stopGradient(u));
    return sum(mul(wu, wu));
  };
  const refresh = (params: CplParams, iterations = 1): CplParams => {
    const w = stopGradient(params.weight);
    let u = stopGradient(params.u);
    for (let i = 0; i < iterations; i++) u = step(w, u);
    return { ...params, u: stopGradient(u) };
  };
  const drawn = defineLayer<CplParams>({ setup, apply: (_p, x) => x });
  return {
    init(key: PRNGKey, inShape: readonly number[]): Initialized<CplParams> {
      const r = drawn.init(key, inShape);
      return { outShape: r.outShape, params: refresh(r.params, 50) };
    },
    shapes: (inShape: readonly number[]): LayerShapes<CplParams> => drawn.shapes!(inShape),
    apply(params: CplParams, x: Tensor): Tensor {
      // ‖W‖₂² ≈ ‖W u‖² for the converged unit u (a constant); differentiable in W.
      const sigma2 = sigma2Of(params);
      const h = relu(add(fwd(params.weight, x), params.bias));
      return sub(x, mul(adj(params.weight, h), div(2, sigma2)));
    },
    // The Jacobian I − (2/σ̂²)·WᵀDW (0 ≤ D ≤ I) has eigenvalues in [1 − 2σ²/σ̂², 1], σ = ‖W‖₂:
    // its norm is max(1, 2σ²/σ̂² − 1) for the σ̂² apply divides by (σ̂ ≤ σ unless converged).
    lipschitzClaim(params: CplParams, inShape: readonly number[]): LipschitzClaim {
      const sigma2 = scope(() => stopGradient(sigma2Of(params)));
      return {
        reason: `${name} power iteration`,
        operators: [operator(params.weight, inShape)],
        scalars: [sigma2],
        bound: ([sigma], [s2]): number => {
          if (!(s2 > 0 && Number.isFinite(s2) && Number.isFinite(sigma))) return Infinity;
          return Math.max(1, ((2 * sigma * sigma) / s2) * (1 + 2 ** -50) - 1);
        },
      };
    },
    refresh(params: CplParams, iterations?: number): CplParams {
      if (!(params && params.u)) throw new TypeError(`${name}.refresh: params have no u state`);
      return refresh(params, iterations);
    },
  };
}

/** Configuration of {@linkcode cplDense}. Features are inferred from `inShape` (D in = D out). */
export interface CplDenseConfig {
  /** Rows of W (default: D). */
  inner?: number;
  /** Power-iteration steps run (without storing) inside `apply` (default 1). */
  iterations?: number;
}

/**
 * CPL dense layer (Meunier et al., 2022): y = x − (2/‖W‖₂²)·Wᵀ relu(Wx + b). Lipschitz
 * constant ≤ 1 when ‖W‖₂ is exact (u converged; keep it fresh with `refresh`). Init: W
 * Xavier-normal, b U(±1/√D), u after 50 power iterations. Input [B, D] → [B, D].
 *
 * @example
 * ```ts
 * import { cplDense, normal, randomKey } from "@sll/sll";
 * const layer = cplDense({ inner: 32 });
 * let { params } = layer.init(randomKey(0), [16]);
 * const y = layer.apply(params, normal(randomKey(1), [4, 16]));
 * params = layer.refresh(params, 1); // after an optimiser step
 * ```
 */
export function cplDense(config: CplDenseConfig): CplLayer {
  return makeCpl(
    "cplDense",
    (w, x) => matmul(x, swapLast(w)),
    (w, y) => matmul(y, w),
    (inShape) => {
      expectShape("cplDense", inShape, [null]);
      const f = inShape[0];
      const inner = config.inner ?? f;
      return {
        outShape: [f],
        params: {
          weight: { shape: [inner, f], init: xavierNormal },
          bias: { shape: [1, inner], init: (k, s) => fanInUniform(k, s, f) },
          u: { shape: [1, f], init: (k, s) => unit(normal(k, s)) },
        },
      };
    },
    config.iterations ?? 1,
    (weight) => ({ kind: "dense", weight }),
  );
}

/** Configuration of {@linkcode cplConv}. Channels are inferred from `inShape` (C in = C out). */
export interface CplConvConfig {
  /** Inner channels of K (default: C). */
  inner?: number;
  /** Odd kernel size (default 3). */
  kernel?: number;
  /** Power-iteration steps run (without storing) inside `apply` (default 1). */
  iterations?: number;
}

/**
 * CPL convolution (Meunier et al., 2022): y = x − (2/‖K‖₂²)·convT(relu(conv(x, K) + b), K),
 * ‖K‖₂ the operator norm of the zero-padded convolution on the init's H×W (power iteration on
 * u [1, C, H, W]). Lipschitz constant ≤ 1 when u has converged. Input [B, C, H, W].
 *
 * @example
 * ```ts
 * import { cplConv, normal, randomKey } from "@sll/sll";
 * const layer = cplConv({ inner: 8 });
 * const { params } = layer.init(randomKey(0), [4, 8, 8]);
 * const y = layer.apply(params, normal(randomKey(1), [2, 4, 8, 8]));
 * ```
 */
export function cplConv(config: CplConvConfig): CplLayer {
  const ks = config.kernel ?? 3;
  if (!(Number.isInteger(ks) && ks % 2 === 1)) {
    throw new RangeError(`cplConv: kernel must be an odd integer, got ${ks}`);
  }
  const pad = Math.floor(ks / 2);
  return makeCpl(
    "cplConv",
    (w, x) => conv2d(x, w, { padding: pad }),
    (w, y) => convTranspose2d(y, w, { padding: pad }),
    (inShape) => {
      expectShape("cplConv", inShape, [null, null, null]);
      const inner = config.inner ?? inShape[0];
      const shape = [inner, inShape[0], ks, ks];
      return {
        outShape: [...inShape],
        params: {
          weight: { shape, init: xavierNormal },
          bias: { shape: [1, inner, 1, 1], init: (k, s) => fanInUniform(k, s, fans(shape)[0]) },
          u: { shape: [1, ...inShape], init: (k, s) => unit(normal(k, s)) },
        },
      };
    },
    config.iterations ?? 1,
    (weight, inShape) => ({
      kind: "conv",
      weight,
      inSize: [inShape[1], inShape[2]],
      padding: [pad, pad],
    }),
  );
}

/**
 * Linear residual blocks of LiResNet (Hu, Zou, Wang, Leino, Fredrikson — "Unlocking Deterministic
 * Robustness Certification on ImageNet", NeurIPS 2023): y = (x + s·conv(x, W⊙γ))/σ + b, with σ
 * the power-iteration estimate of ‖I + s·W⊙γ‖₂ whose vector `u` is EXPLICIT state in the
 * parameter tree (`apply` never mutates it; `refresh` returns new params). Power iteration
 * approaches ‖·‖₂ from below, so σ alone certifies nothing: `operator` hands out A and the σ
 * `apply` divides by, and certify/'s `liresnetLipschitz` turns them into the certified constant
 * (Gram-iteration upper bound of ‖A‖₂ / σ) that certificates must use.
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
  ones,
  pad,
  stopGradient,
  swapLast,
  tensor,
  zeros,
} from "../tensor/ops.ts";
import { normal, type PRNGKey } from "../tensor/random.ts";
import { scope } from "../tensor/scope.ts";
import { zerosInit } from "./init.ts";
import {
  defineLayer,
  expectShape,
  type Initialized,
  type Layer,
  type LayerSetup,
  type LayerShapes,
  type LipschitzClaim,
} from "./layer.ts";

/** Parameters of the LiResNet blocks. `u` is power-iteration state (gradient 0). */
export type LiresnetParams = {
  /** W [C, C, k, k] (conv) or [D, D] (dense). */
  weight: Tensor;
  /** γ [C, 1, 1, 1] (conv) or [D, 1] (dense): per-output-channel scale of W. */
  gamma: Tensor;
  /** b [1, C, 1, 1] or [1, D]. */
  bias: Tensor;
  /** Unit power-iteration vector in input space: [1, C, H, W] or [1, D]. */
  u: Tensor;
};

/** Configuration of {@linkcode liresnetBlock} and {@linkcode liresnetDense}. */
export interface LiresnetConfig {
  /** Blocks in the network: the residual branch is scaled by depth^(−1/2) (default 1). */
  depth?: number;
  /** Odd kernel size of the conv block (default 3). */
  kernel?: number;
  /** Power-iteration steps run (without storing) inside `apply` (default 10, `num_lc_iter`). */
  iterations?: number;
}

/** The linear operator of a LiResNet block for given params and the σ `apply` divides by. */
export interface LiresnetOperator {
  /** "conv": A is a kernel [C, C, k, k] applied with "same" zero padding; "dense": A is [D, D]. */
  kind: "conv" | "dense";
  /** A = I + s·W⊙γ. */
  a: Tensor;
  /** σ = ‖A u‖ (scalar), u after the block's `iterations` power-iteration steps. */
  sigma: Tensor;
}

/** A LiResNet block: a {@linkcode Layer} plus its state update and its operator. */
export interface LiresnetLayer extends Layer<LiresnetParams> {
  /**
   * Returns `{ ...params, u }` with u advanced by `iterations` steps of u ← AᵀAu/‖AᵀAu‖ (u cut
   * from the gradient), A = I + s·W⊙γ. Call after each optimiser step.
   */
  refresh(params: LiresnetParams, iterations?: number): LiresnetParams;
  /**
   * A and σ exactly as `apply(params, ·)` computes them (the caller disposes both): the
   * Lipschitz constant of the block is ‖A‖₂/σ, ≥ 1 by the power iteration's shortfall.
   */
  operator(params: LiresnetParams): LiresnetOperator;
}

function unit(v: Tensor): Tensor {
  return div(v, maximum(norm(v), 1e-12));
}

interface Ops {
  name: string;
  /** A (the merged operator) as a weight: conv kernel or dense matrix. */
  merged(p: LiresnetParams, scale: number): Tensor;
  fwd(a: Tensor, x: Tensor): Tensor;
  adj(a: Tensor, y: Tensor): Tensor;
  setup(inShape: readonly number[]): LayerSetup<LiresnetParams>;
  kind: "conv" | "dense";
  /** The conv's zero padding (for a tighter certified bound). */
  padding?: [number, number];
}

function makeBlock(ops: Ops, config: LiresnetConfig): LiresnetLayer {
  const depth = config.depth ?? 1;
  const iterations = config.iterations ?? 10;
  if (!(Number.isInteger(depth) && depth >= 1)) {
    throw new RangeError(`${ops.name}: depth must be a positive integer, got ${depth}`);
  }
  if (!(Number.isInteger(iterations) && iterations >= 0)) {
    throw new RangeError(`${ops.name}: iterations must be an integer ≥ 0, got ${iterations}`);
  }
  const scale = depth ** -0.5;
  const step = (a: Tensor, u: Tensor): Tensor => unit(ops.adj(a, ops.fwd(a, u)));
  const advance = (a: Tensor, u0: Tensor, n: number): Tensor => {
    let u = u0;
    for (let i = 0; i < n; i++) u = step(a, u);
    return stopGradient(u);
  };
  /** σ = ‖A u‖ with u after `iterations` steps: differentiable in A, u a constant. */
  const sigma = (p: LiresnetParams, a: Tensor): Tensor => {
    const u = advance(stopGradient(a), unit(stopGradient(p.u)), iterations);
    return norm(ops.fwd(a, u));
  };
  const drawn = defineLayer<LiresnetParams>({ setup: ops.setup, apply: (_p, x) => x });
  const operator = (params: LiresnetParams): LiresnetOperator =>
    scope(() => {
      const a = ops.merged(params, scale);
      return { kind: ops.kind, a, sigma: sigma(params, a) };
    });
  const refresh = (params: LiresnetParams, n = 1): LiresnetParams => {
    const a = stopGradient(ops.merged(params, scale));
    return { ...params, u: advance(a, params.u, n) };
  };
  return {
    init(key: PRNGKey, inShape: readonly number[]): Initialized<LiresnetParams> {
      const r = drawn.init(key, inShape);
      return { outShape: r.outShape, params: scope(() => refresh(r.params, 50)) };
    },
    shapes: (inShape: readonly number[]): LayerShapes<LiresnetParams> => drawn.shapes!(inShape),
    apply(params: LiresnetParams, x: Tensor): Tensor {
      const a = ops.merged(params, scale);
      return add(div(ops.fwd(a, x), sigma(params, a)), params.bias);
    },
    refresh(params: LiresnetParams, n?: number): LiresnetParams {
      if (!(params && params.u)) throw new TypeError(`${ops.name}.refresh: params have no u state`);
      return refresh(params, n);
    },
    operator,
    // y = A x/σ + b: Lipschitz constant ‖A‖₂/σ, above 1 while σ (power iteration) is below ‖A‖₂
    lipschitzClaim(params: LiresnetParams, inShape: readonly number[]): LipschitzClaim {
      const { a, sigma: s } = operator(params);
      return {
        reason: `${ops.name} power iteration`,
        operators: [
          ops.kind === "conv"
            ? { kind: "conv", weight: a, inSize: [inShape[1], inShape[2]], padding: ops.padding }
            : { kind: "dense", weight: a },
        ],
        scalars: [s],
        bound: ([upper], [used]): number => {
          if (!(used > 0 && Number.isFinite(used) && Number.isFinite(upper))) return Infinity;
          return Math.max(1, (upper / used) * (1 + 2 ** -50));
        },
      };
    },
  };
}

function checkKernel(name: string, ks: number): number {
  if (!(Number.isInteger(ks) && ks % 2 === 1)) {
    throw new RangeError(`${name}: kernel must be an odd integer, got ${ks}`);
  }
  return Math.floor(ks / 2);
}

/**
 * LiResNet linear residual convolution (Hu et al., NeurIPS 2023): A = I + s·conv(·, W⊙γ),
 * s = depth^(−1/2), y = A x/σ + b with σ = ‖A u‖ after `iterations` power-iteration steps from
 * the stored u (the authors' `lipschitz()`; they divide the logits by the product of the σ, we
 * divide each block, so the block is 1-Lipschitz once u has converged). The activation and the
 * centering the authors put inside the block are separate layers here (`maxMin`,
 * `batchCentering`). Init as theirs: W ~ N(0, 1)/(9C), γ = 1, b = 0, u from ones (50 steps).
 * Certificates: use certify's `liresnetLipschitz` (a certified ‖A‖₂/σ), never σ alone. Input
 * [B, C, H, W] → same shape.
 *
 * @example
 * ```ts
 * import { liresnetBlock, normal, randomKey } from "@sll/sll";
 * const block = liresnetBlock({ depth: 4 });
 * let { params } = block.init(randomKey(0), [4, 8, 8]);
 * const y = block.apply(params, normal(randomKey(1), [2, 4, 8, 8]));
 * params = block.refresh(params); // after an optimiser step
 * const { a, sigma } = block.operator(params); // A and σ as apply uses them
a.dispose();
sigma.dispose();
 * ```
 */
export function liresnetBlock(config: LiresnetConfig = {}): LiresnetLayer {
  const name = "liresnetBlock";
  const ks = config.kernel ?? 3;
  const p0 = checkKernel(name, ks);
  return makeBlock({
    name,
    merged(p: LiresnetParams, scale: number): Tensor {
      const c = p.weight.shape[0];
      const eye = Array.from({ length: c * c }, (_, i) => (i % (c + 1) === 0 ? 1 : 0));
      const id = pad(tensor(eye, { shape: [c, c, 1, 1], dtype: p.weight.dtype }), [
        [0, 0],
        [0, 0],
        [p0, p0],
        [p0, p0],
      ]);
      return add(id, mul(mul(p.weight, p.gamma), scale));
    },
    fwd: (a, x) => conv2d(x, a, { padding: p0 }),
    adj: (a, y) => convTranspose2d(y, a, { padding: p0 }),
    setup(inShape: readonly number[]): LayerSetup<LiresnetParams> {
      expectShape(name, inShape, [null, null, null]);
      const c = inShape[0];
      return {
        outShape: [...inShape],
        params: {
          weight: { shape: [c, c, ks, ks], init: (k, s) => div(normal(k, s), c * ks * ks) },
          gamma: { shape: [c, 1, 1, 1], init: (_k, s) => ones(s) },
          bias: { shape: [1, c, 1, 1], init: zerosInit },
          u: { shape: [1, ...inShape], init: (_k, s) => unit(ones(s)) },
        },
      };
    },
    kind: "conv",
    padding: [p0, p0],
  }, config);
}

/**
 * The dense LiResNet block: A = I + s·W⊙γ on [B, D], y = A x/σ + b, σ from power iteration as
 * {@linkcode liresnetBlock} (the authors' dense blocks use Cholesky orthogonalisation instead;
 * this is the same linear-residual construction for vectors). Init W ~ N(0, 1)/D, γ = 1, b = 0.
 *
 * @example
 * ```ts
 * import { liresnetDense, normal, randomKey } from "@sll/sll";
 * const block = liresnetDense();
 * const { params } = block.init(randomKey(0), [16]);
 * const y = block.apply(params, normal(randomKey(1), [4, 16]));
 * ```
 */
export function liresnetDense(config: Omit<LiresnetConfig, "kernel"> = {}): LiresnetLayer {
  const name = "liresnetDense";
  return makeBlock({
    name,
    merged(p: LiresnetParams, scale: number): Tensor {
      const d = p.weight.shape[0];
      const eye = Array.from({ length: d * d }, (_, i) => (i % (d + 1) === 0 ? 1 : 0));
      return add(
        tensor(eye, { shape: [d, d], dtype: p.weight.dtype }),
        mul(mul(p.weight, p.gamma), scale),
      );
    },
    fwd: (a, x) => matmul(x, swapLast(a)),
    adj: (a, y) => matmul(y, a),
    setup(inShape: readonly number[]): LayerSetup<LiresnetParams> {
      expectShape(name, inShape, [null]);
      const d = inShape[0];
      return {
        outShape: [d],
        params: {
          weight: { shape: [d, d], init: (k, s) => div(normal(k, s), d) },
          gamma: { shape: [d, 1], init: (_k, s) => ones(s) },
          bias: { shape: [1, d], init: (_k, s) => zeros(s) },
          u: { shape: [1, d], init: (_k, s) => unit(ones(s)) },
        },
      };
    },
    kind: "dense",
  }, config);
}

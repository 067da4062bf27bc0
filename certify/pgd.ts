/**
 * Untargeted L2 projected gradient descent (Madry et al., 2018) with the reference evaluator's
 * settings (advertorch `L2PGDAttack`: cross-entropy, 100 steps of 2ε/steps along the per-example
 * normalised gradient, uniform random start in the box projected into the ball, clip to [0, 1]).
 * Pure: randomness from an explicit key; intermediates are freed every step.
 * @module
 */
import { keep, scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { grad } from "../autodiff/autodiff.ts";
import {
  add,
  clip as clipOp,
  crossEntropy,
  div,
  maximum,
  minimum,
  mul,
  norm,
  stopGradient,
  sub,
} from "../tensor/ops.ts";
import { normal, type PRNGKey, randomKey, split, uniform } from "../tensor/random.ts";

/** Options of {@linkcode pgdL2}. */
export interface PgdL2Options {
  /** L2 radius of the perturbation. */
  eps: number;
  /** Gradient steps (default 100). */
  steps?: number;
  /** Step length (default 2·eps/steps). */
  stepSize?: number;
  /** Start from a random point of the ball (default true). */
  randomStart?: boolean;
  /** Box the adversarial input is clipped to (default [0, 1]; null for none). */
  clip?: readonly [number, number] | null;
  /** PRNG key for the random start (default randomKey(0)). */
  key?: PRNGKey;
  /** The loss to ascend (default: mean cross-entropy). */
  loss?: (logits: Tensor, labels: Tensor) => Tensor;
}

function batchNorm(v: Tensor): Tensor {
  const axes = v.shape.map((_, i) => i).slice(1);
  return norm(v, axes, true);
}

/** Scales each example of v into the L2 ball of radius eps (advertorch's clamp_by_pnorm). */
function clampByNorm(v: Tensor, eps: number): Tensor {
  const n = batchNorm(v);
  return mul(v, div(minimum(n, eps), maximum(n, 1e-12)));
}

/**
 * Returns x_adv with ‖x_adv − x‖₂ ≤ eps per example (and inside `clip`) that tries to change
 * the prediction of `f` on labels `y` (int32 [B]).
 *
 * @example
 * ```ts
 * import { matmul, randomKey, tensor, uniform } from "@sll/sll";
 * const w = tensor([[1, -1], [-1, 1]]);
 * const f = (x: ReturnType<typeof tensor>) => matmul(x, w);
 * const x = uniform(randomKey(0), [4, 2]);
 * const xAdv = pgdL2(f, x, tensor([0, 1, 0, 1], { dtype: "int32" }), { eps: 0.5, steps: 10 });
 * ```
 */
export function pgdL2(
  f: (x: Tensor) => Tensor,
  x: Tensor,
  y: Tensor,
  options: PgdL2Options,
): Tensor {
  const eps = options.eps;
  if (!(eps >= 0)) throw new RangeError(`pgdL2: eps must be ≥ 0, got ${eps}`);
  const steps = options.steps ?? 100;
  const stepSize = options.stepSize ?? (steps > 0 ? 2 * eps / steps : 0);
  const box = options.clip === undefined ? [0, 1] as const : options.clip;
  const lossFn = options.loss ?? crossEntropy;
  const key = options.key ?? randomKey(0);
  const x0 = stopGradient(x);
  const project = (d: Tensor): Tensor => {
    const inBox = box ? sub(clipOp(add(x0, d), box[0], box[1]), x0) : d;
    return clampByNorm(inBox, eps);
  };
  let delta = scope(() => {
    if (options.randomStart === false) return keep(mul(x0, 0));
    const [k1, k2] = split(key, 2);
    let d: Tensor;
    if (box) {
      d = sub(uniform(k1, x0.shape, box[0], box[1], x0.dtype), x0);
    } else {
      const g = normal(k1, x0.shape, x0.dtype);
      const r = uniform(k2, [x0.shape[0], ...x0.shape.slice(1).map(() => 1)], 0, 1, x0.dtype);
      d = mul(div(g, maximum(batchNorm(g), 1e-12)), mul(r, eps));
    }
    return keep(project(d));
  });
  const gradOf = grad((d: Tensor) => lossFn(f(add(x0, d)), y));
  for (let i = 0; i < steps; i++) {
    const next = scope(() => {
      const g = gradOf(delta);
      const unit = div(g, maximum(batchNorm(g), 1e-12));
      return keep(project(add(delta, mul(unit, stepSize))));
    });
    delta.dispose();
    delta = next;
  }
  const out = scope(() => {
    const xa = add(x0, delta);
    return box ? clipOp(xa, box[0], box[1]) : xa;
  });
  delta.dispose();
  if (x0 !== x) x0.dispose();
  return out;
}

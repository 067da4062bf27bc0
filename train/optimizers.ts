/**
 * Optimizers as pure functions over parameter trees: `init(params) -> state` and
 * `update(grads, state, params, lr) -> { params, state }`. Nothing is mutated; the caller keeps
 * the returned trees and disposes the old ones. The formulas follow PyTorch's `torch.optim`
 * (Adam, AdamW, SGD with momentum/Nesterov) so a step matches the reference trainer.
 * @module
 */
import { add, div, mul, sqrt, sub, type Tensor, zerosLike } from "../tensor/mod.ts";
import { mapTree } from "../tensor/tree.ts";
import { adamCpuApplies, adamCpuStep, type AdamStepConstants } from "./adam_cpu.ts";

/** Optimizer state: the step count plus named moment trees shaped like the parameters. */
export interface OptState<P = unknown> {
  /** Number of updates applied so far. */
  step: number;
  /** Moment trees by name (`exp_avg`, `exp_avg_sq`, `momentum_buffer`), shaped like params. */
  slots: Record<string, P>;
}

/** A pure optimizer. */
export interface Optimizer {
  /** Name, e.g. "adam". */
  readonly name: string;
  /** The slot names this optimizer keeps (for checkpoints). */
  readonly slotNames: readonly string[];
  /** Fresh state for `params` (zeros, step 0). */
  init<P>(params: P): OptState<P>;
  /** One step with learning rate `lr`; returns new trees, leaving the inputs untouched. */
  update<P>(grads: P, state: OptState<P>, params: P, lr: number): { params: P; state: OptState<P> };
}

/** Options of `adam` and `adamw`. */
export interface AdamOptions {
  /** Exponential decay of the first and second moments (default [0.5, 0.9], the reference's). */
  betas?: readonly [number, number];
  /** Added to the denominator (default 1e-8). */
  eps?: number;
  /** Weight decay (default 0): L2 added to the gradient (adam), decoupled (adamw). */
  weightDecay?: number;
}

/** Zips two or three trees of the same structure through `f` on their tensor leaves. */
function zipTrees<P>(a: P, b: P, f: (x: Tensor, y: Tensor, path: string) => Tensor): P {
  const flatB = new Map<string, Tensor>();
  mapTree(b, (t, p) => flatB.set(p, t));
  return mapTree(a, (t, p) => {
    const y = flatB.get(p);
    if (!y) {
      throw new Error(`optimizer: gradient tree has no leaf at "${p}" (params and grads differ)`);
    }
    return f(t, y, p);
  });
}

function leafMap<P>(tree: P): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  mapTree(tree, (t, p) => m.set(p, t));
  return m;
}

function checkLr(lr: number, name: string): void {
  if (!Number.isFinite(lr) || lr < 0) {
    throw new RangeError(`${name}.update: lr must be a finite number ≥ 0, got ${lr}`);
  }
}

function makeAdam(name: "adam" | "adamw", opts: AdamOptions): Optimizer {
  const [b1, b2] = opts.betas ?? [0.5, 0.9];
  const eps = opts.eps ?? 1e-8;
  const wd = opts.weightDecay ?? 0;
  for (const [k, v] of [["betas[0]", b1], ["betas[1]", b2]] as const) {
    if (!(v >= 0 && v < 1)) throw new RangeError(`${name}: ${k} must be in [0, 1), got ${v}`);
  }
  return {
    name,
    slotNames: ["exp_avg", "exp_avg_sq"],
    init<P>(params: P): OptState<P> {
      return {
        step: 0,
        slots: { exp_avg: mapTree(params, zerosLike), exp_avg_sq: mapTree(params, zerosLike) },
      };
    },
    update<P>(grads: P, state: OptState<P>, params: P, lr: number) {
      checkLr(lr, name);
      const t = state.step + 1;
      // PyTorch: step_size = lr / (1 − β1ᵗ); denom = √v / √(1 − β2ᵗ) + eps
      const bc1 = 1 - b1 ** t;
      const sqrtBc2 = Math.sqrt(1 - b2 ** t);
      const stepSize = lr / bc1;
      const m0 = leafMap(state.slots.exp_avg);
      const v0 = leafMap(state.slots.exp_avg_sq);
      const newM: Record<string, Tensor> = {};
      const newV: Record<string, Tensor> = {};
      const fast: AdamStepConstants = {
        b1,
        b2,
        eps,
        stepSize,
        sqrtBc2,
        l2: name === "adam" ? wd : 0,
        decay: name === "adamw" && wd !== 0 ? 1 - lr * wd : null,
      };
      const newP = zipTrees(params, grads, (p, g, path) => {
        const mOld = m0.get(path)!, vOld = v0.get(path)!;
        if (adamCpuApplies([p, g, mOld, vOld])) {
          // CPU: one pass over p, g, m, v instead of one fused loop per new tree
          const [pNew, mNew, vNew] = adamCpuStep(p, g, mOld, vOld, fast);
          newM[path] = mNew;
          newV[path] = vNew;
          return pNew;
        }
        let grad = g;
        let param = p;
        if (wd !== 0 && name === "adam") grad = add(grad, mul(p, wd));
        if (wd !== 0 && name === "adamw") param = mul(p, 1 - lr * wd);
        const m = add(mul(mOld, b1), mul(grad, 1 - b1));
        const v = add(mul(vOld, b2), mul(mul(grad, grad), 1 - b2));
        newM[path] = m;
        newV[path] = v;
        const denom = add(div(sqrt(v), sqrtBc2), eps);
        return sub(param, mul(div(m, denom), stepSize));
      });
      return {
        params: newP,
        state: {
          step: t,
          slots: {
            exp_avg: mapTree(params, (_x, p) => newM[p]),
            exp_avg_sq: mapTree(params, (_x, p) => newV[p]),
          },
        },
      };
    },
  };
}

/**
 * Adam (Kingma & Ba) as in `torch.optim.Adam`: weight decay is added to the gradient.
 * Defaults are the reference's: betas (0.5, 0.9), eps 1e-8, no weight decay.
 *
 * @example
 * ```ts
 * import { adam, tensor } from "@sll/sll";
 * const opt = adam();
 * const params = { w: tensor([1, 2]) };
 * const state = opt.init(params);
 * const next = opt.update({ w: tensor([0.5, -0.5]) }, state, params, 0.01);
 * ```
 */
export function adam(opts: AdamOptions = {}): Optimizer {
  return makeAdam("adam", opts);
}

/**
 * AdamW (Loshchilov & Hutter) as in `torch.optim.AdamW`: decoupled weight decay
 * p ← p·(1 − lr·wd) before the Adam step. Defaults as `adam`.
 *
 * @example
 * ```ts
 * import { adamw } from "@sll/sll";
 * const opt = adamw({ weightDecay: 1e-4 });
 * ```
 */
export function adamw(opts: AdamOptions = {}): Optimizer {
  return makeAdam("adamw", opts);
}

/** Options of `sgd`. */
export interface SgdOptions {
  /** Momentum factor (default 0.9). */
  momentum?: number;
  /** Nesterov momentum (default false, as the reference's `--nesterov` flag). */
  nesterov?: boolean;
  /** L2 weight decay added to the gradient (default 0). */
  weightDecay?: number;
}

/**
 * SGD with momentum as in `torch.optim.SGD` (dampening 0): buf ← μ·buf + g (buf = g on the first
 * step), d = g + μ·buf with Nesterov else buf, p ← p − lr·d.
 *
 * @example
 * ```ts
 * import { sgd } from "@sll/sll";
 * const opt = sgd({ momentum: 0.9, nesterov: true });
 * ```
 */
export function sgd(opts: SgdOptions = {}): Optimizer {
  const mu = opts.momentum ?? 0.9;
  const nesterov = opts.nesterov ?? false;
  const wd = opts.weightDecay ?? 0;
  if (!(mu >= 0)) throw new RangeError(`sgd: momentum must be ≥ 0, got ${mu}`);
  if (nesterov && mu === 0) throw new RangeError("sgd: nesterov needs a momentum > 0");
  return {
    name: "sgd",
    slotNames: ["momentum_buffer"],
    init<P>(params: P): OptState<P> {
      return { step: 0, slots: { momentum_buffer: mapTree(params, zerosLike) } };
    },
    update<P>(grads: P, state: OptState<P>, params: P, lr: number) {
      checkLr(lr, "sgd");
      const b0 = leafMap(state.slots.momentum_buffer);
      const newB: Record<string, Tensor> = {};
      const first = state.step === 0;
      const newP = zipTrees(params, grads, (p, g, path) => {
        const grad = wd !== 0 ? add(g, mul(p, wd)) : g;
        let d = grad;
        if (mu !== 0) {
          const buf = first ? grad : add(mul(b0.get(path)!, mu), grad);
          newB[path] = buf;
          d = nesterov ? add(grad, mul(buf, mu)) : buf;
        } else {
          newB[path] = b0.get(path)!;
        }
        return sub(p, mul(d, lr));
      });
      return {
        params: newP,
        state: {
          step: state.step + 1,
          slots: { momentum_buffer: mapTree(params, (_x, p) => newB[p]) },
        },
      };
    },
  };
}

/** Optimizer names accepted by `makeOptimizer` (and the CLI's `--optimizer`). */
export const OPTIMIZER_NAMES: readonly ["adam", "adamw", "sgd"] = ["adam", "adamw", "sgd"];

/** Settings for `makeOptimizer`. */
export interface OptimizerSettings {
  /** Which optimizer. */
  name: (typeof OPTIMIZER_NAMES)[number];
  /** Adam β1 (default 0.5). */
  beta1?: number;
  /** Adam β2 (default 0.9). */
  beta2?: number;
  /** Weight decay (default 0). */
  weightDecay?: number;
  /** SGD momentum (default 0.9). */
  momentum?: number;
  /** SGD Nesterov (default false). */
  nesterov?: boolean;
}

/**
 * Builds an optimizer by name, as the reference's `get_optimizer`.
 *
 * @example
 * ```ts
 * import { makeOptimizer } from "@sll/sll";
 * const opt = makeOptimizer({ name: "adam", beta1: 0.5, beta2: 0.9 });
 * ```
 */
export function makeOptimizer(s: OptimizerSettings): Optimizer {
  switch (s.name) {
    case "adam":
    case "adamw":
      return makeAdam(s.name, {
        betas: [s.beta1 ?? 0.5, s.beta2 ?? 0.9],
        weightDecay: s.weightDecay ?? 0,
      });
    case "sgd":
      return sgd({ momentum: s.momentum ?? 0.9, nesterov: s.nesterov, weightDecay: s.weightDecay });
    default:
      throw new RangeError(
        `makeOptimizer: unknown optimizer "${(s as { name: string }).name}", expected one of ${
          OPTIMIZER_NAMES.join(", ")
        }`,
      );
  }
}

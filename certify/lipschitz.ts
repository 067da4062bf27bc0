/**
 * Empirical Lipschitz estimates. `estimateLipschitz`: power iteration on JᵀJ of the local
 * Jacobian at x (J v by differentiating the linear pullback u ↦ Jᵀu, so no finite differences).
 * `powerMethod`: the reference compute_lip.py's `generic_power_method` on x ↦ f(x) − f(0).
 * `lipschitzReport`: one row per SLL layer of a network, as compute_lip.py prints.
 * @module
 */
import { keep, scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { vjp } from "../autodiff/autodiff.ts";
import { div, maximum, mul, norm, sub, zeros, zerosLike } from "../tensor/ops.ts";
import { normal, type PRNGKey, randomKey } from "../tensor/random.ts";
import type { Layer } from "../layers/layer.ts";

/** Options of the power iterations. */
export interface PowerOptions {
  /** Maximum iterations (default 50 for estimateLipschitz, 500 for powerMethod). */
  iterations?: number;
  /** Stop when ‖v − v_prev‖ < tol (default 1e-8 — the reference's eps). */
  tol?: number;
  /** Key of the random start vector (default randomKey(0)). */
  key?: PRNGKey;
}

function perExampleUnit(v: Tensor): Tensor {
  const axes = v.shape.map((_, i) => i).slice(1);
  return div(v, maximum(norm(v, axes, true), 1e-30));
}

async function perExampleNorms(v: Tensor): Promise<number[]> {
  const axes = v.shape.map((_, i) => i).slice(1);
  const n = scope(() => norm(v, axes));
  const d = Array.from(await n.data());
  n.dispose();
  return d;
}

async function iterate(
  step: (v: Tensor) => Tensor,
  finalNorms: (v: Tensor) => Tensor,
  shape: readonly number[],
  dtype: Tensor["dtype"],
  options: PowerOptions,
  defaultIterations: number,
): Promise<number[]> {
  const iterations = options.iterations ?? defaultIterations;
  const tol = options.tol ?? 1e-8;
  let v = scope(() => keep(perExampleUnit(normal(options.key ?? randomKey(0), shape, dtype))));
  for (let i = 0; i < iterations; i++) {
    const next = scope(() => keep(perExampleUnit(step(v))));
    const diff = scope(() => norm(sub(next, v)));
    const d = (await diff.data())[0];
    diff.dispose();
    v.dispose();
    v = next;
    if (d < tol) break;
  }
  const u = scope(() => finalNorms(v));
  v.dispose();
  const out = await perExampleNorms(u);
  u.dispose();
  return out;
}

/**
 * Largest singular value of the Jacobian of `f` at `x`, by power iteration on JᵀJ, one
 * independent iteration per example of the batch (the Jacobian of a batched network is
 * block-diagonal). Returns the per-example estimates (lower bounds of the local Lipschitz
 * constant; ≤ 1 for a 1-Lipschitz f).
 *
 * @example
 * ```ts
 * import { matmul, normal, randomKey, tensor } from "@sll/sll";
 * const w = tensor([[3, 0], [0, 1]]);
 * const [s] = await estimateLipschitz((x) => matmul(x, w), normal(randomKey(0), [1, 2])); // ≈ 3
 * ```
 */
export async function estimateLipschitz(
  f: (x: Tensor) => Tensor,
  x: Tensor,
  options: PowerOptions = {},
): Promise<number[]> {
  // Jv = d/du ⟨Jᵀu, v⟩: differentiate the (linear) pullback at u = 0 with cotangent v.
  const jvp = (v: Tensor): Tensor => {
    const [y, pb] = vjp(f, x);
    const [, pb2] = vjp((u: Tensor) => pb(u)[0], zerosLike(y));
    return pb2(v)[0];
  };
  const jtjv = (v: Tensor): Tensor => {
    const [, pb] = vjp(f, x);
    return pb(jvp(v))[0];
  };
  return await iterate(jtjv, jvp, x.shape, x.dtype, options, 50);
}

/**
 * The reference compute_lip.py `generic_power_method`: with g(v) = f(v) − f(0), iterate
 * v ← ∇_v ‖g(v)‖² normalised per example, and report ‖g(v)‖ for the final unit v. For a linear
 * f it is the spectral norm; for an SLL layer it is the number the reference prints.
 *
 * @example
 * ```ts
 * import { matmul, tensor } from "@sll/sll";
 * const w = tensor([[3, 0], [0, 1]]);
 * const [s] = await powerMethod((x) => matmul(x, w), [1, 2]); // ≈ 3
 * ```
 */
export async function powerMethod(
  f: (x: Tensor) => Tensor,
  inputShape: readonly number[],
  options: PowerOptions & { dtype?: Tensor["dtype"] } = {},
): Promise<number[]> {
  const dtype = options.dtype ?? "float32";
  const f0 = scope(() => keep(f(zeros(inputShape, dtype))));
  const g = (v: Tensor): Tensor => sub(f(v), f0);
  const step = (v: Tensor): Tensor => {
    const [y, pb] = vjp(g, v);
    return pb(mul(y, 2))[0];
  };
  try {
    return await iterate(step, g, inputShape, dtype, options, 500);
  } finally {
    f0.dispose();
  }
}

/** One row of {@linkcode lipschitzReport}. */
export interface LipschitzRow {
  /** Module index in the reference Sequential ("module.model.model.{index}"). */
  index: number;
  /** "SLL Conv 1", "SLL Dense 5", … as compute_lip.py prints. */
  name: string;
  /** Per-example input shape used. */
  inputShape: number[];
  /** The power-method estimate (≤ 1 up to rounding for a 1-Lipschitz layer). */
  estimate: number;
}

/** The parts of a network {@linkcode lipschitzReport} needs (a `lipschitzNetwork` has them). */
export interface LayeredModel {
  /** The modules, in order. */
  // deno-lint-ignore no-explicit-any
  readonly layers: readonly Layer<any>[];
  /** Per-example input shape of each module. */
  readonly inShapes: readonly (readonly number[])[];
}

/**
 * Per-layer power-method estimates for every SLL conv (params with `kernel`) and SLL dense
 * (params with `weight` and `q`) module, as the reference's compute_lip.py (which uses 32×32
 * inputs for convs; pass `convSize` to do the same, default: the network's own size).
 *
 * @example
 * ```ts
 * import { lipschitzNetwork, randomKey, scope } from "@sll/sll";
 * const net = lipschitzNetwork({ inputShape: [1, 8, 8], numClasses: 3, nConv: 1, nDense: 1,
 *   width: 2, convInnerDim: 2, denseInnerDim: 4, mean: [0] });
 * const params = net.init(randomKey(0)).params;
 * for (const r of await lipschitzReport(net, params)) console.log(`${r.name}: ${r.estimate}`);
 * ```
 */
export async function lipschitzReport(
  model: LayeredModel,
  params: readonly unknown[],
  options: PowerOptions & { convSize?: number } = {},
): Promise<LipschitzRow[]> {
  const rows: LipschitzRow[] = [];
  for (let i = 0; i < model.layers.length; i++) {
    const p = params[i] as Record<string, Tensor>;
    const isConv = p && "kernel" in p;
    const isDense = p && "weight" in p && "q" in p;
    if (!isConv && !isDense) continue;
    let shape = [...model.inShapes[i]];
    if (isConv && options.convSize) shape = [shape[0], options.convSize, options.convSize];
    const layer = model.layers[i];
    const [estimate] = await powerMethod((x) => layer.apply(p, x), [1, ...shape], {
      ...options,
      dtype: (isConv ? p.kernel : p.weight).dtype,
    });
    rows.push({
      index: i,
      name: `${isConv ? "SLL Conv" : "SLL Dense"} ${i}`,
      inputShape: shape,
      estimate,
    });
  }
  return rows;
}

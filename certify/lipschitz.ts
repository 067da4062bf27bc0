/**
 * Empirical Lipschitz estimates, all lower bounds of the true constant (up to rounding):
 * `jacobianSpectral` / `estimateLipschitz` — power iteration on JᵀJ of the local Jacobian at given
 * points (Jv by differentiating the linear pullback, so no finite differences); `ascendRatio` —
 * gradient ascent of ‖f(x) − f(y)‖/‖x − y‖ with both endpoints moving; `powerMethod` and
 * `searchRatio` — the two on probe points at several input scales (never only at 0);
 * `lipschitzReport` — one row per layer of any network that exposes its `layers`.
 * Longer than 600 lines because the estimators share private helpers (probe points, pair norms,
 * the Lanczos/Ritz step) that a split into one file per estimator would have to export.
 * @module
 */
import { dispose, keep, scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { activeBackend } from "../tensor/backend.ts";
import { mapTree } from "../tensor/tree.ts";
import { vjp } from "../autodiff/autodiff.ts";
import {
  abs,
  add,
  cast,
  concat,
  div,
  greater,
  log,
  maximum,
  mul,
  norm,
  onesLike,
  reshape,
  slice,
  sqrt,
  sub,
  sum,
  tensor,
  where,
  zerosLike,
} from "../tensor/ops.ts";
import { normal, type PRNGKey, randomKey, split } from "../tensor/random.ts";
import type { DType } from "../kernels/dtype.ts";
import type { Layer, Params } from "../layers/layer.ts";

/** Options of the power iterations. */
export interface PowerOptions {
  /** Iterations (default 50 for estimateLipschitz, 30 per point for powerMethod). */
  iterations?: number;
  /** Stop when every example's estimate moved less than tol, relatively (default 1e-8). */
  tol?: number;
  /** Key of the random start vectors (default randomKey(0)). */
  key?: PRNGKey;
  /**
   * Stop as soon as some example's estimate exceeds this (a search for a violation needs one;
   * default: never).
   */
  stopAbove?: number;
}

function exampleAxes(v: Tensor): number[] {
  return v.shape.map((_, i) => i).slice(1);
}

function perExampleUnit(v: Tensor): Tensor {
  return div(v, maximum(norm(v, exampleAxes(v), true), 1e-300));
}

async function host(t: Tensor): Promise<number[]> {
  const d = Array.from(await t.data());
  t.dispose();
  return d;
}

/** What {@linkcode jacobianSpectral} returns. */
export interface JacobianSpectral {
  /** Per example: ‖J v‖ for the final unit v (a lower bound of σ₁(J) at that point). */
  norms: number[];
  /** The final unit vectors v, shaped like x (kept: the caller disposes them). */
  directions: Tensor;
}

/** Top eigenpair of a small symmetric matrix (cyclic Jacobi rotations). */
function topEigen(a: number[][]): { value: number; vector: number[] } {
  const n = a.length;
  const m = a.map((r) => [...r]);
  const v: number[][] = a.map((_, i) => a.map((_, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0, all = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        all += m[i][j] * m[i][j];
        if (i !== j) off += m[i][j] * m[i][j];
      }
    }
    if (!(off > 1e-30 * all)) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (m[p][q] === 0) continue;
        const theta = (m[q][q] - m[p][p]) / (2 * m[p][q]);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const kp = m[k][p], kq = m[k][q];
          m[k][p] = c * kp - s * kq;
          m[k][q] = s * kp + c * kq;
        }
        for (let k = 0; k < n; k++) {
          const pk = m[p][k], qk = m[q][k];
          m[p][k] = c * pk - s * qk;
          m[q][k] = s * pk + c * qk;
        }
        for (let k = 0; k < n; k++) {
          const kp = v[k][p], kq = v[k][q];
          v[k][p] = c * kp - s * kq;
          v[k][q] = s * kp + c * kq;
        }
      }
    }
  }
  let best = 0;
  for (let i = 1; i < n; i++) if (m[i][i] > m[best][best]) best = i;
  return { value: m[best][best], vector: v.map((r) => r[best]) };
}

/** Per-example top Ritz pairs of the Lanczos tridiagonals (α [k][B], β [k][B]). */
function ritz(
  alpha: number[][],
  beta: number[][],
  b: number,
): { value: number; vector: number[] }[] {
  const k = alpha.length;
  return Array.from({ length: b }, (_, e) => {
    const t = Array.from(
      { length: k },
      (_, i) =>
        Array.from(
          { length: k },
          (_, j) => i === j ? alpha[i][e] : j === i + 1 ? beta[i][e] : i === j + 1 ? beta[j][e] : 0,
        ),
    );
    if (t.some((r) => r.some((x) => !Number.isFinite(x)))) {
      return { value: NaN, vector: t.map((_, i) => (i === 0 ? 1 : 0)) };
    }
    return topEigen(t);
  });
}

/**
 * The local Jacobian's spectral norm at every example of the batch `x` (the Jacobian of a
 * per-example map is block-diagonal, so each example has its own iteration): the power iteration
 * on JᵀJ accelerated by Lanczos (the Krylov space of the power iteration, with full
 * reorthogonalisation, so a clustered top of the spectrum — convolutions — converges in tens of
 * steps, not thousands). Jᵀu by vjp, Jv by differentiating the linear pullback (a jvp through a
 * double vjp). Runs in chunks of 2, 2, then 8 steps per memory scope and stops when every top Ritz
 * value has settled to `tol` (or one exceeds `stopAbove`). Returns ‖Jv‖ for the top Ritz vector v of each example.
 *
 * @example
 * ```ts
 * import { dispose, jacobianSpectral, matmul, normal, randomKey, tensor } from "@sll/sll";
 * const w = tensor([[3, 0], [0, 1]]);
 * const r = await jacobianSpectral((x) => matmul(x, w), normal(randomKey(0), [2, 2]));
 * console.log(r.norms); // ≈ [3, 3]
 * dispose(r.directions);
 * ```
 */
export async function jacobianSpectral(
  f: (x: Tensor) => Tensor,
  x: Tensor,
  options: PowerOptions = {},
): Promise<JacobianSpectral> {
  const steps = Math.max(options.iterations ?? 50, 1);
  const tol = options.tol ?? 1e-8;
  const b = x.shape[0];
  const axes = exampleAxes(x);
  const dot = (u: Tensor, v: Tensor): Tensor => sum(mul(u, v), axes, true);
  // the Lanczos basis as one stack [k, B, ...] so reorthogonalising is a few ops, not k
  let stack = scope(() =>
    keep(reshape(
      perExampleUnit(normal(options.key ?? randomKey(0), x.shape, x.dtype)),
      [1, ...x.shape],
    ))
  );
  const alphas: Tensor[] = [], betas: Tensor[] = [];
  const row = (t: Tensor): Tensor => reshape(t, [1, b]);
  const featureAxes = axes.map((a) => a + 1);
  let prev: number[] | null = null;
  let top: { value: number; vector: number[] }[] = [];
  try {
    while (alphas.length < steps) {
      // first looks after 2 and 4 steps (a gross violation shows by then), then chunks of 8
      const n = Math.min(alphas.length < 4 ? 2 : 8, steps - alphas.length);
      const [nextStack, newA, newB] = scope(() => {
        const [y, pb] = vjp(f, x);
        // Jv = d/du ⟨Jᵀu, v⟩: differentiate the (linear) pullback at u = 0 with cotangent v.
        const [, pb2] = vjp((u: Tensor) => pb(u)[0], zerosLike(y));
        let q = stack;
        const a: Tensor[] = [], bt: Tensor[] = [];
        for (let s = 0; s < n; s++) {
          const k = q.shape[0];
          const qj = reshape(slice(q, [k - 1, ...x.shape.map(() => 0)], [1, ...x.shape]), x.shape);
          let w = pb(pb2(qj)[0])[0]; // JᵀJ q_j
          const alpha = dot(w, qj);
          // w ⟂ every basis vector (this removes α q_j and β q_{j−1}); twice is enough
          for (let r = 0; r < 2; r++) {
            const c = sum(mul(q, reshape(w, [1, ...x.shape])), featureAxes, true);
            w = sub(w, sum(mul(c, q), 0));
          }
          const beta = norm(w, axes, true);
          // breakdown (an invariant subspace found): continue with 0, which adds nothing
          const ok = greater(beta, mul(add(abs(alpha), 1e-300), 1e-10));
          const next = where(ok, div(w, where(ok, beta, 1)), 0);
          q = concat([q, reshape(next, [1, ...x.shape])], 0);
          a.push(alpha);
          bt.push(where(ok, beta, 0));
        }
        return keep([q, a, bt]);
      });
      stack.dispose();
      stack = nextStack;
      alphas.push(...newA);
      betas.push(...newB);
      const [ah, bh] = await Promise.all(
        [alphas, betas].map(async (ts) => {
          const t = scope(() => concat(ts.map(row), 0));
          const d = await host(t);
          return ts.map((_, i) => d.slice(i * b, (i + 1) * b));
        }),
      );
      top = ritz(ah, bh, b);
      const values = top.map((r) => r.value);
      const settled = prev !== null &&
        values.every((v, i) => Math.abs(v - prev![i]) <= tol * Math.max(Math.abs(v), 1e-300));
      prev = values;
      if (settled) break;
      const above = options.stopAbove;
      if (above !== undefined && values.some((v) => Math.sqrt(v) > above)) break;
    }
    // the top Ritz vector per example, and ‖J v‖ measured for it
    const k = alphas.length;
    const [v, jvNorm] = scope(() => {
      // coefficients [k, B, 1, …] of the Ritz vectors in the basis
      const c = tensor(Array.from({ length: k }, (_, j) => top.map((r) => r.vector[j])).flat(), {
        shape: [k, b, ...axes.map(() => 1)],
        dtype: x.dtype,
      });
      const basis = slice(stack, stack.shape.map(() => 0), [k, ...x.shape]);
      const unit = perExampleUnit(sum(mul(basis, c), 0));
      const [y, pb] = vjp(f, x);
      const [, pb2] = vjp((u: Tensor) => pb(u)[0], zerosLike(y));
      const jv = pb2(unit)[0];
      return keep([unit, norm(jv, exampleAxes(jv))]);
    });
    return { norms: await host(jvNorm), directions: v };
  } finally {
    for (const t of [stack, ...alphas, ...betas]) t.dispose();
  }
}

/**
 * Largest singular value of the Jacobian of `f` at `x`, by power iteration on JᵀJ, one
 * independent iteration per example of the batch. Returns the per-example estimates (lower bounds
 * of the local Lipschitz constant; ≤ 1 for a 1-Lipschitz f).
 *
 * @example
 * ```ts
 * import { estimateLipschitz, matmul, normal, randomKey, tensor } from "@sll/sll";
 * const w = tensor([[3, 0], [0, 1]]);
 * const [s] = await estimateLipschitz((x) => matmul(x, w), normal(randomKey(0), [1, 2])); // ≈ 3
 * ```
 */
export async function estimateLipschitz(
  f: (x: Tensor) => Tensor,
  x: Tensor,
  options: PowerOptions = {},
): Promise<number[]> {
  const r = await jacobianSpectral(f, x, options);
  r.directions.dispose();
  return r.norms;
}

/** Per-example norms of a batch of pairs, as read by {@linkcode pairNorms}. */
export interface PairNorms {
  /** ‖f(x) − f(y)‖ per example. */
  out: number[];
  /** ‖x − y‖ per example. */
  in: number[];
  /** ‖f(x)‖ + ‖f(y)‖ + ‖x‖ + ‖y‖ per example (the magnitudes rounding is relative to). */
  scale: number[];
  /** ‖x‖ per example. */
  x: number[];
}

/** [5, B]: ‖fx − fy‖, ‖x − y‖, ‖fx‖ + ‖fy‖ + ‖x‖ + ‖y‖, ‖x‖ … per example. */
function normsTensor(x: Tensor, y: Tensor, fx: Tensor, fy: Tensor): Tensor {
  const ax = exampleAxes(x), ao = exampleAxes(fx);
  const b = x.shape[0];
  const nx = norm(x, ax), ny = norm(y, ax);
  const scale = add(add(norm(fx, ao), norm(fy, ao)), add(nx, ny));
  return concat(
    [norm(sub(fx, fy), ao), norm(sub(x, y), ax), scale, nx].map((t) => reshape(t, [1, b])),
  );
}

function splitNorms(d: number[], b: number): PairNorms {
  return {
    out: d.slice(0, b),
    in: d.slice(b, 2 * b),
    scale: d.slice(2 * b, 3 * b),
    x: d.slice(3 * b, 4 * b),
  };
}

/** f on x and y in one call (one batch of 2B): layers see the same batch shapes either way. */
function pairApply(f: (x: Tensor) => Tensor, x: Tensor, y: Tensor): [Tensor, Tensor] {
  const b = x.shape[0];
  const out = f(concat([x, y], 0));
  const rest = out.shape.slice(1);
  return [
    slice(out, out.shape.map(() => 0), [b, ...rest]),
    slice(out, [b, ...rest.map(() => 0)], [b, ...rest]),
  ];
}

/**
 * Evaluates `f` on the pairs (x_i, y_i) of two batches and reads the per-example norms the
 * Lipschitz check needs.
 *
 * @example
 * ```ts
 * import { mul, normal, pairNorms, randomKey } from "@sll/sll";
 * const x = normal(randomKey(0), [3, 4]), y = normal(randomKey(1), [3, 4]);
 * const n = await pairNorms((z) => mul(z, 2), x, y); // n.out[i] = 2·n.in[i]
 * ```
 */
export async function pairNorms(
  f: (x: Tensor) => Tensor,
  x: Tensor,
  y: Tensor,
): Promise<PairNorms> {
  const t = scope(() => {
    const [fx, fy] = pairApply(f, x, y);
    return normsTensor(x, y, fx, fy);
  });
  return splitNorms(await host(t), x.shape[0]);
}

/** Options of {@linkcode ascendRatio}. */
export interface AscentOptions {
  /** Gradient steps (default 12). */
  steps?: number;
  /** First step length, relative to ‖x − y‖ (default 0.5; multiplied by 0.8 per step). */
  lr?: number;
}

/** What {@linkcode ascendRatio} returns: the best pair found per example. */
export interface AscentResult {
  /** Best ‖f(x) − f(y)‖/‖x − y‖ per example over all steps. */
  ratios: number[];
  /** Norms of the best pair per example. */
  norms: PairNorms;
  /** The best pairs (kept: the caller disposes them). */
  x: Tensor;
  /** See `x`. */
  y: Tensor;
}

/**
 * Gradient ascent of log(‖f(x) − f(y)‖/‖x − y‖) over both endpoints of every pair of the batch
 * (our reverse-mode autodiff), with per-example normalised steps of length lr·‖x − y‖, so close
 * and far pairs move at their own scale. Keeps the best pair seen per example.
 *
 * @example
 * ```ts
 * import { ascendRatio, dispose, matmul, normal, randomKey, tensor } from "@sll/sll";
 * const w = tensor([[3, 0], [0, 1]]);
 * const x = normal(randomKey(0), [2, 2]), y = normal(randomKey(1), [2, 2]);
 * const r = await ascendRatio((z) => matmul(z, w), x, y); // ratios → 3
 * dispose([r.x, r.y]);
 * ```
 */
export async function ascendRatio(
  f: (x: Tensor) => Tensor,
  x0: Tensor,
  y0: Tensor,
  options: AscentOptions = {},
): Promise<AscentResult> {
  const steps = options.steps ?? 12;
  const lr0 = options.lr ?? 0.5;
  const b = x0.shape[0];
  const tiny = x0.dtype === "float64" ? 1e-280 : 1e-30;
  let x = scope(() => keep(add(x0, 0)));
  let y = scope(() => keep(add(y0, 0)));
  let bestX = scope(() => keep(add(x0, 0)));
  let bestY = scope(() => keep(add(y0, 0)));
  const ratios = new Array<number>(b).fill(-Infinity);
  let best: PairNorms = { out: [], in: [], scale: [], x: [] };
  const swap = (t: Tensor, next: Tensor): Tensor => {
    t.dispose();
    return next;
  };
  try {
    for (let step = 0; step <= steps; step++) {
      const last = step === steps;
      const lr = lr0 * 0.8 ** step;
      const [stats, nx, ny] = scope(() => {
        let fxy: [Tensor, Tensor] | null = null;
        const objective = (p: { x: Tensor; y: Tensor }): Tensor => {
          fxy = pairApply(f, p.x, p.y);
          const ao = exampleAxes(fxy[0]), ai = exampleAxes(p.x);
          const d = sub(fxy[0], fxy[1]), e = sub(p.x, p.y);
          return sub(
            log(maximum(sum(mul(d, d), ao), tiny)),
            log(maximum(sum(mul(e, e), ai), tiny)),
          );
        };
        if (last) {
          objective({ x, y });
          return keep([normsTensor(x, y, fxy![0], fxy![1]), x, y]);
        }
        const [obj, pb] = vjp(objective, { x, y });
        const [g] = pb(onesLike(obj));
        const ai = exampleAxes(x);
        const gn = sqrt(add(sum(mul(g.x, g.x), ai, true), sum(mul(g.y, g.y), ai, true)));
        const ok = greater(gn, 0); // a flat or non-finite gradient leaves the pair where it is
        const len = mul(norm(sub(x, y), ai, true), lr);
        const stepOf = (gv: Tensor): Tensor => where(ok, div(mul(gv, len), where(ok, gn, 1)), 0);
        return keep([
          normsTensor(x, y, fxy![0], fxy![1]),
          add(x, stepOf(g.x)),
          add(y, stepOf(g.y)),
        ]);
      });
      const n = splitNorms(await host(stats), b);
      const improved = n.out.map((o, i) => {
        const r = o / n.in[i];
        // a non-finite output is kept as the worst case (it must be reported)
        const better = !Number.isFinite(o) ? Number.isFinite(ratios[i]) : r > ratios[i];
        if (better) ratios[i] = Number.isFinite(o) ? r : NaN;
        return better;
      });
      if (improved.some((v) => v)) {
        const shape = [b, ...x.shape.slice(1).map(() => 1)];
        const pick = (cur: Tensor, old: Tensor): Tensor =>
          scope(() => {
            const m = greater(tensor(improved.map((v) => (v ? 1 : 0)), { shape }), 0);
            return keep(where(m, cur, old));
          });
        bestX = swap(bestX, pick(x, bestX));
        bestY = swap(bestY, pick(y, bestY));
        best = {
          out: n.out.map((v, i) => (improved[i] ? v : best.out[i])),
          in: n.in.map((v, i) => (improved[i] ? v : best.in[i])),
          scale: n.scale.map((v, i) => (improved[i] ? v : best.scale[i])),
          x: n.x.map((v, i) => (improved[i] ? v : best.x[i])),
        };
      }
      if (last) {
        // x, y were returned as they are (nx === x): nothing new to swap in
        continue;
      }
      x = swap(x, nx);
      y = swap(y, ny);
    }
  } catch (e) {
    for (const t of new Set([x, y, bestX, bestY])) t.dispose();
    throw e;
  }
  for (const t of new Set([x, y])) if (t !== bestX && t !== bestY) t.dispose();
  return { ratios, norms: best, x: bestX, y: bestY };
}

/** Options of {@linkcode powerMethod} and {@linkcode searchRatio}. */
export interface ProbeOptions extends PowerOptions {
  /**
   * dtype of the probe points (default float32; `lipschitzReport`: float64 where the backend has
   * it, the layers' parameters cast to it, so rounding does not blur the estimates).
   */
  dtype?: DType;
  /**
   * Per-entry standard deviations of the probe points (default 0, 0.1, 1, 10, 100: a point at
   * 0 as the reference, and points far from it, where violations may hide).
   */
  scales?: readonly number[];
  /** Gradient steps of {@linkcode searchRatio} (default 12). */
  steps?: number;
}

function checkInShape(op: string, inShape: readonly number[]): void {
  if (!Array.isArray(inShape) || !inShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new TypeError(
      `${op}: inShape must be the per-example input shape (positive integers, no batch axis, as Layer.init takes), got ${
        JSON.stringify(inShape)
      }`,
    );
  }
}

function probePoints(
  key: PRNGKey,
  inShape: readonly number[],
  scales: readonly number[],
  dtype: DType,
): Tensor {
  return scope(() => {
    const s = tensor(scales, { shape: [scales.length, ...inShape.map(() => 1)], dtype });
    return mul(normal(key, [scales.length, ...inShape], dtype), s);
  });
}

/**
 * Power-method estimate of the Lipschitz constant of `f`: the largest Jacobian spectral norm
 * (power iteration on JᵀJ) over probe points at several scales (0 as the reference's
 * compute_lip.py, and points far from 0 — evaluating only f(v) − f(0) misses violations away from
 * 0). `inShape` is the per-example input shape WITHOUT the batch axis, exactly as `Layer.init`
 * takes it. A lower bound of the true constant (up to rounding).
 *
 * @example
 * ```ts
 * import { matmul, powerMethod, tensor } from "@sll/sll";
 * const w = tensor([[3, 0], [0, 1]]);
 * const s = await powerMethod((x) => matmul(x, w), [2]); // ≈ 3
 * ```
 */
export async function powerMethod(
  f: (x: Tensor) => Tensor,
  inShape: readonly number[],
  options: ProbeOptions = {},
): Promise<number> {
  checkInShape("powerMethod", inShape);
  const [kx, kv] = split(options.key ?? randomKey(0), 2);
  const x = probePoints(
    kx,
    inShape,
    options.scales ?? [0, 0.1, 1, 10, 100],
    options.dtype ?? "float32",
  );
  try {
    const r = await jacobianSpectral(f, x, {
      ...options,
      key: kv,
      iterations: options.iterations ?? 30,
    });
    r.directions.dispose();
    return Math.max(...r.norms.map((v) => (Number.isFinite(v) ? v : Infinity)));
  } finally {
    x.dispose();
  }
}

/**
 * Gradient-search estimate of the Lipschitz constant of `f`: the largest ‖f(x) − f(y)‖/‖x − y‖
 * found by {@linkcode ascendRatio} from random pairs (close and far apart) and from pairs along
 * the top Jacobian direction, at probe points of several scales. `inShape` as `Layer.init`
 * (no batch axis). A lower bound of the true constant (up to rounding): the ratio of a real pair.
 *
 * @example
 * ```ts
 * import { matmul, searchRatio, tensor } from "@sll/sll";
 * const w = tensor([[3, 0], [0, 1]]);
 * const s = await searchRatio((x) => matmul(x, w), [2]); // ≈ 3
 * ```
 */
export async function searchRatio(
  f: (x: Tensor) => Tensor,
  inShape: readonly number[],
  options: ProbeOptions = {},
): Promise<number> {
  checkInShape("searchRatio", inShape);
  const dtype = options.dtype ?? "float32";
  const scales = (options.scales ?? [0, 0.1, 1, 10, 100]).map((s) => Math.max(s, 1e-2));
  const [kx, kv, kd] = split(options.key ?? randomKey(0), 3);
  const x = probePoints(kx, inShape, scales, dtype);
  let starts: [Tensor, Tensor] | null = null;
  try {
    const jac = await jacobianSpectral(f, x, { key: kv, iterations: options.iterations ?? 30 });
    starts = scope(() => {
      const s = tensor(scales, { shape: [scales.length, ...inShape.map(() => 1)], dtype });
      const rel = dtype === "float64" ? 1e-3 : 1e-2;
      const along = add(x, mul(jac.directions, mul(s, rel)));
      const random = add(x, mul(normal(kd, x.shape, dtype), s));
      return keep([concat([x, x], 0), concat([along, random], 0)]) as [Tensor, Tensor];
    });
    jac.directions.dispose();
    const r = await ascendRatio(f, starts[0], starts[1], { steps: options.steps });
    r.x.dispose();
    r.y.dispose();
    return Math.max(...r.ratios.map((v) => (Number.isFinite(v) ? v : Infinity)));
  } finally {
    x.dispose();
    if (starts) { for (const t of starts) t.dispose(); }
  }
}

/** One row of {@linkcode lipschitzReport}: one layer of the network. */
export interface LipschitzRow {
  /** Position of the layer: "3", or "3.1" for layer 1 of a nested network at position 3. */
  path: string;
  /** Index among the top-level layers (the reference's "module.model.model.{index}"). */
  index: number;
  /** The layer's `name` when it has one, else "layer {path}". */
  name: string;
  /** Shapes of the parameter leaves ("kernel [5, 8, 3, 3]"), "" when it has none. */
  params: string;
  /** Per-example input shape used (no batch axis, as `Layer.init`). */
  inputShape: number[];
  /** The power method's estimate: largest Jacobian spectral norm over the probe points. */
  estimate: number;
  /** The gradient search's estimate: largest ‖f(x) − f(y)‖/‖x − y‖ of a pair found. */
  search: number;
}

/** A network {@linkcode lipschitzReport} can walk: any layer that exposes its `layers`. */
export interface LayeredModel {
  /** The composed layers, in order; `params[i]` belongs to `layers[i]`. */
  // deno-lint-ignore no-explicit-any
  readonly layers: readonly Layer<any>[];
  /** Optional per-example input shape of each layer (a `lipschitzNetwork` has them). */
  readonly inShapes?: readonly (readonly number[])[];
  /** Optional configuration carrying the network's `inputShape` (a `lipschitzNetwork`'s). */
  readonly config?: { readonly inputShape?: readonly number[] };
}

/** Options of {@linkcode lipschitzReport}. */
export interface ReportOptions extends ProbeOptions {
  /**
   * Per-example input shape of the network, without the batch axis, exactly as its `init` takes
   * it (default: `model.config.inputShape`, else `model.inShapes[0]`).
   */
  inShape?: readonly number[];
  /** Spatial size used for layers with image inputs [C, H, W] (compute_lip.py uses 32). */
  convSize?: number;
}

function describeParams(p: unknown): string {
  const parts: string[] = [];
  const walk = (v: unknown, path: string): void => {
    if (v !== null && typeof v === "object" && "shape" in v && "dtype" in v) {
      parts.push(`${path} [${(v as Tensor).shape.join(", ")}]`);
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, path ? `${path}.${i}` : `${i}`));
    else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k);
    }
  };
  walk(p, "");
  return parts.join(", ");
}

// deno-lint-ignore no-explicit-any
function outShapeOf(layer: Layer<any>, inShape: readonly number[]): number[] {
  // deno-lint-ignore no-explicit-any
  const s = (layer as any).shapes;
  if (typeof s === "function") return [...s.call(layer, inShape).outShape];
  return scope(() => [...layer.init(randomKey(0), inShape).outShape]); // init's tensors freed
}

/**
 * One row per layer of a network that exposes its `layers` (a `serial`, a `lipschitzNetwork`,
 * nested ones expanded): every layer, chosen by structure, never by parameter names, with the
 * power method's estimate (Jacobian at probe points of several scales) beside the gradient
 * search's (the best pair ratio found). Input shapes follow `Layer.init` (no batch axis); each
 * layer's input shape is its predecessor's output shape (`shapes` or `init`).
 *
 * @example
 * ```ts
 * import { lipschitzNetwork, lipschitzReport, randomKey, scope } from "@sll/sll";
 * const net = lipschitzNetwork({ inputShape: [1, 8, 8], numClasses: 3, nConv: 1, nDense: 1,
 *   width: 2, convInnerDim: 2, denseInnerDim: 4, mean: [0] });
 * const params = net.init(randomKey(0)).params;
 * for (const r of await lipschitzReport(net, params, { iterations: 5, steps: 2 })) {
 *   console.log(`${r.name}: ${r.estimate} ${r.search}`);
 * }
 * ```
 */
export async function lipschitzReport(
  model: LayeredModel,
  params: readonly unknown[],
  options: ReportOptions = {},
): Promise<LipschitzRow[]> {
  const shapes = Array.isArray(model.inShapes) ? model.inShapes : undefined;
  const inShape = options.inShape ?? model.config?.inputShape ?? shapes?.[0];
  if (inShape === undefined) {
    throw new TypeError(
      "lipschitzReport: pass options.inShape, the network's per-example input shape as its init takes it (no batch axis)",
    );
  }
  checkInShape("lipschitzReport", inShape);
  if (!model || !Array.isArray(model.layers)) {
    throw new TypeError(
      "lipschitzReport: the model must expose its layers (a serial or a lipschitzNetwork)",
    );
  }
  const dtype = options.dtype ??
    (activeBackend().dtypes.includes("float64") ? "float64" : "float32");
  const rows: LipschitzRow[] = [];
  const walk = async (
    // deno-lint-ignore no-explicit-any
    layers: readonly Layer<any>[],
    ps: readonly unknown[],
    shape: readonly number[],
    prefix: string,
    top: number | null,
  ): Promise<number[]> => {
    if (!Array.isArray(ps) || ps.length !== layers.length) {
      throw new TypeError(
        `lipschitzReport: ${layers.length} layers${
          prefix ? ` in ${prefix}` : ""
        } need ${layers.length} parameter entries, got ${
          Array.isArray(ps) ? ps.length : typeof ps
        }`,
      );
    }
    let cur = [...shape];
    for (let i = 0; i < layers.length; i++) {
      const layer = layers[i];
      const path = prefix ? `${prefix}.${i}` : `${i}`;
      const index = top ?? i;
      // deno-lint-ignore no-explicit-any
      const inner = (layer as any).layers;
      if (
        Array.isArray(inner) && Array.isArray(ps[i]) && (ps[i] as unknown[]).length === inner.length
      ) {
        cur = await walk(inner, ps[i] as unknown[], cur, path, index);
        continue;
      }
      let probe = cur;
      if (options.convSize && cur.length === 3) {
        probe = [cur[0], options.convSize, options.convSize];
      }
      // estimates of the map these weights define: in float64 where the backend has it
      const p = scope(() =>
        keep(mapTree(ps[i], (t) => (t.dtype === dtype ? add(t, 0) : cast(t, dtype))))
      );
      let estimate: number, search: number;
      try {
        const f = (x: Tensor): Tensor => layer.apply(p as Params, x);
        estimate = await powerMethod(f, probe, { ...options, dtype });
        search = await searchRatio(f, probe, { ...options, dtype });
      } finally {
        dispose(p);
      }
      // deno-lint-ignore no-explicit-any
      const name = typeof (layer as any).name === "string" ? (layer as any).name : `layer ${path}`;
      rows.push({
        path,
        index,
        name,
        params: describeParams(ps[i]),
        inputShape: [...probe],
        estimate,
        search,
      });
      cur = shapes && prefix === "" && i + 1 < shapes.length
        ? [...shapes[i + 1]]
        : outShapeOf(layer, cur);
    }
    return cur;
  };
  await walk(model.layers, params, inShape, "", null);
  return rows;
}

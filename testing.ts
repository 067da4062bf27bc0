/**
 * Testing helpers for users and our suites: `isOneLipschitz`, a seeded fast-check property that
 * searches for a pair with ‖f(x) − f(y)‖ > ‖x − y‖ as an adversary would — random pairs, the
 * local Jacobian's spectral norm by power iteration, gradient ascent on the ratio — at input
 * scales from 1e-2 to 1e3, and, when the layer or the call supplies a certified bound, proves the
 * constant ≤ 1 for the drawn parameters. Float64 on the CPU backend, float32 on WebGPU.
 * @module
 */
import fc from "fast-check";
import type { DType } from "./kernels/dtype.ts";
import { keep, scope } from "./tensor/scope.ts";
import type { Tensor } from "./tensor/tensor.ts";
import { activeBackend, getBackend } from "./tensor/backend.ts";
import { add, cast, concat, mul, normal, randomKey, slice, split, tensor } from "./tensor/mod.ts";
import { mapTree } from "./tensor/tree.ts";
import type { Layer } from "./layers/layer.ts";
import { ascendRatio, jacobianSpectral, type PairNorms, pairNorms } from "./certify/lipschitz.ts";

export { convSpectralBound, denseSpectralBound } from "./certify/gram.ts";

/**
 * A certified upper bound of a layer's Lipschitz constant for given parameters (e.g. from
 * {@linkcode denseSpectralBound} or {@linkcode convSpectralBound} of its linear part). It must
 * never be below the truth: `isOneLipschitz` reports a pair that beats it as an unsound bound.
 */
export type LipschitzBound<P> = (params: P, inShape: readonly number[]) => number | Promise<number>;

/** A layer that opts in to proofs: it carries a certified bound of its own constant. */
export interface BoundedLayer<P> extends Layer<P> {
  /** A certified upper bound of the Lipschitz constant for `params` on inputs of `inShape`. */
  lipschitzBound: LipschitzBound<P>;
}

/** Options of {@linkcode isOneLipschitz}. */
export interface OneLipschitzOptions<P> {
  /** Per-example input shape, exactly as `Layer.init` takes it (no batch axis). */
  inShape: readonly number[];
  /** Points per run (default: one per input scale, 6). */
  batch?: number;
  /** fast-check runs (default 8; the first uses the parameters as `init` draws them). */
  numRuns?: number;
  /** fast-check seed (default: random; printed in the error on failure). */
  seed?: number;
  /**
   * dtype the parameters and inputs are cast to (default float64 on the CPU backend — float32,
   * said in the summary, for a layer that mixes its own float32 constants into the computation —
   * and float32 on WebGPU, which has no float64).
   */
  dtype?: DType;
  /** Factors drawn per parameter leaf (default 1e-3, 0.1, 1, 10, 1e3). */
  scales?: readonly number[];
  /** Factors drawn for leaves named `q` (default 0, 0.1, 1, 5, 10). */
  qScales?: readonly number[];
  /**
   * Per-entry standard deviations of the points x (default 1e-2, 0.1, 1, 10, 100, 1e3, each
   * run jittered by a factor in [10^−½, 10^½]): violations may exist only far from 0.
   */
  inputScales?: readonly number[];
  /** Scales of y − x relative to x's (default 1e-3, 0.1, 1, 10): close and far pairs. */
  distances?: readonly number[];
  /** Power iterations per point for the local Jacobian's spectral norm (default 24). */
  powerIterations?: number;
  /** Gradient-ascent steps on the ratio (default 10). */
  ascentSteps?: number;
  /** Applied to the drawn (scaled) parameters, e.g. a CPL layer's `refresh(p, 200)`. */
  prepare?: (params: P) => P;
  /**
   * A certified bound of the layer's constant for each drawn parameter set; default: the
   * layer's own `lipschitzBound` ({@linkcode BoundedLayer}) when it has one. When every run's
   * bound is ≤ 1 + tolerance the verdict is "proved".
   */
  bound?: LipschitzBound<P>;
  /** Relative slack on the ratio (default 1e-5). */
  tolerance?: number;
  /**
   * Rounding slack relative to the magnitudes involved, ‖x‖ + ‖y‖ + ‖f(x)‖ + ‖f(y)‖ (default
   * 128 units of roundoff of the dtype: 1.5e-5 in float32, 2.8e-14 in float64).
   */
  atol?: number;
  /** Name used in messages. */
  name?: string;
}

/** Which part of the search found a counterexample. */
export type SearchKind = "random pairs" | "jacobian power iteration" | "gradient ascent";

/** A labelled counterexample: everything needed to understand and replay it. */
export interface LipschitzCounterexample {
  /** What failed: a ratio above 1, a non-finite output, or a ratio above a supplied bound. */
  kind: "violation" | "non-finite output" | "unsound bound";
  /** ‖f(x) − f(y)‖ / ‖x − y‖ of the pair (NaN for a non-finite output). */
  ratio: number;
  /** The search that found it. */
  search: SearchKind;
  /** fast-check seed of the call (pass it as `seed` to replay). */
  seed: number;
  /** Run number (1-based) within the call. */
  run: number;
  /** Factor applied to each parameter leaf, by tree path. */
  paramScales: Record<string, number>;
  /** Per-entry standard deviation the point was drawn with. */
  inputScale: number;
  /** ‖x‖. */
  inputNorm: number;
  /** ‖x − y‖. */
  distance: number;
  /** Local Jacobian spectral norm at the point, when the power iteration ran. */
  localNorm?: number;
  /** The certified bound supplied for these parameters, if any. */
  bound?: number;
  /** dtype of the evaluation. */
  dtype: DType;
  /** The pair, flattened (per-example shape `inShape`). */
  x: number[];
  /** See `x`. */
  y: number[];
}

/** Thrown by {@linkcode isOneLipschitz} when it finds a counterexample. */
export class LipschitzViolation extends Error {
  /** The labelled counterexample. */
  readonly counterexample: LipschitzCounterexample;
  /** Largest ratio found by the search before it stopped. */
  readonly worstRatio: number;
  /** Builds the error; `cause` keeps fast-check's error. */
  constructor(
    message: string,
    counterexample: LipschitzCounterexample,
    worstRatio: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "LipschitzViolation";
    this.counterexample = counterexample;
    this.worstRatio = worstRatio;
  }
}

/** What a passing {@linkcode isOneLipschitz} resolves to. */
export interface OneLipschitzReport {
  /**
   * "proved": a certified bound ≤ 1 + tolerance held for every drawn parameter set (and no pair
   * beat it); "no counterexample found": the search found none, which is evidence, not proof.
   */
  verdict: "proved" | "no counterexample found";
  /** Largest certified bound over the runs (null without a bound). */
  bound: number | null;
  /**
   * Largest (‖f(x) − f(y)‖ − rounding slack)/‖x − y‖ of any pair tried: the ratio the check
   * compares with 1 + tolerance (a raw float32 ratio of a very close pair is mostly rounding).
   */
  worstRatio: number;
  /** Largest local Jacobian spectral-norm estimate at any point. */
  worstLocal: number;
  /** Runs made. */
  runs: number;
  /** fast-check seed. */
  seed: number;
  /** dtype used. */
  dtype: DType;
  /** One line saying all of the above. */
  summary: string;
}

/** A failure of the layer itself (an exception in init/apply/prepare/bound), carried out of fc. */
class LayerFailure extends Error {
  constructor(readonly stage: string, readonly original: unknown, readonly detail: string) {
    super(`${stage}: ${original instanceof Error ? original.message : String(original)}`);
  }
}

const fmtNum = (v: number): string =>
  !Number.isFinite(v)
    ? String(v)
    : Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3 && v !== 0
    ? v.toExponential(3)
    : Number(v.toPrecision(6)).toString();

async function exampleValues(t: Tensor, i: number): Promise<number[]> {
  const s = scope(() => slice(t, [i, ...t.shape.slice(1).map(() => 0)], [1, ...t.shape.slice(1)]));
  const d = Array.from(await s.data());
  s.dispose();
  return d;
}

/**
 * Property check that `layer` is 1-Lipschitz in the L2 norm, searching like an adversary. Each
 * fast-check run draws parameters (each leaf times a drawn factor, `q` leaves by their own
 * factors; the first run keeps `init`'s scale) and points at input scales 1e-2 … 1e3, then
 * 1. random pairs (x, y), close and far apart;
 * 2. the local Jacobian's spectral norm at each point by power iteration (vjp, and jvp as the
 *    derivative of the pullback), confirmed by real pairs (x, x + δv) along its top direction;
 * 3. gradient ascent on ‖f(x) − f(y)‖/‖x − y‖ moving both endpoints, from both kinds of pairs;
 * and fails on any pair with ‖f(x) − f(y)‖ > ‖x − y‖·(1 + tolerance) + atol·(‖x‖ + ‖y‖ +
 * ‖f(x)‖ + ‖f(y)‖), or a non-finite output. A certified `bound` (the option, or the layer's own
 * `lipschitzBound`) ≤ 1 + tolerance for every draw turns the verdict into "proved".
 *
 * Rejects with a {@linkcode LipschitzViolation} naming the worst ratio and a labelled
 * counterexample (parameter scales, input scale, distance, seed, search), `cause` = fast-check's
 * error; an exception thrown by the layer is rethrown as an error of the layer (same class, its
 * message, `cause` = the original), never as a violation.
 *
 * @example
 * ```ts
 * import { sllDense } from "@sll/sll";
 * import { isOneLipschitz } from "@sll/sll/testing";
 * const r = await isOneLipschitz(sllDense({ inner: 4 }), { inShape: [6], seed: 1 });
 * console.log(r.summary); // no counterexample found in 8 runs …
 * ```
 *
 * @example A layer that opts in to proofs with a certified bound of its weight
 * ```ts
 * import { aolDense, aolDenseWeight } from "@sll/sll";
 * import { denseSpectralBound, isOneLipschitz } from "@sll/sll/testing";
 * const r = await isOneLipschitz(aolDense({ features: 4 }), {
 *   inShape: [6],
 *   seed: 1,
 *   bound: (p) => denseSpectralBound(aolDenseWeight(p.weight)),
 * });
 * console.log(r.verdict); // "proved"
 * ```
 */
export async function isOneLipschitz<P>(
  layer: Layer<P>,
  options: OneLipschitzOptions<P>,
): Promise<OneLipschitzReport> {
  if (options.dtype === undefined && activeBackend().dtypes.includes("float64")) {
    // The float64 default needs a dtype-generic layer. One that mixes its own float32 constants
    // into the computation cannot run in float64: check it in float32 rather than not at all.
    const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
    try {
      return await checkOneLipschitz(layer, { ...options, seed, dtype: "float64" });
    } catch (e) {
      const cause = (e as Error)?.cause;
      const mixed = !(e instanceof LipschitzViolation) && cause instanceof TypeError &&
        /dtypes differ \(float64 and float32\)|dtypes differ \(float32 and float64\)/.test(
          cause.message,
        );
      if (!mixed) throw e;
      const r = await checkOneLipschitz(layer, { ...options, seed, dtype: "float32" });
      const note = "ran in float32: the layer mixes float32 constants into float64 inputs";
      return { ...r, summary: `${r.summary}; ${note}` };
    }
  }
  return await checkOneLipschitz(layer, options);
}

async function checkOneLipschitz<P>(
  layer: Layer<P>,
  options: OneLipschitzOptions<P>,
): Promise<OneLipschitzReport> {
  const name = options.name ?? "layer";
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const backend = activeBackend();
  const dtype = options.dtype ?? (backend.dtypes.includes("float64") ? "float64" : "float32");
  if (!backend.dtypes.includes(dtype)) {
    throw new TypeError(
      `isOneLipschitz(${name}): the ${getBackend()} backend has no ${dtype} tensors (it stores ${
        backend.dtypes.join(", ")
      }); pass dtype: "float32" or run on the cpu backend for float64`,
    );
  }
  if (
    !Array.isArray(options.inShape) || !options.inShape.every((d) => Number.isInteger(d) && d > 0)
  ) {
    throw new TypeError(
      `isOneLipschitz(${name}): inShape must be the per-example input shape as Layer.init takes it (positive integers, no batch axis), got ${
        JSON.stringify(options.inShape)
      }`,
    );
  }
  const inShape = [...options.inShape];
  const ulp = dtype === "float64" ? 2 ** -53 : 2 ** -24;
  const tol = options.tolerance ?? 1e-5;
  const atol = options.atol ?? 128 * ulp;
  const scales = options.scales ?? [1e-3, 0.1, 1, 10, 1e3];
  const qScales = options.qScales ?? [0, 0.1, 1, 5, 10];
  const inputScales = options.inputScales ?? [1e-2, 0.1, 1, 10, 100, 1e3];
  const distances = options.distances ?? [1e-3, 0.1, 1, 10];
  const batch = options.batch ?? inputScales.length;
  const iterations = options.powerIterations ?? 24;
  const steps = options.ascentSteps ?? 10;
  const numRuns = options.numRuns ?? 8;
  const boundFn = options.bound ?? (layer as Partial<BoundedLayer<P>>).lipschitzBound?.bind(layer);
  // Along the top Jacobian direction: steps from the point's norm down to where rounding (atol)
  // would drown a 1% violation.
  const deltas = dtype === "float64" ? [1e-7, 1e-5, 1e-3, 0.1, 1] : [1e-3, 1e-2, 0.1, 1];

  let run = 0;
  let worstRatio = 0;
  let worstLocal = 0;
  let maxBound: number | null = null;
  let proved = boundFn !== undefined;
  let boundNote = "";

  const prop = fc.asyncProperty(
    fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    fc.array(fc.constantFrom(...scales), { minLength: 8, maxLength: 8 }),
    fc.constantFrom(...qScales),
    fc.nat({ max: 1000 }),
    fc.nat({ max: 1000 }),
    fc.double({ min: -0.5, max: 0.5, noNaN: true }),
    async (keySeed, leafScales, qScale, scaleShift, distShift, jitter) => {
      run++;
      const [kp, kx, ky, kv] = split(randomKey(keySeed), 4);
      const paramScales: Record<string, number> = {};
      const stage = <T>(what: string, fn: () => T, detail = ""): T => {
        try {
          return fn();
        } catch (e) {
          throw e instanceof LayerFailure ? e : new LayerFailure(what, e, detail);
        }
      };
      const init = scope(() =>
        keep(stage("init", () => layer.init(kp, inShape).params, `inShape [${inShape}]`))
      );
      let params: P;
      try {
        params = scope(() => {
          let leaf = 0;
          const scaled = mapTree(init, (t, path) => {
            if (t.dtype === "int32") return t;
            const c = t.dtype === dtype ? t : cast(t, dtype);
            const isQ = path === "q" || path.endsWith(".q");
            const factor = isQ ? qScale : leafScales[leaf++ % leafScales.length];
            paramScales[path || "(root)"] = factor;
            return mul(c, factor);
          });
          return keep(options.prepare ? stage("prepare", () => options.prepare!(scaled)) : scaled);
        });
      } finally {
        const used = new Set<Tensor>();
        if (params!) mapTree(params, (t) => used.add(t));
        mapTree(init, (t) => used.has(t) || t.dispose());
      }
      const pointScales = Array.from(
        { length: batch },
        (_, i) => inputScales[(i + scaleShift) % inputScales.length] * 10 ** jitter,
      );
      const pointDists = pointScales.map((s, i) =>
        s * distances[(i + distShift) % distances.length]
      );
      const owned: Tensor[] = [];
      const own = <T extends Tensor | Tensor[]>(t: T): T => {
        for (const x of Array.isArray(t) ? t : [t]) owned.push(x);
        return t;
      };
      const f = (x: Tensor): Tensor =>
        stage("apply", () => layer.apply(params, x), `input ${dtype} [${x.shape}]`);
      try {
        let bound: number | undefined;
        if (boundFn) {
          bound = await (async () => {
            try {
              return await boundFn(params, inShape);
            } catch (e) {
              throw new LayerFailure("bound", e, "");
            }
          })();
          if (!(bound >= 0)) {
            throw new LayerFailure("bound", new RangeError(`the bound returned ${bound}`), "");
          }
          maxBound = Math.max(maxBound ?? 0, bound);
          if (!(bound <= 1 + tol)) {
            proved = false;
            boundNote ||= `certified bound ${fmtNum(bound)} > 1 at run ${run}: not a proof`;
          }
        }
        const shaped = [batch, ...inShape.map(() => 1)];
        const [x, y] = own(scope(() => {
          const s = tensor(pointScales, { shape: shaped, dtype });
          const d = tensor(pointDists, { shape: shaped, dtype });
          const x0 = mul(normal(kx, [batch, ...inShape], dtype), s);
          return keep([x0, add(x0, mul(normal(ky, [batch, ...inShape], dtype), d))]);
        }));

        // Checks every pair of a batch; throws on the worst offending one.
        const check = async (
          n: PairNorms,
          xs: Tensor,
          ys: Tensor,
          search: SearchKind,
          pointOf: (j: number) => number,
          local?: number[],
        ): Promise<void> => {
          let bad = -1, badExcess = -Infinity, kind: LipschitzCounterexample["kind"] = "violation";
          for (let j = 0; j < n.out.length; j++) {
            const slack = atol * n.scale[j];
            // the ratio net of the rounding slack: what is compared with 1 + tolerance
            const net = (n.out[j] - slack) / n.in[j];
            if (Number.isFinite(net)) worstRatio = Math.max(worstRatio, net);
            if (!Number.isFinite(n.out[j]) || !Number.isFinite(n.scale[j])) {
              bad = j;
              kind = "non-finite output";
              break;
            }
            const excess = n.out[j] - (n.in[j] * (1 + tol) + slack);
            if (excess > 0 && excess > badExcess) {
              bad = j;
              badExcess = excess;
              kind = "violation";
            }
            if (bad < 0 && bound !== undefined) {
              const over = n.out[j] - (n.in[j] * bound * (1 + tol) + slack);
              if (over > 0 && n.in[j] > 0) {
                bad = j;
                kind = "unsound bound";
              }
            }
          }
          if (bad < 0) return;
          const i = pointOf(bad);
          throw new ViolationSignal({
            kind,
            ratio: n.out[bad] / n.in[bad],
            search,
            seed,
            run,
            paramScales,
            inputScale: pointScales[i],
            inputNorm: n.x[bad],
            distance: n.in[bad],
            localNorm: local?.[i],
            bound,
            dtype,
            x: await exampleValues(xs, bad),
            y: await exampleValues(ys, bad),
          });
        };

        // 1. random pairs
        const random = await pairNorms(f, x, y);
        await check(random, x, y, "random pairs", (j) => j);

        // 2. the local Jacobian's spectral norm, confirmed by pairs along its top direction
        // stop early once a point's local norm clearly exceeds 1: the pairs below confirm it
        const jac = await jacobianSpectral(f, x, { key: kv, iterations, stopAbove: 1 + 1e-3 });
        own(jac.directions);
        for (const s of jac.norms) if (Number.isFinite(s)) worstLocal = Math.max(worstLocal, s);
        // pairs (x, x + δv) along the top direction, δ from the point's norm down to rounding
        const alongPairs = (points: number[]): [Tensor, Tensor] =>
          own(scope(() => {
            const lens = deltas.flatMap((r) => points.map((i) => r * Math.max(random.x[i], 1e-2)));
            const l = tensor(lens, {
              shape: [deltas.length * points.length, ...inShape.map(() => 1)],
              dtype,
            });
            const pick = (t: Tensor): Tensor =>
              concat(points.map((i) => slice(t, [i, ...inShape.map(() => 0)], [1, ...inShape])), 0);
            const xp = pick(x), vp = pick(jac.directions);
            const xr = concat(deltas.map(() => xp), 0);
            const vr = concat(deltas.map(() => vp), 0);
            return keep([xr, add(xr, mul(vr, l))]);
          }));
        // a point whose local norm exceeds 1 is confirmed alone first (cheap when it is real)
        const top = jac.norms.reduce((b, v, i) => (v > jac.norms[b] ? i : b), 0);
        if (jac.norms[top] > 1 + tol) {
          const [tx, ty] = alongPairs([top]);
          const n = await pairNorms(f, tx, ty);
          await check(n, tx, ty, "jacobian power iteration", () => top, jac.norms);
        }
        const all = Array.from({ length: batch }, (_, i) => i);
        const [xs, ys] = alongPairs(all);
        const along = await pairNorms(f, xs, ys);
        await check(along, xs, ys, "jacobian power iteration", (j) => j % batch, jac.norms);

        // 3. gradient ascent from the random pairs and the best pair along each top direction
        const bestAlong = Array.from({ length: batch }, (_, i) => {
          let best = i;
          for (let r = 1; r < deltas.length; r++) {
            const j = r * batch + i;
            if (along.out[j] / along.in[j] > along.out[best] / along.in[best]) best = j;
          }
          return best;
        });
        const [sx, sy] = own(scope(() => {
          const pick = (t: Tensor): Tensor =>
            concat(
              bestAlong.map((j) => slice(t, [j, ...inShape.map(() => 0)], [1, ...inShape])),
              0,
            );
          return keep([concat([x, pick(xs)], 0), concat([y, pick(ys)], 0)]);
        }));
        const asc = await ascendRatio(f, sx, sy, { steps });
        own([asc.x, asc.y]);
        await check(asc.norms, asc.x, asc.y, "gradient ascent", (j) => j % batch, jac.norms);
      } finally {
        for (const t of owned) t.dispose();
        mapTree(params, (t) => t.dispose());
      }
    },
  );
  const examples: [number, number[], number, number, number, number][] = [
    [seed % 2 ** 31, new Array(8).fill(1), qScales.includes(1) ? 1 : qScales[0], 0, 0, 0],
  ];
  try {
    await fc.assert(prop, { seed, numRuns, endOnFailure: true, examples });
  } catch (e) {
    const cause = (e as Error)?.cause;
    if (cause instanceof LayerFailure) throw layerError(name, seed, run, cause);
    if (cause instanceof ViolationSignal) {
      const c = cause.counterexample;
      const what = c.kind === "violation"
        ? `‖f(x)−f(y)‖/‖x−y‖ = ${fmtNum(c.ratio)} > 1 (+ tolerance ${tol})`
        : c.kind === "non-finite output"
        ? "a non-finite output"
        : `ratio ${fmtNum(c.ratio)} above the certified bound ${
          fmtNum(c.bound!)
        } supplied (the bound is unsound)`;
      const scalesText = Object.entries(c.paramScales).map(([k, v]) => `${k}×${v}`).join(", ");
      throw new LipschitzViolation(
        `isOneLipschitz(${name}) failed (fast-check seed ${seed}, run ${c.run}): ${what}, found by ${c.search}${
          c.localNorm !== undefined ? ` (local Jacobian norm ${fmtNum(c.localNorm)})` : ""
        }; parameter scales {${scalesText || "none"}}, input scale ${fmtNum(c.inputScale)} (‖x‖ = ${
          fmtNum(c.inputNorm)
        }), distance ‖x−y‖ = ${fmtNum(c.distance)}, ${c.dtype}; worst ratio found ${
          fmtNum(Math.max(worstRatio, Number.isFinite(c.ratio) ? c.ratio : 0))
        }. Replay with { seed: ${seed} }; the pair is in error.counterexample.`,
        c,
        Math.max(worstRatio, Number.isFinite(c.ratio) ? c.ratio : 0),
        { cause: e },
      );
    }
    throw new Error(
      `isOneLipschitz(${name}) failed (fast-check seed ${seed}): ${(e as Error)?.message ?? e}`,
      { cause: e },
    );
  }
  const verdict = proved ? "proved" : "no counterexample found";
  const summary = proved
    ? `proved ≤ ${
      fmtNum(maxBound!)
    } (certified bound, ≤ 1 + ${tol}) for the parameters of ${run} runs; worst ratio found ${
      fmtNum(worstRatio)
    }`
    : `no counterexample found in ${run} runs (${dtype}; worst ratio ${
      fmtNum(worstRatio)
    }, largest local Jacobian norm ${fmtNum(worstLocal)}${
      boundNote ? `; ${boundNote}` : ""
    }) — evidence, not a proof`;
  return { verdict, bound: maxBound, worstRatio, worstLocal, runs: run, seed, dtype, summary };
}

/** Carries a counterexample out of the fast-check property. */
class ViolationSignal extends Error {
  constructor(readonly counterexample: LipschitzCounterexample) {
    super(`${counterexample.kind}: ratio ${counterexample.ratio} (${counterexample.search})`);
  }
}

function layerError(name: string, seed: number, run: number, f: LayerFailure): Error {
  const o = f.original;
  const text = o instanceof Error ? `${o.name}: ${o.message}` : String(o);
  const msg = `isOneLipschitz(${name}): the layer threw in ${f.stage}${
    f.detail ? ` (${f.detail})` : ""
  } at run ${run} (fast-check seed ${seed}) — an error of the layer, not a Lipschitz violation: ${text}`;
  const Ctor = o instanceof TypeError ? TypeError : o instanceof RangeError ? RangeError : Error;
  return new Ctor(msg, { cause: o });
}

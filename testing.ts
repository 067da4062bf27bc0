/**
 * Testing helpers for users and our suites: `isOneLipschitz`, a seeded fast-check property that
 * draws parameters (badly scaled included) and input pairs and checks ‖f(x)−f(y)‖ ≤ ‖x−y‖·(1+tol).
 * It runs in float64 by default (CPU backend) so rounding cannot hide or fake a violation.
 * @module
 */
import fc from "fast-check";
import type { DType } from "./kernels/dtype.ts";
import { scope } from "./tensor/scope.ts";
import type { Tensor } from "./tensor/tensor.ts";
import { add, cast, mul, norm, sub } from "./tensor/ops.ts";
import { normal, randomKey, split } from "./tensor/random.ts";
import { mapTree } from "./tensor/tree.ts";
import type { Layer } from "./layers/layer.ts";

/** Options of {@linkcode isOneLipschitz}. */
export interface OneLipschitzOptions<P> {
  /** Per-example input shape passed to `init` (no batch axis). */
  inShape: readonly number[];
  /** Input pairs per run (default 2). */
  batch?: number;
  /** fast-check runs (default 12). */
  numRuns?: number;
  /** fast-check seed (default: random; printed in the error on failure). */
  seed?: number;
  /** dtype the parameters and inputs are cast to (default float64; needs the CPU backend). */
  dtype?: DType;
  /** Factors drawn per parameter leaf (default 1e-3 … 1e3). */
  scales?: readonly number[];
  /** Factors drawn for leaves named `q` (default 0, 0.1, 1, 5, 10). */
  qScales?: readonly number[];
  /** Scales of x (default 1e-2, 1, 10). */
  inputScales?: readonly number[];
  /** Scales of y − x (default 1e-3, 0.1, 1, 10). */
  distances?: readonly number[];
  /** Applied to the drawn (scaled) parameters, e.g. a CPL layer's `refresh(p, 200)`. */
  prepare?: (params: P) => P;
  /** Relative slack (default 1e-5). */
  tolerance?: number;
  /** Absolute slack relative to ‖f(x)‖+‖f(y)‖ (rounding): default 1e-12 (f64), 1e-6 (f32). */
  atol?: number;
  /** Name used in the failure message. */
  name?: string;
}

async function perExampleNorms(v: Tensor): Promise<number[]> {
  const n = scope(() => norm(v, v.shape.map((_, i) => i).slice(1)));
  const out = Array.from(await n.data());
  n.dispose();
  return out;
}

/**
 * Property check that `layer` is 1-Lipschitz in the L2 norm: for random parameters (each leaf
 * multiplied by a drawn factor, q leaves by their own factors) and random input pairs,
 * ‖f(x) − f(y)‖ ≤ ‖x − y‖·(1 + tolerance) + atol·(‖f(x)‖ + ‖f(y)‖) per example, all finite.
 * Resolves when every run passes; rejects with the fast-check seed and counterexample.
 *
 * @example
 * ```ts
 * import { sllDense } from "@sll/sll";
 * import { isOneLipschitz } from "@sll/sll/testing";
 * await isOneLipschitz(sllDense({ inner: 4 }), { inShape: [6], seed: 1 });
 * ```
 */
export async function isOneLipschitz<P>(
  layer: Layer<P>,
  options: OneLipschitzOptions<P>,
): Promise<void> {
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const dtype = options.dtype ?? "float64";
  const tol = options.tolerance ?? 1e-5;
  const atol = options.atol ?? (dtype === "float64" ? 1e-12 : 1e-6);
  const batch = options.batch ?? 2;
  const scales = options.scales ?? [1e-3, 0.1, 1, 10, 1e3];
  const qScales = options.qScales ?? [0, 0.1, 1, 5, 10];
  const inputScales = options.inputScales ?? [1e-2, 1, 10];
  const distances = options.distances ?? [1e-3, 0.1, 1, 10];
  const name = options.name ?? "layer";
  const prop = fc.asyncProperty(
    fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    fc.array(fc.constantFrom(...scales), { minLength: 8, maxLength: 8 }),
    fc.constantFrom(...qScales),
    fc.constantFrom(...inputScales),
    fc.constantFrom(...distances),
    async (keySeed, leafScales, qScale, inputScale, distance) => {
      const [kp, kx, ky] = split(randomKey(keySeed), 3);
      const [dOut, dIn, fx, fy] = scope(() => {
        const init = layer.init(kp, options.inShape).params;
        let leaf = 0;
        let params = mapTree(init, (t, path) => {
          const c = t.dtype === dtype ? t : cast(t, dtype);
          const isQ = path === "q" || path.endsWith(".q");
          return mul(c, isQ ? qScale : leafScales[leaf++ % leafScales.length]);
        });
        if (options.prepare) params = options.prepare(params);
        const shape = [batch, ...options.inShape];
        const x = mul(normal(kx, shape, dtype), inputScale);
        const y = add(x, mul(normal(ky, shape, dtype), distance));
        const a = layer.apply(params, x);
        const b = layer.apply(params, y);
        return [sub(a, b), sub(x, y), a, b];
      });
      try {
        const [no, ni, na, nb] = await Promise.all([dOut, dIn, fx, fy].map(perExampleNorms));
        for (let i = 0; i < batch; i++) {
          const bound = ni[i] * (1 + tol) + atol * (na[i] + nb[i]);
          if (!(Number.isFinite(no[i]) && no[i] <= bound)) {
            throw new Error(
              `example ${i}: ‖f(x)−f(y)‖ = ${no[i]} > ‖x−y‖·(1+${tol}) = ${
                ni[i] * (1 + tol)
              } (ratio ${no[i] / ni[i]})`,
            );
          }
        }
      } finally {
        for (const t of [dOut, dIn, fx, fy]) t.dispose();
      }
    },
  );
  try {
    await fc.assert(prop, { seed, numRuns: options.numRuns ?? 12 });
  } catch (e) {
    throw new Error(
      `isOneLipschitz(${name}) failed (fast-check seed ${seed}): ${(e as Error).message}`,
    );
  }
}

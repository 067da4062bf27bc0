/**
 * Checks shared by the layer-zoo unit tests (layers/*_test.ts): norm preservation of orthogonal
 * layers (‖f(x) − f(y)‖ = ‖x − y‖ and ‖Jᵀv‖ = ‖v‖), a float64 finite-difference gradient check of
 * a whole layer (parameters and input together), and CPU vs WebGPU agreement of the forward and
 * of the parameter gradients. Each frees every tensor it makes.
 * @module
 */
import assert from "node:assert/strict";
import { vjp } from "../autodiff/autodiff.ts";
import type { Layer } from "../layers/layer.ts";
import { initWebGpu, setBackend } from "../tensor/backend.ts";
import { toBackend } from "../tensor/engine.ts";
import { add, cast, mul, sub, sum, tensor } from "../tensor/ops.ts";
import { normal, randomKey, split } from "../tensor/random.ts";
import { dispose, scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { flattenTree, leaves, mapTree } from "../tensor/tree.ts";
import { assertClose } from "./helpers.ts";

const norm2 = (a: ArrayLike<number>): number =>
  Math.sqrt(Array.from(a).reduce((s, v) => s + v * v, 0));

/** The layer's parameters for `inShape` from `seed`, cast to `dtype`, each leaf times `scale`. */
export function drawParams<P>(
  layer: Layer<P>,
  inShape: readonly number[],
  seed: number,
  dtype: "float32" | "float64" = "float64",
): { params: P; outShape: number[] } {
  return scope(() => {
    const r = layer.init(randomKey(seed), inShape);
    return { params: mapTree(r.params, (t) => cast(t, dtype)) as P, outShape: r.outShape };
  });
}

/**
 * Asserts per example that ‖f(x) − f(y)‖ = ‖x − y‖ (when `pairs`) and ‖Jᵀv‖ = ‖v‖ (when
 * `adjoint`) in float64 on the CPU, to relative `tol`.
 */
export function assertNormPreserving<P>(
  layer: Layer<P>,
  inShape: readonly number[],
  options: { seed?: number; batch?: number; tol?: number; pairs?: boolean; adjoint?: boolean } = {},
): void {
  const { seed = 1, batch = 3, tol = 1e-6, pairs = true, adjoint = true } = options;
  const { params, outShape } = drawParams(layer, inShape, seed);
  try {
    scope(() => {
      const [kx, ky, kv] = split(randomKey(seed + 7), 3);
      const x = normal(kx, [batch, ...inShape], "float64");
      const y = add(x, mul(normal(ky, [batch, ...inShape], "float64"), 0.3));
      const per = (t: Tensor): number[][] => {
        const d = t.dataSync(), n = d.length / batch;
        return Array.from({ length: batch }, (_, b) => Array.from(d.subarray(b * n, (b + 1) * n)));
      };
      if (pairs) {
        const dIn = per(sub(x, y)), dOut = per(sub(layer.apply(params, x), layer.apply(params, y)));
        dIn.forEach((d, b) => {
          const r = norm2(dOut[b]) / norm2(d);
          assert.ok(Math.abs(r - 1) <= tol, `‖f(x) − f(y)‖/‖x − y‖ = ${r} (example ${b})`);
        });
      }
      if (adjoint) {
        const v = normal(kv, [batch, ...outShape], "float64");
        const [, pull] = vjp((z: Tensor) => layer.apply(params, z), x);
        const [g] = pull(v);
        const vs = per(v), gs = per(g);
        vs.forEach((vb, b) => {
          const r = norm2(gs[b]) / norm2(vb);
          assert.ok(Math.abs(r - 1) <= tol, `‖Jᵀv‖/‖v‖ = ${r} (example ${b})`);
        });
      }
    });
  } finally {
    dispose(params);
  }
}

/**
 * Float64 gradient check of `s(p, x) = Σ w ⊙ f(p, x)`: the vjp's ⟨∇s, d⟩ against the central
 * difference (s(p + hd) − s(p − hd))/2h along random directions d of every parameter and of x.
 * `state` names parameter paths that are state cut from the gradient (not perturbed).
 */
export function assertLayerGradients<P>(
  layer: Layer<P>,
  inShape: readonly number[],
  options: {
    seed?: number;
    batch?: number;
    h?: number;
    rtol?: number;
    directions?: number;
    state?: readonly string[];
  } = {},
): void {
  const { seed = 2, batch = 2, h = 1e-5, rtol = 1e-5, directions = 2, state = [] } = options;
  const { params, outShape } = drawParams(layer, inShape, seed);
  try {
    scope(() => {
      const keys = split(randomKey(seed + 11), 2 + directions);
      const x = normal(keys[0], [batch, ...inShape], "float64");
      const w = normal(keys[1], [batch, ...outShape], "float64");
      const s = (p: P, z: Tensor): Tensor => sum(mul(layer.apply(p, z), w));
      const [, pull] = vjp(s, params, x);
      const [gp, gx] = pull(tensor(1, { dtype: "float64" }));
      const gl = flattenTree(gp);
      for (let d = 0; d < directions; d++) {
        const [kp, kx] = split(keys[2 + d], 2);
        const names = Object.keys(gl).filter((n) => !state.includes(n));
        const pk = names.length > 0 ? split(kp, names.length) : [];
        const dl: Record<string, Tensor> = {};
        names.forEach((n, i) => (dl[n] = normal(pk[i], gl[n].shape, "float64")));
        const dx = normal(kx, x.shape, "float64");
        let analytic = sum(mul(gx, dx)).dataSync()[0];
        for (const n of names) analytic += sum(mul(gl[n], dl[n])).dataSync()[0];
        const shift = (sign: number): number =>
          s(
            mapTree(params, (t, path) => dl[path] ? add(t, mul(dl[path], sign * h)) : t) as P,
            add(x, mul(dx, sign * h)),
          ).dataSync()[0];
        const numeric = (shift(1) - shift(-1)) / (2 * h);
        const err = Math.abs(numeric - analytic) /
          Math.max(Math.abs(numeric), Math.abs(analytic), 1e-8);
        assert.ok(
          err <= rtol,
          `direction ${d}: vjp ${analytic} vs finite difference ${numeric} (rel ${err})`,
        );
      }
    });
  } finally {
    dispose(params);
  }
}

/**
 * The forward and the gradient of Σ w ⊙ f with respect to the parameters agree between the CPU
 * and WebGPU backends in float32 (relative `rtol` of the largest magnitude). Fails, never skips,
 * without a WebGPU adapter.
 */
export async function assertBackendsAgree<P>(
  layer: Layer<P>,
  inShape: readonly number[],
  options: { seed?: number; batch?: number; rtol?: number } = {},
): Promise<void> {
  const { seed = 3, batch = 2, rtol = 2e-4 } = options;
  const { params, outShape } = drawParams(layer, inShape, seed, "float32");
  const inputs = scope(() => {
    const [kx, kw] = split(randomKey(seed + 5), 2);
    return { x: normal(kx, [batch, ...inShape]), w: normal(kw, [batch, ...outShape]) };
  });
  const run = (p: P, x: Tensor, w: Tensor): Tensor[] =>
    scope(() => {
      const [y, pull] = vjp((q: P) => layer.apply(q, x), p);
      const [g] = pull(w);
      return [y, ...leaves(g)];
    });
  const cpu = run(params, inputs.x, inputs.w);
  const cpuData = cpu.map((t) => Array.from(t.dataSync()));
  dispose(cpu);
  await initWebGpu();
  await setBackend("webgpu");
  let gpu: Tensor[] = [], moved: unknown = null;
  try {
    moved = await toBackend({ params, ...inputs }, "webgpu");
    const m = moved as { params: P; x: Tensor; w: Tensor };
    gpu = run(m.params, m.x, m.w);
    const gpuData = await Promise.all(gpu.map(async (t) => Array.from(await t.data())));
    gpuData.forEach((g, i) => {
      const scale = Math.max(...cpuData[i].map(Math.abs), 1e-6);
      assertClose(g, cpuData[i], {
        rtol: 0,
        atol: rtol * scale,
        what: i === 0 ? "forward (webgpu vs cpu)" : `parameter gradient ${i} (webgpu vs cpu)`,
      });
    });
  } finally {
    dispose(gpu);
    if (moved) dispose(moved);
    await setBackend("cpu");
    dispose(params);
    dispose(inputs);
  }
}

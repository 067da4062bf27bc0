/**
 * Helpers of the spectral suites (tensor/complex_test.ts, the FFT- and inverse-based layers):
 * a directional gradient check in float64 (⟨u, J v⟩ by central differences against the vjp's
 * ⟨Jᵀu, v⟩), deterministic host arrays, host complex matrices for float64 references, and the
 * setup the layer suites share (scoped tests, identity values, the 1-Lipschitz and CPU/WebGPU
 * rows).
 * @module
 */
import assert from "node:assert/strict";
import { vjp } from "../autodiff/autodiff.ts";
import { add, cast, mul, onesLike, sum, tensor } from "../tensor/ops.ts";
import { dispose, scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { initWebGpu, setBackend } from "../tensor/backend.ts";
import { toBackend } from "../tensor/engine.ts";
import { randomKey } from "../tensor/random.ts";
import { flattenTree, mapTree, unflattenTree } from "../tensor/tree.ts";
import { sizeOf } from "../kernels/shape.ts";
import type { DType } from "../kernels/dtype.ts";
import type { Layer } from "../layers/layer.ts";
import { isOneLipschitz } from "../testing.ts";
import { leakFreeTest } from "./helpers.ts";

/** Deterministic pseudo-random values in [−1, 1) (a small LCG: tests need no key plumbing). */
export function hostValues(seed: number, n: number): number[] {
  let s = (seed * 2654435761 + 12345) >>> 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push((s / 2 ** 32) * 2 - 1);
  }
  return out;
}

/** A float64 tensor of `shape` with `hostValues(seed, …)` times `scale`. */
export function f64(seed: number, shape: number[], scale = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(hostValues(seed, n).map((v) => v * scale), { shape, dtype: "float64" });
}

/**
 * Checks the vjp of `f` at float64 `inputs` against central differences along one random
 * direction per input: |⟨u, J v⟩_fd − Σ⟨Jᵀu, v⟩| ≤ rtol·(|⟨u, J v⟩| + scale). Returns both.
 */
export function gradCheck(
  f: (...xs: Tensor[]) => Tensor,
  inputs: Tensor[],
  { eps = 1e-6, rtol = 1e-6, seed = 7 }: { eps?: number; rtol?: number; seed?: number } = {},
): [number, number] {
  return scope(() => {
    const [out, pullback] = vjp((...xs: Tensor[]) => f(...xs), ...inputs);
    const u = f64(seed, [...out.shape]);
    const g = pullback(u) as Tensor[];
    const vs = inputs.map((x, i) => f64(seed + 1 + i, [...x.shape]));
    let analytic = 0;
    g.forEach((gi, i) => (analytic += sum(mul(gi, vs[i])).dataSync()[0]));
    const at = (h: number): number =>
      sum(mul(u, f(...inputs.map((x, i) => add(x, mul(vs[i], h)))))).dataSync()[0];
    const numeric = (at(eps) - at(-eps)) / (2 * eps);
    const scale = Math.abs(numeric) + Math.abs(analytic) + 1e-8;
    assert.ok(
      Math.abs(numeric - analytic) <= rtol * scale,
      `gradient check: finite differences ${numeric} vs vjp ${analytic}`,
    );
    return [numeric, analytic];
  });
}

/** A host complex matrix: re and im as row-major arrays of m×n. */
export interface HostComplex {
  m: number;
  n: number;
  re: number[];
  im: number[];
}

/** The host matrix from a [m, n, 2] float array. */
export function hostComplex(data: ArrayLike<number>, m: number, n: number): HostComplex {
  const re: number[] = [], im: number[] = [];
  for (let i = 0; i < m * n; i++) {
    re.push(data[2 * i]);
    im.push(data[2 * i + 1]);
  }
  return { m, n, re, im };
}

/** Host complex product a·b in float64. */
export function hostCMatmul(a: HostComplex, b: HostComplex): HostComplex {
  const re: number[] = [], im: number[] = [];
  for (let i = 0; i < a.m; i++) {
    for (let j = 0; j < b.n; j++) {
      let r = 0, s = 0;
      for (let k = 0; k < a.n; k++) {
        const ar = a.re[i * a.n + k], ai = a.im[i * a.n + k];
        const br = b.re[k * b.n + j], bi = b.im[k * b.n + j];
        r += ar * br - ai * bi;
        s += ar * bi + ai * br;
      }
      re.push(r);
      im.push(s);
    }
  }
  return { m: a.m, n: b.n, re, im };
}

/** Interleaves a host complex matrix back to [m·n·2] values. */
export function interleave(a: HostComplex): number[] {
  return a.re.flatMap((r, i) => [r, a.im[i]]);
}

/** Parameters of `layer` drawn from `seed` for `inShape`, cast to `dtype` (host values kept). */
export function drawParams<P>(layer: Layer<P>, inShape: number[], seed: number, dtype: DType): P {
  return scope(() => {
    const p = layer.init(randomKey(seed), inShape).params;
    return mapTree(p, (t) => cast(t, dtype)) as P;
  });
}

/**
 * Directional gradient check of a layer in float64 with respect to every parameter leaf and
 * the input at once (see {@linkcode gradCheck}).
 */
export function layerGradCheck<P>(
  layer: Layer<P>,
  inShape: number[],
  { batch = 2, seed = 3, rtol = 1e-6 }: { batch?: number; seed?: number; rtol?: number } = {},
): void {
  scope(() => {
    const params = drawParams(layer, inShape, seed, "float64");
    const flat = flattenTree(params), keys = Object.keys(flat);
    const x = f64(seed + 100, [batch, ...inShape]);
    gradCheck(
      (...xs: Tensor[]) => {
        const leavesByKey: Record<string, Tensor> = {};
        keys.forEach((k, i) => (leavesByKey[k] = xs[i]));
        return layer.apply(unflattenTree(params, leavesByKey), xs[keys.length]);
      },
      [...keys.map((k) => flat[k]), x],
      { rtol },
    );
  });
}

/** ‖v‖₂ of a host array. */
export function norm2(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/**
 * Norm preservation of an orthogonal layer in float32: ‖f(x) − f(y)‖ = ‖x − y‖ within `rtol`
 * for random pairs at several scales, and (when `adjoint`, i.e. the layer is square) ‖Jᵀv‖ = ‖v‖
 * for random v. Returns the worst relative deviation.
 */
export function assertNormPreserving<P>(
  layer: Layer<P>,
  inShape: number[],
  { rtol = 2e-5, adjoint = true, seed = 5, params }: {
    rtol?: number;
    adjoint?: boolean;
    seed?: number;
    params?: P;
  } = {},
): number {
  return scope(() => {
    const p = params ?? drawParams(layer, inShape, seed, "float32");
    let worst = 0;
    for (const [i, scale] of [0.01, 1, 100].entries()) {
      const x32 = cast(f64(seed + i, [3, ...inShape], scale), "float32"),
        y32 = cast(f64(seed + 10 + i, [3, ...inShape], scale), "float32");
      const fx = layer.apply(p, x32).dataSync(), fy = layer.apply(p, y32).dataSync();
      const xv = x32.dataSync(), yv = y32.dataSync();
      const per = sizeOf(inShape), perOut = fx.length / 3;
      for (let b = 0; b < 3; b++) {
        const d = norm2(
          Array.from(xv.slice(b * per, b * per + per), (v, j) => v - yv[b * per + j]),
        );
        const e = norm2(
          Array.from(fx.slice(b * perOut, b * perOut + perOut), (v, j) => v - fy[b * perOut + j]),
        );
        const dev = Math.abs(e - d) / d;
        worst = Math.max(worst, dev);
        assert.ok(dev <= rtol, `‖f(x) − f(y)‖ = ${e} vs ‖x − y‖ = ${d} (scale ${scale})`);
      }
      if (adjoint) {
        const [out, pullback] = vjp((z: Tensor) => layer.apply(p, z), x32);
        const v = cast(f64(seed + 20 + i, [...out.shape]), "float32");
        const [g] = pullback(v) as Tensor[];
        const gv = g.dataSync(), vv = v.dataSync();
        for (let b = 0; b < 3; b++) {
          const nv = norm2(vv.slice(b * perOut, b * perOut + perOut));
          const ng = norm2(gv.slice(b * per, b * per + per));
          const dev = Math.abs(ng - nv) / nv;
          worst = Math.max(worst, dev);
          assert.ok(dev <= rtol, `‖Jᵀv‖ = ${ng} vs ‖v‖ = ${nv}`);
        }
      }
    }
    return worst;
  });
}

/**
 * CPU vs WebGPU: the layer applied to the same float32 parameters and input on both backends
 * agrees within `atol + rtol·|cpu|`, forward and the input gradient of ⟨v, f(x)⟩.
 */
export async function assertCpuWebGpuAgree<P>(
  layer: Layer<P>,
  inShape: number[],
  { batch = 2, seed = 9, rtol = 1e-4, atol = 1e-4 }: {
    batch?: number;
    seed?: number;
    rtol?: number;
    atol?: number;
  } = {},
): Promise<void> {
  const p = drawParams(layer, inShape, seed, "float32");
  const x = scope(() => cast(f64(seed + 1, [batch, ...inShape]), "float32"));
  const cpu = scope(() => {
    const [out, pullback] = vjp((z: Tensor) => layer.apply(p, z), x);
    const [g] = pullback(mul(onesLike(out), 0.5)) as Tensor[];
    return [Array.from(out.dataSync()), Array.from(g.dataSync())];
  });
  await initWebGpu();
  const pg = await toBackend(p, "webgpu"), xg = await toBackend(x, "webgpu");
  await setBackend("webgpu");
  let gpu: number[][];
  try {
    const [out, g] = scope(() => {
      const [o, pullback] = vjp((z: Tensor) => layer.apply(pg, z), xg);
      const [gg] = pullback(mul(onesLike(o), 0.5)) as Tensor[];
      return [o, gg];
    });
    gpu = [Array.from(await out.data()), Array.from(await g.data())];
    dispose([out, g]);
  } finally {
    dispose([pg, xg]);
    await setBackend("cpu");
  }
  dispose([p, x] as unknown[]);
  assertCloseTo(gpu[0], cpu[0], rtol, atol, "forward (webgpu vs cpu)");
  assertCloseTo(gpu[1], cpu[1], rtol, atol, "input gradient (webgpu vs cpu)");
}

function assertCloseTo(a: number[], b: number[], rtol: number, atol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths`);
  a.forEach((v, i) =>
    assert.ok(Math.abs(v - b[i]) <= atol + rtol * Math.abs(b[i]), `${what}: [${i}] ${v} vs ${b[i]}`)
  );
}

/** A tensor's values on the host. */
export function arr(x: Tensor): number[] {
  return Array.from(x.dataSync());
}

/** A leak-checked test whose synchronous body runs in a scope (its tensors freed at the end). */
export function scopedTest(name: string, fn: () => void): void {
  leakFreeTest(name, () => scope(fn));
}

/** The n×n identity's values, row-major (complex: interleaved re, im per entry). */
export function eyeValues(n: number, complex = false): number[] {
  const v: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) complex ? v.push(i === j ? 1 : 0, 0) : v.push(i === j ? 1 : 0);
  }
  return v;
}

/**
 * One leak-checked test per row `[name, layer, inShape]`, "1-Lipschitz: <name>": the layer
 * passes isOneLipschitz (fast-check seeded 20261202, 3 runs; the seed is in any failure), and
 * its verdict is printed.
 */
export function lipschitzTests(
  // deno-lint-ignore no-explicit-any
  rows: readonly (readonly [string, Layer<any>, readonly number[]])[],
): void {
  for (const [name, layer, inShape] of rows) {
    leakFreeTest(`1-Lipschitz: ${name}`, async () => {
      const r = await isOneLipschitz(layer, { inShape, seed: 20261202, numRuns: 3, name });
      console.log(`  ${r.verdict}: ${r.summary}`);
    });
  }
}

/**
 * The leak-checked test "<family>: CPU and WebGPU agree (forward and input gradient)" over
 * `[layer, inShape]` rows (assertCpuWebGpuAgree on each, in order).
 */
export function cpuWebGpuTest(
  family: string,
  // deno-lint-ignore no-explicit-any
  rows: readonly (readonly [Layer<any>, number[]])[],
): void {
  leakFreeTest(`${family}: CPU and WebGPU agree (forward and input gradient)`, async () => {
    for (const [layer, inShape] of rows) await assertCpuWebGpuAgree(layer, inShape);
  });
}

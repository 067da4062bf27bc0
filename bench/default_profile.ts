/**
 * Where the default run's time goes: N training steps of the `fmnist` preset (batch 256, Adam,
 * Fashion-MNIST in the loop's order) timed per phase (batch upload, forward + backward,
 * optimizer, loss read, state swap), per primitive and shape (the CPU backend's kernels; a
 * kernel's time includes running the fused elementwise values it reads), per fused elementwise
 * loop, and one evaluation of the test set.
 * `deno task bench --only default [--repeats steps]` or
 * `deno run -A bench/default_profile.ts [steps = 15] [--no-eval]`. Figures are noisy on a shared
 * machine: compare runs made one after the other, and say the load.
 * @module
 */
import { loadDataset } from "../data/mod.ts";
import { DEFAULT_CONFIG } from "../train/config.ts";
import { buildNetwork } from "../train/model.ts";
import { makeLoss } from "../train/loss_select.ts";
import { makeOptimizer } from "../train/optimizers.ts";
import { epochBatches } from "../train/loop.ts";
import { evaluate } from "../train/evaluate.ts";
import { dispose, keep, scope, type Tensor, tensor } from "../tensor/mod.ts";
import { valueAndGrad } from "../autodiff/autodiff.ts";
import { randomKey, split } from "../tensor/random.ts";
import { activeBackend } from "../tensor/backend.ts";
import { leaves } from "../tensor/tree.ts";
import { fusionProfile, fusionStats, pinnedArrays } from "../kernels/cpu/fusion.ts";
import type { Backend, KernelArg, OutInfo } from "../kernels/prims.ts";

/** Options of {@linkcode runDefaultProfile}. */
export interface DefaultProfileOptions {
  /** Profiled steps (after 3 warm-up steps). */
  steps: number;
  /** Also time one evaluation of the test set. */
  evaluate: boolean;
}

/** Profiles the default training step and prints where its time goes. */
export async function runDefaultProfile(opts: DefaultProfileOptions): Promise<void> {
  const steps = opts.steps;
  const WARMUP = 3;
  const config = DEFAULT_CONFIG;
  const data = await loadDataset(config.dataset, {});
  const net = buildNetwork(config.arch, data.train.shape, data.train.numClasses, [0.286]);
  const lossOf = makeLoss(config, data.train.numClasses);
  const opt = makeOptimizer({ name: "adam", beta1: config.beta1, beta2: config.beta2 });
  const [initKey] = split(randomKey(config.seed), 2);
  let params = keep(scope(() => net.init(initKey).params));
  let state = keep(opt.init(params));
  const lossAndGrad = valueAndGrad((p: typeof params, x: Tensor, y: Tensor) =>
    lossOf(net.apply(p, x), y)
  );

  // time every kernel call through the backend's `run`
  const b = activeBackend() as Backend;
  const run0 = b.run.bind(b);
  const kernels = new Map<string, { n: number; ms: number }>();
  let profiling = false;
  b.run = ((prim, inputs: KernelArg[], p, out: OutInfo) => {
    if (!profiling) return run0(prim, inputs, p, out);
    const t = performance.now();
    const r = run0(prim, inputs, p, out);
    const ms = performance.now() - t;
    const flags = prim === "matmul"
      ? `(${(p as { transA: boolean }).transA ? "T" : "N"}${
        (p as { transB: boolean }).transB ? "T" : "N"
      })`
      : "";
    const key = `${prim}${flags} ${inputs.map((x) => `[${x.shape}]`).join(",")} → [${out.shape}]`;
    const e = kernels.get(key) ?? { n: 0, ms: 0 };
    e.n++;
    e.ms += ms;
    kernels.set(key, e);
    return r;
  }) as Backend["run"];

  const phase = { upload: 0, forwardBackward: 0, optimizer: 0, lossRead: 0, swap: 0 };
  let done = 0;
  for (const batch of epochBatches(config, data.train, 0)) {
    if (done === WARMUP) {
      profiling = true;
      fusionProfile.loops = new Map();
      fusionStats.ms = 0;
      fusionStats.loops = 0;
    }
    if (done === steps + WARMUP) break;
    const t0 = performance.now();
    const [l, nextParams, nextState] = scope(() => {
      const x = tensor(batch.x, { shape: batch.shape });
      const y = tensor(batch.y, { shape: [batch.size], dtype: "int32" });
      const t1 = performance.now();
      const [l, g] = lossAndGrad(params, x, y);
      const t2 = performance.now();
      const u = opt.update(g, state, params, 0.001);
      if (profiling) {
        phase.upload += t1 - t0;
        phase.forwardBackward += t2 - t1;
        phase.optimizer += performance.now() - t2;
      }
      return [l, u.params, u.state] as const;
    });
    const t3 = performance.now();
    await l.data();
    l.dispose();
    const t4 = performance.now();
    const reused = new Set(leaves(nextState.slots));
    keep(nextState.slots);
    for (const x of leaves(state.slots)) if (!reused.has(x)) x.dispose();
    keep(nextParams);
    dispose(params);
    params = nextParams;
    state = nextState;
    if (profiling) {
      phase.lossRead += t4 - t3;
      phase.swap += performance.now() - t4;
    }
    done++;
  }
  profiling = false;

  const ms = (x: number) => `${(x / steps).toFixed(1).padStart(7)} ms`;
  const total = Object.values(phase).reduce((a, x) => a + x, 0);
  console.log(
    `default step (fmnist preset, batch 256), ${steps} steps: ${ms(total)}/step, ${
      Math.round((256 * steps) / total * 1000)
    } img/s (load ${Deno.loadavg()[0].toFixed(1)})`,
  );
  for (const [k, v] of Object.entries(phase)) console.log(`${ms(v)}  ${k}`);
  const rows = [...kernels].sort((x, y) => y[1].ms - x[1].ms);
  const byPrim = new Map<string, number>();
  for (const [k, v] of rows) byPrim.set(k.split(" ")[0], (byPrim.get(k.split(" ")[0]) ?? 0) + v.ms);
  console.log(`\nkernels: ${ms(rows.reduce((a, r) => a + r[1].ms, 0))}/step`);
  for (const [p, t] of [...byPrim].sort((x, y) => y[1] - x[1])) console.log(`${ms(t)}  ${p}`);
  console.log("\nby shape:");
  for (const [k, v] of rows.slice(0, 30)) console.log(`${ms(v.ms)} ${String(v.n / steps)}×  ${k}`);
  console.log(
    `\nfused elementwise loops: ${ms(fusionStats.ms)}/step, ${
      fusionStats.loops / steps
    } loops/step`,
  );
  for (const [k, v] of [...(fusionProfile.loops ?? new Map())].sort((x, y) => y[1].ms - x[1].ms)) {
    if (v.ms / steps >= 0.5) console.log(`${ms(v.ms)} ${String(v.n / steps)}×  ${k.slice(0, 160)}`);
  }
  fusionProfile.loops = null;
  if (opts.evaluate) {
    const t = performance.now();
    await evaluate(net.apply, params, data.test, {
      prepare: net.prepare,
      eps255: config.eps255,
      batchSize: config.evalBatchSize,
      lastWeight: net.lastWeight(params),
      curve255: Array.from({ length: 52 }, (_, i) => i * 5),
    });
    console.log(
      `\nevaluation of ${data.test.n} test images: ${(performance.now() - t).toFixed(0)} ms`,
    );
  }
  dispose([params, state.slots]);
  console.log(`arrays still read by pending values after the run: ${pinnedArrays()}`);
}

if (import.meta.main) {
  await runDefaultProfile({
    steps: Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 15),
    evaluate: !Deno.args.includes("--no-eval"),
  });
}

/**
 * MPI benchmarks, run under a launcher (`mpiexec -n 2 deno run -A bench/mpi.ts …`): the in-place
 * float32 sum all-reduce of an SLL `small` gradient (41.4 M floats) as the training loop calls
 * it, and, with `--step small`, one data-parallel step of the `small` CIFAR-10 network split
 * into its phases (local forward + backward, the gradient average over ranks, the update).
 * Rank 0 prints the medians; figures go to BENCHMARKS.md by hand.
 * @module
 */
import { parseArgs } from "node:util";
import { abortWorld, endWorld, startWorld } from "../distributed/world.ts";
import { averageOverRanks } from "../distributed/data_parallel.ts";
import { dispose, keep, scope, setBackend, type Tensor, tensor } from "../tensor/mod.ts";
import { valueAndGrad } from "../autodiff/autodiff.ts";
import { randomKey, split } from "../tensor/random.ts";
import { keyFromSeed, uniformHost } from "../tensor/prng.ts";
import { archFromPreset, buildNetwork } from "../train/model.ts";
import { adam } from "../train/optimizers.ts";
import { offsetCrossEntropy } from "../train/losses.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    floats: { type: "string", default: "41400000" },
    repeats: { type: "string", default: "5" },
    step: { type: "string" },
    batch: { type: "string", default: "8" },
  },
});

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const world = startWorld("on");
const say = (s: string): void => {
  if (world.isRoot) console.log(s);
};

function allReduceBench(n: number, repeats: number): void {
  const buf = new Float32Array(n).fill(world.rank + 1);
  const times: number[] = [];
  for (let r = 0; r <= repeats; r++) {
    world.barrier();
    const t0 = performance.now();
    world.allReduce(buf, "sum");
    const dt = (performance.now() - t0) / 1000;
    if (r > 0) times.push(dt); // the first one warms the transport up
  }
  const t = median(times);
  const bytes = n * 4;
  const N = world.size;
  say(
    `all-reduce ${n} float32 (${(bytes / 1e6).toFixed(1)} MB), ${N} ranks, median of ` +
      `${repeats}: ${(t * 1000).toFixed(1)} ms; algorithm bandwidth ${
        (bytes / t / 1e9).toFixed(2)
      } GB/s (bytes / time); bus bandwidth ${
        (2 * (N - 1) / N * bytes / t / 1e9).toFixed(2)
      } GB/s (2(N−1)/N · bytes / time); all times [${
        times.map((x) => (x * 1000).toFixed(0)).join(", ")
      }] ms`,
  );
}

async function stepBench(model: string, batch: number, repeats: number): Promise<void> {
  await setBackend("cpu");
  const arch = { ...archFromPreset(model), qMode: "paper" as const };
  const net = buildNetwork(arch, [3, 32, 32], 10, [0.4913, 0.4821, 0.4465]);
  const [initKey] = split(randomKey(0), 2);
  let params = keep(scope(() => net.init(initKey).params));
  const opt = adam();
  let state = keep(opt.init(params));
  const x = Float32Array.from(uniformHost(keyFromSeed(world.rank + 1), batch * 3 * 32 * 32));
  const y = Int32Array.from({ length: batch }, (_, i) => (i + world.rank) % 10);
  const lossAndGrad = valueAndGrad((p: typeof params, xb: Tensor, yb: Tensor) =>
    offsetCrossEntropy(net.apply(p, xb), yb)
  );
  const phases: { local: number[]; average: number[]; update: number[] } = {
    local: [],
    average: [],
    update: [],
  };
  for (let r = 0; r <= repeats; r++) {
    world.barrier();
    const t0 = performance.now();
    const [l, g] = scope(() => {
      const xb = tensor(x, { shape: [batch, 3, 32, 32] });
      const yb = tensor(y, { shape: [batch], dtype: "int32" });
      return lossAndGrad(params, xb, yb);
    });
    const loss = (await l.data())[0]; // forces the whole backward on the CPU backend
    const t1 = performance.now();
    const avg = await averageOverRanks(world, g, [loss]);
    const t2 = performance.now();
    dispose([l, g]);
    const next = scope(() => opt.update(avg.tree, state, params, 1e-3));
    dispose([params, state.slots, avg.tree]);
    params = keep(next.params);
    state = { step: next.state.step, slots: keep(next.state.slots) };
    const t3 = performance.now(); // the CPU backend computes eagerly
    if (r > 0) {
      phases.local.push(t1 - t0);
      phases.average.push(t2 - t1);
      phases.update.push(t3 - t2);
    }
  }
  const [lo, av, up] = [median(phases.local), median(phases.average), median(phases.update)];
  const total = lo + av + up;
  say(
    `${model} step, batch ${batch} per rank, ${world.size} ranks (CPU backend), median of ` +
      `${repeats}: local forward+backward ${lo.toFixed(0)} ms, gradient average (flatten, ` +
      `all-reduce, unflatten) ${av.toFixed(0)} ms = ${(100 * av / total).toFixed(1)}% of the ` +
      `step, update ${up.toFixed(0)} ms; step ${total.toFixed(0)} ms`,
  );
  dispose([params, state.slots]);
}

try {
  const repeats = Number(values.repeats);
  if (values.step) await stepBench(values.step, Number(values.batch), repeats);
  else allReduceBench(Number(values.floats), repeats);
  endWorld();
} catch (e) {
  abortWorld(1, `error: ${(e as Error).message}`);
  throw e;
}

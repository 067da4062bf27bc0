/**
 * A rank of the data-parallel tests (started by mpiexec, or alone with --distributed off):
 * trains a tiny network on synthetic 1×8×8 data for K steps through the real training loop
 * and writes its final parameters, leaf by leaf in tree order, to `<out>/params-rank<r>.bin`.
 * Usage: deno run -A tests/distributed_worker.ts <out> <batch> <steps> <optimizer> <mode>.
 * @module
 */
import { keyFromSeed, uniformHost } from "../tensor/prng.ts";
import { setBackend } from "../tensor/mod.ts";
import { randomKey, split } from "../tensor/random.ts";
import { leaves } from "../tensor/tree.ts";
import { DEFAULT_CONFIG, parseTrainConfig } from "../train/config.ts";
import { DivergedError, train } from "../train/loop.ts";
import { type Dataset, epochOrder, shardOrder } from "../data/mod.ts";
import { abortWorld, endWorld, startWorld } from "../distributed/world.ts";
import type { DistributedMode } from "../distributed/launch.ts";

/** n synthetic examples whose label depends on the image (so the loss falls). */
function synthetic(name: string, n: number, seed: number): Dataset {
  const per = 64;
  const images = Float32Array.from(uniformHost(keyFromSeed(seed), n * per));
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < 16; j++) s += images[i * per + j];
    labels[i] = Math.min(9, Math.floor(s * 10 / 16));
  }
  return { name, images, labels, n, shape: [1, 8, 8], numClasses: 10 };
}

const [out, batch, steps, optimizer, mode] = Deno.args;
const world = startWorld((mode ?? "auto") as DistributedMode);
try {
  await setBackend("cpu");
  const config = parseTrainConfig({
    ...structuredClone(DEFAULT_CONFIG),
    trainDir: out,
    arch: { nConv: 1, nDense: 1, width: 4, convInnerDim: 4, denseInnerDim: 16, qMode: "paper" },
    epochs: 2,
    batchSize: Number(batch),
    optimizer,
    lr: optimizer === "sgd" ? 0.05 : 0.01,
    logEvery: 1000,
    evalBatchSize: 50,
  });
  const data = { train: synthetic("train", 200, 1), test: synthetic("test", 100, 2) };
  if (Deno.env.get("SLL_TEST_NAN_ON_RANK1_BATCH3")) {
    // NaN pixels in the examples of rank 1's third batch (of 2 ranks): only rank 1 sees them
    const [, dataKey] = split(randomKey(config.seed), 2); // the loop's data-order key
    const mine = shardOrder(epochOrder(200, dataKey, 0), 1, 2);
    const b = config.batchSize;
    for (const j of mine.subarray(2 * b, 3 * b)) data.train.images.fill(NaN, j * 64, j * 64 + 64);
  }
  const throwRank = Deno.env.get("SLL_TEST_THROW_RANK");
  const r = await train(config, {
    data,
    world,
    stopAfterStep: Number(steps),
    onStep: (s) => {
      if (throwRank !== undefined && Number(throwRank) === world.rank && s.step === 2) {
        throw new Error(`injected failure on rank ${world.rank} at step ${s.step}`);
      }
    },
  });
  const parts = await Promise.all(leaves(r.params).map((t) => t.data() as Promise<Float32Array>));
  const flat = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) (flat.set(p, o), o += p.length);
  await Deno.writeFile(`${out}/params-rank${world.rank}.bin`, new Uint8Array(flat.buffer));
  endWorld();
} catch (e) {
  if (e instanceof DivergedError) {
    // every rank must see it at the same step: record it, and end normally
    await Deno.writeTextFile(`${out}/diverged-rank${world.rank}.txt`, String(e.step));
    endWorld();
    Deno.exit(0);
  }
  abortWorld(1, `error: ${(e as Error).message}`); // ends every rank (returns without MPI)
  throw e;
}

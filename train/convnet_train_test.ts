/**
 * Training Prach et al.'s ConvNet (`arch.kind: "convnet"`) end to end on toy data: the checkpoint
 * records the arch, layer and size and loads back alone; CPL's power-iteration state advances
 * in training and converges before evaluation; resume continues bit for bit; the new losses train;
 * unregistered layers and convnet-only fields are refused with the registered names.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEFAULT_CONFIG, parseTrainConfig, type TrainConfig } from "./config.ts";
import { train } from "./loop.ts";
import { listCheckpoints, loadCheckpoint } from "./checkpoint.ts";
import { loadModelFile } from "./load_model.ts";
import type { Split } from "../data/mod.ts";
import { dispose } from "../tensor/scope.ts";
import { layerNames } from "../layers/registry.ts";
import { configFromFlags } from "../cli/config_flags.ts";
import { archKind, buildNetwork, resolvedArch } from "./model.ts";
import { leakFreeTest } from "../tests/helpers.ts";

/** 32 train / 16 test 1×8×8 images whose class is the brightest quadrant. */
function toyData(): Split {
  const make = (n: number, seed: number) => {
    const images = new Float32Array(n * 64), labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const c = (i + seed) % 4;
      labels[i] = c;
      for (let p = 0; p < 64; p++) {
        const inQuadrant = (Math.floor(p / 32) * 2 + (p % 8 >= 4 ? 1 : 0)) === c;
        images[i * 64 + p] = ((i * 7 + p * 13) % 10) / 30 + (inQuadrant ? 0.7 : 0);
      }
    }
    return {
      name: "toy",
      images,
      labels,
      n,
      shape: [1, 8, 8] as [number, number, number],
      numClasses: 4,
    };
  };
  return { train: make(32, 1), test: make(16, 2) };
}

function convConfig(trainDir: string, over: Partial<TrainConfig> = {}): TrainConfig {
  return parseTrainConfig({
    ...structuredClone(DEFAULT_CONFIG),
    trainDir,
    arch: { ...DEFAULT_CONFIG.arch, kind: "convnet", layer: "cpl", size: "tiny" },
    mean: [0.3],
    epochs: 1,
    batchSize: 16,
    logEvery: 1,
    evalBatchSize: 16,
    ...over,
  });
}

leakFreeTest(
  "convnet: trains, records arch and layer, loads back, resumes bit for bit",
  async () => {
    const root = await Deno.makeTempDir({ prefix: "sll-convnet-" });
    try {
      const data = toyData();
      const a = await train(convConfig(join(root, "a"), { epochs: 2 }), { data });
      assert.equal(a.status, "done");
      assert.ok(a.final && a.final.n === 16);
      dispose(a.params);
      const ck = await loadCheckpoint((await listCheckpoints(join(root, "a"))).at(-1)!);
      assert.deepEqual(
        [ck.meta.model.arch.kind, ck.meta.model.arch.layer, ck.meta.model.arch.size],
        ["convnet", "cpl", "tiny"],
      );
      const m = await loadModelFile(ck.path);
      assert.equal(m.network.lastWeight(m.params), null); // the generic √2 certificate
      assert.ok(m.network.refresh, "a CPL ConvNet carries power-iteration state");
      dispose(m.params);
      // the same run interrupted after 2 steps and resumed ends on the same parameters
      const b1 = await train(convConfig(join(root, "b"), { epochs: 2 }), {
        data,
        stopAfterStep: 2,
      });
      dispose(b1.params);
      const b2 = await train(convConfig(join(root, "b"), { epochs: 2 }), { data, resume: true });
      dispose(b2.params);
      const last = async (d: string) =>
        (await loadCheckpoint((await listCheckpoints(join(root, d))).at(-1)!)).params;
      const [pa, pb] = [await last("a"), await last("b")];
      for (const k of Object.keys(pa)) {
        assert.deepEqual(
          Array.from(pb[k].data as Float32Array),
          Array.from(pa[k].data as Float32Array),
          k,
        );
      }
      // CPL's u moved during training (refreshed after every update), and stays a unit vector
      const u = Object.keys(pa).find((k) => k.endsWith(".u"))!;
      const init = await train(convConfig(join(root, "c"), { epochs: 1 }), {
        data,
        stopAfterStep: 1,
      });
      dispose(init.params);
      const norm = Math.hypot(...(pa[u].data as Float32Array));
      assert.ok(Math.abs(norm - 1) < 1e-4, `‖u‖ = ${norm}`);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
);

for (const loss of ["hkr", "emma", "la"] as const) {
  leakFreeTest(
    `convnet: the ${loss} loss trains to a finite evaluation`,
    async () => {
      const root = await Deno.makeTempDir({ prefix: "sll-loss-" });
      try {
        const r = await train(
          convConfig(root, {
            loss,
            epochs: 3,
            lr: 0.005,
            arch: { ...DEFAULT_CONFIG.arch, kind: "convnet", layer: "aol", size: "tiny" },
          }),
          { data: toyData() },
        );
        assert.equal(r.status, "done");
        assert.ok(Number.isFinite(r.final!.accuracy));
        dispose(r.params);
      } finally {
        await Deno.remove(root, { recursive: true });
      }
    },
  );
}

Deno.test("convnet: unregistered layers and convnet fields without --arch convnet are refused", () => {
  assert.throws(
    () => configFromFlags({ arch: "convnet", layer: "nope" }),
    (e: Error) => {
      assert.match(e.message, /--layer/);
      for (const n of layerNames()) assert.ok(e.message.includes(n), e.message);
      return true;
    },
  );
  // --layer alone selects the ConvNet; --arch sll with --layer is a contradiction, refused
  assert.equal(archKind(configFromFlags({ layer: "aol" }).arch), "convnet");
  const r = resolvedArch(configFromFlags({ arch: "convnet" }).arch);
  assert.deepEqual([r.kind, r.layer, r.size], ["convnet", "sll", "xs"]);
  assert.throws(
    () => buildNetwork(configFromFlags({ arch: "sll", layer: "aol" }).arch, [1, 8, 8], 4, [0]),
    /need kind "convnet"/,
  );
});

/**
 * The training loop on a tiny synthetic dataset: resume is bit-for-bit (interrupted after k
 * steps mid-epoch, resumed, equals the uninterrupted run), a NaN loss stops training with a
 * clear error and leaves the last checkpoint untouched, checkpoints reject another architecture
 * and corrupt files, and no tensor leaks.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Split } from "../data/mod.ts";
import { dispose } from "../tensor/mod.ts";
import { listCheckpoints, loadCheckpoint } from "./checkpoint.ts";
import { DEFAULT_CONFIG, parseTrainConfig, type TrainConfig } from "./config.ts";
import { DivergedError, epochBatches, train } from "./loop.ts";
import { batches } from "../data/mod.ts";
import { randomKey, split } from "../tensor/random.ts";
import { leakFreeTest } from "../tests/helpers.ts";
import { keyFromSeed, uniformHost } from "../tensor/prng.ts";

/** 48 train / 16 test 1×8×8 images whose class is the brightest quadrant. */
export function toyData(): Split {
  const make = (n: number, seed: number) => {
    const u = uniformHost(keyFromSeed(seed), n * 64);
    const images = Float32Array.from(u, (v) => v * 0.3);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const c = i % 4;
      labels[i] = c;
      const oy = c < 2 ? 0 : 4, ox = c % 2 ? 4 : 0;
      for (let y = 0; y < 4; y++) {
        for (let x = 0; x < 4; x++) images[i * 64 + (oy + y) * 8 + ox + x] += 0.7;
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
  return { train: make(48, 1), test: make(16, 2) };
}

function toyConfig(trainDir: string, over: Partial<TrainConfig> = {}): TrainConfig {
  return parseTrainConfig({
    ...structuredClone(DEFAULT_CONFIG),
    trainDir,
    arch: { nConv: 1, nDense: 1, width: 2, convInnerDim: 2, denseInnerDim: 8, qMode: "paper" },
    mean: [0.3],
    epochs: 2,
    batchSize: 16,
    logEvery: 1,
    evalBatchSize: 16,
    ...over,
  });
}

async function paramsOf(dir: string): Promise<Record<string, number[]>> {
  const ck = await loadCheckpoint((await listCheckpoints(dir)).at(-1)!);
  return Object.fromEntries(
    Object.entries({
      ...ck.params,
      ...Object.fromEntries(
        Object.entries(ck.slots).flatMap(([s, t]) =>
          Object.entries(t).map(([k, v]) => [`${s}.${k}`, v])
        ),
      ),
    })
      .map(([k, v]) => [k, Array.from(v.data as Float32Array)]),
  );
}

leakFreeTest(
  "train: interrupted mid-epoch and resumed equals the uninterrupted run, bit for bit",
  async () => {
    const root = await Deno.makeTempDir();
    try {
      const data = toyData();
      const a = await train(toyConfig(join(root, "a")), { data });
      assert.equal(a.status, "done");
      assert.equal(a.step, 6);
      dispose(a.params);
      const b1 = await train(toyConfig(join(root, "b")), { data, stopAfterStep: 4 });
      assert.equal(b1.status, "interrupted");
      assert.equal(b1.step, 4);
      dispose(b1.params);
      const b2 = await train(toyConfig(join(root, "b")), { data, resume: true });
      assert.equal(b2.status, "done");
      assert.equal(b2.step, 6);
      dispose(b2.params);
      assert.deepEqual(await paramsOf(join(root, "b")), await paramsOf(join(root, "a")));
      const lines = (await Deno.readTextFile(join(root, "a", "metrics.jsonl"))).trim().split("\n")
        .map((l) => JSON.parse(l));
      assert.equal(lines.filter((l) => l.type === "epoch").length, 2);
      assert.equal(lines.filter((l) => l.type === "step").length, 6);
      const meta = (await loadCheckpoint((await listCheckpoints(join(root, "a"))).at(-1)!)).meta;
      assert.equal(meta.step, 6);
      assert.ok(meta.metrics && meta.metrics.n === 16);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
);

leakFreeTest(
  "train: --eval-every certifies the test set after every N epochs and always after the last",
  async () => {
    const root = await Deno.makeTempDir();
    try {
      const data = toyData();
      for (const [every, want] of [[2, [2, 3]], [0, [3]], [1, [1, 2, 3]]] as const) {
        const dir = join(root, `e${every}`);
        const seen: number[] = [];
        const r = await train(toyConfig(dir, { epochs: 3, evalEvery: every }), {
          data,
          onEpoch: (e) => e.test && seen.push(e.epoch + 1),
        });
        dispose(r.params);
        assert.deepEqual(seen, want, `evalEvery ${every}: epochs evaluated (onEpoch)`);
        assert.equal(r.final?.n, 16);
        const epochs = (await Deno.readTextFile(join(dir, "metrics.jsonl"))).trim().split("\n")
          .map((l) => JSON.parse(l)).filter((l) => l.type === "epoch");
        assert.deepEqual(epochs.map((l) => l.epoch), [1, 2, 3]);
        assert.deepEqual(epochs.filter((l) => l.test).map((l) => l.epoch), want);
        const metas = await Promise.all(
          (await listCheckpoints(dir)).map(async (f) => (await loadCheckpoint(f)).meta),
        );
        assert.deepEqual(
          metas.filter((m) => m.metrics !== undefined).map((m) => m.step / 3),
          want,
          `evalEvery ${every}: checkpoints holding metrics`,
        );
      }
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
);

Deno.test("train batches: --augment changes the pixels (not labels or order); off, they are the plain ones", () => {
  const data = toyData();
  for (const dataset of ["fashion-mnist", "mnist", "cifar10"] as const) {
    // CIFAR's recipe needs 3 channels: give the toy images three copies of their one
    const ds = dataset === "cifar10"
      ? {
        ...data.train,
        shape: [3, 8, 8] as [number, number, number],
        images: Float32Array.from({ length: data.train.n * 192 }, (_, i) =>
          data.train.images[Math.floor(i / 192) * 64 + (i % 64)]),
      }
      : data.train;
    const cfg = { ...DEFAULT_CONFIG, dataset, batchSize: 16, seed: 3 };
    for (const epoch of [0, 1]) {
      // the loop's data key: the second of the seed's key split
      const key = split(randomKey(3), 2)[1];
      const plain = [...batches(ds, { batchSize: 16, key, epoch })];
      const off = [...epochBatches({ ...cfg, augment: false }, ds, epoch)];
      assert.deepEqual(off, plain, `${dataset}: with --augment off the batches changed`);
      const on = [...epochBatches({ ...cfg, augment: true }, ds, epoch)];
      const again = [...epochBatches({ ...cfg, augment: true }, ds, epoch)];
      assert.deepEqual(on, again, `${dataset}: augmentation is not a function of the seed`);
      assert.equal(on.length, plain.length);
      let changed = 0;
      for (let i = 0; i < on.length; i++) {
        assert.deepEqual(on[i].y, plain[i].y);
        assert.deepEqual(on[i].shape, plain[i].shape);
        for (let j = 0; j < on[i].x.length; j++) if (on[i].x[j] !== plain[i].x[j]) changed++;
      }
      assert.ok(changed > on[0].x.length, `${dataset}: --augment changed only ${changed} pixels`);
    }
  }
});

leakFreeTest(
  "train: with --augment, interrupted and resumed still equals the uninterrupted run",
  async () => {
    const root = await Deno.makeTempDir();
    try {
      const data = toyData();
      const cfg = (dir: string) => toyConfig(join(root, dir), { augment: true });
      const a = await train(cfg("a"), { data });
      dispose(a.params);
      const b1 = await train(cfg("b"), { data, stopAfterStep: 4 });
      dispose(b1.params);
      const b2 = await train(cfg("b"), { data, resume: true });
      dispose(b2.params);
      assert.deepEqual(await paramsOf(join(root, "b")), await paramsOf(join(root, "a")));
      // and augmentation did change the training
      const c = await train(toyConfig(join(root, "c")), { data });
      dispose(c.params);
      assert.notDeepEqual(await paramsOf(join(root, "c")), await paramsOf(join(root, "a")));
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
);

leakFreeTest(
  "train: a NaN loss stops with a clear error and keeps the last good checkpoint",
  async () => {
    const root = await Deno.makeTempDir();
    try {
      const data = toyData();
      const dir = join(root, "n");
      const r = await train(toyConfig(dir, { epochs: 1 }), { data });
      dispose(r.params);
      const before = await Deno.readFile((await listCheckpoints(dir))[0]);
      const bad = toyData();
      bad.train.images[0] = NaN;
      await assert.rejects(
        () => train(toyConfig(dir, { epochs: 2 }), { data: bad, resume: true }),
        (e: unknown) =>
          e instanceof DivergedError && /loss is NaN at step [4-6]/.test(e.message) &&
          /model\.ckpt-3/.test(e.message),
      );
      const after = await listCheckpoints(dir);
      assert.equal(after.length, 1);
      assert.deepEqual(await Deno.readFile(after[0]), before);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
);

leakFreeTest(
  "checkpoints: another architecture and corrupt files are refused with the reason",
  async () => {
    const root = await Deno.makeTempDir();
    try {
      const dir = join(root, "c");
      const r = await train(toyConfig(dir, { epochs: 1 }), { data: toyData() });
      const path = (await listCheckpoints(dir))[0];
      const ck = await loadCheckpoint(path);
      const wider = toyConfig(join(root, "w"), { epochs: 1 });
      wider.arch.width = 3;
      // a network of another width rejects the checkpoint, naming the differences
      const { buildNetwork, paramsFromCheckpoint } = await import("./model.ts");
      const net = buildNetwork(wider.arch, [1, 8, 8], 4, [0.3]);
      assert.throws(
        () => paramsFromCheckpoint(net, ck.params, path),
        /does not match the network architecture.*\n.*shape mismatches: 1\.kernel: expected \[\d+,3,3,3\]/,
      );
      dispose(r.params);
      const bytes = await Deno.readFile(path);
      await Deno.writeFile(path, bytes.subarray(0, 100));
      await assert.rejects(() => loadCheckpoint(path), /checksum mismatch/);
      await Deno.writeTextFile(path.replace(".safetensors", ".json"), "{ not json");
      await assert.rejects(() => loadCheckpoint(path), /corrupt checkpoint metadata/);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
);

leakFreeTest(
  "train: resumes a checkpoint whose config still says eps (before eps255)",
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const data = toyData();
      dispose((await train(toyConfig(dir, { epochs: 1, eps255: [9, 36] }), { data })).params);
      // rewrite the checkpoint's config as versions before the rename wrote it
      const json = (await listCheckpoints(dir)).at(-1)!.replace(/\.safetensors$/, ".json");
      const meta = JSON.parse(await Deno.readTextFile(json));
      meta.config.eps = meta.config.eps255;
      delete meta.config.eps255;
      await Deno.writeTextFile(json, JSON.stringify(meta));
      assert.deepEqual(
        (await loadCheckpoint(json.replace(/\.json$/, ".safetensors"))).meta.config
          .eps255,
        [9, 36],
      );
      const r = await train(toyConfig(dir, { epochs: 2, eps255: [9, 36] }), { data, resume: true });
      assert.deepEqual(Object.keys(r.final!.certified).sort(), ["36", "9"]);
      dispose(r.params);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

/**
 * The page's shipped files: the sample is exactly the first Fashion-MNIST test images (and the
 * training subset the first training images) as the idx readers give them; the checkpoint is
 * small, and the page's bytes-only reader gives what `loadCheckpoint` gives, refuses a tampered
 * file, and reads architectures off the shapes of files without metadata (ours and a `.pth`).
 * @module
 */
import assert from "node:assert/strict";
import { loadDataset } from "../data/mod.ts";
import { loadCheckpoint } from "../train/checkpoint.ts";
import { memory } from "../tensor/mod.ts";
import { decodeImageSet, gunzip } from "./sample.ts";
import { inferArchitecture, readHostModel } from "./checkpoint.ts";
import type { HostTensor } from "../io/host_tensor.ts";
import { lipschitzNetwork } from "../layers/network.ts";
import { SAMPLE_SIZE, TRAIN_SUBSET } from "./make_assets.ts";

const asset = (f: string) => new URL(`./assets/${f}`, import.meta.url);
const CKPT = "fmnist_tiny.safetensors", META = "fmnist_tiny.json";

Deno.test("web assets: the sample and the training subset are the first idx images", async () => {
  const { train, test } = await loadDataset("fashion-mnist", {
    limitTest: SAMPLE_SIZE,
    limitTrain: TRAIN_SUBSET,
    download: false,
  });
  const sample = decodeImageSet(
    await Deno.readFile(asset(`fmnist_test_${SAMPLE_SIZE}.bin`)),
    "sample",
  );
  const subset = decodeImageSet(
    await gunzip(await Deno.readFile(asset(`fmnist_train_${TRAIN_SUBSET}.bin.gz`))),
    "subset",
  );
  for (
    const [set, ds, n] of [[sample, test, SAMPLE_SIZE], [subset, train, TRAIN_SUBSET]] as const
  ) {
    assert.equal(set.n, n);
    assert.equal(ds.n, n);
    assert.deepEqual([set.rows, set.cols, set.classes], [28, 28, 10]);
    assert.deepEqual(Int32Array.from(set.labels), ds.labels);
    // the page feeds byte / 255 in float32, as the idx reader does
    assert.deepEqual(Float32Array.from(set.pixels, (p) => p / 255), ds.images);
  }
  assert.throws(() => decodeImageSet(new Uint8Array(10), "x.bin"), /x\.bin: not an image set/);
  const bytes = await Deno.readFile(asset(`fmnist_test_${SAMPLE_SIZE}.bin`));
  assert.throws(() => decodeImageSet(bytes.subarray(0, bytes.length - 1), "cut.bin"), /truncated/);
});

Deno.test("web assets: the shipped checkpoint reads on the page as loadCheckpoint reads it", async () => {
  const before = memory().tensors;
  const bytes = await Deno.readFile(asset(CKPT));
  const meta = await Deno.readFile(asset(META));
  assert.ok(bytes.length < 600_000, `the shipped checkpoint is ${bytes.length} bytes`);
  const ck = await loadCheckpoint(asset(CKPT).pathname);
  const m = await readHostModel({ name: CKPT, bytes }, { name: META, bytes: meta });
  const { name: _, ...arch } = ck.meta.model.arch;
  assert.deepEqual(
    { ...m.config },
    { inputShape: ck.meta.model.inputShape, numClasses: 10, mean: ck.meta.model.mean, ...arch },
  );
  assert.equal(m.dataset, "fashion-mnist");
  assert.deepEqual(Object.keys(m.leaves).sort(), Object.keys(ck.params).sort());
  for (const [k, h] of Object.entries(ck.params)) assert.deepEqual(m.leaves[k].data, h.data, k);
  // without its .json: the architecture off the shapes, q as our training uses it
  const alone = await readHostModel({ name: CKPT, bytes });
  assert.deepEqual({ ...alone.config, mean: [] }, { ...m.config, mean: [] });
  assert.match(alone.description, /architecture read off its shapes/);
  // a flipped byte fails the checksum; a .json of another file too
  const bad = bytes.slice();
  bad[bad.length - 1] ^= 1;
  await assert.rejects(
    readHostModel({ name: CKPT, bytes: bad }, { name: META, bytes: meta }),
    /checksum mismatch/,
  );
  await assert.rejects(
    readHostModel({ name: "notes.txt", bytes }),
    /not a checkpoint the page reads/,
  );
  assert.equal(memory().tensors, before, "no tensor made");
});

Deno.test("web assets: a reference .pth is read with its architecture off the shapes", async () => {
  const pth = await Deno.readFile(
    new URL("../tests/fixtures/tiny_c1_28.ckpt.pth", import.meta.url),
  );
  const m = await readHostModel({ name: "tiny.pth", bytes: pth });
  assert.deepEqual(
    [
      m.config.nConv,
      m.config.width,
      m.config.convInnerDim,
      m.config.nDense,
      m.config.denseInnerDim,
    ],
    [2, 8, 5, 2, 32],
  );
  assert.equal(m.config.qMode, "reference");
  await assert.rejects(
    readHostModel({ name: "cut.pth", bytes: pth.subarray(0, 100) }),
    /cut\.pth: corrupt PyTorch checkpoint/,
  );
});

Deno.test("web assets: a space-to-depth network's shapes read back with its spaceToDepth", () => {
  for (const spaceToDepth of [1, 2]) {
    const net = lipschitzNetwork({
      inputShape: [1, 28, 28],
      numClasses: 10,
      nConv: 1,
      nDense: 1,
      width: 4,
      convInnerDim: 3,
      denseInnerDim: 8,
      mean: [0.3],
      spaceToDepth,
    });
    // the reference layout's paths ("2.kernel", …) with their shapes; the values are not read
    const leaves: Record<string, HostTensor> = {};
    for (const [k, shape] of Object.entries(net.stateDictShapes)) {
      const path = k.replace("module.model.model.", "");
      leaves[path] = { dtype: "float32", shape: [...shape], data: new Float32Array(0) };
    }
    const arch = inferArchitecture(leaves, "s2d.pth");
    assert.equal(arch.spaceToDepth ?? 1, spaceToDepth);
    const again = lipschitzNetwork({ ...arch, mean: [0.3] });
    assert.deepEqual(again.stateDictShapes, net.stateDictShapes);
  }
});

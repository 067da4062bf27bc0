/**
 * Regenerates the page's assets (`deno task assets:web`): trains the shipped checkpoint with
 * {@linkcode TRAIN_ARGS} (unless `--skip-train`), keeps its parameters only (the optimizer state
 * would triple the size), and writes the test sample and the training subset from Fashion-MNIST.
 * Deno only (files, subprocess); the page reads what it writes.
 * @module
 */
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { loadDataset } from "../data/mod.ts";
import { writeSafetensors } from "../io/safetensors.ts";
import { listCheckpoints, loadCheckpoint, sha256Hex } from "../train/checkpoint.ts";
import type { HostTensor } from "../io/host_tensor.ts";
import { encodeImageSet } from "./sample.ts";

/** The exact `deno task train` flags of the shipped checkpoint. */
export const TRAIN_ARGS: readonly string[] = [
  "--model-name",
  "tiny",
  "--dense-inner-dim",
  "128",
  "--epochs",
  "3",
  "--seed",
  "0",
  "--train-dir",
  "runs/web-checkpoint",
  "--quiet",
];
/** Test images in the sample the page certifies. */
export const SAMPLE_SIZE = 200;
/** Training images shipped for training in the tab. */
export const TRAIN_SUBSET = 1000;

const ROOT = new URL("../", import.meta.url);
const ASSETS = new URL("web/assets/", ROOT);

/** The Fashion-MNIST images of a split as the page's image-set bytes. */
function imageSetBytes(ds: { images: Float32Array; labels: Int32Array; n: number }): Uint8Array {
  const pixels = new Uint8Array(ds.images.length);
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.round(ds.images[i] * 255);
  return encodeImageSet({
    n: ds.n,
    rows: 28,
    cols: 28,
    classes: 10,
    labels: Uint8Array.from(ds.labels),
    pixels,
  });
}

async function writeCheckpoint(trainDir: string): Promise<void> {
  const latest = (await listCheckpoints(trainDir)).at(-1);
  if (!latest) throw new Error(`${trainDir}: no checkpoint; run without --skip-train`);
  const ck = await loadCheckpoint(latest);
  const tensors: Record<string, HostTensor> = {};
  for (const [p, h] of Object.entries(ck.params)) tensors[`param.${p}`] = h;
  const bytes = writeSafetensors(tensors, { format: "sll", step: String(ck.meta.step) });
  const meta = {
    ...ck.meta,
    tensors: { sha256: await sha256Hex(bytes), bytes: bytes.byteLength },
  };
  await Deno.writeFile(new URL("fmnist_tiny.safetensors", ASSETS), bytes);
  await Deno.writeTextFile(
    new URL("fmnist_tiny.json", ASSETS),
    JSON.stringify(meta, null, 2) + "\n",
  );
  console.error(
    `wrote web/assets/fmnist_tiny.safetensors (${bytes.byteLength} bytes) from ${latest}`,
  );
}

async function main(args: string[]): Promise<void> {
  const trainDir = TRAIN_ARGS[TRAIN_ARGS.indexOf("--train-dir") + 1];
  if (!args.includes("--skip-train")) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--unstable-webgpu", "cli/main.ts", "train", ...TRAIN_ARGS],
      cwd: ROOT,
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!out.success) throw new Error(`training failed (exit ${out.code})`);
  }
  await Deno.mkdir(ASSETS, { recursive: true });
  await writeCheckpoint(join(new URL(".", ROOT).pathname, trainDir));
  const { train, test } = await loadDataset("fashion-mnist", {
    limitTrain: TRAIN_SUBSET,
    limitTest: SAMPLE_SIZE,
  });
  await Deno.writeFile(new URL(`fmnist_test_${SAMPLE_SIZE}.bin`, ASSETS), imageSetBytes(test));
  await Deno.writeFile(
    new URL(`fmnist_train_${TRAIN_SUBSET}.bin.gz`, ASSETS),
    gzipSync(imageSetBytes(train), { level: 9 }),
  );
  console.error(`wrote the sample (${test.n} test images) and ${train.n} training images`);
}

if (import.meta.main) await main(Deno.args);

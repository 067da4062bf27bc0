/**
 * Small checkpoints of ours made in a temp dir without training (for the trust suites of issue
 * #9), and a rewrite helper that edits a checkpoint's tensors or metadata while keeping its
 * SHA-256 valid — a file that passes every checksum yet holds what a test wants.
 * @module
 */
import { join } from "node:path";
import { readSafetensors, writeSafetensors } from "../io/safetensors.ts";
import { dispose, scope } from "../tensor/mod.ts";
import { randomKey } from "../tensor/random.ts";
import { type CheckpointMeta, saveCheckpoint, sha256Hex } from "../train/checkpoint.ts";
import { type Arch, DEFAULT_CONFIG, parseTrainConfig } from "../train/config.ts";
import { buildNetwork } from "../train/model.ts";
import type { HostTensor } from "../io/host_tensor.ts";

/** The small architecture of the trust suites (1×28×28 → 10 classes, ~10k parameters). */
export const SMALL_ARCH: Arch = {
  nConv: 1,
  nDense: 1,
  width: 4,
  convInnerDim: 4,
  denseInnerDim: 16,
  qMode: "paper",
};

/**
 * Writes a freshly initialised checkpoint of `arch` on Fashion-MNIST's shape into
 * `<trainDir>/checkpoints/` and returns its safetensors path.
 */
export async function makeCheckpoint(
  trainDir: string,
  arch: Arch = SMALL_ARCH,
  seed = 0,
): Promise<string> {
  const config = parseTrainConfig({ ...structuredClone(DEFAULT_CONFIG), trainDir, arch, seed });
  const mean = [0.286];
  const net = buildNetwork(arch, [1, 28, 28], 10, mean);
  const params = scope(() => net.init(randomKey(seed)).params);
  const meta: Omit<CheckpointMeta, "tensors"> = {
    format: "sll-checkpoint",
    version: 2,
    config,
    model: { dataset: "fashion-mnist", inputShape: [1, 28, 28], numClasses: 10, mean, arch },
    epoch: config.epochs,
    step: 10,
    stepInEpoch: 0,
    optimizer: { name: "adam", step: 10 },
    rng: { seed, key: [0, seed] },
    reason: "final",
    savedAt: new Date(0).toISOString(),
  };
  try {
    return await saveCheckpoint(trainDir, params, {}, meta);
  } finally {
    dispose(params);
  }
}

/**
 * Rewrites the checkpoint at `path` (safetensors) through `edit`, which may change the tensors
 * (by file key, e.g. "param.1.kernel") and the metadata object, then records the new file's
 * SHA-256 and size so every checksum stays valid.
 */
export async function rewriteCheckpoint(
  path: string,
  edit: (tensors: Record<string, HostTensor>, meta: Record<string, unknown>) => void,
): Promise<void> {
  const jsonPath = path.replace(/\.safetensors$/, ".json");
  const { tensors, metadata } = readSafetensors(await Deno.readFile(path));
  const copy: Record<string, HostTensor> = {};
  for (const [k, t] of Object.entries(tensors)) {
    copy[k] = { ...t, data: (t.data as Float32Array).slice() };
  }
  const meta = JSON.parse(await Deno.readTextFile(jsonPath));
  edit(copy, meta);
  const bytes = writeSafetensors(copy, metadata);
  meta.tensors = { sha256: await sha256Hex(bytes), bytes: bytes.byteLength };
  await Deno.writeFile(path, bytes);
  await Deno.writeTextFile(jsonPath, JSON.stringify(meta, null, 2) + "\n");
}

/** `<dir>/checkpoints/model.ckpt-10.safetensors`, the path {@linkcode makeCheckpoint} writes. */
export function checkpointPath(dir: string): string {
  return join(dir, "checkpoints", "model.ckpt-10.safetensors");
}

/**
 * Checkpoints: `<dir>/checkpoints/model.ckpt-<step>.safetensors` (parameters as `param.<path>`,
 * optimizer slots as `<slot>.<path>`, float32, keyed by tree path) plus `.json` metadata
 * (config, the model needed to rebuild and evaluate it, epoch, step, metrics, RNG state and the
 * SHA-256 of the tensor file). Loading trusts nothing: bounded schema, checksum, parameter shapes
 * against the architecture before anything is built, finite parameters. Both files are written
 * to a temporary name and renamed, safetensors first, so a `.json` marks a complete checkpoint.
 * Longer than 600 lines because the format, its schema and the checks on loading are one
 * contract, written and read together.
 * @module
 */
import { writeFileAtomic } from "../io/files.ts";
import { z } from "zod";
import { basename, dirname, join } from "node:path";
import { readSafetensors, writeSafetensors } from "../io/safetensors.ts";
import type { HostTensor } from "../io/host_tensor.ts";
import { type Tensor, tensor } from "../tensor/mod.ts";
import { flattenTree, mapTree } from "../tensor/tree.ts";
import { type Arch, SpaceToDepthSchema, type TrainConfig, TrainConfigSchema } from "./config.ts";
import { DATASET_NAMES, type DatasetName } from "../data/mod.ts";
import { lipschitzNetwork } from "../layers/network.ts";
import { CONVNET_SIZES, type ConvNetSize } from "../layers/convnet.ts";
import { stateDictShapesOf } from "../layers/state_dict.ts";
import { archKind, buildNetwork } from "./model.ts";

/** Evaluation results: natural and certified accuracy (fractions) on `n` test images. */
export interface EvalResult {
  /** Number of test images. */
  n: number;
  /** Natural accuracy in [0, 1]. */
  accuracy: number;
  /** Certified accuracy by ε in units of 1/255 (keys "36", "72", …). */
  certified: Record<string, number>;
  /**
   * The certified Lipschitz bound the certificates used (certify's `certifiedLipschitzBound`):
   * `bound` null when none is finite (nothing certified), `text` what it rests on.
   */
  lipschitz?: { bound: number | null; text: string };
}

/** Everything needed to rebuild and evaluate a network without flags. */
export interface ModelSpec {
  /** Dataset it was trained on (the test split to evaluate on). */
  dataset: DatasetName;
  /** Per-example input shape [C, H, W]. */
  inputShape: [number, number, number];
  /** Number of classes. */
  numClasses: number;
  /** Channel means subtracted by the network (one per input channel). */
  mean: number[];
  /** Network sizes and q mode. */
  arch: Arch;
}

/** The tensor file a checkpoint's metadata vouches for. */
export interface TensorFileRecord {
  /** Lower-case hex SHA-256 of the whole `.safetensors` file. */
  sha256: string;
  /** Its size in bytes. */
  bytes: number;
}

/** Checkpoint metadata (the `.json` file). */
export interface CheckpointMeta {
  /** Format tag. */
  format: "sll-checkpoint";
  /** Format version (2: with `model` and `tensors`). */
  version: 2;
  /** The full training configuration (resume continues it). */
  config: TrainConfig;
  /** The model: rebuilds and evaluates the network with no flags. */
  model: ModelSpec;
  /** SHA-256 and size of the `.safetensors` file, verified on load. */
  tensors: TensorFileRecord;
  /** Completed epochs (fractional when saved mid-epoch). */
  epoch: number;
  /** Updates applied so far. */
  step: number;
  /** Updates done inside the current epoch (0 at an epoch boundary). */
  stepInEpoch: number;
  /** Optimizer name and its update count. */
  optimizer: { name: string; step: number };
  /** Data-order RNG: the seed; batch order is a function of (seed, epoch). */
  rng: { seed: number; key: [number, number] };
  /** Last evaluation, if any. */
  metrics?: EvalResult;
  /** Why it was written: "epoch", "final", "interrupt". */
  reason: string;
  /** ISO time of writing. */
  savedAt: string;
}

const EvalSchema: z.ZodType<EvalResult> = z.object({
  n: z.number().int().nonnegative(),
  accuracy: z.number(),
  certified: z.record(z.string(), z.number()),
  lipschitz: z.object({ bound: z.number().nullable(), text: z.string() }).optional(),
});

/**
 * Upper bounds on what checkpoint metadata may ask to build. They sit far above every preset
 * (xlarge: 70 convs, 15 dense, width 120, dense inner 2048) and stop crafted metadata from
 * building a network that would run for minutes or exhaust memory.
 */
export const MODEL_LIMITS: Readonly<{
  nConv: number;
  nDense: number;
  width: number;
  convInnerDim: number;
  denseInnerDim: number;
  channels: number;
  side: number;
  numClasses: number;
}> = Object.freeze({
  nConv: 1000,
  nDense: 1000,
  width: 4096,
  convInnerDim: 4096,
  denseInnerDim: 65536,
  channels: 64,
  side: 1024,
  numClasses: 100_000,
});

const L = MODEL_LIMITS;
const bounded = (max: number, min = 1) => z.number().int().min(min).max(max);

/** A bounded architecture (the training schema's, with the upper limits of MODEL_LIMITS). */
const BoundedArchSchema = z.object({
  name: z.string().max(200).optional(),
  nConv: bounded(L.nConv, 0),
  nDense: bounded(L.nDense, 0),
  width: bounded(L.width),
  convInnerDim: bounded(L.convInnerDim),
  denseInnerDim: bounded(L.denseInnerDim),
  spaceToDepth: SpaceToDepthSchema.optional(),
  qMode: z.enum(["paper", "reference"]),
  kind: z.enum(["sll", "convnet"]).optional(),
  layer: z.string().max(64).optional(),
  size: z.enum(Object.keys(CONVNET_SIZES) as [ConvNetSize, ...ConvNetSize[]]).optional(),
});

/** zod schema of {@linkcode ModelSpec}, bounded by {@linkcode MODEL_LIMITS}. */
export const ModelSpecSchema: z.ZodType<ModelSpec> = z.object({
  dataset: z.enum(DATASET_NAMES as [DatasetName, ...DatasetName[]]),
  inputShape: z.tuple([bounded(L.channels), bounded(L.side), bounded(L.side)]),
  numClasses: bounded(L.numClasses),
  mean: z.array(z.number().finite()).min(1).max(L.channels),
  arch: BoundedArchSchema,
});

/** zod schema of checkpoint metadata. */
export const CheckpointMetaSchema: z.ZodType<CheckpointMeta> = z.object({
  format: z.literal("sll-checkpoint"),
  version: z.literal(2),
  config: TrainConfigSchema,
  model: ModelSpecSchema,
  tensors: z.object({
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    bytes: z.number().int().nonnegative(),
  }),
  epoch: z.number().nonnegative(),
  step: z.number().int().nonnegative(),
  stepInEpoch: z.number().int().nonnegative(),
  optimizer: z.object({ name: z.string(), step: z.number().int().nonnegative() }),
  rng: z.object({
    seed: z.number().int(),
    key: z.tuple([z.number().int(), z.number().int()]),
  }),
  metrics: EvalSchema.optional(),
  reason: z.string(),
  savedAt: z.string(),
});

/** What a checkpoint holds once loaded to the host. */
export interface LoadedCheckpoint {
  /** Validated metadata. */
  meta: CheckpointMeta;
  /** Parameter leaves by tree path. */
  params: Record<string, HostTensor>;
  /** Optimizer slots: slot name → leaves by tree path. */
  slots: Record<string, Record<string, HostTensor>>;
  /** Path of the safetensors file. */
  path: string;
}

/** The checkpoint file name for `step`. */
export function checkpointName(step: number): string {
  return `model.ckpt-${step}`;
}

async function toHost(tree: unknown): Promise<Record<string, HostTensor>> {
  const out: Record<string, HostTensor> = {};
  for (const [p, t] of Object.entries(flattenTree(tree))) {
    const data = await t.data();
    out[p] = {
      dtype: "float32",
      shape: [...t.shape],
      data: data instanceof Float32Array ? new Float32Array(data) : Float32Array.from(data),
    };
  }
  return out;
}

/**
 * Writes a checkpoint of `params` and optimizer `slots` into `<trainDir>/checkpoints/`.
 * Returns the safetensors path. Never overwrites an existing checkpoint of another run: the
 * name is unique per step, and an existing file for the same step is replaced atomically.
 *
 * @example
 * ```ts
 * import { randomKey } from "@sll/sll";
 * import { archFromPreset, buildNetwork, DEFAULT_CONFIG, type ModelSpec, saveCheckpoint } from "@sll/sll/train";
 * const trainDir = await Deno.makeTempDir();
 * const model: ModelSpec = {
 *   dataset: "fashion-mnist", inputShape: [1, 4, 4], numClasses: 2, mean: [0.5],
 *   arch: { ...archFromPreset("tiny"), width: 2, denseInnerDim: 8 },
 * };
 * const net = buildNetwork(model.arch, model.inputShape, model.numClasses, model.mean);
 * const { params } = net.init(randomKey(0));
 * const path = await saveCheckpoint(trainDir, params, {}, {
 *   format: "sll-checkpoint", version: 2, config: { ...DEFAULT_CONFIG, trainDir, arch: model.arch },
 *   model, epoch: 0, step: 0, stepInEpoch: 0, optimizer: { name: "adam", step: 0 },
 *   rng: { seed: 0, key: [0, 0] }, reason: "example", savedAt: new Date().toISOString(),
 * }); // <trainDir>/checkpoints/model.ckpt-0.safetensors, beside its .json
 * await Deno.remove(trainDir, { recursive: true });
 * ```
 */
export async function saveCheckpoint(
  trainDir: string,
  params: unknown,
  slots: Record<string, unknown>,
  meta: Omit<CheckpointMeta, "tensors">,
): Promise<string> {
  const dir = join(trainDir, "checkpoints");
  await Deno.mkdir(dir, { recursive: true });
  const tensors: Record<string, HostTensor> = {};
  for (const [p, h] of Object.entries(await toHost(params))) tensors[`param.${p}`] = h;
  for (const [slot, tree] of Object.entries(slots)) {
    for (const [p, h] of Object.entries(await toHost(tree))) tensors[`${slot}.${p}`] = h;
  }
  const base = join(dir, checkpointName(meta.step));
  const st = `${base}.safetensors`;
  const bytes = writeSafetensors(tensors, { format: "sll", step: String(meta.step) });
  const full: CheckpointMeta = {
    ...meta,
    tensors: { sha256: await sha256Hex(bytes), bytes: bytes.byteLength },
  };
  await writeFileAtomic(st, bytes);
  await writeFileAtomic(
    `${base}.json`,
    new TextEncoder().encode(JSON.stringify(full, null, 2) + "\n"),
  );
  return st;
}

/**
 * Complete checkpoints (both files present) in `<trainDir>/checkpoints`, sorted by step.
 * Returns the safetensors paths; `[]` when the folder does not exist.
 *
 * @example
 * ```ts
 * import { dispose } from "@sll/sll";
 * import { archFromPreset, type Dataset, DEFAULT_CONFIG, listCheckpoints, train } from "@sll/sll/train";
 * const toy = (n: number): Dataset => ({
 *   name: "toy", n, numClasses: 2, shape: [1, 4, 4], labels: Int32Array.from({ length: n }, (_, i) => i % 2),
 *   images: Float32Array.from({ length: n * 16 }, (_, i) => (i % 16 < 8) === (i % 32 < 16) ? 1 : 0),
 * });
 * const trainDir = await Deno.makeTempDir(); // a one-epoch toy run leaves a checkpoint there
 * const run = await train(
 *   { ...DEFAULT_CONFIG, trainDir, epochs: 1, batchSize: 8, evalBatchSize: 8, mean: [0.5],
 *     arch: { ...archFromPreset("tiny"), width: 2, denseInnerDim: 8 } },
 *   { data: { train: toy(16), test: toy(8) } },
 * );
 * dispose(run.params);
 * const latest = (await listCheckpoints(trainDir)).at(-1); // …/checkpoints/model.ckpt-2.safetensors
 * await Deno.remove(trainDir, { recursive: true });
 * ```
 */
export async function listCheckpoints(trainDir: string): Promise<string[]> {
  const dir = join(trainDir, "checkpoints");
  const found: [number, string][] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      const m = /^model\.ckpt-(\d+)\.json$/.exec(e.name);
      if (!m) continue;
      const st = join(dir, `model.ckpt-${m[1]}.safetensors`);
      try {
        await Deno.stat(st);
        found.push([Number(m[1]), st]);
      } catch { /* incomplete: skip */ }
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return [];
    throw e;
  }
  return found.sort((a, b) => a[0] - b[0]).map(([, p]) => p);
}

/**
 * Resolves `--checkpoint`: a safetensors/json file of ours, a `.pth` file, a train dir or its
 * `checkpoints/` folder (the latest checkpoint). Throws naming the path when nothing is there.
 *
 * @example
 * ```ts
 * import { dispose } from "@sll/sll";
 * import { archFromPreset, type Dataset, DEFAULT_CONFIG, resolveCheckpoint, train } from "@sll/sll/train";
 * const toy = (n: number): Dataset => ({
 *   name: "toy", n, numClasses: 2, shape: [1, 4, 4], labels: Int32Array.from({ length: n }, (_, i) => i % 2),
 *   images: Float32Array.from({ length: n * 16 }, (_, i) => (i % 16 < 8) === (i % 32 < 16) ? 1 : 0),
 * });
 * const trainDir = await Deno.makeTempDir(); // a one-epoch toy run leaves a checkpoint there
 * const run = await train(
 *   { ...DEFAULT_CONFIG, trainDir, epochs: 1, batchSize: 8, evalBatchSize: 8, mean: [0.5],
 *     arch: { ...archFromPreset("tiny"), width: 2, denseInnerDim: 8 } },
 *   { data: { train: toy(16), test: toy(8) } },
 * );
 * dispose(run.params);
 * const file = await resolveCheckpoint(trainDir); // the latest: …/checkpoints/model.ckpt-2.safetensors
 * await Deno.remove(trainDir, { recursive: true });
 * ```
 */
export async function resolveCheckpoint(path: string): Promise<string> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    throw new Error(`${path}: no such file or directory; pass a checkpoint file or a train dir`);
  }
  if (info.isFile) {
    return path.endsWith(".json") ? path.slice(0, -5) + ".safetensors" : path;
  }
  const candidates = [
    ...(await listCheckpoints(path)),
    ...(basename(path) === "checkpoints" ? await listCheckpoints(dirname(path)) : []),
  ];
  if (candidates.length === 0) {
    throw new Error(
      `${path}: no checkpoints found (expected checkpoints/model.ckpt-<step>.safetensors with its .json); train first or pass a file`,
    );
  }
  return candidates[candidates.length - 1];
}

/** Lower-case hex SHA-256 of `bytes` (Web Crypto). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Metadata files above this size are refused before reading (ours are a few kB). */
const MAX_META_BYTES = 1 << 20;

function issuesLine(issues: readonly { path: PropertyKey[]; message: string }[]): string {
  const lines = issues.map((i) => `${i.path.map(String).join(".") || "(root)"}: ${i.message}`);
  return lines.slice(0, 4).join("; ") + (lines.length > 4 ? `; … ${lines.length - 4} more` : "");
}

/**
 * Validates checkpoint metadata (already parsed from JSON): the zod schema, with the
 * architecture bounded by {@linkcode MODEL_LIMITS} in both `model` and `config`. Throws an Error
 * naming `source` and the offending fields, in one line.
 *
 * @example
 * ```ts
 * import { dispose } from "@sll/sll";
 * import { archFromPreset, type Dataset, DEFAULT_CONFIG, parseCheckpointMeta, train } from "@sll/sll/train";
 * const toy = (n: number): Dataset => ({
 *   name: "toy", n, numClasses: 2, shape: [1, 4, 4], labels: Int32Array.from({ length: n }, (_, i) => i % 2),
 *   images: Float32Array.from({ length: n * 16 }, (_, i) => (i % 16 < 8) === (i % 32 < 16) ? 1 : 0),
 * });
 * const trainDir = await Deno.makeTempDir(); // a one-epoch toy run leaves a checkpoint there
 * const run = await train(
 *   { ...DEFAULT_CONFIG, trainDir, epochs: 1, batchSize: 8, evalBatchSize: 8, mean: [0.5],
 *     arch: { ...archFromPreset("tiny"), width: 2, denseInnerDim: 8 } },
 *   { data: { train: toy(16), test: toy(8) } },
 * );
 * dispose(run.params);
 * const json = run.checkpoint!.replace(/\.safetensors$/, ".json");
 * const meta = parseCheckpointMeta(JSON.parse(await Deno.readTextFile(json)), json);
 * meta.config.eps255; // [36, 72, 108, 255]
 * await Deno.remove(trainDir, { recursive: true });
 * ```
 */
export function parseCheckpointMeta(raw: unknown, source: string): CheckpointMeta {
  const v = (raw as { version?: unknown } | null)?.version;
  if (v === 1) {
    throw new Error(
      `${source}: checkpoint format version 1 (no model description or SHA-256 of its tensors) ` +
        `is no longer read; re-train, or certify the run with an sll from before version 2`,
    );
  }
  const r = CheckpointMetaSchema.safeParse(raw);
  if (!r.success) {
    throw new Error(`${source}: invalid checkpoint metadata: ${issuesLine(r.error.issues)}`);
  }
  const a = BoundedArchSchema.safeParse(r.data.config.arch);
  if (!a.success) {
    const issues = a.error.issues.map((i) => ({ ...i, path: ["config", "arch", ...i.path] }));
    throw new Error(`${source}: invalid checkpoint metadata: ${issuesLine(issues)}`);
  }
  return r.data;
}

/**
 * The parameter shapes (by tree path, e.g. `"1.kernel"`) of the network a {@linkcode ModelSpec}
 * describes, computed without allocating a tensor. Throws a RangeError naming `source` when the
 * spec describes no valid network (sizes out of {@linkcode MODEL_LIMITS}, H or W not divisible
 * by 4, one mean per channel, …).
 *
 * @example
 * ```ts
 * import { archFromPreset, expectedParamShapes } from "@sll/sll/train";
 * const arch = { ...archFromPreset("tiny"), width: 2, convInnerDim: 3 };
 * const shapes = expectedParamShapes(
 *   { dataset: "fashion-mnist", inputShape: [1, 28, 28], numClasses: 10, mean: [0.286], arch },
 *   "example",
 * );
 * Object.values(shapes)[1]; // e.g. [convInnerDim, width, 3, 3] for the first SLL convolution
 * ```
 */
export function expectedParamShapes(
  spec: ModelSpec,
  source: string,
): Record<string, readonly number[]> {
  const r = ModelSpecSchema.safeParse(spec);
  if (!r.success) {
    throw new RangeError(`${source}: invalid model description: ${issuesLine(r.error.issues)}`);
  }
  let shapes: Readonly<Record<string, readonly number[]>>;
  if (archKind(spec.arch) === "convnet") {
    // a ConvNet of a registered layer: its parameter shapes by tree path (unknown layer: error)
    try {
      return {
        ...stateDictShapesOf(
          buildNetwork(spec.arch, spec.inputShape, spec.numClasses, spec.mean).shapes().params,
        ),
      };
    } catch (e) {
      throw new RangeError(`${source}: invalid model description: ${(e as Error).message}`);
    }
  }
  try {
    shapes = lipschitzNetwork({
      inputShape: [...spec.inputShape],
      numClasses: spec.numClasses,
      nConv: spec.arch.nConv,
      nDense: spec.arch.nDense,
      width: spec.arch.width,
      convInnerDim: spec.arch.convInnerDim,
      denseInnerDim: spec.arch.denseInnerDim,
      spaceToDepth: spec.arch.spaceToDepth,
      mean: [...spec.mean],
      qMode: spec.arch.qMode,
    }).stateDictShapes;
  } catch (e) {
    throw new RangeError(`${source}: invalid model description: ${(e as Error).message}`);
  }
  const prefix = "module.model.model.";
  return Object.fromEntries(Object.entries(shapes).map(([k, v]) => [k.slice(prefix.length), v]));
}

/**
 * Checks that `leaves` hold exactly the parameters of `expected` (paths and shapes, float32 or
 * float64) before anything is built from them. Throws a TypeError naming `source` and listing
 * the first differences.
 *
 * @example
 * ```ts
 * import { dispose } from "@sll/sll";
 * import { archFromPreset, checkParamShapes, type Dataset, DEFAULT_CONFIG, expectedParamShapes, loadCheckpoint, train } from "@sll/sll/train";
 * const toy = (n: number): Dataset => ({
 *   name: "toy", n, numClasses: 2, shape: [1, 4, 4], labels: Int32Array.from({ length: n }, (_, i) => i % 2),
 *   images: Float32Array.from({ length: n * 16 }, (_, i) => (i % 16 < 8) === (i % 32 < 16) ? 1 : 0),
 * });
 * const trainDir = await Deno.makeTempDir(); // a one-epoch toy run leaves a checkpoint there
 * const run = await train(
 *   { ...DEFAULT_CONFIG, trainDir, epochs: 1, batchSize: 8, evalBatchSize: 8, mean: [0.5],
 *     arch: { ...archFromPreset("tiny"), width: 2, denseInnerDim: 8 } },
 *   { data: { train: toy(16), test: toy(8) } },
 * );
 * dispose(run.params);
 * const ck = await loadCheckpoint(run.checkpoint!);
 * checkParamShapes(expectedParamShapes(ck.meta.model, ck.path), ck.params, ck.path); // passes
 * await Deno.remove(trainDir, { recursive: true });
 * ```
 */
export function checkParamShapes(
  expected: Record<string, readonly number[]>,
  leaves: Record<string, HostTensor>,
  source: string,
  architecture = "",
): void {
  const missing: string[] = [];
  const unexpected: string[] = [];
  const wrong: string[] = [];
  for (const [p, shape] of Object.entries(expected)) {
    const h = Object.hasOwn(leaves, p) ? leaves[p] : undefined;
    if (!h) missing.push(`"${p}" [${shape.join(", ")}]`);
    else if (h.shape.join(",") !== shape.join(",")) {
      wrong.push(`"${p}" is [${h.shape.join(", ")}], expected [${shape.join(", ")}]`);
    } else if (h.dtype !== "float32" && h.dtype !== "float64") {
      wrong.push(`"${p}" has dtype ${h.dtype}, expected float32`);
    }
  }
  for (const [k, h] of Object.entries(leaves)) {
    if (!Object.hasOwn(expected, k)) unexpected.push(`"${k}" [${h.shape.join(", ")}]`);
  }
  if (missing.length + unexpected.length + wrong.length > 0) {
    const list = (what: string, items: string[]): string =>
      items.length === 0
        ? ""
        : `${what}: ${items.slice(0, 4).join(", ")}${
          items.length > 4 ? ` … ${items.length - 4} more` : ""
        }`;
    const parts = [
      list("missing keys", missing),
      list("unexpected keys", unexpected),
      list("shape mismatches", wrong),
    ].filter((p) => p);
    throw new TypeError(
      `${source}: the checkpoint does not match the architecture${
        architecture ? ` (${architecture})` : ""
      }: ${parts.join("; ")}`,
    );
  }
}

/** One-line description of a model spec's architecture, for errors. */
export function describeSpec(spec: ModelSpec): string {
  const a = spec.arch;
  if (a.kind === "convnet" || a.layer !== undefined) {
    return `ConvNet-${a.size} of ${a.layer} layers, ${spec.numClasses} classes, input [${spec.inputShape}]`;
  }
  return `nConv ${a.nConv}, nDense ${a.nDense}, width ${a.width}, convInnerDim ${a.convInnerDim}, ` +
    `denseInnerDim ${a.denseInnerDim}${
      (a.spaceToDepth ?? 1) === 1 ? "" : `, spaceToDepth ${a.spaceToDepth}`
    }, ${spec.numClasses} classes, input [${spec.inputShape}]`;
}

/**
 * Throws an Error naming `source`, the parameter (layer index and name) and the first bad element
 * when any parameter holds NaN or ±Infinity: such a model certifies nothing.
 *
 * @example
 * ```ts
 * import { dispose } from "@sll/sll";
 * import { archFromPreset, checkFiniteParams, type Dataset, DEFAULT_CONFIG, loadCheckpoint, train } from "@sll/sll/train";
 * const toy = (n: number): Dataset => ({
 *   name: "toy", n, numClasses: 2, shape: [1, 4, 4], labels: Int32Array.from({ length: n }, (_, i) => i % 2),
 *   images: Float32Array.from({ length: n * 16 }, (_, i) => (i % 16 < 8) === (i % 32 < 16) ? 1 : 0),
 * });
 * const trainDir = await Deno.makeTempDir(); // a one-epoch toy run leaves a checkpoint there
 * const run = await train(
 *   { ...DEFAULT_CONFIG, trainDir, epochs: 1, batchSize: 8, evalBatchSize: 8, mean: [0.5],
 *     arch: { ...archFromPreset("tiny"), width: 2, denseInnerDim: 8 } },
 *   { data: { train: toy(16), test: toy(8) } },
 * );
 * dispose(run.params);
 * const ck = await loadCheckpoint(run.checkpoint!);
 * checkFiniteParams(ck.params, ck.path); // passes; a NaN would throw "…: parameter "3.kernel" … holds NaN"
 * await Deno.remove(trainDir, { recursive: true });
 * ```
 */
export function checkFiniteParams(leaves: Record<string, HostTensor>, source: string): void {
  for (const [p, h] of Object.entries(leaves)) {
    if (
      h.dtype !== "float32" && h.dtype !== "float64" && h.dtype !== "float16" &&
      h.dtype !== "bfloat16"
    ) continue;
    const d = h.data as ArrayLike<number>;
    const half = h.dtype === "float16" || h.dtype === "bfloat16";
    for (let i = 0; i < d.length; i++) {
      // float16/bfloat16 bits: exponent all ones is Inf/NaN.
      const bad = half
        ? ((h.dtype === "float16" ? d[i] & 0x7c00 : d[i] & 0x7f80) ===
          (h.dtype === "float16" ? 0x7c00 : 0x7f80))
        : !Number.isFinite(d[i]);
      if (bad) {
        const layer = /(?:^|\.)(\d+)\.[^.]+$/.exec(p);
        throw new Error(
          `${source}: parameter "${p}"${layer ? ` (layer ${layer[1]})` : ""} holds ${
            half ? "a non-finite value" : String(d[i])
          } at element ${i} of [${h.shape.join(", ")}]; a model with non-finite parameters ` +
            `certifies nothing (corrupt file or diverged training): use another checkpoint`,
        );
      }
    }
  }
}

/**
 * Reads and validates one of our checkpoints (safetensors path; the `.json` beside it): the
 * bounded metadata schema, the SHA-256 of the tensor file, the parameter shapes against the
 * architecture (before anything is built) and finite parameters. Throws an Error naming the file
 * and what is wrong, in one line.
 *
 * @example
 * ```ts
 * import { dispose } from "@sll/sll";
 * import { archFromPreset, type Dataset, DEFAULT_CONFIG, loadCheckpoint, train } from "@sll/sll/train";
 * const toy = (n: number): Dataset => ({
 *   name: "toy", n, numClasses: 2, shape: [1, 4, 4], labels: Int32Array.from({ length: n }, (_, i) => i % 2),
 *   images: Float32Array.from({ length: n * 16 }, (_, i) => (i % 16 < 8) === (i % 32 < 16) ? 1 : 0),
 * });
 * const trainDir = await Deno.makeTempDir(); // a one-epoch toy run leaves a checkpoint there
 * const run = await train(
 *   { ...DEFAULT_CONFIG, trainDir, epochs: 1, batchSize: 8, evalBatchSize: 8, mean: [0.5],
 *     arch: { ...archFromPreset("tiny"), width: 2, denseInnerDim: 8 } },
 *   { data: { train: toy(16), test: toy(8) } },
 * );
 * dispose(run.params);
 * const ck = await loadCheckpoint(run.checkpoint!);
 * ck.meta.model; // what rebuilds the network: dataset, input shape, classes, mean, arch
 * await Deno.remove(trainDir, { recursive: true });
 * ```
 */
export async function loadCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const jsonPath = path.replace(/\.safetensors$/, "") + ".json";
  let metaText: string;
  try {
    const info = await Deno.stat(jsonPath);
    if (info.size > MAX_META_BYTES) {
      throw new Error(
        `${jsonPath}: checkpoint metadata is ${info.size} bytes, over the ${MAX_META_BYTES}-byte ` +
          `limit; not a checkpoint of ours`,
      );
    }
    metaText = await Deno.readTextFile(jsonPath);
  } catch (e) {
    if (e instanceof Error && e.message.startsWith(jsonPath)) throw e;
    throw new Error(
      `${jsonPath}: checkpoint metadata is missing; a checkpoint is a .safetensors file with its .json beside it`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(metaText);
  } catch (e) {
    // JSON.parse quotes the text around the error, newlines and control bytes included.
    const why = Array.from((e as Error).message, (c) => (c < " " || c === "\x7f" ? " " : c))
      .join("").replace(/\s+/g, " ").slice(0, 160);
    throw new Error(`${jsonPath}: corrupt checkpoint metadata (${why}); use an earlier checkpoint`);
  }
  const meta = parseCheckpointMeta(raw, jsonPath);
  // Shapes are checked against the stored tensors below; the architecture itself must describe
  // a valid network first (cheap: no tensor is made).
  const expected = expectedParamShapes(meta.model, jsonPath);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch {
    throw new Error(`${path}: checkpoint tensors are missing`);
  }
  const sum = await sha256Hex(bytes);
  if (bytes.byteLength !== meta.tensors.bytes || sum !== meta.tensors.sha256) {
    throw new Error(
      `${path}: checksum mismatch: the file is ${bytes.byteLength} bytes with SHA-256 ` +
        `${sum.slice(0, 16)}… but ${jsonPath} records ${meta.tensors.bytes} bytes with ` +
        `${meta.tensors.sha256.slice(0, 16)}…; the file is corrupt or was replaced: use an ` +
        `earlier checkpoint`,
    );
  }
  let tensors: Record<string, HostTensor>;
  try {
    tensors = readSafetensors(bytes).tensors;
  } catch (e) {
    throw new Error(
      `${path}: corrupt checkpoint (${(e as Error).message}); use an earlier checkpoint`,
    );
  }
  const params: Record<string, HostTensor> = {};
  const slots: Record<string, Record<string, HostTensor>> = {};
  for (const [k, h] of Object.entries(tensors)) {
    const dot = k.indexOf(".");
    if (dot <= 0) {
      throw new Error(`${path}: unexpected tensor "${k}" (expected param.<path> or <slot>.<path>)`);
    }
    const head = k.slice(0, dot), rest = k.slice(dot + 1);
    const into = head === "param" ? params : (slots[head] ??= Object.create(null));
    Object.defineProperty(into, rest, {
      value: h,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  checkParamShapes(expected, params, path, `${describeSpec(meta.model)}, from ${jsonPath}`);
  checkFiniteParams(params, path);
  return { meta, params, slots, path };
}

/**
 * Rebuilds a tensor tree shaped like `template` from host leaves, checking every path and shape.
 * Throws an Error listing the differences (a checkpoint of another architecture). Internal to
 * resuming; the public way to rebuild a network's parameters is `paramsFromCheckpoint`.
 */
export function treeFromHost<T>(
  template: T,
  leaves: Record<string, HostTensor>,
  source: string,
): T {
  const problems: string[] = [];
  const seen = new Set<string>();
  mapTree(template, (t, p) => {
    seen.add(p);
    const h = leaves[p];
    if (!h) problems.push(`missing "${p}" [${t.shape.join(", ")}]`);
    else if (h.shape.join(",") !== t.shape.join(",")) {
      problems.push(`"${p}" has shape [${h.shape.join(", ")}], expected [${t.shape.join(", ")}]`);
    }
    return t;
  });
  for (const k of Object.keys(leaves)) if (!seen.has(k)) problems.push(`unexpected "${k}"`);
  if (problems.length > 0) {
    const shown = problems.slice(0, 6).join("; ") +
      (problems.length > 6 ? `; … ${problems.length - 6} more` : "");
    throw new Error(
      `${source}: the checkpoint does not match the network architecture: ${shown}. ` +
        `Use the architecture flags it was trained with (or its own metadata)`,
    );
  }
  return mapTree(template, (t: Tensor, p) => {
    const h = leaves[p];
    const data = h.data instanceof Float32Array
      ? h.data
      : Float32Array.from(h.data as Float64Array);
    return tensor(data, { shape: t.shape });
  });
}

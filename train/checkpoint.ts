/**
 * Checkpoints: `<dir>/checkpoints/model.ckpt-<step>.safetensors` (parameters as `param.<path>`,
 * optimizer slots as `<slot>.<path>`, float32, keyed by tree path) plus `.json` metadata
 * (config, epoch, step, metrics, RNG state) validated with zod on load. Both files are written
 * to a temporary name and renamed, safetensors first, so a `.json` marks a complete checkpoint.
 * @module
 */
import { writeFileAtomic } from "../io/files.ts";
import { z } from "zod";
import { basename, dirname, join } from "node:path";
import { readSafetensors, writeSafetensors } from "../io/safetensors.ts";
import type { HostTensor } from "../io/host_tensor.ts";
import { type Tensor, tensor } from "../tensor/mod.ts";
import { flattenTree, mapTree } from "../tensor/tree.ts";
import { type TrainConfig, TrainConfigSchema } from "./config.ts";

/** Evaluation results: natural and certified accuracy (fractions) on `n` test images. */
export interface EvalResult {
  /** Number of test images. */
  n: number;
  /** Natural accuracy in [0, 1]. */
  accuracy: number;
  /** Certified accuracy by ε in units of 1/255 (keys "36", "72", …). */
  certified: Record<string, number>;
}

/** Checkpoint metadata (the `.json` file). */
export interface CheckpointMeta {
  /** Format tag. */
  format: "sll-checkpoint";
  /** Format version. */
  version: 1;
  /** The full training configuration (rebuilds the network). */
  config: TrainConfig;
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
});

/** zod schema of checkpoint metadata. */
export const CheckpointMetaSchema: z.ZodType<CheckpointMeta> = z.object({
  format: z.literal("sll-checkpoint"),
  version: z.literal(1),
  config: TrainConfigSchema,
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
 * ```ts ignore
 * import { saveCheckpoint } from "./checkpoint.ts";
 * const path = await saveCheckpoint("runs/a", params, { exp_avg: m, exp_avg_sq: v }, meta);
 * ```
 */
export async function saveCheckpoint(
  trainDir: string,
  params: unknown,
  slots: Record<string, unknown>,
  meta: CheckpointMeta,
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
  await writeFileAtomic(st, writeSafetensors(tensors, { format: "sll", step: String(meta.step) }));
  await writeFileAtomic(
    `${base}.json`,
    new TextEncoder().encode(JSON.stringify(meta, null, 2) + "\n"),
  );
  return st;
}

/**
 * Complete checkpoints (both files present) in `<trainDir>/checkpoints`, sorted by step.
 * Returns the safetensors paths; `[]` when the folder does not exist.
 *
 * @example
 * ```ts ignore
 * import { listCheckpoints } from "./checkpoint.ts";
 * const latest = (await listCheckpoints("runs/a")).at(-1);
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
 * ```ts ignore
 * import { resolveCheckpoint } from "./checkpoint.ts";
 * const file = await resolveCheckpoint("runs/a"); // runs/a/checkpoints/model.ckpt-940.safetensors
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

/**
 * Reads and validates one of our checkpoints (safetensors path; the `.json` beside it).
 * Throws an Error naming the file and what is wrong (missing, truncated, invalid metadata).
 *
 * @example
 * ```ts ignore
 * import { loadCheckpoint } from "./checkpoint.ts";
 * const ck = await loadCheckpoint("runs/a/checkpoints/model.ckpt-940.safetensors");
 * ck.meta.config.arch; // rebuilds the network
 * ```
 */
export async function loadCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const jsonPath = path.replace(/\.safetensors$/, "") + ".json";
  let metaText: string;
  try {
    metaText = await Deno.readTextFile(jsonPath);
  } catch {
    throw new Error(
      `${jsonPath}: checkpoint metadata is missing; a checkpoint is a .safetensors file with its .json beside it`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(metaText);
  } catch (e) {
    throw new Error(
      `${jsonPath}: corrupt checkpoint metadata (${
        (e as Error).message
      }); use an earlier checkpoint`,
    );
  }
  const r = CheckpointMetaSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new Error(`${jsonPath}: invalid checkpoint metadata: ${lines.join("; ")}`);
  }
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch {
    throw new Error(`${path}: checkpoint tensors are missing`);
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
    const head = k.slice(0, dot), rest = k.slice(dot + 1);
    if (head === "param") params[rest] = h;
    else (slots[head] ??= {})[rest] = h;
  }
  return { meta: r.data, params, slots, path };
}

/**
 * Rebuilds a tensor tree shaped like `template` from host leaves, checking every path and shape.
 * Throws an Error listing the differences (a checkpoint of another architecture).
 *
 * @example
 * ```ts ignore
 * import { treeFromHost } from "./checkpoint.ts";
 * const params = treeFromHost(net.init(key, shape).params, ck.params, ck.path);
 * ```
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

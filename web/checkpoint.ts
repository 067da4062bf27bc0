/**
 * Checkpoints on the page, from bytes only: ours (`.safetensors` with its `.json`, checked as
 * `loadCheckpoint` does: metadata fields, SHA-256, parameter shapes, finite values), ours alone,
 * the reference's `.pth`, or an exported `.safetensors`; without metadata the architecture is
 * read off the parameter shapes. The page classifies 28×28 grey images into 10 classes.
 * @module
 */
import {
  type HostTensor,
  type LipschitzNetwork,
  lipschitzNetwork,
  type NetworkConfig,
  readPth,
  readSafetensors,
  SPACE_TO_DEPTH_FACTORS,
  toFloat32,
} from "../mod.ts";

/** The input the page feeds: one grey 28×28 image. */
export const PAGE_INPUT: [number, number, number] = [1, 28, 28];
/** Fashion-MNIST's mean (std 1), the default of networks whose file does not say. */
export const FMNIST_MEAN = 0.2860;

/** A network configuration and its parameters as host leaves, ready to build on a backend. */
export interface HostModel {
  /** What builds the network. */
  config: NetworkConfig;
  /** Parameters by tree path ("1.kernel", …), float32. */
  leaves: Record<string, HostTensor>;
  /** One line saying what was loaded, from where, and what was assumed. */
  description: string;
  /** The dataset the checkpoint says it was trained on, when it says. */
  dataset?: string;
}

/** A file given to the page: its name and bytes. */
export interface NamedBytes {
  /** File name (its extension picks the reader). */
  name: string;
  /** Contents. */
  bytes: Uint8Array;
}

const REF_PREFIX = "module.model.model.";

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

function checkFinite(leaves: Record<string, HostTensor>, source: string): void {
  for (const [p, h] of Object.entries(leaves)) {
    const d = h.data as Float32Array;
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i])) {
        throw new Error(
          `${source}: parameter "${p}" holds ${d[i]} at element ${i} of [${h.shape}]; a model ` +
            `with non-finite parameters certifies nothing: use another checkpoint`,
        );
      }
    }
  }
}

function float32Leaves(
  raw: Record<string, HostTensor>,
  source: string,
): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = Object.create(null);
  for (const [k, v] of Object.entries(raw)) {
    if (!["float32", "float64", "float16", "bfloat16"].includes(v.dtype)) {
      throw new TypeError(
        `${source}: parameter "${k}" has dtype ${v.dtype}; a network parameter must be floating point`,
      );
    }
    out[k] = v.dtype === "float32" ? v : toFloat32(v);
  }
  return out;
}

/**
 * The architecture of a reference-layout parameter set (tree paths "i.kernel", "i.weight", …),
 * read off its shapes: SLL convolutions hold `kernel`, SLL dense layers `weight` and `q`, the
 * last layer `weight` and `bias` only.
 */
export function inferArchitecture(
  leaves: Record<string, HostTensor>,
  source: string,
): Omit<NetworkConfig, "mean" | "qMode"> {
  const mods = new Map<number, Record<string, readonly number[]>>();
  for (const [k, v] of Object.entries(leaves)) {
    const m = /^(\d+)\.(\w+)$/.exec(k);
    if (!m) throw new TypeError(`${source}: unexpected parameter "${k}" (expected <index>.<name>)`);
    const i = Number(m[1]);
    if (!mods.has(i)) mods.set(i, {});
    mods.get(i)![m[2]] = v.shape;
  }
  const order = [...mods.keys()].sort((a, b) => a - b);
  const convs = order.filter((i) => mods.get(i)!.kernel);
  const dense = order.filter((i) => mods.get(i)!.weight && mods.get(i)!.q);
  const last = order.at(-1);
  if (last === undefined || !mods.get(last)!.weight || mods.get(last)!.q) {
    throw new TypeError(
      `${source}: no row-normalised last layer (a final "<i>.weight" without "q"); not an SLL network`,
    );
  }
  const lastW = mods.get(last)!.weight;
  const width = convs.length
    ? mods.get(convs[0])!.kernel[1]
    : (dense.length ? mods.get(dense[0])!.weight[1] : lastW[1]) / 49;
  const arch = {
    inputShape: PAGE_INPUT,
    numClasses: lastW[0],
    nConv: convs.length,
    nDense: dense.length,
    width,
    convInnerDim: convs.length ? mods.get(convs[0])!.kernel[0] : 1,
    denseInnerDim: dense.length ? mods.get(dense[0])!.weight[0] : 1,
    // the reference's first conv is module 1 (after the channel padding); module 2 means a
    // space-to-depth (nn.PixelUnshuffle(2)) came first, as in the default fmnist preset
    ...(convs.length && convs[0] === 2 ? { spaceToDepth: 2 } : {}),
  };
  if (!Number.isInteger(width) || lastW[1] !== width * 49) {
    throw new TypeError(
      `${source}: the last layer takes ${lastW[1]} features, not width·7·7 for a 28×28 input; ` +
        `the page evaluates Fashion-MNIST-sized networks only`,
    );
  }
  return arch;
}

interface MetaModel {
  dataset: string;
  inputShape: number[];
  numClasses: number;
  mean: number[];
  arch: {
    nConv: number;
    nDense: number;
    width: number;
    convInnerDim: number;
    denseInnerDim: number;
    spaceToDepth?: number;
    qMode: "paper" | "reference";
  };
}

function parseMeta(text: string, source: string): { model: MetaModel; sha: string; n: number } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(
      `${source}: corrupt checkpoint metadata (${(e as Error).message.slice(0, 120)})`,
    );
  }
  const r = raw as {
    format?: unknown;
    version?: unknown;
    model?: Partial<MetaModel>;
    tensors?: { sha256?: unknown; bytes?: unknown };
  };
  if (r?.format !== "sll-checkpoint" || r.version !== 2) {
    throw new Error(
      `${source}: not checkpoint metadata of ours (format "sll-checkpoint", version 2)`,
    );
  }
  const m = r.model, a = m?.arch;
  const int = (v: unknown, lo: number, hi: number) =>
    typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi;
  const bad: string[] = [];
  if (!m || !a) bad.push("model: missing");
  else {
    for (const k of ["nConv", "nDense"] as const) if (!int(a[k], 0, 1000)) bad.push(`arch.${k}`);
    for (const k of ["width", "convInnerDim", "denseInnerDim"] as const) {
      if (!int(a[k], 1, 65536)) bad.push(`arch.${k}`);
    }
    if (a.qMode !== "paper" && a.qMode !== "reference") bad.push("arch.qMode");
    if (a.spaceToDepth !== undefined && !SPACE_TO_DEPTH_FACTORS.includes(a.spaceToDepth)) {
      bad.push(`arch.spaceToDepth (one of ${SPACE_TO_DEPTH_FACTORS.join(", ")})`);
    }
    if (!int(m.numClasses, 1, 100_000)) bad.push("numClasses");
    if (!Array.isArray(m.inputShape) || m.inputShape.join() !== PAGE_INPUT.join()) {
      bad.push(`inputShape (the page takes [${PAGE_INPUT}])`);
    }
    if (!Array.isArray(m.mean) || m.mean.length !== 1 || !Number.isFinite(m.mean[0])) {
      bad.push("mean");
    }
  }
  const sha = r.tensors?.sha256, n = r.tensors?.bytes;
  if (typeof sha !== "string" || !/^[0-9a-f]{64}$/.test(sha) || !int(n, 0, 2 ** 40)) {
    bad.push("tensors");
  }
  if (bad.length) {
    throw new Error(`${source}: invalid checkpoint metadata: ${bad.join(", ")}`);
  }
  return { model: m as MetaModel, sha: sha as string, n: n as number };
}

/**
 * Reads a checkpoint for the page from its bytes: `.pth` (the reference's state dict), or a
 * `.safetensors` (ours with `param.*` keys, or exported with the reference's keys), with our
 * `.json` metadata when given (then verified: SHA-256, shapes, finite values). Without metadata
 * the architecture is inferred from the shapes, the mean is Fashion-MNIST's, and q is used as
 * our training does ("paper") for our keys and as the reference does for reference keys.
 * Throws one line naming the file and the problem.
 *
 * @example
 * ```ts
 * import { readHostModel } from "./checkpoint.ts";
 * try {
 *   await readHostModel({ name: "x.txt", bytes: new Uint8Array(1) });
 * } catch (e) {
 *   console.log((e as Error).message); // x.txt: not a checkpoint …
 * }
 * ```
 */
export async function readHostModel(file: NamedBytes, meta?: NamedBytes): Promise<HostModel> {
  const name = file.name;
  const lower = name.toLowerCase();
  let raw: Record<string, HostTensor>;
  let ours = false;
  let parsed: ReturnType<typeof parseMeta> | undefined;
  if (lower.endsWith(".pth") || lower.endsWith(".pt")) {
    try {
      raw = readPth(file.bytes, { source: name }).stateDict;
    } catch (e) {
      throw new Error(`${name}: corrupt PyTorch checkpoint (${oneLine(e, name)})`);
    }
  } else if (lower.endsWith(".safetensors")) {
    if (meta) {
      parsed = parseMeta(new TextDecoder().decode(meta.bytes), meta.name);
      const sum = await sha256Hex(file.bytes);
      if (file.bytes.byteLength !== parsed.n || sum !== parsed.sha) {
        throw new Error(
          `${name}: checksum mismatch: ${file.bytes.byteLength} bytes with SHA-256 ` +
            `${sum.slice(0, 16)}…, but ${meta.name} records ${parsed.n} bytes with ` +
            `${parsed.sha.slice(0, 16)}…; drop the .safetensors with its own .json`,
        );
      }
    }
    try {
      raw = readSafetensors(file.bytes).tensors;
    } catch (e) {
      throw new Error(`${name}: corrupt safetensors file (${oneLine(e, name)})`);
    }
  } else {
    throw new TypeError(
      `${name}: not a checkpoint the page reads; drop a .safetensors (with its .json) or a .pth`,
    );
  }
  const picked: Record<string, HostTensor> = Object.create(null);
  for (const [k, v] of Object.entries(raw)) {
    if (k.startsWith("param.")) {
      ours = true;
      picked[k.slice(6)] = v;
    } else if (k.startsWith(REF_PREFIX)) {
      if (!k.includes("alpha")) picked[k.slice(REF_PREFIX.length)] = v;
    }
  }
  if (Object.keys(picked).length === 0) {
    throw new TypeError(
      `${name}: no network parameters (keys "param.<i>.<name>" or "${REF_PREFIX}<i>.<name>")`,
    );
  }
  const leaves = float32Leaves(picked, name);
  checkFinite(leaves, name);
  let config: NetworkConfig;
  let description: string;
  if (parsed) {
    const m = parsed.model;
    const a = m.arch;
    config = {
      inputShape: PAGE_INPUT,
      numClasses: m.numClasses,
      mean: m.mean,
      nConv: a.nConv,
      nDense: a.nDense,
      width: a.width,
      convInnerDim: a.convInnerDim,
      denseInnerDim: a.denseInnerDim,
      ...(a.spaceToDepth === undefined ? {} : { spaceToDepth: a.spaceToDepth }),
      qMode: a.qMode,
    };
    description = `${name} (metadata from ${meta!.name}, trained on ${m.dataset})`;
  } else {
    const arch = inferArchitecture(leaves, name);
    const qMode = ours ? "paper" : "reference";
    config = { ...arch, mean: [FMNIST_MEAN], qMode };
    description = `${name} (architecture read off its shapes; assumed mean ${FMNIST_MEAN} and ` +
      `q mode "${qMode}")`;
  }
  if (config.numClasses !== 10) {
    throw new TypeError(
      `${name}: the network has ${config.numClasses} classes; the page's images have 10`,
    );
  }
  // Shapes against the architecture, before any tensor is made (lists every difference).
  const want = lipschitzNetwork(config).stateDictShapes;
  const problems: string[] = [];
  for (const [k, s] of Object.entries(want)) {
    const h = leaves[k.slice(REF_PREFIX.length)];
    if (!h) problems.push(`missing "${k.slice(REF_PREFIX.length)}" [${s}]`);
    else if (h.shape.join() !== s.join()) {
      problems.push(`"${k.slice(REF_PREFIX.length)}" is [${h.shape}], expected [${s}]`);
    }
  }
  for (const k of Object.keys(leaves)) {
    if (!Object.hasOwn(want, REF_PREFIX + k)) problems.push(`unexpected "${k}"`);
  }
  if (problems.length) {
    throw new TypeError(
      `${name}: the parameters do not match the architecture (${describe(config)}): ${
        problems.slice(0, 4).join("; ")
      }${problems.length > 4 ? `; … ${problems.length - 4} more` : ""}`,
    );
  }
  return { config, leaves, description, dataset: parsed?.model.dataset };
}

/** One line describing a network configuration. */
export function describe(c: NetworkConfig): string {
  const down = (c.spaceToDepth ?? 1) === 1 ? "" : `space-to-depth ${c.spaceToDepth}, `;
  return `${down}${c.nConv} SLL conv (width ${c.width}, inner ${c.convInnerDim}), ${c.nDense} SLL dense ` +
    `(inner ${c.denseInnerDim}), ${c.numClasses} classes, q ${c.qMode ?? "paper"}`;
}

/** Builds the network of a host model (parameters are made by the caller on its backend). */
export function networkOf(m: HostModel): LipschitzNetwork {
  return lipschitzNetwork(m.config);
}

/** The error's message on one line, without a leading "<name>: " (the caller names the file). */
function oneLine(e: unknown, name: string): string {
  const m = (e instanceof Error ? e.message : String(e)).split("\n").join(" ");
  return (m.startsWith(`${name}: `) ? m.slice(name.length + 2) : m).slice(0, 300);
}

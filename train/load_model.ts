/**
 * A model ready to evaluate from a file: one of our checkpoints (everything from its metadata)
 * or the reference's `.pth` (architecture, input shape and mean given as a {@linkcode ModelSpec}).
 * Every input is checked before a tensor is made: bounded sizes, checksums, parameter shapes
 * against the architecture, finite parameters.
 * @module
 */
import { readPth } from "../io/pth.ts";
import { type HostTensor, toFloat32 } from "../io/host_tensor.ts";
import { keep, scope } from "../tensor/mod.ts";
import {
  checkFiniteParams,
  checkParamShapes,
  describeSpec,
  type EvalResult,
  expectedParamShapes,
  loadCheckpoint,
  type ModelSpec,
} from "./checkpoint.ts";
import type { TrainConfig } from "./config.ts";
import { buildNetwork, paramsFromCheckpoint } from "./model.ts";
import type { LipschitzNetwork, LipschitzParams } from "../layers/network.ts";

/** What {@linkcode loadModelFile} returns. */
export interface ModelFile {
  /** The network. */
  network: LipschitzNetwork;
  /** Its parameters (kept: dispose them when done). */
  params: LipschitzParams;
  /** What the network is and what it evaluates on. */
  spec: ModelSpec;
  /** The file read. */
  path: string;
  /** Our training configuration (our checkpoints only). */
  config?: TrainConfig;
  /** Metrics stored with the checkpoint (our checkpoints only). */
  metrics?: EvalResult;
}

/** True for the file names of PyTorch checkpoints. */
export function isPthPath(path: string): boolean {
  return path.endsWith(".pth") || path.endsWith(".pt");
}

const PREFIX = "module.model.model.";

/**
 * Parameters from a reference state dict (`module.model.model.{i}.{kernel,bias,q,weight}`)
 * for `spec`, as host leaves keyed by tree path (`"1.kernel"`), converted to float32. Shapes,
 * dtypes and finiteness are checked against `spec` before anything is built; keys holding
 * "alpha" are skipped, as the reference's evaluator does. Throws naming `source`.
 *
 * @example
 * ```ts ignore
 * import { leavesFromStateDict } from "./load_model.ts";
 * const leaves = leavesFromStateDict(readPth(bytes).stateDict, spec, "model.pth");
 * ```
 */
export function leavesFromStateDict(
  stateDict: Record<string, HostTensor>,
  spec: ModelSpec,
  source: string,
): Record<string, HostTensor> {
  const expected = expectedParamShapes(spec, source);
  const leaves: Record<string, HostTensor> = Object.create(null);
  const named: Record<string, HostTensor> = Object.create(null);
  const FLOATS = ["float32", "float64", "float16", "bfloat16"];
  for (const [k, v] of Object.entries(stateDict)) {
    if (k.includes("alpha")) continue;
    const local = k.startsWith(PREFIX) ? k.slice(PREFIX.length) : `<no ${PREFIX} prefix> ${k}`;
    if (!FLOATS.includes(v.dtype)) {
      throw new TypeError(
        `${source}: parameter "${k}" has dtype ${v.dtype}; a network parameter must be a ` +
          `floating-point tensor (float32, float64, float16 or bfloat16)`,
      );
    }
    leaves[local] = v;
    named[k] = v;
  }
  checkParamShapes(expected, leaves, source, describeSpec(spec));
  checkFiniteParams(named, source);
  for (const [k, v] of Object.entries(leaves)) {
    if (v.dtype !== "float32") leaves[k] = toFloat32(v);
  }
  return leaves;
}

function build(
  spec: ModelSpec,
  leaves: Record<string, HostTensor>,
  source: string,
): [LipschitzNetwork, LipschitzParams] {
  const network = buildNetwork(spec.arch, spec.inputShape, spec.numClasses, spec.mean);
  const params = keep(scope(() => paramsFromCheckpoint(network, leaves, source)));
  return [network, params];
}

/**
 * Loads a model to evaluate: our checkpoint (`.safetensors` with its `.json`; `pthSpec` is not
 * used) or a reference `.pth` (`pthSpec` required: the architecture, input shape, classes and
 * mean it was trained with). Throws a one-line Error naming the file and the problem (corrupt
 * file, checksum mismatch, architecture mismatch, non-finite parameter).
 *
 * @example
 * ```ts ignore
 * import { loadModelFile } from "./load_model.ts";
 * const m = await loadModelFile("runs/a/checkpoints/model.ckpt-940.safetensors");
 * const logits = m.network.apply(m.params, x);
 * ```
 */
export async function loadModelFile(path: string, pthSpec?: ModelSpec): Promise<ModelFile> {
  if (isPthPath(path)) {
    if (!pthSpec) {
      throw new TypeError(
        `${path}: a PyTorch checkpoint holds no architecture; pass the model it was trained as`,
      );
    }
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch (e) {
      throw new Error(`${path}: cannot read (${(e as Error).message})`);
    }
    let sd: Record<string, HostTensor>;
    try {
      sd = readPth(bytes, { source: path }).stateDict;
    } catch (e) {
      throw new Error(
        `${path}: corrupt PyTorch checkpoint (${(e as Error).message.split("\n").join(" ")})`,
      );
    }
    const leaves = leavesFromStateDict(sd, pthSpec, path);
    const [network, params] = build(pthSpec, leaves, path);
    return { network, params, spec: pthSpec, path };
  }
  const ck = await loadCheckpoint(path);
  const [network, params] = build(ck.meta.model, ck.params, path);
  return {
    network,
    params,
    spec: ck.meta.model,
    path,
    config: ck.meta.config,
    metrics: ck.meta.metrics,
  };
}

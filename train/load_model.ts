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
import {
  buildNetwork,
  CONVERGE_ITERATIONS,
  type Network,
  type NetworkParams,
  paramsFromCheckpoint,
} from "./model.ts";

/** What {@linkcode loadModelFile} returns. */
export interface ModelFile {
  /** The network. */
  network: Network;
  /** Its parameters (kept: dispose them when done). */
  params: NetworkParams;
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
 * ```ts
 * import { archFromPreset, expectedParamShapes, leavesFromStateDict, type ModelSpec } from "@sll/sll/train";
 * const spec: ModelSpec = {
 *   dataset: "fashion-mnist", inputShape: [1, 4, 4], numClasses: 2, mean: [0.5],
 *   arch: { ...archFromPreset("tiny"), width: 2, denseInnerDim: 8 },
 * };
 * // a state dict as the reference's training writes it (here all zeros; readPth gives real ones)
 * const stateDict = Object.fromEntries(
 *   Object.entries(expectedParamShapes(spec, "example")).map(([path, shape]) => [
 *     `module.model.model.${path}`,
 *     { dtype: "float32" as const, shape: [...shape], data: new Float32Array(shape.reduce((a, b) => a * b, 1)) },
 *   ]),
 * );
 * const leaves = leavesFromStateDict(stateDict, spec, "example.pth"); // keyed "1.kernel", …
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
): [Network, NetworkParams] {
  const network = buildNetwork(spec.arch, spec.inputShape, spec.numClasses, spec.mean);
  // stateful layers (CPL's power iteration) converge before their bound certifies anything
  const params = keep(scope(() => {
    const p = paramsFromCheckpoint(network, leaves, source);
    return network.refresh ? network.refresh(p, CONVERGE_ITERATIONS) : p;
  }));
  return [network, params];
}

/**
 * Loads a model to evaluate: our checkpoint (`.safetensors` with its `.json`; `pthSpec` is not
 * used) or a reference `.pth` (`pthSpec` required: the architecture, input shape, classes and
 * mean it was trained with). Throws a one-line Error naming the file and the problem (corrupt
 * file, checksum mismatch, architecture mismatch, non-finite parameter).
 *
 * @example
 * ```ts
 * import { dispose, ones } from "@sll/sll";
 * import { archFromPreset, type Dataset, DEFAULT_CONFIG, loadModelFile, train } from "@sll/sll/train";
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
 * const m = await loadModelFile(run.checkpoint!);
 * const logits = m.network.apply(m.params, ones([1, ...m.spec.inputShape])); // [1, 2]
 * dispose([logits, m.params]);
 * await Deno.remove(trainDir, { recursive: true });
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

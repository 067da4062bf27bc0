/**
 * Training: pure optimizers and schedules, gradient clipping, the training loop with
 * checkpoints and exact resume, and evaluation (natural and certified accuracy).
 *
 * @example
 * ```ts
 * import { dispose } from "@sll/sll";
 * import { archFromPreset, type Dataset, DEFAULT_CONFIG, train } from "@sll/sll/train";
 * const toy = (n: number): Dataset => ({
 *   name: "toy", n, numClasses: 2, shape: [1, 8, 8],
 *   images: Float32Array.from({ length: n * 64 }, (_, i) => (i % 64 < 32) === (i % 128 < 64) ? 1 : 0),
 *   labels: Int32Array.from({ length: n }, (_, i) => i % 2),
 * });
 * const trainDir = await Deno.makeTempDir();
 * const r = await train(
 *   { ...DEFAULT_CONFIG, trainDir, epochs: 1, batchSize: 16, evalBatchSize: 16, mean: [0.5],
 *     arch: { ...archFromPreset("tiny"), width: 2, denseInnerDim: 16 } },
 *   { data: { train: toy(32), test: toy(16) } },
 * );
 * console.log(r.final?.accuracy, r.checkpoint);
 * dispose(r.params);
 * await Deno.remove(trainDir, { recursive: true });
 * ```
 * @module
 */
export * from "./pure.ts";
export {
  type Arch,
  DEFAULT_CONFIG,
  DEFAULT_EPS,
  LOSS_NAMES,
  parseTrainConfig,
  type TrainConfig,
} from "./config.ts";
export {
  checkFiniteParams,
  checkParamShapes,
  type CheckpointMeta,
  describeSpec,
  type EvalResult,
  expectedParamShapes,
  listCheckpoints,
  loadCheckpoint,
  type LoadedCheckpoint,
  MODEL_LIMITS,
  type ModelSpec,
  parseCheckpointMeta,
  resolveCheckpoint,
  saveCheckpoint,
  sha256Hex,
  type TensorFileRecord,
} from "./checkpoint.ts";
export { lockTrainDir, type TrainDirLock, TrainDirLockedError } from "./lock.ts";
export { augmentFor } from "./augment_select.ts";
export { isPthPath, leavesFromStateDict, loadModelFile, type ModelFile } from "./load_model.ts";
export { evaluate, type EvaluateOptions, type Forward } from "./evaluate.ts";
export { type LossFn, makeLoss } from "./loss_select.ts";
export {
  archFromPreset,
  archKind,
  buildNetwork,
  CONVERGE_ITERATIONS,
  type Network,
  type NetworkParams,
  paramsFromCheckpoint,
  presetNames,
  resolvedArch,
} from "./model.ts";

export {
  DivergedError,
  epochBatches,
  type EpochInfo,
  type StepInfo,
  train,
  type TrainOptions,
  type TrainResult,
} from "./loop.ts";
export type { Dataset, DatasetName, Split } from "../data/mod.ts";
export type { MpiBuffer, ReduceOp } from "../distributed/mpi.ts";
export type { World } from "../distributed/world.ts";
export type { HostData, HostDType, HostTensor } from "../io/host_tensor.ts";

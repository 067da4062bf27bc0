/**
 * sll — certifiably robust 1-Lipschitz networks (SDP-based Lipschitz Layers, Araujo et al.,
 * ICLR 2023) on a purely functional tensor and reverse-mode autodiff core with CPU and WebGPU
 * backends.
 *
 * This entry point is the browser-clean core: tensors, autodiff, layers, certification, losses,
 * optimizers, schedules, and the safetensors and PyTorch `.pth` readers on bytes. Nothing under
 * it imports `node:` modules or needs `Deno`, so it bundles for a web page. The training loop and
 * checkpoints on disk are in `@sll/sll/train`, dataset readers and downloads in `@sll/sll/data`,
 * file helpers in `@sll/sll/io`, and test helpers in `@sll/sll/testing` (all for Deno).
 *
 * @example
 * ```ts
 * import { grad, matmul, mean, normal, randomKey, scope, split, square, sub } from "@sll/sll";
 * const [k1, k2] = split(randomKey(0));
 * const x = normal(k1, [8, 4]);
 * const w = normal(k2, [4, 1]);
 * const g = scope(() => grad((w: typeof x) => mean(square(sub(matmul(x, w), 1))))(w));
 * console.log(g.shape); // [4, 1]
 * ```
 * @module
 */
export * from "./tensor/mod.ts";
export * from "./autodiff/mod.ts";
export * from "./layers/mod.ts";
export * from "./certify/mod.ts";
export {
  marginBoosting,
  marginLoss,
  offsetCrossEntropy,
  type OffsetCrossEntropyOptions,
  xentMargin,
} from "./train/losses.ts";
export {
  emmaLoss,
  type EmmaOptions,
  hkrMulticlass,
  type HkrOptions,
  logitAnnealingLoss,
  type LogitAnnealingOptions,
  pairLipschitz,
} from "./train/losses_lipschitz.ts";
export * from "./train/pure.ts";
export {
  bfloat16ToNumber,
  halfToNumber,
  type HostData,
  type HostDType,
  type HostTensor,
  toFloat32,
  toInt32,
} from "./io/host_tensor.ts";
export { readSafetensors, type Safetensors, writeSafetensors } from "./io/safetensors.ts";
export { type PthCheckpoint, readPth, type ReadPthOptions } from "./io/pth.ts";
export { writePth, type WritePthOptions } from "./io/pth_write.ts";
export { loadParams, type LoadParamsOptions, saveParams } from "./io/params.ts";
export {
  setWasmThreads,
  shutdownWasmThreads,
  wasmHelperDispatches,
  wasmInfo,
  wasmThreads,
  wasmThreadsReady,
} from "./kernels/cpu/wasm/mod.ts";

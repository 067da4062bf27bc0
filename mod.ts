/**
 * sll — certifiably robust 1-Lipschitz networks (SDP-based Lipschitz Layers, Araujo et al.,
 * ICLR 2023) on a purely functional tensor and reverse-mode autodiff core with CPU and WebGPU
 * backends.
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
export * from "./train/mod.ts";
// File formats on bytes (no Deno, no node:): PyTorch `.pth` and safetensors, read and written.
export { type HostData, type HostDType, type HostTensor, toFloat32 } from "./io/host_tensor.ts";
export { readSafetensors, type Safetensors, writeSafetensors } from "./io/safetensors.ts";
export { type PthCheckpoint, readPth, type ReadPthOptions } from "./io/pth.ts";
export { writePth, type WritePthOptions } from "./io/pth_write.ts";
export { loadParams, type LoadParamsOptions, saveParams } from "./io/params.ts";

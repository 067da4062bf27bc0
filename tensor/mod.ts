/**
 * Tensors: the handle, creation, ops, randomness, memory scopes and parameter trees.
 * @module
 */
export {
  autoBackend,
  dispose,
  getBackend,
  initWebGpu,
  isSoftwareAdapter,
  keep,
  memory,
  type MemoryInfo,
  scope,
  setBackend,
  Tensor,
  toBackend,
} from "./engine.ts";
export * from "./ops.ts";
export * from "./random.ts";
export * from "./tree.ts";
export type { DType, TypedArray } from "../kernels/dtype.ts";
export type { BackendName, Pair } from "../kernels/prims.ts";
export type { AdapterDescription, WebGpuOptions } from "../kernels/webgpu/device.ts";

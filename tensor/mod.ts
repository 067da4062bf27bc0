/**
 * Tensors: the handle, creation, ops, randomness, memory scopes and parameter trees.
 * @module
 */
export { type MemoryInfo, Tensor } from "./tensor.ts";
export { autoBackend, getBackend, initWebGpu, isSoftwareAdapter, setBackend } from "./backend.ts";
export { dispose, keep, memory, scope } from "./scope.ts";
export { toBackend } from "./engine.ts";
export * from "./ops.ts";
export * from "./random.ts";
export * from "./tree.ts";
export type { DType, TypedArray } from "../kernels/dtype.ts";
export type { BackendName, Pair } from "../kernels/prims.ts";
export type { AdapterDescription, WebGpuOptions } from "../kernels/webgpu/device.ts";

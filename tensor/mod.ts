/**
 * Tensors, re-exported for the public API: the handle (tensor.ts), backend selection
 * (backend.ts), memory scopes (scope.ts), moving between backends (engine.ts), creation and the
 * ops of every primitive family (ops.ts over prims/), randomness and parameter trees.
 * @module
 */
export { type MemoryInfo, Tensor } from "./tensor.ts";
export { autoBackend, getBackend, initWebGpu, isSoftwareAdapter, setBackend } from "./backend.ts";
export { dispose, keep, memory, peakMemory, resetPeakMemory, scope } from "./scope.ts";
export { toBackend } from "./engine.ts";
export * from "./ops.ts";
export * from "./random.ts";
export * from "./tree.ts";
export type { DType, TypedArray } from "../kernels/dtype.ts";
export type { BackendName, FftNorm, Pair } from "../kernels/prims.ts";
export type { AdapterDescription, WebGpuOptions } from "../kernels/webgpu/device.ts";
export {
  ceye,
  cfrobenius,
  cinverse,
  cinvSqrtNewtonSchulz,
  cmatmul,
  cmul,
  complex,
  conj,
  csolve,
  ctranspose,
  imag,
  real,
  realEmbedding,
} from "./complex.ts";

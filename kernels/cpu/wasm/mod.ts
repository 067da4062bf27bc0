/**
 * Fast CPU kernels in WebAssembly SIMD, emitted by our own TypeScript at startup: batched
 * SGEMM and 2-D convolution forward/backward, on one or two threads, behind a synchronous API.
 * Inputs are plain Float32Arrays (copied in), outputs are new Float32Arrays.
 *
 * @example
 * ```ts
 * import { sgemm, shutdownWasmThreads } from "./mod.ts";
 * const c = sgemm(new Float32Array([1, 2, 3, 4]), new Float32Array([5, 6, 7, 8]), { m: 2, n: 2, k: 2 });
 * shutdownWasmThreads();
 * ```
 * @module
 */

import {
  getRuntime,
  helperDispatches,
  setThreads,
  shutdownThreads,
  threadCount,
  threadsReady,
} from "./runtime.ts";

export {
  conv2d,
  conv2dFilterGrad,
  type Conv2dOptions,
  convTranspose2d,
  type ConvTranspose2dOptions,
  type GemmOptions,
  gram,
  sgemm,
} from "./ops.ts";

/**
 * Whether the wasm kernels can run here (WebAssembly with 128-bit SIMD).
 *
 * @example
 * ```ts
 * if (wasmAvailable()) console.log("fast CPU kernels on", wasmThreads(), "thread(s)");
 * ```
 */
export function wasmAvailable(): boolean {
  return getRuntime() !== null;
}

/**
 * Stops the helper thread, if any. Safe to call any time; the next large call restarts it.
 * Call it at the end of tests that use the kernels so no worker outlives them.
 *
 * @example
 * ```ts
 * shutdownWasmThreads();
 * ```
 */
export function shutdownWasmThreads(): void {
  shutdownThreads();
}

/**
 * Limits the kernels to `n` threads (1 or 2; the default is min(2, cores)); returns the previous
 * limit. Mostly for tests and benchmarks.
 *
 * @example
 * ```ts
 * const prev = setWasmThreads(1);
 * setWasmThreads(prev);
 * ```
 */
export function setWasmThreads(n: number): number {
  return setThreads(n);
}

/**
 * Number of threads a large call uses now (1 without shared memory).
 *
 * @example
 * ```ts
 * console.log(wasmThreads());
 * ```
 */
export function wasmThreads(): number {
  return threadCount();
}

/**
 * Starts the helper thread if it is not running; resolves to true once it serves jobs, false
 * where none can run here (one thread asked, no shared memory, a page's main thread).
 *
 * @example
 * ```ts
 * console.log(await wasmThreadsReady() ? "two threads" : "one thread");
 * shutdownWasmThreads();
 * ```
 */
export function wasmThreadsReady(): Promise<boolean> {
  return threadsReady();
}

/**
 * Kernel calls the helper thread has shared since the start (on this thread's runtime): a
 * growing count shows that two threads really ran.
 *
 * @example
 * ```ts
 * console.log(wasmHelperDispatches());
 * ```
 */
export function wasmHelperDispatches(): number {
  return helperDispatches();
}

/**
 * Details of the compiled kernels: whether relaxed SIMD (fused multiply-add) and shared memory
 * are in use.
 *
 * @example
 * ```ts
 * console.log(wasmInfo());
 * ```
 */
export function wasmInfo(): { available: boolean; relaxedSimd: boolean; sharedMemory: boolean } {
  const rt = getRuntime();
  return {
    available: rt !== null,
    relaxedSimd: rt?.relaxed ?? false,
    sharedMemory: rt?.shared ?? false,
  };
}

/**
 * Entry point of the WebGPU backend: acquires the adapter and device once per process and
 * builds the backend on it. The tensor engine loads this module lazily when "webgpu" is first
 * asked for; a lost device is forgotten so the next call acquires a fresh one.
 * @module
 */
import { type AdapterDescription, requestGpuDevice, type WebGpuOptions } from "./device.ts";
import { createWebGpuBackend, type WebGpuBackend, type WebGpuStats } from "./backend.ts";

export type { AdapterDescription, WebGpuBackend, WebGpuOptions, WebGpuStats };

let pending: Promise<WebGpuBackend> | null = null;
let current: WebGpuBackend | null = null;

/**
 * The process-wide WebGPU backend, created on first use; rejects with a message that says how
 * to get an adapter when there is none. `options.fusion`, when given, applies to it every time.
 *
 * @example
 * ```ts
 * import { acquireWebGpu } from "./mod.ts";
 * const gpu = await acquireWebGpu();
 * console.log(gpu.adapter.description);
 * ```
 */
export function acquireWebGpu(options: WebGpuOptions = {}): Promise<WebGpuBackend> {
  if (!pending) {
    pending = requestGpuDevice(options).then(({ device, description }) => {
      const b = createWebGpuBackend(device, description);
      current = b;
      device.lost.then(() => {
        if (current === b) {
          current = null;
          pending = null;
        }
      });
      return b;
    });
    pending.catch(() => (pending = null));
  }
  if (options.fusion === undefined) return pending;
  const fusion = options.fusion;
  return pending.then((b) => {
    b.fusion = fusion;
    return b;
  });
}

/**
 * Pool and queue statistics of the WebGPU backend, or null before it exists.
 *
 * @example
 * ```ts
 * import { webgpuStats } from "./mod.ts";
 * console.log(webgpuStats()?.pooledBytes);
 * ```
 */
export function webgpuStats(): WebGpuStats | null {
  return current ? current.stats() : null;
}

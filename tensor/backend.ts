/**
 * The backend registry: which backend new tensors are created on, and the instances by name.
 * The CPU backend is built on first use (no work at import time); WebGPU is loaded by dynamic
 * import on first request, so CPU-only programs never touch navigator.gpu.
 * @module
 */
import type { Backend, BackendName } from "../kernels/prims.ts";
import { createCpuBackend, setFastCpuKernels } from "../kernels/cpu/backend.ts";
import { cpuKernelsFromEnv } from "../kernels/cpu/fast.ts";
import type { AdapterDescription, WebGpuOptions } from "../kernels/webgpu/device.ts";
import { isSoftwareAdapter } from "../kernels/webgpu/adapter.ts";

const backends = new Map<BackendName, Backend>();
let current: Backend | null = null;

/** The CPU backend, created on first use with the kernels `SLL_CPU_KERNELS` selects. */
function cpuBackend(): Backend {
  let b = backends.get("cpu");
  if (!b) {
    // SLL_CPU_KERNELS=auto|wasm|blas|reference (kernels/cpu/fast.ts); a bad value throws here
    setFastCpuKernels(cpuKernelsFromEnv());
    b = createCpuBackend();
    backends.set("cpu", b);
  }
  return b;
}

/** @internal The backend new tensors are created on (the CPU until `setBackend` says else). */
export function activeBackend(): Backend {
  return current ??= cpuBackend();
}

/**
 * Acquires the WebGPU adapter and device (once per process) and makes "webgpu" available to
 * `setBackend`, without switching to it. Resolves to the adapter's description; rejects with a
 * message saying how to get an adapter (a GPU driver, or `apt-get install mesa-vulkan-drivers`)
 * when there is none.
 *
 * @example
 * ```ts
 * import { initWebGpu, setBackend } from "@sll/sll";
 * const adapter = await initWebGpu();
 * console.log(adapter.description, adapter.backend); // e.g. "llvmpipe (LLVM 15.0.6, 256 bits)" "gl"
 * await setBackend("webgpu");
 * ```
 */
export async function initWebGpu(options: WebGpuOptions = {}): Promise<AdapterDescription> {
  const b = await (await import("../kernels/webgpu/mod.ts")).acquireWebGpu(options);
  backends.set("webgpu", b);
  return b.adapter;
}

/**
 * Picks the best backend here, switches to it and says which, with the reason: WebGPU on a
 * hardware adapter; the CPU when there is no adapter, or when the only one is a software
 * rasterizer (llvmpipe, lavapipe, WARP), which trains several times slower than the CPU
 * backend's WebAssembly kernels on the same cores. `{ allowSoftware: true }` takes a software
 * adapter anyway. Used by the CLI's `--backend auto`.
 *
 * @example
 * ```ts
 * import { autoBackend } from "@sll/sll";
 * const { backend, adapter, reason } = await autoBackend();
 * console.log(backend, adapter?.description ?? "", reason ?? "");
 * ```
 */
export async function autoBackend(
  options: { allowSoftware?: boolean } = {},
): Promise<{ backend: BackendName; adapter?: AdapterDescription; reason?: string }> {
  let adapter: AdapterDescription;
  try {
    adapter = await initWebGpu();
  } catch (e) {
    await setBackend("cpu");
    return { backend: "cpu", reason: e instanceof Error ? e.message : String(e) };
  }
  if (isSoftwareAdapter(adapter) && !options.allowSoftware) {
    await setBackend("cpu");
    return {
      backend: "cpu",
      adapter,
      reason: `the only WebGPU adapter is a software one (${
        adapter.description || adapter.device
      }), slower than the CPU backend here; pass --backend webgpu to use it anyway`,
    };
  }
  await setBackend("webgpu");
  return { backend: "webgpu", adapter };
}

// one software-adapter test, shared with the WebGPU backend
export { isSoftwareAdapter };

/** @internal The backend instance by name, creating it if needed. */
export async function getOrCreateBackend(name: BackendName): Promise<Backend> {
  if (name === "cpu") return cpuBackend();
  if (name !== "webgpu") {
    throw new Error(
      `setBackend: unknown backend ${JSON.stringify(name)}; expected "cpu" or "webgpu"`,
    );
  }
  let b = backends.get(name);
  if (!b) {
    b = await (await import("../kernels/webgpu/mod.ts")).acquireWebGpu();
    backends.set(name, b);
  }
  return b;
}

/**
 * Selects the backend new tensors are created on. Resolves once it is ready.
 *
 * @example
 * ```ts
 * import { setBackend, getBackend } from "@sll/sll";
 * await setBackend("cpu");
 * console.log(getBackend()); // "cpu"
 * ```
 */
export async function setBackend(name: BackendName): Promise<void> {
  current = await getOrCreateBackend(name);
}

/**
 * Name of the current backend.
 *
 * @example
 * ```ts
 * import { getBackend } from "@sll/sll";
 * console.log(getBackend());
 * ```
 */
export function getBackend(): BackendName {
  return activeBackend().name;
}

/**
 * Acquiring a WebGPU adapter and device: requests the adapter's own limits (the device defaults
 * are far lower), describes the adapter (vendor, architecture, device, description, and the
 * wgpu backend: gl or vulkan), and turns "no WebGPU" into an error that says how to get it.
 * @module
 */

/** Options of `initWebGpu` / `requestGpuDevice`. */
export interface WebGpuOptions {
  /** Adapter power preference (ignored by software adapters). */
  powerPreference?: "low-power" | "high-performance";
}

/** What `initWebGpu` resolves to: the chosen adapter, described. */
export interface AdapterDescription {
  /** Vendor id or name as the driver reports it. */
  vendor: string;
  /** Architecture (often empty on software adapters). */
  architecture: string;
  /** Device id or name. */
  device: string;
  /** Human-readable description, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  description: string;
  /** The graphics API wgpu drives underneath: "vulkan", "gl", "metal", "dx12" or "unknown". */
  backend: string;
  /** True for a software/fallback adapter (llvmpipe, lavapipe, WARP). */
  isFallbackAdapter: boolean;
}

const HOW_TO =
  "WebGPU needs a GPU driver (Vulkan, Metal, D3D12 or OpenGL), or a software one: on Debian/Ubuntu " +
  "`apt-get install mesa-vulkan-drivers` (lavapipe; choose it with DENO_WEBGPU_BACKEND=vulkan). " +
  "Under Deno, run with --unstable-webgpu.";

function guessBackend(info: GPUAdapterInfo): string {
  const env = (() => {
    try {
      return Deno.env.get("DENO_WEBGPU_BACKEND") ?? "";
    } catch {
      return "";
    }
  })().toLowerCase();
  const d = `${info.description} ${info.vendor}`.toLowerCase();
  if (env.includes("vulkan") || d.includes("lavapipe")) return "vulkan";
  if (env.includes("gl")) return "gl";
  if (env.includes("metal")) return "metal";
  if (env.includes("dx12")) return "dx12";
  // wgpu on Linux prefers Vulkan when a Vulkan driver is installed, GL otherwise; llvmpipe is GL
  if (d.includes("llvmpipe")) return "gl";
  return Deno.build.os === "darwin" ? "metal" : Deno.build.os === "windows" ? "dx12" : "vulkan";
}

/**
 * A device with the adapter's limits, and the adapter's description.
 *
 * @example
 * ```ts
 * import { requestGpuDevice } from "./device.ts";
 * const { device, description } = await requestGpuDevice();
 * console.log(description.description, description.backend);
 * ```
 */
export async function requestGpuDevice(
  options: WebGpuOptions = {},
): Promise<{ device: GPUDevice; adapter: GPUAdapter; description: AdapterDescription }> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) {
    throw new Error(`initWebGpu: navigator.gpu is not available. ${HOW_TO}`);
  }
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference });
  if (!adapter) throw new Error(`initWebGpu: no WebGPU adapter was found. ${HOW_TO}`);
  const lim = adapter.limits;
  const requiredLimits: Record<string, number> = {
    maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
    maxBufferSize: lim.maxBufferSize,
    maxStorageBuffersPerShaderStage: lim.maxStorageBuffersPerShaderStage,
    maxComputeWorkgroupStorageSize: lim.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: lim.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: lim.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupSizeY: lim.maxComputeWorkgroupSizeY,
    maxComputeWorkgroupsPerDimension: lim.maxComputeWorkgroupsPerDimension,
    maxUniformBufferBindingSize: lim.maxUniformBufferBindingSize,
  };
  const device = await adapter.requestDevice({ label: "sll device", requiredLimits });
  const info = adapter.info;
  return {
    device,
    adapter,
    description: {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      backend: guessBackend(info),
      isFallbackAdapter: (info as GPUAdapterInfo & { isFallbackAdapter?: boolean })
        .isFallbackAdapter ?? false,
    },
  };
}

/**
 * Acquiring a WebGPU adapter and device: requests the adapter's own limits (the device defaults
 * are far lower), describes the adapter (vendor, architecture, device, description, and the
 * wgpu backend: gl or vulkan), and turns "no WebGPU" into an error that says how to get it.
 * @module
 */
import { envVar } from "../env.ts";
import { denoHost, hostOs } from "../host.ts";

/** Options of `initWebGpu` / `requestGpuDevice`. */
export interface WebGpuOptions {
  /** Adapter power preference (ignored by software adapters). */
  powerPreference?: "low-power" | "high-performance";
  /**
   * Elementwise fusion (default on, or off with `SLL_WEBGPU_FUSION=off`): chains of elementwise
   * ops run as one kernel when their result is needed. Off, each op is its own dispatch.
   */
  fusion?: boolean;
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
  /** The API wgpu drives: "vulkan", "gl", "metal" or "dx12" (DENO_WEBGPU_BACKEND, else inferred). */
  backend: string;
  /** True for a software/fallback adapter (llvmpipe, lavapipe, WARP). */
  isFallbackAdapter: boolean;
}

const HOW_TO =
  "WebGPU needs a GPU driver (Vulkan, Metal, D3D12 or OpenGL), or a software one: on Debian/Ubuntu " +
  "`apt-get install mesa-vulkan-drivers` (lavapipe; choose it with DENO_WEBGPU_BACKEND=vulkan). " +
  "Under deno, run with --unstable-webgpu.";

/** True when a Vulkan driver manifest (ICD) is installed where the Vulkan loader looks. */
function hasVulkanIcd(): boolean {
  const dirs = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d", "/usr/local/share/vulkan/icd.d"];
  if (envVar("VK_ICD_FILENAMES") || envVar("VK_DRIVER_FILES")) return true;
  for (const d of dirs) {
    try {
      const list = denoHost()?.readDirSync;
      if (!list) return false; // a page: no file system to look in
      for (const e of list(d)) if (e.name.endsWith(".json")) return true;
    } catch {
      // this directory is absent, or may not be read
    }
  }
  return false;
}

/**
 * The API wgpu drives. Deno does not report it, so: DENO_WEBGPU_BACKEND when set; otherwise wgpu
 * tries Vulkan before GL on Linux, so a Linux machine with a Vulkan driver manifest runs Vulkan
 * (lavapipe for llvmpipe's software rasteriser) and one without runs GL.
 */
function guessBackend(): string {
  const env = (envVar("DENO_WEBGPU_BACKEND") ?? "").toLowerCase();
  for (const b of ["vulkan", "gl", "metal", "dx12"]) if (env.includes(b)) return b;
  const os = hostOs();
  if (os === undefined) return "browser"; // a page: the browser picks the API
  if (os === "darwin") return "metal";
  if (os === "windows") return "dx12";
  return hasVulkanIcd() ? "vulkan" : "gl";
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
      backend: guessBackend(),
      isFallbackAdapter: (info as GPUAdapterInfo & { isFallbackAdapter?: boolean })
        .isFallbackAdapter ?? false,
    },
  };
}

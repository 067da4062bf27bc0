/**
 * Which kernels suit an adapter: the one software-adapter test (Mesa llvmpipe/lavapipe/softpipe,
 * SwiftShader, WARP, or a fallback adapter) that both `autoBackend` and the WebGPU backend use,
 * and the kernel profile it implies ("software" or "gpu"), which `SLL_WEBGPU_PROFILE` overrides.
 * Pure functions over the adapter's description: no Deno, no device.
 * @module
 */
import { envVar } from "../env.ts";
import type { AdapterDescription } from "./device.ts";

/**
 * The kernel family the WebGPU backend runs: `software` for CPU-emulated adapters (large
 * register tiles, im2col convolutions), `gpu` for hardware (workgroup-memory tiles).
 */
export type KernelProfile = "software" | "gpu";

/**
 * True for CPU-emulated adapters (Mesa llvmpipe/lavapipe/softpipe, SwiftShader, WARP, or any
 * adapter that says it is a fallback or software one), judged on every field of its description.
 *
 * @example
 * ```ts
 * import { isSoftwareAdapter } from "./adapter.ts";
 * isSoftwareAdapter({
 *   vendor: "mesa",
 *   architecture: "",
 *   device: "",
 *   description: "llvmpipe (LLVM 15.0.6, 256 bits)",
 *   backend: "vulkan",
 *   isFallbackAdapter: false,
 * }); // true
 * ```
 */
export function isSoftwareAdapter(a: AdapterDescription): boolean {
  const text = `${a.vendor} ${a.architecture} ${a.device} ${a.description}`.toLowerCase();
  return a.isFallbackAdapter || /llvmpipe|lavapipe|softpipe|swiftshader|warp|software/.test(text);
}

/**
 * The kernel profile for an adapter: `SLL_WEBGPU_PROFILE=gpu|software` when set (so the GPU
 * kernels can run, and be tested, on a software adapter), else by `isSoftwareAdapter`. An
 * unknown value is an error naming the allowed ones.
 *
 * @example
 * ```ts
 * import { kernelProfile } from "./adapter.ts";
 * const a = { vendor: "nvidia", architecture: "hopper", device: "H200", description: "",
 *   backend: "vulkan", isFallbackAdapter: false };
 * kernelProfile(a); // "gpu" (unless SLL_WEBGPU_PROFILE says otherwise)
 * ```
 */
export function kernelProfile(a: AdapterDescription): KernelProfile {
  const env = (envVar("SLL_WEBGPU_PROFILE") ?? "").trim().toLowerCase();
  if (env === "gpu" || env === "software") return env;
  if (env !== "" && env !== "auto") {
    throw new RangeError(
      `SLL_WEBGPU_PROFILE=${
        JSON.stringify(env)
      } is not a kernel profile; expected "gpu", "software" or "auto" (or unset)`,
    );
  }
  return isSoftwareAdapter(a) ? "software" : "gpu";
}

/**
 * Reading environment variables the library honours (SLL_CPU_KERNELS, SLL_WEBGPU_FUSION,
 * SLL_WEBGPU_PROFILE, SLL_DATA_DIR, DENO_WEBGPU_BACKEND, …) without requiring `--allow-env`:
 * without the permission, or in a browser page (no environment), a variable reads as unset, so
 * every setting keeps its default.
 * @module
 */

import { denoHost } from "./host.ts";

/**
 * The variable's value, or undefined when it is unset, the environment may not be read, or
 * there is no environment (a browser page).
 *
 * @example
 * ```ts
 * import { envVar } from "./env.ts";
 * const dir = envVar("SLL_DATA_DIR") ?? "data";
 * ```
 */
export function envVar(name: string): string | undefined {
  try {
    return denoHost()?.env?.get(name);
  } catch {
    return undefined; // no --allow-env: behave as if unset
  }
}

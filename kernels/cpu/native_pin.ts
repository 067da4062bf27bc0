/**
 * Keeps a native library loaded for the life of the process. `Deno.dlopen` handles are closed
 * when the worker that opened them ends, so every test worker (or Web Worker) that loads
 * OpenBLAS would dlclose it again: OpenBLAS then starts and shuts down its thread pool and
 * buffers once per worker in one process. Here the C loader's own `dlopen` takes one more
 * reference with RTLD_NODELETE (glibc, macOS), never released, so the library is initialised
 * once and unloaded only at process exit.
 * @module
 */
import type { DenoHost } from "../host.ts";

/** The C library that exports `dlopen`, and its RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE flags. */
const LOADERS: Record<string, { libc: string; flags: number }> = {
  linux: { libc: "libc.so.6", flags: 0x2 | 0x4 | 0x1000 },
  darwin: { libc: "/usr/lib/libSystem.B.dylib", flags: 0x2 | 0x10 | 0x80 },
};

const DLOPEN = { dlopen: { parameters: ["buffer", "i32"], result: "pointer" } } as const;

/**
 * Marks `library` (already opened through `deno.dlopen` under the same name) as never to be
 * unloaded; returns whether it now stays for the process life, or why not (another OS, another
 * C library, or the name resolving to no loaded object).
 *
 * @example
 * ```ts
 * import { keepLoaded } from "./native_pin.ts";
 * import { denoHost } from "../host.ts";
 * console.log(keepLoaded(denoHost()!, "libopenblas.so.0", "linux"));
 * ```
 */
export function keepLoaded(
  deno: DenoHost,
  library: string,
  os: string | undefined,
): true | { error: string } {
  const loader = os === undefined ? undefined : LOADERS[os];
  if (!loader || !deno.dlopen) return { error: `no RTLD_NODELETE on ${os ?? "this host"}` };
  let libc;
  try {
    libc = deno.dlopen(loader.libc, DLOPEN);
  } catch (e) {
    return { error: `${loader.libc}: ${e instanceof Error ? e.message.split("\n")[0] : e}` };
  }
  try {
    // RTLD_NOLOAD: only the object already loaded under this name; its handle is never closed
    const name = new TextEncoder().encode(library + "\0");
    const handle = libc.symbols.dlopen(name, loader.flags);
    return handle === null ? { error: `${library} is not loaded under that name` } : true;
  } finally {
    libc.close();
  }
}

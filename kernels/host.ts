/**
 * The one door from the browser-clean core to the Deno runtime: the `Deno` global read through
 * `globalThis`, typed here with only what the core uses (environment, OS, directory listing,
 * FFI), so the core type-checks under `lib: ["dom"]` and runs in a page, where this is absent.
 * @module
 */

/** A native library opened through the FFI: its symbols by name. */
export interface HostLibrary {
  /** The library's functions, called with numbers and typed arrays. */
  // deno-lint-ignore no-explicit-any
  symbols: Record<string, (...args: any[]) => any>;
  /** Unloads the library. */
  close(): void;
}

/** The part of the Deno runtime the core may use, each member optional. */
export interface DenoHost {
  /** Environment variables. */
  env?: { get(name: string): string | undefined };
  /** The operating system ("linux", "darwin", "windows", …). */
  build?: { os: string };
  /** Lists a directory. */
  readDirSync?(path: string): Iterable<{ name: string }>;
  /** Opens a native library through the FFI. */
  dlopen?(path: string, symbols: Record<string, unknown>): HostLibrary;
  /** Permission queries. */
  permissions?: { querySync(desc: { name: string }): { state: string } };
  /** Error classes (NotCapable: a permission was refused). */
  errors?: { NotCapable?: new (...args: never[]) => Error };
}

/**
 * The Deno runtime when the core runs under Deno, undefined in a browser page (or any host
 * without it); callers take the page's path when this is undefined.
 *
 * @example
 * ```ts
 * import { denoHost } from "./host.ts";
 * const os = denoHost()?.build?.os ?? "browser";
 * console.log(os);
 * ```
 */
export function denoHost(): DenoHost | undefined {
  return (globalThis as { Deno?: DenoHost }).Deno;
}

/**
 * The operating system under Deno ("linux", "darwin", "windows", …), or undefined in a page.
 *
 * @example
 * ```ts
 * import { hostOs } from "./host.ts";
 * console.log(hostOs() ?? "no OS (a browser page)");
 * ```
 */
export function hostOs(): string | undefined {
  return denoHost()?.build?.os;
}

/**
 * A native BLAS (OpenBLAS, Apple's Accelerate, MKL) found at run time and called through
 * `Deno.dlopen`: cblas_sgemm and cblas_ssyrk for the CPU backend's large float32 products. The
 * wasm kernels stay the portable path; this module only finds, loads and wraps the library.
 * Needs `--allow-ffi` (and `--allow-env` to read SLL_BLAS_LIB); without them, nothing loads.
 * @module
 */

import { envVar } from "../env.ts";
import { denoHost, type HostLibrary, hostOs } from "../host.ts";
import { mirrorLower } from "./linalg.ts";
import { keepLoaded } from "./native_pin.ts";

const ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112, LOWER = 122;

const SYMBOLS = {
  cblas_sgemm: {
    parameters: [
      "i32", // order
      "i32", // transA
      "i32", // transB
      "i32", // m
      "i32", // n
      "i32", // k
      "f32", // alpha
      "buffer", // A
      "i32", // lda
      "buffer", // B
      "i32", // ldb
      "f32", // beta
      "buffer", // C
      "i32", // ldc
    ],
    result: "void",
  },
  cblas_ssyrk: {
    parameters: [
      "i32", // order
      "i32", // uplo
      "i32", // trans
      "i32", // n
      "i32", // k
      "f32", // alpha
      "buffer", // A
      "i32", // lda
      "f32", // beta
      "buffer", // C
      "i32", // ldc
    ],
    result: "void",
  },
} as const;

const THREAD_SYMBOLS = {
  openblas_set_num_threads: { parameters: ["i32"], result: "void" },
  openblas_get_num_threads: { parameters: [], result: "i32" },
} as const;

/** A loaded native BLAS. */
export interface NativeBlas {
  /** The library name or path that was opened. */
  readonly library: string;
  /** Threads the library uses (set to match the wasm kernels' 2 where it can be set). */
  readonly threads: number | null;
  /**
   * True when the library stays loaded for the process life (workers that end do not unload
   * it), else why not.
   */
  readonly resident: true | string;
  /**
   * C[m×n] = op(A)·op(B) + β·C, row-major, op = transpose when the flag is set; A is m×k (k×m
   * when transA), B is k×n (n×k when transB); β defaults to 0 (C is overwritten). Writes `c`.
   */
  sgemm(
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
    beta?: number,
  ): void;
  /** C[n×n] = A·Aᵀ for A n×k row-major: one triangle computed, then mirrored. Writes `c`. */
  gram(a: Float32Array, c: Float32Array, n: number, k: number): void;
}

/**
 * Native code writes through raw pointers: a buffer shorter than the product's extent would let
 * OpenBLAS read or write past its end (heap corruption, found only at exit), so every call checks.
 */
function fits(what: string, buf: Float32Array, needed: number): void {
  if (!(Number.isInteger(needed) && needed >= 0 && buf.length >= needed)) {
    throw new RangeError(
      `native BLAS ${what}: buffer of ${buf.length} floats, the product needs ${needed}; ` +
        `this is a bug in the caller's shapes`,
    );
  }
}

/** Library names tried in order on this OS (the loader's search path finds them). */
export function blasCandidates(): string[] {
  const own = envVar("SLL_BLAS_LIB");
  const os = hostOs();
  const names = os === "darwin"
    ? [
      "/System/Library/Frameworks/Accelerate.framework/Accelerate",
      "libopenblas.dylib",
      "libopenblas.0.dylib",
    ]
    : os === "windows"
    ? ["libopenblas.dll", "mkl_rt.2.dll", "mkl_rt.dll"]
    : ["libopenblas.so.0", "libopenblas.so", "libmkl_rt.so.2", "libmkl_rt.so"];
  return own ? [own, ...names] : names;
}

/** Threads the BLAS gets: the wasm kernels' count (2, or 1 on a one-core machine). */
export const BLAS_THREADS: number = Math.max(
  1,
  Math.min(2, globalThis.navigator?.hardwareConcurrency || 1),
);

/**
 * Opens the first native BLAS found, or returns why none could be (a one-line reason naming
 * what was tried and the package to install).
 */
export function loadNativeBlas(
  candidates: readonly string[] = blasCandidates(),
): NativeBlas | { error: string } {
  const deno = denoHost();
  const dlopen = deno?.dlopen?.bind(deno);
  if (!dlopen) return { error: "native libraries cannot be opened here (no FFI in this runtime)" };
  // ask first: calling dlopen without the permission would prompt on a terminal
  let ffi: string;
  try {
    ffi = deno!.permissions!.querySync({ name: "ffi" }).state;
  } catch {
    ffi = "denied";
  }
  if (ffi !== "granted") return { error: "loading a native BLAS needs --allow-ffi (not granted)" };
  const tried: string[] = [];
  for (const library of candidates) {
    let lib: HostLibrary;
    try {
      lib = dlopen(library, SYMBOLS);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (
        /permission|--allow-ffi|NotCapable/i.test(msg) ||
        (deno?.errors?.NotCapable !== undefined && e instanceof deno.errors.NotCapable)
      ) {
        return { error: `loading a native BLAS needs --allow-ffi (${msg.split("\n")[0]})` };
      }
      tried.push(library);
      continue;
    }
    // before anything else runs in it: a worker that ends must not unload it (see native_pin.ts)
    const pin = keepLoaded(deno!, library, hostOs());
    let threads: number | null = null;
    try {
      const t = dlopen(library, THREAD_SYMBOLS);
      t.symbols.openblas_set_num_threads(BLAS_THREADS);
      threads = t.symbols.openblas_get_num_threads();
    } catch {
      // not OpenBLAS (Accelerate, MKL): the library picks its own thread count
    }
    const s = lib.symbols;
    return {
      library,
      threads,
      resident: pin === true ? true : pin.error,
      sgemm(a, b, c, m, n, k, transA, transB, beta = 0): void {
        fits("sgemm A", a, m * k);
        fits("sgemm B", b, k * n);
        fits("sgemm C", c, m * n);
        s.cblas_sgemm(
          ROW_MAJOR,
          transA ? TRANS : NO_TRANS,
          transB ? TRANS : NO_TRANS,
          m,
          n,
          k,
          1,
          a,
          transA ? m : k,
          b,
          transB ? k : n,
          beta,
          c,
          n,
        );
      },
      gram(a, c, n, k): void {
        fits("ssyrk A", a, n * k);
        fits("ssyrk C", c, n * n);
        s.cblas_ssyrk(ROW_MAJOR, LOWER, NO_TRANS, n, k, 1, a, k, 0, c, n);
        mirrorLower(c, n);
      },
    };
  }
  return {
    error: `no native BLAS found (tried ${tried.join(", ")}); install one — ` +
      `Debian/Ubuntu: apt-get install libopenblas0; macOS: Accelerate ships with the OS; ` +
      `or set SLL_BLAS_LIB to the library's path`,
  };
}

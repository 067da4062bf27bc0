/**
 * The CPU backend's float32 `solve` through LAPACK's sgesv (LU with partial pivoting, as
 * solve.ts) from the native BLAS library already found by blas.ts (OpenBLAS exports the LAPACK
 * routines with Fortran linkage: column-major, every argument by pointer). Loaded once per
 * library and kept for the process life; a library without sgesv_ leaves the wasm/TS path.
 * @module
 */

import { denoHost, type HostLibrary } from "../host.ts";
import { singularError } from "./solve.ts";

const LAPACK_SYMBOLS = {
  // sgesv_(n, nrhs, a, lda, ipiv, b, ldb, info), all by pointer
  sgesv_: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "void",
  },
} as const;

/** A batched float32 solve; throws the singular-matrix RangeError of solve.ts. */
export type BatchedSolve = (
  a: Float32Array,
  b: Float32Array,
  batchShape: readonly number[],
  n: number,
  k: number,
  transA: boolean,
) => Float32Array;

/**
 * Systems at least this large go to LAPACK; below it the per-call cost (OpenBLAS's threads,
 * the column-major copies) outweighs the factorisation and the wasm kernels, four systems per
 * SIMD group on two threads, are faster (measured, loaded machine: n 16 ×7, n 32 ×1.5; at n 64
 * LAPACK ×1.3, at n 256 ×2).
 */
export const LAPACK_MIN_N = 64;

const opened = new Map<string, HostLibrary | null>();

function lapackOf(library: string): HostLibrary | null {
  if (opened.has(library)) return opened.get(library)!;
  let lib: HostLibrary | null = null;
  try {
    lib = denoHost()?.dlopen?.(library, LAPACK_SYMBOLS) ?? null;
  } catch {
    lib = null; // a BLAS without LAPACK (e.g. a cblas-only build): the portable path stays
  }
  opened.set(library, lib); // never closed: unloading BLAS libraries at exit aborts glibc
  return lib;
}

/**
 * sgesv from `library` as a batched solve (x = op(a)⁻¹·b per matrix, a [n, n], b [n, k]), or
 * null when the library does not export it.
 */
export function lapackSolve(library: string): BatchedSolve | null {
  const lib = lapackOf(library);
  if (!lib) return null;
  const sgesv = lib.symbols.sgesv_;
  return (a, b, batchShape, n, k, transA) => {
    const batch = batchShape.reduce((s, d) => s * d, 1);
    if (a.length < batch * n * n || b.length < batch * n * k) {
      throw new RangeError(
        `solve (LAPACK): ${a.length}/${b.length} floats for ${batch} systems of ${n}×${n} · ${n}×${k}; this is a bug in the caller's shapes`,
      );
    }
    const out = new Float32Array(batch * n * k);
    const am = new Float32Array(n * n), bm = new Float32Array(n * k);
    const ipiv = new Int32Array(Math.max(n, 1)), info = new Int32Array(1);
    const N = new Int32Array([n]), K = new Int32Array([k]), LD = new Int32Array([Math.max(n, 1)]);
    for (let z = 0; z < batch; z++) {
      const ao = z * n * n, bo = z * n * k;
      // row-major a read as column-major is aᵀ: copy as is for transA, transposed otherwise
      if (transA) am.set(a.subarray(ao, ao + n * n));
      else {
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) am[j * n + i] = a[ao + i * n + j];
        }
      }
      for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) bm[j * n + i] = b[bo + i * k + j];
      sgesv(N, K, am, LD, ipiv, bm, LD, info);
      if (info[0] > 0) throw singularError(z, batchShape, n, info[0] - 1);
      if (info[0] < 0) {
        throw new RangeError(
          `solve (LAPACK sgesv): argument ${-info[0]} rejected for n ${n}, k ${k}`,
        );
      }
      for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) out[bo + i * k + j] = bm[j * n + i];
    }
    return out;
  };
}

/**
 * The batched solve job's per-thread driver (main thread and helper alike): groups of four
 * interleaved systems handed out by the shared ticket counter, each solved by the wasm kernel
 * `lu_solve4` (solve_kernels.ts). No emitter imports: the helper's module graph stays small.
 * @module
 */

/** The wasm exports the solve driver calls. */
export interface SolveKernels {
  /** Four interleaved systems (see emitLuSolve4). */
  lu_solve4(a: number, b: number, info: number, n: number, k: number): void;
  /** Returns the i32 at addr and increments it (atomically on shared memory). */
  next(addr: number): number;
}

/** Job words of a solve job (Int32; the kind word stays at index 0). */
export const SJ = { kind: 0, a: 1, b: 2, info: 3, groups: 4, n: 5, k: 6, counter: 7 } as const;

/** Runs this thread's tickets (one group of four systems each) of a solve job. */
export function runSolve(kx: SolveKernels, job: Int32Array): void {
  const n = job[SJ.n], k = job[SJ.k], groups = job[SJ.groups];
  for (let g = kx.next(job[SJ.counter]); g < groups; g = kx.next(job[SJ.counter])) {
    kx.lu_solve4(
      job[SJ.a] + g * n * n * 16,
      job[SJ.b] + g * n * k * 16,
      job[SJ.info] + g * 16,
      n,
      k,
    );
  }
}

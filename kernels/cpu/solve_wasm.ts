/**
 * The CPU backend's float32 `solve` on the wasm SIMD kernels (wasm/solve_kernels.ts): systems
 * interleaved four to a group (the last group padded with identity systems), groups handed to
 * both threads by tickets, then read back; a singular matrix is solve.ts's RangeError naming
 * its batch index. Pivoting is partial (per system), in float32.
 * @module
 */

import { singularError } from "./solve.ts";
import { J, JobKind } from "./wasm/driver.ts";
import { arena, dispatch, getRuntime, threadCount } from "./wasm/runtime.ts";
import { SJ } from "./wasm/solve_driver.ts";

/** Below this many multiply-adds a solve runs on one thread (a helper wake-up costs ~50 µs). */
const PARALLEL_MACS = 1 << 20;

/**
 * x = op(a)⁻¹·b for `batch` systems a [n, n], b [n, k] (contiguous, batch = ∏ batchShape) on
 * the wasm kernels, or null where wasm SIMD is unavailable.
 */
export function wasmSolve(
  a: Float32Array,
  b: Float32Array,
  batchShape: readonly number[],
  n: number,
  k: number,
  transA: boolean,
): Float32Array | null {
  const rt = getRuntime();
  if (!rt) return null;
  const batch = batchShape.reduce((s, d) => s * d, 1);
  const out = new Float32Array(batch * n * k);
  if (batch === 0 || n === 0 || k === 0) return out;
  const groups = Math.ceil(batch / 4);
  arena.reset();
  const aAt = arena.alloc(groups * n * n * 16), bAt = arena.alloc(groups * n * k * 16);
  const infoAt = arena.alloc(groups * 16), counter = arena.alloc(64);
  arena.commit(rt.memory);
  const A = new Float32Array(rt.memory.buffer, aAt, groups * n * n * 4);
  const B = new Float32Array(rt.memory.buffer, bAt, groups * n * k * 4);
  for (let g = 0; g < groups; g++) {
    for (let l = 0; l < 4; l++) {
      const z = g * 4 + l, ga = g * n * n * 4 + l, gb = g * n * k * 4 + l;
      if (z >= batch) {
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) {
            A[ga + (i * n + j) * 4] = i === j ? 1 : 0;
          }
        }
        for (let i = 0; i < n * k; i++) B[gb + i * 4] = 0;
        continue;
      }
      const ao = z * n * n, bo = z * n * k;
      if (transA) {
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) A[ga + (i * n + j) * 4] = a[ao + j * n + i];
        }
      } else {
        for (let i = 0; i < n * n; i++) A[ga + i * 4] = a[ao + i];
      }
      for (let i = 0; i < n * k; i++) B[gb + i * 4] = b[bo + i];
    }
  }
  new Int32Array(rt.memory.buffer, counter, 1)[0] = 0;
  const job = new Int32Array(J.size);
  job[SJ.kind] = JobKind.solve, job[SJ.a] = aAt, job[SJ.b] = bAt, job[SJ.info] = infoAt;
  job[SJ.groups] = groups, job[SJ.n] = n, job[SJ.k] = k, job[SJ.counter] = counter;
  const macs = batch * n * n * (n / 3 + k);
  dispatch(rt, job, groups >= 2 && macs >= PARALLEL_MACS ? threadCount() : 1);
  const info = new Int32Array(rt.memory.buffer, infoAt, groups * 4);
  for (let z = 0; z < batch; z++) {
    if (info[z] >= 0) throw singularError(z, batchShape, n, info[z]);
  }
  const X = new Float32Array(rt.memory.buffer, bAt, groups * n * k * 4);
  for (let z = 0; z < batch; z++) {
    const g = z >> 2, l = z & 3, gb = g * n * k * 4 + l, bo = z * n * k;
    for (let i = 0; i < n * k; i++) out[bo + i] = X[gb + i * 4];
  }
  return out;
}

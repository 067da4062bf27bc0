/**
 * The fast float32 solve: the wasm SIMD kernel (four systems per group, both threads) against
 * the float64 LU of solve.ts on well-conditioned random batches (sizes across the group padding,
 * both transpositions), and the singular-matrix RangeError naming its batch index.
 * @module
 */
import assert from "node:assert/strict";
import { wasmSolve } from "./solve_wasm.ts";
import { solve as refSolve } from "./solve.ts";
import { rng } from "../../tests/prim_cases.ts";
import { setThreads, shutdownThreads, threadsReady } from "./wasm/runtime.ts";

/** `batch` diagonally dominant n × n systems with k right-hand sides. */
function systems(seed: number, batch: number, n: number, k: number): [Float32Array, Float32Array] {
  const r = rng(seed);
  const a = Float32Array.from({ length: batch * n * n }, () => r() - 0.5);
  for (let z = 0; z < batch; z++) for (let i = 0; i < n; i++) a[z * n * n + i * (n + 1)] += n;
  return [a, Float32Array.from({ length: batch * n * k }, () => r() - 0.5)];
}

function relErr(x: ArrayLike<number>, y: ArrayLike<number>): number {
  assert.equal(x.length, y.length);
  let e = 0, s = 0;
  for (let i = 0; i < x.length; i++) {
    (e = Math.max(e, Math.abs(x[i] - y[i])), s = Math.max(s, Math.abs(y[i])));
  }
  return e / Math.max(s, 1e-30);
}

const CASES: [number, number, number][] = [[1, 1, 1], [3, 2, 5], [5, 7, 3], [9, 16, 16], [
  17,
  33,
  4,
], [6, 64, 64]];

/** A batch [2, 3] whose matrix [1, 2] has a zero column (singular under any pivoting). */
function singularBatch(): [Float32Array, Float32Array] {
  const [a, b] = systems(3, 6, 3, 2);
  for (let i = 0; i < 3; i++) a[5 * 9 + i * 3 + 1] = 0;
  return [a, b];
}

Deno.test("wasm solve matches the float64 LU on well-conditioned batches, one and two threads", async () => {
  for (const threads of [1, 2]) {
    const prev = setThreads(threads);
    if (threads === 2 && !(await threadsReady())) {
      console.warn("SKIP two threads: no helper thread can run here (no shared memory)");
      setThreads(prev);
      continue;
    }
    for (const [batch, n, k] of CASES) {
      for (const transA of [false, true]) {
        const [a, b] = systems(batch * 31 + n, batch, n, k);
        const x = wasmSolve(a, b, [batch], n, k, transA)!;
        const want = refSolve(a, b, [batch], n, k, transA, "float64");
        const e = relErr(x, want);
        assert.ok(e < 1e-5, `batch ${batch} n ${n} k ${k} transA ${transA}: rel err ${e}`);
      }
    }
    setThreads(prev);
  }
  shutdownThreads();
});

Deno.test("wasm solve: a singular matrix is a RangeError naming its batch index", () => {
  const [a, b] = singularBatch();
  assert.throws(
    () => wasmSolve(a, b, [2, 3], 3, 2, false),
    (e: unknown) =>
      e instanceof RangeError &&
      /matrix \[1,2\] of the batch \[2,3\] \(3×3\) is singular/.test(e.message),
  );
});

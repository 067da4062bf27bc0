/**
 * The solve family beyond the shared case table: inverse(a)·a = I; batch axes broadcast with
 * gradients summed back (against the per-system gradients); the transpose option; a singular
 * matrix raises a RangeError naming its batch index on the CPU and yields NaN for that system
 * only on WebGPU (fails, never skips, without an adapter); argument errors.
 * @module
 */
import assert from "node:assert/strict";
import { grad } from "../../autodiff/autodiff.ts";
import { initWebGpu, setBackend } from "../backend.ts";
import { scope } from "../scope.ts";
import * as o from "../ops.ts";
import type { Tensor } from "../tensor.ts";
import { assertClose, leakFreeTest } from "../../tests/helpers.ts";
import { rng, vals } from "../../tests/prim_cases.ts";
import { boostPermutedDiagonal } from "../../tests/solve_ref.ts";

function matrices(seed: number, count: number, n: number): number[] {
  return boostPermutedDiagonal(vals(seed, count * n * n), n, rng(seed + 5));
}

function eyeValues(count: number, n: number): number[] {
  return Array.from({ length: count * n * n }, (_, i) => +((i % (n * n)) % (n + 1) === 0));
}

leakFreeTest("inverse(a)·a = I in float64 and float32, batched", () => {
  for (const dtype of ["float64", "float32"] as const) {
    scope(() => {
      const a = o.tensor(matrices(3, 6, 5), { shape: [2, 3, 5, 5], dtype });
      const prod = o.matmul(o.inverse(a), a);
      const tol = dtype === "float64" ? 1e-12 : 1e-5;
      assertClose(prod.dataSync(), eyeValues(6, 5), { rtol: tol, atol: tol, what: dtype });
    });
  }
});

leakFreeTest("solve broadcasts batch axes and sums gradients back to each input's shape", () => {
  scope(() => {
    const n = 4, k = 2;
    const av = matrices(11, 1, n), bv = vals(12, 3 * n * k);
    const a = o.tensor(av, { shape: [n, n], dtype: "float64" });
    const b = o.tensor(bv, { shape: [3, n, k], dtype: "float64" });
    const w = o.tensor(vals(13, 3 * n * k), { shape: [3, n, k], dtype: "float64" });
    const loss = (p: { a: Tensor; b: Tensor }) => o.sum(o.mul(o.solve(p.a, p.b), w));
    const g = grad(loss)({ a, b });
    assert.deepEqual(g.a.shape, [n, n]);
    assert.deepEqual(g.b.shape, [3, n, k]);
    // the same with a copied per system: its gradient summed over the batch
    const a3 = o.broadcastTo(a, [3, n, n]);
    const g3 = grad(loss)({ a: a3, b });
    assertClose(g.a.dataSync(), o.sum(g3.a, 0).dataSync(), { rtol: 1e-12, atol: 1e-12 });
    assertClose(g.b.dataSync(), g3.b.dataSync(), { rtol: 1e-12, atol: 1e-12 });
  });
});

leakFreeTest("solve with transpose solves aᵀ·x = b", () => {
  scope(() => {
    const a = o.tensor(matrices(21, 2, 3), { shape: [2, 3, 3], dtype: "float64" });
    const b = o.tensor(vals(22, 2 * 3 * 2), { shape: [2, 3, 2], dtype: "float64" });
    const x = o.solve(a, b, { transpose: true });
    const back = o.matmulT(a, x, true, false);
    assertClose(back.dataSync(), b.dataSync(), { rtol: 1e-12, atol: 1e-12 });
  });
});

leakFreeTest("cpu: a singular matrix raises a RangeError naming its batch index", () => {
  scope(() => {
    const av = matrices(31, 6, 3);
    // matrix [1, 2] of the batch [2, 3]: its last row copies its first
    for (let j = 0; j < 3; j++) av[5 * 9 + 6 + j] = av[5 * 9 + j];
    const a = o.tensor(av, { shape: [2, 3, 3, 3] });
    assert.throws(
      () => o.solve(a, o.ones([2, 3, 3, 1])),
      (e: unknown) =>
        e instanceof RangeError &&
        /^solve: matrix \[1,2\] of the batch \[2,3\] \(3×3\) is singular/.test(e.message),
    );
    assert.throws(() => o.inverse(o.zeros([2, 2])), /solve: the matrix \(2×2\) is singular/);
    // no gradient either: the forward pass of grad throws the same error
    assert.throws(() => grad((m: Tensor) => o.sum(o.inverse(m)))(o.zeros([2, 2])), RangeError);
  });
});

leakFreeTest("solve and inverse refuse mismatched shapes with a TypeError", () => {
  scope(() => {
    assert.throws(() => o.solve(o.ones([2, 3]), o.ones([2, 1])), /solve: needs a \[\.\.\., n, n\]/);
    assert.throws(() => o.solve(o.ones([2, 2]), o.ones([3, 1])), TypeError);
    assert.throws(() => o.solve(o.ones([2, 2]), o.ones([2])), /reshape a vector b to \[n, 1\]/);
    assert.throws(() => o.solve(o.ones([2, 2, 2]), o.ones([3, 2, 1])), /broadcast/i);
    assert.throws(() => o.inverse(o.ones([2, 3])), /inverse: needs square matrices/);
  });
});

let adapterError: Error | null = null;
try {
  await initWebGpu();
} catch (e) {
  adapterError = e as Error;
}

leakFreeTest(
  "webgpu: solve agrees with the cpu; a singular system gives NaN for it alone",
  async () => {
    if (adapterError) throw new Error(`this test needs a WebGPU adapter: ${adapterError.message}`);
    const av = matrices(41, 3, 4), bv = vals(42, 3 * 4 * 2);
    for (let i = 0; i < 4; i++) av[16 + 4 * i + 2] = 0; // system 1: column 2 is zero
    const cpuX = scope(() => {
      const good = [...av];
      for (let j = 0; j < 16; j++) good[16 + j] = j % 5 === 0 ? 1 : 0;
      return o.solve(o.tensor(good, { shape: [3, 4, 4] }), o.tensor(bv, { shape: [3, 4, 2] }))
        .dataSync();
    });
    await setBackend("webgpu");
    try {
      const x = scope(() =>
        o.solve(o.tensor(av, { shape: [3, 4, 4] }), o.tensor(bv, { shape: [3, 4, 2] }))
      );
      const xv = await x.data();
      x.dispose();
      for (const z of [0, 2]) {
        assertClose(xv.slice(z * 8, z * 8 + 8), cpuX.slice(z * 8, z * 8 + 8), {
          rtol: 1e-5,
          atol: 1e-5,
          what: `system ${z}`,
        });
      }
      assert.ok(
        Array.from(xv.slice(8, 16)).every(Number.isNaN),
        `singular system: ${xv.slice(8, 16)}`,
      );
    } finally {
      await setBackend("cpu");
    }
  },
);

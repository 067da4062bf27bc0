/**
 * On WebGPU: float64 never yields wrong numbers — a cast or an upload to float64 throws a
 * TypeError naming the op, the dtype and the fix — and `isOneLipschitz` runs in float32 there,
 * accepting a 1-Lipschitz layer and catching a broken one. Needs a WebGPU adapter (these tests
 * fail, never skip, without one: initWebGpu's error says why).
 */
import assert from "node:assert/strict";
import { initWebGpu, setBackend } from "../tensor/mod.ts";
import { cast, matmul, mul, normal, randomKey, swapLast, tensor, zeros } from "../tensor/mod.ts";
import { bjorck, type Layer, sllDense } from "../layers/mod.ts";
import { isOneLipschitz, LipschitzViolation } from "../testing.ts";
import { leakFreeTest } from "./helpers.ts";

/** Runs `fn` on WebGPU, then back on the CPU (the leak check is leakFreeTest's). */
async function onWebGpu(fn: () => Promise<void>): Promise<void> {
  await initWebGpu();
  await setBackend("webgpu");
  try {
    await fn();
  } finally {
    await setBackend("cpu");
  }
}

leakFreeTest(
  "webgpu: float64 casts and uploads throw a clear TypeError, never wrong numbers",
  async () => {
    await onWebGpu(async () => {
      const x = tensor([1.5, -2.25, 3]);
      assert.throws(
        () => cast(x, "float64"),
        (e: unknown) =>
          e instanceof TypeError &&
          /^cast: the webgpu backend has no float64 tensors .*use the cpu backend for float64/.test(
            e.message,
          ),
      );
      assert.throws(
        () => tensor([1, 2], { dtype: "float64" }),
        /webgpu backend has no float64.*cpu backend/,
      );
      assert.throws(() => zeros([2], "float64"), TypeError);
      assert.throws(() => normal(randomKey(0), [2], "float64"), /float64/);
      // float32 and int32 casts still work
      const i = cast(x, "int32");
      assert.deepEqual(Array.from(await i.data()), [1, -2, 3]);
      i.dispose();
      x.dispose();
      await Promise.resolve();
    });
  },
);

leakFreeTest(
  "webgpu: isOneLipschitz runs in float32, accepts a 1-Lipschitz layer, catches a broken one",
  async () => {
    await onWebGpu(async () => {
      const ok = await isOneLipschitz(sllDense({ inner: 3 }), {
        inShape: [5],
        seed: 3,
        numRuns: 2,
        name: "sllDense on webgpu",
      });
      assert.equal(ok.dtype, "float32");
      assert.equal(ok.verdict, "no counterexample found");
      const broken: Layer<{ weight: ReturnType<typeof tensor> }> = {
        init: (key, s) => ({
          outShape: [4],
          params: { weight: mul(bjorck(normal(key, [4, s[0]]), 30), 1.05) },
        }),
        apply: (p, x) => matmul(x, swapLast(p.weight)),
      };
      const err = await isOneLipschitz(broken, { inShape: [16], seed: 5, numRuns: 2 }).then(
        () => null,
        (e) => e,
      );
      assert.ok(err instanceof LipschitzViolation, String(err));
      assert.equal(err.counterexample.dtype, "float32");
      assert.ok(err.counterexample.ratio > 1.04, err.message);
      await assert.rejects(
        isOneLipschitz(broken, { inShape: [16], dtype: "float64" }),
        /isOneLipschitz\(layer\): the webgpu backend has no float64 tensors .*dtype: "float32" or run on the cpu backend/,
      );
    });
  },
);

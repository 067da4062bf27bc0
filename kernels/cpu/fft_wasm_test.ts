/**
 * The wasm SIMD FFT (fft_wasm.ts): rfft2 and irfft2 against the float64 direct DFT of
 * tests/fft_ref.ts on odd, prime, power-of-two and Bluestein sizes (both plans forced on every
 * size), against the TypeScript reference path on larger batches, one and two threads.
 * @module
 */
import assert from "node:assert/strict";
import { wasmFftPlan, wasmRfft2 } from "./fft_wasm.ts";
import { irfft2 as tsIrfft2, rfft2 as tsRfft2 } from "./fft.ts";
import { irfft2Ref, rfft2Ref } from "../../tests/fft_ref.ts";
import { rng } from "../../tests/prim_cases.ts";
import { setThreads, shutdownThreads, threadsReady } from "./wasm/runtime.ts";

function maxErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let e = 0, s = 0;
  for (let i = 0; i < a.length; i++) {
    (e = Math.max(e, Math.abs(a[i] - b[i])), s = Math.max(s, Math.abs(b[i])));
  }
  return e / Math.max(s, 1);
}

const SIZES: [number, number][] = [
  [1, 1],
  [1, 7],
  [2, 3],
  [4, 4],
  [5, 9],
  [7, 13],
  [8, 16],
  [11, 12],
  [16, 15],
  [17, 19],
  [25, 6],
  [32, 32],
  [3, 97],
];

Deno.test("wasm rfft2/irfft2 match the float64 direct DFT: odd, prime, power-of-two and Bluestein sizes", () => {
  const r = rng(11);
  for (const [h, w] of SIZES) {
    for (const blue of [undefined, true]) {
      const batch = 3, wh = Math.floor(w / 2) + 1;
      const x = Array.from({ length: batch * h * w }, () => r() - 0.5);
      const y = wasmRfft2(Float32Array.from(x), batch, h, w, 1, false, blue)!;
      const e1 = maxErr(y, rfft2Ref(x, h, w, "backward"));
      assert.ok(e1 < 2e-6, `rfft2 ${h}×${w} ${blue ? "bluestein" : "auto"}: rel err ${e1}`);
      const z = Array.from({ length: batch * h * wh * 2 }, () => r() - 0.5);
      const xi = wasmRfft2(Float32Array.from(z), batch, h, w, 1 / (h * w), true, blue)!;
      const e2 = maxErr(xi, irfft2Ref(z, h, w, "backward"));
      assert.ok(e2 < 2e-6, `irfft2 ${h}×${w} ${blue ? "bluestein" : "auto"}: rel err ${e2}`);
    }
  }
});

Deno.test("wasm plans: radix stages for smooth lengths, Bluestein for large or unsupported primes", () => {
  assert.equal(wasmFftPlan(96).blue, null);
  assert.deepEqual(wasmFftPlan(28).stages.map((s) => s.p), [4, 7]);
  assert.equal(wasmFftPlan(13 * 4).blue, null);
  assert.notEqual(wasmFftPlan(17).blue, null);
  assert.notEqual(wasmFftPlan(97).blue, null);
  assert.equal(wasmFftPlan(97).blue!.sub.blue, null);
});

Deno.test("wasm rfft2/irfft2 match the TypeScript path on larger batches, one and two threads", async () => {
  const r = rng(5);
  for (const threads of [1, 2]) {
    const prev = setThreads(threads);
    if (threads === 2 && !(await threadsReady())) {
      console.warn("SKIP two threads: no helper thread can run here (no shared memory)");
      setThreads(prev);
      continue;
    }
    for (const [b, h, w] of [[64, 16, 16], [40, 28, 28], [9, 33, 20]]) {
      const x = Float32Array.from({ length: b * h * w }, () => r() - 0.5);
      const ours = wasmRfft2(x, b, h, w, 0.5, false)!;
      const ref = tsRfft2(x, b, h, w, 0.5, "float32");
      assert.ok(maxErr(ours, ref) < 1e-6, `rfft2 [${b}, ${h}, ${w}] ${threads} thread(s)`);
      const back = wasmRfft2(ours, b, h, w, 2 / (h * w), true)!;
      const refBack = tsIrfft2(ref, b, h, w, 2 / (h * w), "float32");
      assert.ok(maxErr(back, refBack) < 1e-6, `irfft2 [${b}, ${h}, ${w}] ${threads} thread(s)`);
      assert.ok(maxErr(back, x) < 1e-5, `round trip [${b}, ${h}, ${w}]`);
    }
    setThreads(prev);
  }
  shutdownThreads();
});

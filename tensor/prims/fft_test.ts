/**
 * The fft family beyond the shared case table: round trips irfft2(rfft2(x)) = x, Parseval under
 * "ortho" (Σx² = Σ c·|Z|² over the half spectrum), agreement with the direct O(n²) DFT in
 * float64 on sizes that take the Bluestein path (97 = prime), float32 accuracy, the argument
 * errors, and the round trip and Parseval again on WebGPU (fails, never skips, without one).
 * @module
 */
import fc from "fast-check";
import assert from "node:assert/strict";
import type { DType } from "../../kernels/dtype.ts";
import { initWebGpu, setBackend } from "../backend.ts";
import { scope } from "../scope.ts";
import * as o from "../ops.ts";
import { assertClose, check, checkAsync, leakFreeTest } from "../../tests/helpers.ts";
import { vals } from "../../tests/prim_cases.ts";
import { FFT_SIZES, irfft2Ref, rfft2Ref } from "../../tests/fft_ref.ts";

const size = fc.constantFrom(...FFT_SIZES, 4, 6, 9, 10, 11, 13, 16, 17, 25, 27, 64);
const norm = fc.constantFrom("backward" as const, "ortho" as const, "forward" as const);

/** Σ c_k2·|Z|² over a half spectrum [..., h, wh, 2] of width w: the full spectrum's energy. */
function halfEnergy(z: ArrayLike<number>, w: number): number {
  const wh = Math.floor(w / 2) + 1;
  let e = 0;
  for (let i = 0; i < z.length / 2; i++) {
    const k = i % wh, c = k === 0 || 2 * k === w ? 1 : 2;
    e += c * (z[2 * i] ** 2 + z[2 * i + 1] ** 2);
  }
  return e;
}

const sumSq = (x: ArrayLike<number>): number => Array.from(x).reduce((s, v) => s + v * v, 0);

leakFreeTest(
  "irfft2(rfft2(x)) = x for any sizes, norms and batch axes (float64 and float32)",
  () => {
    check(
      fc.property(size, size, norm, fc.constantFrom<DType>("float64", "float32"), fc.nat(), (
        h,
        w,
        nm,
        dtype,
        seed,
      ) => {
        scope(() => {
          const xv = vals(seed + 1, 2 * h * w);
          const x = o.tensor(xv, { shape: [2, 1, h, w], dtype });
          const z = o.rfft2(x, { norm: nm });
          assert.deepEqual(z.shape, [2, 1, h, Math.floor(w / 2) + 1, 2]);
          const back = o.irfft2(z, [h, w], { norm: nm });
          assert.deepEqual(back.shape, [2, 1, h, w]);
          const tol = dtype === "float64" ? 1e-12 : 2e-5;
          assertClose(back.dataSync(), xv, { rtol: tol, atol: tol, what: `round trip ${h}×${w}` });
        });
      }),
      60,
    );
  },
);

leakFreeTest("Parseval: with norm ortho, Σx² equals the half spectrum's weighted energy", () => {
  check(
    fc.property(size, size, fc.nat(), (h, w, seed) => {
      scope(() => {
        const xv = vals(seed + 3, h * w);
        const z = o.rfft2(o.tensor(xv, { shape: [h, w], dtype: "float64" }), { norm: "ortho" });
        const e = sumSq(xv), ez = halfEnergy(z.dataSync(), w);
        assert.ok(Math.abs(e - ez) <= 1e-12 * (1 + e), `${h}×${w}: Σx² ${e} vs Σc|Z|² ${ez}`);
      });
    }),
    60,
  );
});

leakFreeTest(
  "rfft2 and irfft2 match the direct O(n²) DFT in float64, Bluestein sizes included",
  () => {
    for (const [h, w] of [[97, 3], [5, 97], [33, 28], [1, 67], [12, 1]]) {
      scope(() => {
        const xv = vals(h * 1000 + w, h * w);
        for (const nm of ["backward", "ortho"] as const) {
          const z = o.rfft2(o.tensor(xv, { shape: [h, w], dtype: "float64" }), { norm: nm });
          const zr = rfft2Ref(xv, h, w, nm);
          assertClose(z.dataSync(), zr, {
            rtol: 1e-10,
            atol: 1e-10,
            what: `rfft2 ${h}×${w} ${nm}`,
          });
          const zv = vals(h * 7 + w, zr.length);
          const x = o.irfft2(o.tensor(zv, { shape: z.shape, dtype: "float64" }), [h, w], {
            norm: nm,
          });
          assertClose(x.dataSync(), irfft2Ref(zv, h, w, nm), {
            rtol: 1e-10,
            atol: 1e-10,
            what: `irfft2 ${h}×${w} ${nm}`,
          });
        }
      });
    }
  },
);

leakFreeTest("rfft2/irfft2 over more planes than one chunk of the CPU kernel (45 × 12×64)", () => {
  scope(() => {
    const xv = vals(17, 45 * 12 * 64);
    const x = o.tensor(xv, { shape: [5, 9, 12, 64], dtype: "float64" });
    const z = o.rfft2(x).dataSync();
    // each plane alone (one chunk, checked against the direct DFT above) gives the same bins
    for (const p of [0, 20, 41, 44]) {
      const one = o.rfft2(
        o.tensor(xv.slice(p * 768, (p + 1) * 768), { shape: [12, 64], dtype: "float64" }),
      );
      assertClose(z.slice(p * 12 * 33 * 2, (p + 1) * 12 * 33 * 2), one.dataSync(), {
        rtol: 1e-12,
        atol: 1e-12,
        what: `plane ${p}`,
      });
    }
    const zt = o.tensor(z, { shape: [5, 9, 12, 33, 2], dtype: "float64" });
    assertClose(o.irfft2(zt, [12, 64]).dataSync(), xv, { rtol: 1e-12, atol: 1e-12 });
  });
});

leakFreeTest("rfft2 in float32 stays within float32 rounding of the float64 DFT", () => {
  scope(() => {
    const xv = vals(5, 3 * 32 * 33);
    const z = o.rfft2(o.tensor(xv, { shape: [3, 32, 33] }));
    const ref = rfft2Ref(xv, 32, 33, "backward");
    const scale = Math.max(...ref.map(Math.abs));
    assertClose(z.dataSync(), ref, { rtol: 1e-5, atol: 1e-5 * scale, what: "float32 rfft2" });
  });
});

leakFreeTest("rfft2/irfft2 refuse bad arguments with TypeError/RangeError naming the fix", () => {
  scope(() => {
    assert.throws(() => o.rfft2(o.tensor([1, 2, 3])), /rfft2: needs a real input \[\.\.\., H, W\]/);
    assert.throws(() => o.rfft2(o.tensor([[1, 2]], { dtype: "int32" })), TypeError);
    assert.throws(
      () => o.rfft2(o.ones([2, 2]), { norm: "none" as "ortho" }),
      (e: unknown) => e instanceof RangeError && /norm must be/.test(e.message),
    );
    const z = o.rfft2(o.ones([4, 6]));
    assert.throws(
      () => o.irfft2(z, [4, 8]),
      (e: unknown) => e instanceof TypeError && /\[\.\.\., 4, 5, 2\]/.test(e.message),
    );
    assert.throws(() => o.irfft2(z, [4, 0]), RangeError);
    // W = 6 and W = 7 both keep 4 bins: the size picks which
    assert.deepEqual(o.irfft2(z, [4, 7]).shape, [4, 7]);
  });
});

let adapterError: Error | null = null;
try {
  await initWebGpu();
} catch (e) {
  adapterError = e as Error;
}

leakFreeTest(
  "webgpu: round trip and Parseval hold in float32 (fails, never skips, without an adapter)",
  async () => {
    if (adapterError) throw new Error(`this test needs a WebGPU adapter: ${adapterError.message}`);
    await setBackend("webgpu");
    try {
      await checkAsync(
        fc.asyncProperty(size, size, fc.nat(), async (h, w, seed) => {
          const xv = vals(seed + 11, h * w);
          const [zd, bd] = await scope(() => {
            const z = o.rfft2(o.tensor(xv, { shape: [h, w] }), { norm: "ortho" });
            return [z, o.irfft2(z, [h, w], { norm: "ortho" })];
          }).reduce(async (acc, t) => {
            const r = await acc;
            r.push(await t.data());
            t.dispose();
            return r;
          }, Promise.resolve([] as ArrayLike<number>[]));
          assertClose(bd, xv, { rtol: 1e-5, atol: 1e-5, what: `webgpu round trip ${h}×${w}` });
          const e = sumSq(xv), ez = halfEnergy(zd, w);
          assert.ok(Math.abs(e - ez) <= 1e-5 * (1 + e), `webgpu Parseval ${h}×${w}: ${e} vs ${ez}`);
        }),
        15,
      );
    } finally {
      await setBackend("cpu");
    }
  },
);

leakFreeTest(
  "webgpu: lines of 65 … 600 points (Stockham and direct passes) match the cpu",
  async () => {
    if (adapterError) throw new Error(`this test needs a WebGPU adapter: ${adapterError.message}`);
    // 65 … 512: the workgroup Stockham kernel (radices 4, 2, 3, 5, 7 and the prime 509); beyond
    // and below: the direct sums
    for (const [h, w] of [[3, 600], [530, 5], [2, 509], [4, 512], [96, 3], [2, 210], [100, 66]]) {
      const xv = vals(h + w, h * w);
      const ref = scope(() =>
        o.rfft2(o.tensor(xv, { shape: [h, w], dtype: "float64" }), { norm: "ortho" }).dataSync()
      );
      await setBackend("webgpu");
      try {
        const z = scope(() => o.rfft2(o.tensor(xv, { shape: [h, w] }), { norm: "ortho" }));
        const back = scope(() => o.irfft2(z, [h, w], { norm: "ortho" }));
        const [zv, bv] = [await z.data(), await back.data()];
        z.dispose();
        back.dispose();
        assertClose(zv, ref, { rtol: 1e-4, atol: 1e-4, what: `webgpu rfft2 ${h}×${w}` });
        assertClose(bv, xv, { rtol: 1e-4, atol: 1e-4, what: `webgpu round trip ${h}×${w}` });
      } finally {
        await setBackend("cpu");
      }
    }
  },
);

// Tests of the BLAS stride-1 convolutions (conv_blas.ts): forward, input gradient (transposed
// convolution) and filter gradient against float64 loops on random geometries (channels 1..64 on
// either side, both tap placements, odd sizes, kernels 1/3/5, every padding up to k−1;
// fast-check, seeded, FC_SEED reproduces), and the routing of SLL_CPU_KERNELS=blas against the
// wasm and reference kernels on an SLL-block shape. Without a native BLAS the rows say so loudly
// and are ignored (CI installs OpenBLAS, so they run there).
import assert from "node:assert/strict";
import fc from "fast-check";
import { randomArray } from "../../bench/harness.ts";
import { type ConvGeom, convGeom, type KernelArg } from "../prims.ts";
import type { TypedArray } from "../dtype.ts";
import { loadNativeBlas, type NativeBlas } from "./blas.ts";
import {
  blasConv2dFilterGradS1,
  blasConv2dS1,
  blasConvTranspose2dS1,
  type ConvS1,
} from "./conv_blas.ts";
import { blasConvFits, selectCpuKernels } from "./fast.ts";
import * as M from "./linalg.ts";
import { shutdownWasmThreads } from "./wasm/mod.ts";

const SEED = Number(Deno.env.get("FC_SEED") ?? 20261203);
const probe = loadNativeBlas();
const noBlas = "error" in probe ? probe.error : null;
if (noBlas) console.warn(`\n*** conv_blas_test: native BLAS rows IGNORED: ${noBlas} ***\n`);

/** Float64 sums of y, dx and dW for x, w, gy, and the largest Σ|term| (the rounding scale). */
function references(g: ConvS1, x: Float32Array, w: Float32Array, gy: Float32Array): {
  y: Float64Array;
  dx: Float64Array;
  dw: Float64Array;
  scale: number;
} {
  const ho = g.h + 2 * g.ph - g.kh + 1, wo = g.w + 2 * g.pw - g.kw + 1;
  const y = new Float64Array(g.b * g.o * ho * wo), dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  const ay = new Float64Array(y.length), adx = new Float64Array(x.length);
  const adw = new Float64Array(w.length);
  for (let b = 0; b < g.b; b++) {
    for (let o = 0; o < g.o; o++) {
      for (let c = 0; c < g.c; c++) {
        for (let oh = 0; oh < ho; oh++) {
          for (let ow = 0; ow < wo; ow++) {
            const yi = ((b * g.o + o) * ho + oh) * wo + ow;
            for (let i = 0; i < g.kh; i++) {
              const ih = oh + i - g.ph;
              if (ih < 0 || ih >= g.h) continue;
              for (let j = 0; j < g.kw; j++) {
                const iw = ow + j - g.pw;
                if (iw < 0 || iw >= g.w) continue;
                const xi = ((b * g.c + c) * g.h + ih) * g.w + iw;
                const wi = ((o * g.c + c) * g.kh + i) * g.kw + j;
                y[yi] += x[xi] * w[wi], ay[yi] += Math.abs(x[xi] * w[wi]);
                dx[xi] += gy[yi] * w[wi], adx[xi] += Math.abs(gy[yi] * w[wi]);
                dw[wi] += gy[yi] * x[xi], adw[wi] += Math.abs(gy[yi] * x[xi]);
              }
            }
          }
        }
      }
    }
  }
  const mx = (a: Float64Array): number => a.reduce((m, v) => Math.max(m, v), 1e-30);
  return { y, dx, dw, scale: Math.max(mx(ay), mx(adx), mx(adw)) };
}

function assertClose(got: Float32Array, ref: Float64Array, tol: number, what: string): void {
  assert.equal(got.length, ref.length, `${what}: length`);
  let err = 0;
  for (let i = 0; i < got.length; i++) err = Math.max(err, Math.abs(got[i] - ref[i]));
  assert.ok(err <= tol, `${what}: max error ${err} > ${tol}`);
}

function withSeed(run: () => void): void {
  try {
    run();
  } catch (e) {
    if (e instanceof Error) e.message = `[replay with FC_SEED=${SEED}] ${e.message}`;
    throw e;
  }
}

Deno.test({
  name: "BLAS stride-1 conv: forward, transposed and filter gradient equal float64 (fast-check)",
  ignore: noBlas !== null,
  fn: () => {
    const blas = probe as NativeBlas;
    const geomArb = fc.record({
      b: fc.integer({ min: 1, max: 3 }),
      c: fc.integer({ min: 1, max: 64 }),
      o: fc.integer({ min: 1, max: 64 }),
      h: fc.integer({ min: 1, max: 9 }),
      w: fc.integer({ min: 1, max: 9 }),
      k: fc.constantFrom(1, 3, 5),
      ph: fc.integer({ min: 0, max: 4 }),
      pw: fc.integer({ min: 0, max: 4 }),
    });
    withSeed(() =>
      fc.assert(
        fc.property(geomArb, (r) => {
          const g: ConvS1 = {
            b: r.b,
            c: r.c,
            h: r.h + r.k - 1, // the output keeps at least one row and column
            w: r.w + r.k - 1,
            o: r.o,
            kh: r.k,
            kw: r.k,
            ph: r.ph % r.k,
            pw: r.pw % r.k,
          };
          const ho = g.h + 2 * g.ph - g.kh + 1, wo = g.w + 2 * g.pw - g.kw + 1;
          const x = randomArray(g.b * g.c * g.h * g.w, g.c + 3 * g.h);
          const w = randomArray(g.o * g.c * g.kh * g.kw, g.o + 5 * g.kw);
          const gy = randomArray(g.b * g.o * ho * wo, g.b + 7 * g.o);
          const ref = references(g, x, w, gy), tol = 1e-5 * ref.scale;
          const what = JSON.stringify(g);
          assertClose(blasConv2dS1(blas, x, w, g), ref.y, tol, `conv2d ${what}`);
          const dx = blasConvTranspose2dS1(blas, gy, w, g);
          assert.ok(dx, `convTranspose2d declined ${what}`);
          assertClose(dx, ref.dx, tol, `convTranspose2d ${what}`);
          assertClose(blasConv2dFilterGradS1(blas, x, gy, g), ref.dw, tol, `filter ${what}`);
        }),
        { seed: SEED, numRuns: 40 },
      )
    );
  },
});

Deno.test({
  name: "SLL_CPU_KERNELS=blas routes few-channel stride-1 convs to BLAS; same results as wasm",
  ignore: noBlas !== null,
  fn: () => {
    const geom = (c: number, o: number, stride = 1): ConvGeom =>
      convGeom([2, c, 8, 8], [o, c, 3, 3], [2, o, stride === 1 ? 8 : 4, stride === 1 ? 8 : 4], {
        stride: [stride, stride],
        padding: [1, 1],
      });
    // the SLL blocks of the presets go to BLAS; equal channels and strides stay on wasm
    assert.ok(blasConvFits(geom(45, 5)) && blasConvFits(geom(5, 45)));
    assert.ok(blasConvFits(geom(120, 5)));
    assert.equal(blasConvFits(geom(16, 16)), null);
    assert.equal(blasConvFits(geom(8, 8)), null);
    assert.equal(blasConvFits(geom(45, 5, 2)), null);
    const blas = selectCpuKernels("blas").kernels, wasm = selectCpuKernels("wasm").kernels;
    const arg = (s: Float32Array, shape: number[]): KernelArg<TypedArray> =>
      ({ storage: s, shape, dtype: "float32" }) as unknown as KernelArg<TypedArray>;
    try {
      for (const [c, o] of [[45, 5], [5, 45]]) {
        const d = geom(c, o);
        const x = randomArray(2 * c * 64, c), w = randomArray(o * c * 9, o);
        const gy = randomArray(2 * o * 64, c + o);
        const xa = arg(x, [2, c, 8, 8]), wa = arg(w, [o, c, 3, 3]), ga = arg(gy, [2, o, 8, 8]);
        const pairs: [
          string,
          Float32Array | null | undefined,
          Float32Array | null | undefined,
          TypedArray,
        ][] = [
          [
            "conv2d",
            blas.conv2d?.(xa, wa, d),
            wasm.conv2d?.(xa, wa, d),
            M.conv2d(x, w, d, "float32"),
          ],
          [
            "convTranspose2d",
            blas.convTranspose2d?.(ga, wa, d, [0, 0]),
            wasm.convTranspose2d?.(ga, wa, d, [0, 0]),
            M.convTranspose2d(gy, w, d, "float32"),
          ],
          [
            "conv2dFilterGrad",
            blas.conv2dFilterGrad?.(xa, ga, d),
            wasm.conv2dFilterGrad?.(xa, ga, d),
            M.conv2dFilterGrad(x, gy, d, "float32"),
          ],
        ];
        // Σ|terms| ≤ (largest |input product|) · (terms per output)
        const big = (a: Float32Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        const terms = [big(x) * big(w) * c * 9, big(gy) * big(w) * o * 9, big(x) * big(gy) * 128];
        for (const [n, [name, viaBlas, viaWasm, viaRef]] of pairs.entries()) {
          assert.ok(viaBlas && viaWasm, `${name} ${c}→${o}: a fast path declined`);
          const scale = terms[n];
          assertClose(viaBlas, Float64Array.from(viaWasm), 1e-5 * scale, `${name} ${c}→${o} wasm`);
          assertClose(viaBlas, Float64Array.from(viaRef), 1e-5 * scale, `${name} ${c}→${o} ref`);
        }
      }
    } finally {
      shutdownWasmThreads();
    }
  },
});

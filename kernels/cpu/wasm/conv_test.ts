// Tests of the wasm convolutions: forward and filter gradient against float64 loops, the input
// gradient through the adjoint identity ⟨conv(x), y⟩ = ⟨x, convT(y)⟩ and a direct loop, on random
// shapes/strides/paddings; all code paths (direct 3×3, Winograd 3×3, im2col + GEMM), one vs two
// threads.
// fast-check is seeded; FC_SEED=<n> reproduces.
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  conv2d,
  conv2dFilterGrad,
  type Conv2dOptions,
  convTranspose2d,
  setWasmThreads,
  shutdownWasmThreads,
} from "./mod.ts";
import { randomArray } from "../../../bench/harness.ts";
import { setDirectLimit, setWinogradMinChannels } from "./ops.ts";

const SEED = Number(Deno.env.get("FC_SEED") ?? 20250118);

function outSize(o: Conv2dOptions): [number, number] {
  const s = o.stride ?? 1, p = o.padding ?? 0;
  return [Math.floor((o.h + 2 * p - o.kh) / s) + 1, Math.floor((o.w + 2 * p - o.kw) / s) + 1];
}

/**
 * Visits every (b, o, c, oh, ow, i, j) term of the convolution sum that lies inside the image,
 * with the flat indices of x, w and y.
 */
function forEachTerm(o: Conv2dOptions, f: (xi: number, wi: number, yi: number) => void): void {
  const s = o.stride ?? 1, p = o.padding ?? 0;
  const [ho, wo] = outSize(o);
  for (let b = 0; b < o.b; b++) {
    for (let oc = 0; oc < o.o; oc++) {
      for (let c = 0; c < o.c; c++) {
        for (let oh = 0; oh < ho; oh++) {
          for (let ow = 0; ow < wo; ow++) {
            for (let i = 0; i < o.kh; i++) {
              const ih = oh * s - p + i;
              if (ih < 0 || ih >= o.h) continue;
              for (let j = 0; j < o.kw; j++) {
                const iw = ow * s - p + j;
                if (iw < 0 || iw >= o.w) continue;
                f(
                  ((b * o.c + c) * o.h + ih) * o.w + iw,
                  ((oc * o.c + c) * o.kh + i) * o.kw + j,
                  ((b * o.o + oc) * ho + oh) * wo + ow,
                );
              }
            }
          }
        }
      }
    }
  }
}

/** max |got − ref| ≤ 1e-5 · max Σ|terms| (the f32 rounding scale). */
function assertClose(got: Float32Array, ref: Float64Array, abs: Float64Array, what: string): void {
  assert.equal(got.length, ref.length, `${what}: length`);
  let err = 0, scale = 1e-30;
  for (let i = 0; i < ref.length; i++) {
    err = Math.max(err, Math.abs(got[i] - ref[i]));
    scale = Math.max(scale, abs[i]);
  }
  assert.ok(err <= 1e-5 * scale, `${what}: max error ${err} vs scale ${scale}`);
}

function sizes(o: Conv2dOptions): { x: number; w: number; y: number } {
  const [ho, wo] = outSize(o);
  return { x: o.b * o.c * o.h * o.w, w: o.o * o.c * o.kh * o.kw, y: o.b * o.o * ho * wo };
}

function checkAll(o: Conv2dOptions, seed: number): void {
  const n = sizes(o);
  const x = randomArray(n.x, seed), w = randomArray(n.w, seed + 1), gy = randomArray(n.y, seed + 2);
  const name = JSON.stringify(o);
  // Forward.
  const yRef = new Float64Array(n.y), yAbs = new Float64Array(n.y);
  forEachTerm(o, (xi, wi, yi) => {
    yRef[yi] += x[xi] * w[wi], yAbs[yi] += Math.abs(x[xi] * w[wi]);
  });
  const y = conv2d(x, w, o);
  assertClose(y, yRef, yAbs, `conv2d ${name}`);
  // Input gradient: direct loop and the adjoint identity.
  const dxRef = new Float64Array(n.x), dxAbs = new Float64Array(n.x);
  forEachTerm(o, (xi, wi, yi) => {
    dxRef[xi] += gy[yi] * w[wi], dxAbs[xi] += Math.abs(gy[yi] * w[wi]);
  });
  const dx = convTranspose2d(gy, w, o);
  assertClose(dx, dxRef, dxAbs, `convTranspose2d ${name}`);
  let lhs = 0, rhs = 0, mag = 0;
  for (let i = 0; i < n.y; i++) lhs += y[i] * gy[i], mag += Math.abs(y[i] * gy[i]);
  for (let i = 0; i < n.x; i++) rhs += x[i] * dx[i];
  assert.ok(Math.abs(lhs - rhs) <= 1e-5 * (mag + 1e-30), `adjoint ${name}: ${lhs} vs ${rhs}`);
  // Filter gradient.
  const dwRef = new Float64Array(n.w), dwAbs = new Float64Array(n.w);
  forEachTerm(o, (xi, wi, yi) => {
    dwRef[wi] += gy[yi] * x[xi], dwAbs[wi] += Math.abs(gy[yi] * x[xi]);
  });
  assertClose(conv2dFilterGrad(x, gy, o), dwRef, dwAbs, `conv2dFilterGrad ${name}`);
}

Deno.test("conv2d: fixed shapes incl. strides, paddings, rectangular kernels", () => {
  try {
    const cases: Conv2dOptions[] = [
      { b: 1, c: 1, h: 1, w: 1, o: 1, kh: 1, kw: 1 },
      { b: 2, c: 3, h: 5, w: 7, o: 4, kh: 3, kw: 3, stride: 1, padding: 1 },
      { b: 1, c: 2, h: 8, w: 8, o: 3, kh: 3, kw: 3, stride: 2, padding: 1 },
      { b: 3, c: 5, h: 9, w: 6, o: 7, kh: 2, kw: 3, stride: 3, padding: 2 },
      { b: 2, c: 4, h: 6, w: 6, o: 2, kh: 5, kw: 5, stride: 1, padding: 4 },
      { b: 1, c: 7, h: 4, w: 11, o: 13, kh: 1, kw: 4, stride: 2, padding: 0 },
      { b: 2, c: 45, h: 8, w: 8, o: 45, kh: 3, kw: 3, stride: 1, padding: 1 },
    ];
    cases.forEach((o, i) => checkAll(o, 10 * i + 1));
  } finally {
    shutdownWasmThreads();
  }
});

Deno.test("conv2d: random geometry (fast-check)", () => {
  try {
    fc.assert(
      fc.property(
        fc.record({
          b: fc.integer({ min: 1, max: 3 }),
          c: fc.integer({ min: 1, max: 6 }),
          h: fc.integer({ min: 1, max: 10 }),
          w: fc.integer({ min: 1, max: 10 }),
          o: fc.integer({ min: 1, max: 7 }),
          kh: fc.integer({ min: 1, max: 4 }),
          kw: fc.integer({ min: 1, max: 4 }),
          stride: fc.integer({ min: 1, max: 3 }),
          padding: fc.integer({ min: 0, max: 3 }),
        }).filter((o) => o.h + 2 * o.padding >= o.kh && o.w + 2 * o.padding >= o.kw),
        fc.integer({ min: 0, max: 1 << 20 }),
        (o, seed) => checkAll(o, seed),
      ),
      { seed: SEED, numRuns: 80 },
    );
  } catch (e) {
    console.error(`conv2d property failed; reproduce with FC_SEED=${SEED}`);
    throw e;
  } finally {
    shutdownWasmThreads();
  }
});

Deno.test("conv2d: 3×3 on both paths, small and odd channels, 1 or 2 threads (fast-check)", () => {
  const prevThreads = setWasmThreads(2), prevLimit = setDirectLimit(1 << 30);
  const prevWino = setWinogradMinChannels(Infinity);
  try {
    fc.assert(
      fc.property(
        fc.record({
          b: fc.integer({ min: 1, max: 5 }),
          c: fc.integer({ min: 1, max: 19 }),
          h: fc.integer({ min: 1, max: 13 }),
          w: fc.integer({ min: 1, max: 13 }),
          o: fc.integer({ min: 1, max: 19 }),
          kh: fc.constant(3),
          kw: fc.constant(3),
          stride: fc.integer({ min: 1, max: 2 }),
          padding: fc.integer({ min: 0, max: 2 }),
        }).filter((o) => o.h + 2 * o.padding >= 3 && o.w + 2 * o.padding >= 3),
        fc.constantFrom("direct", "winograd", "im2col"),
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 0, max: 1 << 20 }),
        (o, path, threads, seed) => {
          setDirectLimit(path === "im2col" ? 0 : 1 << 30);
          setWinogradMinChannels(path === "winograd" ? 0 : Infinity);
          setWasmThreads(threads);
          checkAll(o, seed);
        },
      ),
      { seed: SEED, numRuns: 120 },
    );
  } catch (e) {
    console.error(`conv2d 3×3 property failed; reproduce with FC_SEED=${SEED}`);
    throw e;
  } finally {
    setWasmThreads(prevThreads);
    setDirectLimit(prevLimit);
    setWinogradMinChannels(prevWino);
    shutdownWasmThreads();
  }
});

Deno.test("conv2d: the SLL shapes (batch 256 and kernel self-convolution), direct and Winograd", () => {
  const prevWino = setWinogradMinChannels(Infinity);
  try {
    for (const wino of [Infinity, 0]) {
      setWinogradMinChannels(wino);
      // the batch of the bench on one path; the float64 loops are slow, so fewer on the other
      const b = wino === 0 ? 24 : 256;
      checkAll({ b, c: 8, h: 28, w: 28, o: 8, kh: 3, kw: 3, stride: 1, padding: 1 }, 5);
      checkAll({ b: 16, c: 16, h: 3, w: 3, o: 16, kh: 3, kw: 3, stride: 1, padding: 2 }, 6);
    }
  } finally {
    setWinogradMinChannels(prevWino);
    shutdownWasmThreads();
  }
});

for (const path of ["direct", "winograd", "im2col"]) {
  Deno.test(`conv2d: one and two threads give identical bits (${path})`, () => {
    const prev = setWasmThreads(2);
    const prevLimit = setDirectLimit(path === "im2col" ? 0 : 1 << 30);
    const prevWino = setWinogradMinChannels(path === "winograd" ? 0 : Infinity);
    try {
      const o: Conv2dOptions = {
        b: 4,
        c: 16,
        h: 16,
        w: 16,
        o: 24,
        kh: 3,
        kw: 3,
        stride: 1,
        padding: 1,
      };
      const n = sizes(o);
      const x = randomArray(n.x, 3), w = randomArray(n.w, 4), gy = randomArray(n.y, 5);
      const run = (): Float32Array[] => [
        conv2d(x, w, o),
        convTranspose2d(gy, w, o),
        conv2dFilterGrad(x, gy, o),
      ];
      setWasmThreads(1);
      const one = run();
      setWasmThreads(2);
      const two = run();
      assert.deepEqual(two[0], one[0]);
      assert.deepEqual(two[1], one[1]);
      // The filter gradient sums fixed image groups in a fixed order, whoever ran them.
      assert.deepEqual(two[2], one[2]);
      checkAll({ ...o, b: 2 }, 17);
    } finally {
      setWasmThreads(prev);
      setDirectLimit(prevLimit);
      setWinogradMinChannels(prevWino);
      shutdownWasmThreads();
    }
  });
}

Deno.test("conv2d: argument errors name the problem", () => {
  const o: Conv2dOptions = { b: 1, c: 1, h: 2, w: 2, o: 1, kh: 3, kw: 3 };
  assert.throws(() => conv2d(new Float32Array(4), new Float32Array(9), o), /does not fit/);
  const ok: Conv2dOptions = { ...o, padding: 1 };
  assert.throws(() => conv2d(new Float32Array(3), new Float32Array(9), ok), TypeError);
  assert.throws(
    () =>
      convTranspose2d(new Float32Array(4), new Float32Array(9), {
        ...ok,
        stride: 2,
        outputPadding: 0,
      }),
    /outputPadding/,
  );
  // h = 2, p = 1, k = 3, s = 2: (2 + 2 − 3) mod 2 = 1 is the implied output padding.
  assert.equal(
    convTranspose2d(new Float32Array(1), new Float32Array(9), {
      ...ok,
      stride: 2,
      outputPadding: 1,
    }).length,
    4,
  );
});

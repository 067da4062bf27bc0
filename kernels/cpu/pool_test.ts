// Tests of the CPU average pools: the tiled fast path (window = stride, no padding) against a
// naive float64 loop, bit for bit, incl. inputs the windows do not cover and both float dtypes.
import assert from "node:assert/strict";
import { avgPool2d, avgPool2dTranspose, type PoolDims } from "./linalg.ts";
import { allocKernelF32, allocUninit, releaseArray } from "./host_pool.ts";

function naive(x: ArrayLike<number>, d: PoolDims): { y: number[]; dx: number[] } {
  const [kh, kw] = d.size, [sh, sw] = d.stride, [ph, pw] = d.padding;
  const y: number[] = [], dx = new Array(d.planes * d.h * d.w).fill(0);
  for (let p = 0; p < d.planes; p++) {
    for (let oh = 0; oh < d.ho; oh++) {
      for (let ow = 0; ow < d.wo; ow++) {
        let s = 0;
        const v = (p * d.ho + oh) * d.wo + ow + 1; // the cotangent of this output
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) {
            const ih = oh * sh - ph + i, iw = ow * sw - pw + j;
            if (ih < 0 || ih >= d.h || iw < 0 || iw >= d.w) continue;
            s += x[(p * d.h + ih) * d.w + iw];
            dx[(p * d.h + ih) * d.w + iw] += v / d.divisor;
          }
        }
        y.push(s / d.divisor);
      }
    }
  }
  return { y, dx };
}

Deno.test("avgPool2d: tiled windows match the naive loop bit for bit", () => {
  for (const dtype of ["float32", "float64"] as const) {
    for (const [h, w, k, div] of [[28, 28, 4, 4], [7, 9, 3, 9], [5, 6, 2, 4], [4, 4, 1, 1]]) {
      const ho = Math.floor(h / k), wo = Math.floor(w / k);
      const d: PoolDims = {
        planes: 3,
        h,
        w,
        ho,
        wo,
        size: [k, k],
        stride: [k, k],
        padding: [0, 0],
        divisor: div,
      };
      const Arr = dtype === "float32" ? Float32Array : Float64Array;
      const x = Arr.from(Array.from({ length: 3 * h * w }, (_, i) => Math.sin(i * 1.7)));
      const g = Arr.from(Array.from({ length: 3 * ho * wo }, (_, i) => i + 1));
      const ref = naive(x, d);
      assert.deepEqual(Array.from(avgPool2d(x, d, dtype)), Array.from(Arr.from(ref.y)));
      assert.deepEqual(Array.from(avgPool2dTranspose(g, d, dtype)), Array.from(Arr.from(ref.dx)));
    }
  }
});

Deno.test("avgPool2dTranspose: covering windows write every element of a recycled array", () => {
  // 24 planes of 28×28: large enough for the pool (and the kernels' heap where it exists)
  const d: PoolDims = {
    planes: 24,
    h: 28,
    w: 28,
    ho: 7,
    wo: 7,
    size: [4, 4],
    stride: [4, 4],
    padding: [0, 0],
    divisor: 4,
  };
  const n = 24 * 28 * 28;
  // a released array of the same length, full of NaN, is what the next call gets back
  releaseArray(allocKernelF32(n).fill(NaN));
  releaseArray((allocUninit("float32", n) as Float32Array).fill(NaN));
  const g = Float32Array.from({ length: 24 * 49 }, (_, i) => i + 1);
  const got = avgPool2dTranspose(g, d, "float32");
  const x = new Float32Array(n);
  const ref = naive(x, d).dx;
  assert.deepEqual(Array.from(got), Array.from(Float32Array.from(ref)));
  releaseArray(got);
});

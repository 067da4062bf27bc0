// Tests of the Winograd F(2×2, 3×3) path of the wasm convolutions (winograd.ts): the forward, the
// input gradient (a transposed convolution, run as Winograd on the flipped kernel) and the filter
// gradient against
// float64 loops on odd, non-square sizes, batch 1, both threads, with the measured error bound
// asserted; the weight transform against its definition; the path choice by channel count.
import assert from "node:assert/strict";
import { randomArray } from "../../../bench/harness.ts";
import {
  conv2d,
  conv2dFilterGrad,
  convTranspose2d,
  setWasmThreads,
  shutdownWasmThreads,
} from "./mod.ts";
import { setWinogradMinChannels } from "./ops.ts";
import { packWinograd, WINO_OB } from "./winograd.ts";

interface Case {
  b: number;
  c: number;
  h: number;
  w: number;
  o: number;
  p: number;
}

/**
 * Every term of a 3×3, stride-1, padding-p convolution: calls `term(yAt, xAt, wAt)` with the flat
 * indices of the output, input and weight it joins (the loops the three references share).
 */
function eachTerm(k: Case, term: (yAt: number, xAt: number, wAt: number) => void): void {
  const ho = k.h + 2 * k.p - 2, wo = k.w + 2 * k.p - 2;
  for (let b = 0; b < k.b; b++) {
    for (let o = 0; o < k.o; o++) {
      for (let i = 0; i < ho; i++) {
        for (let j = 0; j < wo; j++) {
          const yAt = ((b * k.o + o) * ho + i) * wo + j;
          for (let c = 0; c < k.c; c++) {
            for (let u = 0; u < 3; u++) {
              const ih = i + u - k.p;
              if (ih < 0 || ih >= k.h) continue;
              for (let v = 0; v < 3; v++) {
                const iw = j + v - k.p;
                if (iw < 0 || iw >= k.w) continue;
                term(yAt, ((b * k.c + c) * k.h + ih) * k.w + iw, ((o * k.c + c) * 3 + u) * 3 + v);
              }
            }
          }
        }
      }
    }
  }
}

/** y = conv(x, w) (3×3, stride 1, padding p) in float64, and Σ|terms| per output. */
function reference(x: Float32Array, w: Float32Array, k: Case): [Float64Array, Float64Array] {
  const ho = k.h + 2 * k.p - 2, wo = k.w + 2 * k.p - 2;
  const y = new Float64Array(k.b * k.o * ho * wo), mag = new Float64Array(y.length);
  eachTerm(k, (yAt, xAt, wAt) => {
    const t = x[xAt] * w[wAt];
    y[yAt] += t, mag[yAt] += Math.abs(t);
  });
  return [y, mag];
}

/** dx = convT(gy, w) in float64 (the adjoint of reference), and Σ|terms| per input. */
function referenceT(gy: Float32Array, w: Float32Array, k: Case): [Float64Array, Float64Array] {
  const dx = new Float64Array(k.b * k.c * k.h * k.w), mag = new Float64Array(dx.length);
  eachTerm(k, (yAt, xAt, wAt) => {
    const t = gy[yAt] * w[wAt];
    dx[xAt] += t, mag[xAt] += Math.abs(t);
  });
  return [dx, mag];
}

/** dW = Σ gy ⊗ x over the conv's terms in float64 (the filter gradient), and Σ|terms|. */
function referenceW(x: Float32Array, gy: Float32Array, k: Case): [Float64Array, Float64Array] {
  const dw = new Float64Array(k.o * k.c * 9), mag = new Float64Array(dw.length);
  eachTerm(k, (yAt, xAt, wAt) => {
    const t = gy[yAt] * x[xAt];
    dw[wAt] += t, mag[wAt] += Math.abs(t);
  });
  return [dw, mag];
}

/** max |got − ref| / max Σ|terms|: the error in units of the f32 rounding scale's base. */
function relError(got: Float32Array, ref: Float64Array, mag: Float64Array): number {
  assert.equal(got.length, ref.length);
  let err = 0, scale = 1e-30;
  for (let i = 0; i < ref.length; i++) {
    assert.ok(Number.isFinite(got[i]), `non-finite output at ${i}`);
    err = Math.max(err, Math.abs(got[i] - ref[i]));
    scale = Math.max(scale, mag[i]);
  }
  return err / scale;
}

/**
 * The bound asserted for Winograd: F(2×2, 3×3) adds at most a few roundings per value in its
 * transforms (|Bᵀ|, |G|, |Aᵀ| have row sums ≤ 2, 1.5, 3), so its error stays within a small
 * multiple of the direct sum's for these channel counts; measured ≤ ~3e-7 here, direct ~1e-7.
 */
const WINO_BOUND = 2e-6;

const CASES: Case[] = [
  { b: 1, c: 8, h: 5, w: 7, o: 8, p: 1 },
  { b: 1, c: 16, h: 28, w: 28, o: 16, p: 1 },
  { b: 3, c: 9, h: 13, w: 6, o: 11, p: 0 },
  { b: 2, c: 8, h: 3, w: 3, o: 8, p: 2 },
  { b: 5, c: 12, h: 17, w: 31, o: 10, p: 1 },
  { b: 2, c: 16, h: 1, w: 9, o: 17, p: 1 },
  { b: 4, c: 3, h: 11, w: 4, o: 2, p: 2 },
  { b: 2, c: 5, h: 6, w: 5, o: 9, p: 3 },
  { b: 1, c: 33, h: 9, w: 10, o: 40, p: 1 },
];

for (const threads of [1, 2]) {
  Deno.test(`winograd: forward, input and filter gradients vs float64 loops (${threads} thread(s))`, () => {
    const prevT = setWasmThreads(threads), prevW = setWinogradMinChannels(0);
    let worst = 0;
    try {
      CASES.forEach((k, n) => {
        const ho = k.h + 2 * k.p - 2, wo = k.w + 2 * k.p - 2;
        const x = randomArray(k.b * k.c * k.h * k.w, 10 * n + 1);
        const w = randomArray(k.o * k.c * 9, 10 * n + 2);
        const gy = randomArray(k.b * k.o * ho * wo, 10 * n + 3);
        const geom = { b: k.b, c: k.c, h: k.h, w: k.w, o: k.o, kh: 3, kw: 3, padding: k.p };
        const e1 = relError(conv2d(x, w, geom), ...reference(x, w, k));
        const e2 = relError(convTranspose2d(gy, w, geom), ...referenceT(gy, w, k));
        const e3 = relError(conv2dFilterGrad(x, gy, geom), ...referenceW(x, gy, k));
        assert.ok(e1 <= WINO_BOUND, `conv2d ${JSON.stringify(k)}: error ${e1}`);
        assert.ok(e2 <= WINO_BOUND, `convTranspose2d ${JSON.stringify(k)}: error ${e2}`);
        assert.ok(e3 <= WINO_BOUND, `conv2dFilterGrad ${JSON.stringify(k)}: error ${e3}`);
        worst = Math.max(worst, e1, e2, e3);
      });
      console.log(`winograd: worst error ${worst.toExponential(2)} (bound ${WINO_BOUND})`);
    } finally {
      setWasmThreads(prevT), setWinogradMinChannels(prevW);
      shutdownWasmThreads();
    }
  });
}

Deno.test("winograd: two threads give the bits of one (all three convolutions)", () => {
  const prevT = setWasmThreads(2), prevW = setWinogradMinChannels(0);
  try {
    // above the flop count that wakes the second thread (ops.ts PARALLEL_FLOPS)
    const geom = { b: 7, c: 16, h: 22, w: 9, o: 16, kh: 3, kw: 3, padding: 1 };
    const x = randomArray(7 * 16 * 22 * 9, 5), w = randomArray(16 * 16 * 9, 6);
    const run = (): Float32Array[] => [
      conv2d(x, w, geom),
      convTranspose2d(x, w, geom),
      // fixed image groups summed in order: the same bits whoever ran them
      conv2dFilterGrad(x, x, geom),
    ];
    const two = run();
    setWasmThreads(1);
    const one = run();
    assert.deepEqual(two, one);
  } finally {
    setWasmThreads(prevT), setWinogradMinChannels(prevW);
    shutdownWasmThreads();
  }
});

Deno.test("winograd: the packed weight transform is G·g·Gᵀ", () => {
  const outC = 5, inC = 3, g = randomArray(outC * inC * 9, 9);
  const tap = (o: number, c: number, i: number, j: number): number =>
    g[((o * inC + c) * 3 + i) * 3 + j];
  const up = packWinograd(outC, inC, tap);
  const nob = Math.ceil(outC / WINO_OB);
  assert.equal(up.length, 16 * nob * inC * WINO_OB);
  const G = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]];
  for (let o = 0; o < nob * WINO_OB; o++) {
    for (let c = 0; c < inC; c++) {
      for (let a = 0; a < 4; a++) {
        for (let e = 0; e < 4; e++) {
          let u = 0;
          if (o < outC) {
            for (let i = 0; i < 3; i++) {
              for (let j = 0; j < 3; j++) u += G[a][i] * tap(o, c, i, j) * G[e][j];
            }
          }
          const got = up[
            (((a * 4 + e) * nob + Math.floor(o / WINO_OB)) * inC + c) * WINO_OB +
            (o % WINO_OB)
          ];
          assert.ok(Math.abs(got - u) <= 1e-6 * (1 + Math.abs(u)), `U[${a}${e}][${o}][${c}]`);
        }
      }
    }
  }
});

Deno.test("winograd: runs from the channel threshold on, matching the direct kernels", () => {
  const prevW = setWinogradMinChannels(Infinity);
  try {
    const geom = { b: 2, c: 8, h: 9, w: 10, o: 8, kh: 3, kw: 3, padding: 1 };
    const x = randomArray(2 * 8 * 90, 7), w = randomArray(8 * 8 * 9, 8);
    const gy = randomArray(2 * 8 * 90, 9);
    const run = (): Float32Array[] => [
      conv2d(x, w, geom),
      convTranspose2d(gy, w, geom),
      conv2dFilterGrad(x, gy, geom),
    ];
    const direct = run();
    setWinogradMinChannels(8);
    const wino = run();
    // different rounding proves the other path ran; agreement within f32 tolerance proves it right
    for (let k = 0; k < 3; k++) {
      assert.notDeepEqual(wino[k], direct[k]);
      for (let i = 0; i < direct[k].length; i++) {
        const d = direct[k][i];
        assert.ok(Math.abs(wino[k][i] - d) <= 1e-5 * (1 + Math.abs(d)), `out ${k}[${i}]`);
      }
    }
  } finally {
    setWinogradMinChannels(prevW);
    shutdownWasmThreads();
  }
});

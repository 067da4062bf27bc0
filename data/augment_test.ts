/**
 * Invariants of the augmentations: flip twice is the identity, crops match explicit
 * pad-then-slice, zero-strength jitter is the identity, values stay in [0, 1], determinism.
 * @module
 */

import assert from "node:assert/strict";
import {
  type BatchShape,
  cifarAugment,
  colorJitter,
  randomCrop,
  randomHorizontalFlip,
  REFERENCE_JITTER,
} from "./augment.ts";
import { keyFromSeed, splitKey, uniformHost } from "../tensor/prng.ts";

function randomBatch(shape: BatchShape, seed: number): Float32Array {
  return Float32Array.from(uniformHost(keyFromSeed(seed), shape.reduce((a, b) => a * b)));
}

const SHAPE: BatchShape = [6, 3, 8, 8];

Deno.test("randomHorizontalFlip: twice with one key is the identity; p=1 mirrors rows", () => {
  const x = randomBatch(SHAPE, 1);
  const k = keyFromSeed(2);
  const once = randomHorizontalFlip(x, SHAPE, k);
  assert.deepEqual(randomHorizontalFlip(once, SHAPE, k), x);
  assert.notDeepEqual(once, x); // some of the 6 images flipped with this key
  const all = randomHorizontalFlip(x, SHAPE, k, 1);
  for (let n = 0; n < 6; n++) {
    for (let r = 0; r < 24; r++) {
      for (let j = 0; j < 8; j++) {
        const o = (n * 24 + r) * 8;
        assert.equal(all[o + j], x[o + 7 - j]);
      }
    }
  }
  assert.deepEqual(randomHorizontalFlip(x, SHAPE, k, 0), x);
});

/** Reference: pad explicitly (reflect or zeros), then slice at the offset the crop chose. */
function padSlice(
  x: Float32Array,
  [b, c, h, w]: BatchShape,
  pad: number,
  mode: "reflect" | "zeros",
  n: number,
  top: number,
  left: number,
  size: number,
): number[] {
  const H = h + 2 * pad, W = w + 2 * pad;
  const padded = new Float32Array(c * H * W);
  const refl = (i: number, len: number) => (i < 0 ? -i : i >= len ? 2 * (len - 1) - i : i);
  for (let ch = 0; ch < c; ch++) {
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++) {
        const yi = i - pad, xj = j - pad;
        const inside = yi >= 0 && yi < h && xj >= 0 && xj < w;
        padded[(ch * H + i) * W + j] = mode === "zeros" && !inside
          ? 0
          : x[((n * c + ch) * h + refl(yi, h)) * w + refl(xj, w)];
      }
    }
  }
  const out: number[] = [];
  for (let ch = 0; ch < c; ch++) {
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < size; j++) out.push(padded[(ch * H + top + i) * W + left + j]);
    }
  }
  assert.ok(b > n);
  return out;
}

Deno.test("randomCrop: padding 0 is the identity; crops equal pad-then-slice", () => {
  const x = randomBatch(SHAPE, 3);
  assert.deepEqual(randomCrop(x, SHAPE, keyFromSeed(4), { padding: 0 }), x);
  assert.deepEqual(randomCrop(x, SHAPE, keyFromSeed(4), { padding: 0, padMode: "zeros" }), x);
  for (const mode of ["reflect", "zeros"] as const) {
    const size = 8, pad = 4, k = keyFromSeed(5);
    const y = randomCrop(x, SHAPE, k, { padding: pad, padMode: mode });
    const u = uniformHost(k, 12); // the offsets the crop draws
    for (let n = 0; n < 6; n++) {
      const top = Math.floor(u[2 * n] * (8 + 2 * pad - size + 1));
      const left = Math.floor(u[2 * n + 1] * (8 + 2 * pad - size + 1));
      const want = padSlice(x, SHAPE, pad, mode, n, top, left, size);
      assert.deepEqual(Array.from(y.subarray(n * 192, (n + 1) * 192)), want.map(Math.fround));
    }
  }
  // smaller output size
  assert.equal(randomCrop(x, SHAPE, keyFromSeed(6), { size: 5, padding: 0 }).length, 6 * 3 * 25);
  assert.throws(() => randomCrop(x, SHAPE, keyFromSeed(6), { padding: 8 }), {
    message: /reflect padding 8 must be smaller than the image size 8×8/,
  });
  assert.throws(() => randomCrop(x.subarray(1), SHAPE, keyFromSeed(6)), {
    message: /randomCrop: x has 1151 values but shape \[6, 3, 8, 8\] needs 1152/,
  });
});

Deno.test("colorJitter: zero strength is the identity; values stay in [0, 1]", () => {
  const x = randomBatch(SHAPE, 7);
  const k = keyFromSeed(8);
  assert.deepEqual(colorJitter(x, SHAPE, k, {}), x);
  assert.deepEqual(
    colorJitter(x, SHAPE, k, { brightness: 0, contrast: [1, 1], saturation: 0, hue: 0 }),
    x,
  );
  // a vanishing hue shift is the RGB → HSV → RGB round trip: identity up to rounding
  const hueOnly = colorJitter(x, SHAPE, k, { hue: 1e-9 });
  for (let i = 0; i < x.length; i++) assert.ok(Math.abs(hueOnly[i] - x[i]) < 1e-5);
  const strong = { brightness: 0.9, contrast: [0, 4], saturation: [0, 4], hue: 0.5 } as const;
  for (const opts of [REFERENCE_JITTER, strong]) {
    const y = colorJitter(x, SHAPE, k, opts);
    assert.notDeepEqual(y, x);
    for (const v of y) assert.ok(v >= 0 && v <= 1, `value ${v}`);
    assert.deepEqual(colorJitter(x, SHAPE, k, opts), y); // deterministic
  }
  // saturation 0 gives gray pixels: all channels equal the luma
  const gray = colorJitter(x, SHAPE, k, { saturation: [0, 0] });
  for (let p = 0; p < 64; p++) {
    const luma = 0.299 * x[p] + 0.587 * x[64 + p] + 0.114 * x[128 + p];
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(gray[c * 64 + p] - luma) < 1e-6);
  }
  // brightness factor f scales; contrast blends with the gray mean
  const half = colorJitter(x, SHAPE, k, { brightness: [0.5, 0.5] });
  for (let i = 0; i < 50; i++) assert.ok(Math.abs(half[i] - 0.5 * x[i]) < 1e-6);
  // one channel: saturation and hue are no-ops
  const g1: BatchShape = [2, 1, 4, 4];
  const x1 = randomBatch(g1, 9);
  assert.deepEqual(colorJitter(x1, g1, k, { saturation: [0, 0], hue: 0.5 }), x1);
  assert.throws(() => colorJitter(x, SHAPE, k, { hue: 0.7 }), { message: /hue is 0\.7/ });
});

Deno.test("colorJitter hue: half-turn maps pure red to cyan", () => {
  const shape: BatchShape = [1, 3, 1, 1];
  const y = colorJitter(new Float32Array([1, 0, 0]), shape, keyFromSeed(0), { hue: [0.5, 0.5] });
  assert.deepEqual(Array.from(y), [0, 1, 1]);
  const z = colorJitter(new Float32Array([1, 0, 0]), shape, keyFromSeed(0), {
    hue: [1 / 3, 1 / 3],
  });
  for (const [a, b] of [[z[0], 0], [z[1], 1], [z[2], 0]]) assert.ok(Math.abs(a - b) < 1e-6);
});

Deno.test("cifarAugment: deterministic per key, keeps shape and range, input untouched", () => {
  const shape: BatchShape = [4, 3, 32, 32];
  const x = randomBatch(shape, 10);
  const copy = x.slice();
  const aug = cifarAugment();
  const [k1, k2] = splitKey(keyFromSeed(11), 2);
  const a = aug(x, shape, k1);
  assert.deepEqual(aug(x, shape, k1), a);
  assert.notDeepEqual(aug(x, shape, k2), a);
  assert.equal(a.length, x.length);
  for (const v of a) assert.ok(v >= 0 && v <= 1);
  assert.deepEqual(x, copy);
  const off = cifarAugment({ padding: 0, flip: 0, jitter: false })(x, shape, k1);
  assert.deepEqual(off, x);
  assert.notEqual(off, x); // a copy, never the input itself
});

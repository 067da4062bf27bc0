/**
 * The CPU FFT core: every length 1 … 72 on both paths (mixed radix and forced Bluestein), both
 * directions, against the direct O(n²) DFT in float64; and the factorisation it plans from.
 * @module
 */
import assert from "node:assert/strict";
import { factorize, fftInPlace, fftPlan } from "./fft.ts";
import { rng } from "../../tests/prim_cases.ts";

function directDft(re: Float64Array, im: Float64Array, sign: number): [number[], number[]] {
  const n = re.length, or: number[] = [], oi: number[] = [];
  for (let k = 0; k < n; k++) {
    let sr = 0, si = 0;
    for (let t = 0; t < n; t++) {
      const a = (sign * 2 * Math.PI * ((k * t) % n)) / n;
      sr += re[t] * Math.cos(a) - im[t] * Math.sin(a);
      si += re[t] * Math.sin(a) + im[t] * Math.cos(a);
    }
    or.push(sr);
    oi.push(si);
  }
  return [or, oi];
}

Deno.test("factorize: 4s first, then ascending primes, product n", () => {
  assert.deepEqual(factorize(1), []);
  assert.deepEqual(factorize(96), [4, 4, 2, 3]);
  assert.deepEqual(factorize(33), [3, 11]);
  assert.deepEqual(factorize(97), [97]);
  for (let n = 1; n < 500; n++) assert.equal(factorize(n).reduce((a, b) => a * b, 1), n);
});

Deno.test("fftInPlace matches the direct DFT for n = 1…72, mixed radix and Bluestein, both signs", () => {
  const r = rng(7);
  for (let n = 1; n <= 72; n++) {
    for (const blue of [false, true]) {
      for (const inverse of [false, true]) {
        const re = Float64Array.from({ length: n }, () => r() - 0.5);
        const im = Float64Array.from({ length: n }, () => r() - 0.5);
        const [er, ei] = directDft(re, im, inverse ? 1 : -1);
        fftInPlace(fftPlan(n, blue), re, im, inverse);
        for (let k = 0; k < n; k++) {
          const err = Math.max(Math.abs(re[k] - er[k]), Math.abs(im[k] - ei[k]));
          assert.ok(err < 1e-12, `n ${n} ${blue ? "bluestein" : "mixed radix"} bin ${k}: ${err}`);
        }
      }
    }
  }
});

Deno.test("fftPlan picks Bluestein for a large prime and mixed radix for smooth lengths", () => {
  assert.notEqual(fftPlan(97).blue, null);
  assert.equal(fftPlan(96).blue, null);
  assert.equal(fftPlan(33).blue, null);
  assert.throws(() => fftPlan(0), RangeError);
});

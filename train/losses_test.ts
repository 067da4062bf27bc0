/**
 * The reference losses against direct float64 evaluations of PyTorch's formulas
 * (CrossEntropyLoss, MultiMarginLoss, the reference's LossXent and MarginBoosting), plus their
 * gradients' finiteness and argument errors.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { marginBoosting, marginLoss, offsetCrossEntropy, xentMargin } from "./losses.ts";
import { scope } from "../tensor/scope.ts";
import { tensor } from "../tensor/ops.ts";
import { grad } from "../autodiff/autodiff.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { leakFreeTest } from "../tests/helpers.ts";

type Rows = number[][];

function logSoftmaxRow(r: number[]): number[] {
  const m = Math.max(...r);
  const lse = m + Math.log(r.reduce((s, v) => s + Math.exp(v - m), 0));
  return r.map((v) => v - lse);
}
const ce = (f: Rows, y: number[]): number =>
  -f.reduce((s, r, b) => s + logSoftmaxRow(r)[y[b]], 0) / f.length;
const refXent = (f: Rows, y: number[], off: number, t: number): number =>
  ce(f.map((r, b) => r.map((v, j) => (v - (j === y[b] ? off : 0)) / t)), y) * t;
const refMargin = (f: Rows, y: number[], m: number): number =>
  f.reduce(
    (s, r, b) =>
      s + r.reduce((a, v, j) => a + (j === y[b] ? 0 : Math.max(0, m - r[y[b]] + v)), 0) / r.length,
    0,
  ) / f.length;
const refBoost = (f: Rows, y: number[]): number => {
  const k = f[0].length;
  let s = 0;
  f.forEach((r, b) =>
    logSoftmaxRow(r.map((v) => -v)).forEach((v, j) => (s += j === y[b] ? 0 : -v))
  );
  return ce(f, y) + s / (f.length * k) / (k - 1);
};

const batch = fc.integer({ min: 2, max: 6 }).chain((k) =>
  fc.array(
    fc.tuple(
      fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: k, maxLength: k }),
      fc.integer({ min: 0, max: k - 1 }),
    ),
    { minLength: 1, maxLength: 5 },
  )
);

function check(
  name: string,
  ours: (f: Tensor, y: Tensor) => Tensor,
  ref: (f: Rows, y: number[]) => number,
): void {
  leakFreeTest(`losses: ${name} matches the PyTorch formula and has finite gradients`, () => {
    const seed = 4242;
    try {
      fc.assert(
        fc.property(batch, (rows) => {
          const f = rows.map((r) => r[0]);
          const y = rows.map((r) => r[1]);
          scope(() => {
            const ft = tensor(f, { dtype: "float64" });
            const yt = tensor(y, { dtype: "int32" });
            const got = ours(ft, yt).dataSync()[0];
            const want = ref(f, y);
            assert.ok(Math.abs(got - want) <= 1e-12 * (1 + Math.abs(want)), `${got} vs ${want}`);
            const g = grad((z: Tensor) => ours(z, yt))(ft).dataSync();
            assert.ok(g.every(Number.isFinite));
          });
        }),
        { seed, numRuns: 60 },
      );
    } catch (e) {
      throw new Error(`seed ${seed}: ${(e as Error).message}`);
    }
  });
}

const off = Math.SQRT2 * 3 / 2;
check("offsetCrossEntropy", (f, y) => offsetCrossEntropy(f, y), (f, y) => refXent(f, y, off, 0.25));
check(
  "offsetCrossEntropy (offset 1, T 2)",
  (f, y) => offsetCrossEntropy(f, y, { offset: 1, temperature: 2 }),
  (f, y) => refXent(f, y, 1, 2),
);
check("marginLoss", (f, y) => marginLoss(f, y), (f, y) => refMargin(f, y, 0.7));
check(
  "xentMargin",
  (f, y) => xentMargin(f, y),
  (f, y) => refMargin(f, y, 0.7) + refXent(f, y, off, 0.25),
);
check("marginBoosting", (f, y) => marginBoosting(f, y), refBoost);

Deno.test("losses: bad arguments name the shapes", () => {
  scope(() => {
    assert.throws(
      () => offsetCrossEntropy(tensor([1, 2]), tensor([0], { dtype: "int32" })),
      /logits must be \[B, K\], got \[2\]/,
    );
    assert.throws(
      () => marginLoss(tensor([[1, 2]]), tensor([0.5])),
      /labels must be int32 \[1\], got float32 \[1\]/,
    );
  });
});

/**
 * HKR, EMMA and logit annealing against hand-computed values and direct float64 evaluations of
 * their formulas (deel-torchlip's hkr_multiclass_loss, LiResNet's emma_loss, BRONet's
 * logit-annealing loss), gradients against central finite differences, and argument errors.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { emmaLoss, hkrMulticlass, logitAnnealingLoss, pairLipschitz } from "./losses_lipschitz.ts";
import { makeLoss } from "./loss_select.ts";
import { DEFAULT_CONFIG } from "./config.ts";
import { scope } from "../tensor/scope.ts";
import { tensor } from "../tensor/ops.ts";
import { grad } from "../autodiff/autodiff.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { leakFreeTest } from "../tests/helpers.ts";

type Rows = number[][];
const lse = (r: number[]): number => {
  const m = Math.max(...r);
  return m + Math.log(r.reduce((s, v) => s + Math.exp(v - m), 0));
};
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function refHkr(f: Rows, y: number[], alpha: number, m: number): number {
  const k = f[0].length;
  const hinge = mean(
    f.map((r, b) =>
      mean(r.map((v, j) => (j === y[b] ? k - 1 : 1) * Math.max(0, m / 2 - (j === y[b] ? v : -v))))
    ),
  );
  const kr = mean(Array.from({ length: k }, (_, j) => {
    const pos = f.filter((_, b) => y[b] === j).map((r) => r[j]);
    const neg = f.filter((_, b) => y[b] !== j).map((r) => r[j]);
    return (pos.length ? mean(pos) : 0) - (neg.length ? mean(neg) : 0);
  }));
  return alpha * hinge - (1 - alpha) * kr;
}

/**
 * EMMA-adjusted rows with per-pair constants kmat[b][i]; the clipped scale is computed from
 * `frozen` (default f): its gradient is stopped, so finite differences hold it at the base point.
 */
function refEmmaRows(f: Rows, y: number[], eps: number, kmat: Rows, frozen: Rows = f): Rows {
  return f.map((r, b) =>
    r.map((v, i) => {
      const s = v - r[y[b]];
      const s0 = frozen[b][i] - frozen[b][y[b]];
      const mg = eps * kmat[b][i];
      const e = Math.min(1, Math.max(0.01, -s0 / Math.max(mg, 1e-8)));
      return s + e * mg;
    })
  );
}
const sqrt2Mat = (f: Rows, y: number[]): Rows =>
  f.map((r, b) => r.map((_, i) => (i === y[b] ? 0 : Math.SQRT2)));
const refEmma = (f: Rows, y: number[], eps: number, frozen?: Rows): number =>
  mean(refEmmaRows(f, y, eps, sqrt2Mat(f, y), frozen).map((r, b) => lse(r) - r[y[b]]));
function refLa(
  f: Rows,
  y: number[],
  eps: number,
  g: number,
  off: number,
  t: number,
  frozen?: Rows,
): number {
  return mean(
    refEmmaRows(f, y, eps, sqrt2Mat(f, y), frozen).map((r, b) => {
      const z = r.map((v, i) => (v - (i === y[b] ? off : 0)) / t);
      const ce = lse(z) - z[y[b]];
      return (1 - Math.exp(-ce)) ** g * ce * t;
    }),
  );
}

leakFreeTest("hkr, emma, la: hand-computed values", () => {
  scope(() => {
    // f = [[2, 0], [0.5, 1]], y = [0, 1], alpha 0.5, m 1:
    // hinge rows: [(1)·max(0, .5−2), max(0, .5+0)] → mean [0, .5] = .25; [max(0,.5+.5), max(0,.5−1)] → .5
    // hinge = .375; KR = mean(2 − .5, 1 − 0) = 1.25; loss = .5·.375 − .5·1.25 = −.4375
    const f = tensor([[2, 0], [0.5, 1]], { dtype: "float64" });
    const y = tensor([0, 1], { dtype: "int32" });
    assert.ok(
      Math.abs(hkrMulticlass(f, y, { alpha: 0.5, minMargin: 1 }).dataSync()[0] + 0.4375) < 1e-12,
    );
    // EMMA, one row f = [1, 0], y = 0, eps = 0.5, K = √2: s = [0, −1], ε·K = 0.7071,
    // scale = clip(1/0.7071, .01, 1) = 1 → z = [0, −0.2929]; CE = log(1 + e^−0.2929) − 0
    const f1 = tensor([[1, 0]], { dtype: "float64" }), y1 = tensor([0], { dtype: "int32" });
    const want = Math.log(1 + Math.exp(-1 + 0.5 * Math.SQRT2));
    assert.ok(Math.abs(emmaLoss(f1, y1, { eps: 0.5 }).dataSync()[0] - want) < 1e-12);
    // LA with γ 0 is the offset cross-entropy of the EMMA logits: T·CE((z − off·e_y)/T)
    const z = [0 - 1, -1 + 0.5 * Math.SQRT2].map((v) => v / 2);
    const la0 = 2 * (lse(z) - z[0]);
    const got = logitAnnealingLoss(f1, y1, { eps: 0.5, gamma: 0, offset: 1, temperature: 2 });
    assert.ok(Math.abs(got.dataSync()[0] - la0) < 1e-12);
  });
});

leakFreeTest("pairLipschitz: ‖ŵ_y − ŵ_i‖ of the normalised rows, √2 without a last layer", () => {
  scope(() => {
    const w = tensor([[3, 0], [0, 2], [1, 1]], { dtype: "float64" });
    const k = pairLipschitz(tensor([0, 2], { dtype: "int32" }), 3, w).dataSync();
    const r = Math.SQRT1_2, d02 = Math.hypot(1 - r, r);
    const want = [0, Math.SQRT2, d02, d02, Math.hypot(r, 1 - r), 0];
    want.forEach((v, i) => assert.ok(Math.abs(k[i] - v) < 1e-12, `${i}: ${k[i]} vs ${v}`));
    const g = pairLipschitz(tensor([1], { dtype: "int32" }), 3, null).dataSync();
    assert.deepEqual([...g], [Math.SQRT2, 0, Math.SQRT2].map((v) => Math.fround(v)));
  });
});

const batch = fc.integer({ min: 2, max: 5 }).chain((k) =>
  fc.array(
    fc.tuple(
      fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: k, maxLength: k }),
      fc.integer({ min: 0, max: k - 1 }),
    ),
    { minLength: 1, maxLength: 5 },
  )
);

function check(
  name: string,
  ours: (f: Tensor, y: Tensor) => Tensor,
  ref: (f: Rows, y: number[], frozen?: Rows) => number,
): void {
  leakFreeTest(`losses: ${name} matches its formula; gradient matches finite differences`, () => {
    const seed = 1515;
    try {
      fc.assert(
        fc.property(batch, (rows) => {
          const f = rows.map((r) => r[0]);
          const y = rows.map((r) => r[1]);
          scope(() => {
            const yt = tensor(y, { dtype: "int32" });
            const got = ours(tensor(f, { dtype: "float64" }), yt).dataSync()[0];
            const want = ref(f, y);
            assert.ok(Math.abs(got - want) <= 1e-10 * (1 + Math.abs(want)), `${got} vs ${want}`);
            const g = grad((z: Tensor) => ours(z, yt))(tensor(f, { dtype: "float64" })).dataSync();
            const h = 1e-6;
            f.forEach((r, b) =>
              r.forEach((v, j) => {
                const at = (d: number): number =>
                  ref(
                    f.map((rr, bb) => rr.map((vv, jj) => (bb === b && jj === j ? v + d : vv))),
                    y,
                    f, // stopped-gradient parts stay at the base point
                  );
                const fd = (at(h) - at(-h)) / (2 * h);
                // kinks (hinge, clip) are measure-zero; skip points within h of one
                const smooth = Math.abs(at(h) - 2 * at(0) + at(-h)) < 1e-6;
                if (smooth) {
                  assert.ok(
                    Math.abs(g[b * r.length + j] - fd) < 1e-5 * (1 + Math.abs(fd)),
                    `∂[${b},${j}] ${g[b * r.length + j]} vs ${fd}`,
                  );
                }
              })
            );
          });
        }),
        { seed, numRuns: 40 },
      );
    } catch (e) {
      throw new Error(`seed 1515: ${(e as Error).message}`);
    }
  });
}

check(
  "hkrMulticlass (alpha 0.7, margin 0.5)",
  (f, y) => hkrMulticlass(f, y, { alpha: 0.7, minMargin: 0.5 }),
  (f, y) => refHkr(f, y, 0.7, 0.5),
);
check(
  "emmaLoss (eps 0.3)",
  (f, y) => emmaLoss(f, y, { eps: 0.3 }),
  (f, y, fr) => refEmma(f, y, 0.3, fr),
);
check(
  "logitAnnealingLoss (γ 5, offset 2, T 0.75)",
  (f, y) => logitAnnealingLoss(f, y, { eps: 0.3 }),
  (f, y, fr) => refLa(f, y, 0.3, 5, 2, 0.75, fr),
);

leakFreeTest("losses: makeLoss selects hkr, emma and la with the config's settings", () => {
  scope(() => {
    const f = tensor([[1, 0, -1], [0.2, 0.1, 0.4]], { dtype: "float64" });
    const y = tensor([0, 2], { dtype: "int32" });
    const rows = [[1, 0, -1], [0.2, 0.1, 0.4]], ys = [0, 2];
    const cfg = { ...DEFAULT_CONFIG, margin: 0.7, hkrAlpha: 0.9, lossEps255: 72, laGamma: 2 };
    const v = (loss: "hkr" | "emma" | "la"): number =>
      makeLoss({ ...cfg, loss }, 3)(f, y, null).dataSync()[0];
    assert.ok(Math.abs(v("hkr") - refHkr(rows, ys, 0.9, 0.7)) < 1e-12);
    assert.ok(Math.abs(v("emma") - refEmma(rows, ys, 72 / 255)) < 1e-12);
    assert.ok(
      Math.abs(v("la") - refLa(rows, ys, 72 / 255, 2, cfg.offset, cfg.temperature)) < 1e-12,
    );
  });
});

Deno.test("losses: bad arguments name the values", () => {
  scope(() => {
    const y = tensor([0], { dtype: "int32" });
    assert.throws(
      () => hkrMulticlass(tensor([[1, 2]]), y, { alpha: 2 }),
      /alpha must be in \[0, 1\], got 2/,
    );
    assert.throws(() => emmaLoss(tensor([[1, 2]]), y, { eps: 0 }), /eps must be positive/);
    assert.throws(() => emmaLoss(tensor([1, 2]), y), /logits must be \[B, K\]/);
    assert.throws(() => pairLipschitz(y, 2, tensor([[1, 2]])), /lastWeight must be \[2, F\]/);
  });
});

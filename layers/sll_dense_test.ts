/**
 * The SLL dense layer's training path against the plain formulas, in float64 on random
 * parameters (q scaled up so t varies a lot): the rescaling t with its symmetrised Gram cotangent
 * (sllDenseT under autodiff) has the same value and the same gradients in W and q as
 * t = 1/(exp(−q) ⊙ (|W·Wᵀ|·exp(q))) written op by op, and the layer's training step (−2t on the
 * activations) the same loss and gradients as its prepared forward (t folded into W).
 * @module
 */
import assert from "node:assert/strict";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  abs,
  add,
  cast,
  div,
  exp,
  matmul,
  matmulT,
  mul,
  neg,
  relu,
  reshape,
  square,
  sum,
  swapLast,
} from "../tensor/ops.ts";
import { normal, randomKey, split } from "../tensor/random.ts";
import { mapTree } from "../tensor/tree.ts";
import { valueAndGrad } from "../autodiff/autodiff.ts";
import { sllDense, type SllDenseParams, sllDenseT, sllFold } from "./sll.ts";
import { leakFreeTest } from "../tests/helpers.ts";

function maxRelDiff(a: Tensor, b: Tensor): number {
  assert.deepEqual([...a.shape], [...b.shape]);
  const x = a.dataSync(), y = b.dataSync();
  let scale = 0, m = 0;
  for (let i = 0; i < y.length; i++) scale = Math.max(scale, Math.abs(y[i]));
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m / scale;
}

function t(name: string, fn: () => void): void {
  leakFreeTest(name, () => {
    scope(fn);
  });
}

const f64 = <P>(p: P, qScale = 3): P =>
  mapTree(p, (v, path) => mul(cast(v, "float64"), path === "q" ? qScale : 1));

/** t written op by op: 1/(exp(−q) ⊙ (|W·Wᵀ|·exp(q))) (no zero sums for random W). */
function plainT(p: SllDenseParams): Tensor {
  const n = p.weight.shape[0];
  const a = abs(matmul(p.weight, swapLast(p.weight)));
  const rows = reshape(matmul(a, exp(reshape(p.q, [n, 1]))), [n]);
  return div(1, mul(exp(neg(p.q)), rows));
}

t("sllDenseT under autodiff: the value and the W, q gradients of the plain formula", () => {
  for (const [seed, inner, d] of [[0, 7, 5], [1, 16, 9], [2, 3, 12]]) {
    const layer = sllDense({ inner });
    const p: SllDenseParams = f64(layer.init(randomKey(seed), [d]).params);
    // a loss that weighs each t_i differently, so every row's cotangent differs
    const c = cast(normal(randomKey(100 + seed), [inner]), "float64");
    const loss = (f: (q: SllDenseParams) => Tensor) => (q: SllDenseParams) =>
      sum(mul(square(f(q)), c));
    const [v1, g1] = valueAndGrad(loss(sllDenseT))(p);
    const [v2, g2] = valueAndGrad(loss(plainT))(p);
    assert.ok(maxRelDiff(v1, v2) < 1e-12, `seed ${seed}: loss`);
    for (const k of ["weight", "q"] as const) {
      const err = maxRelDiff(g1[k], g2[k]);
      assert.ok(err < 1e-10, `seed ${seed}: d/d${k} differs by ${err} (relative)`);
    }
    assert.ok(maxRelDiff(sllDenseT(p), plainT(p)) < 1e-12, `seed ${seed}: untraced t`);
  }
});

t("sllDense training step: the loss and gradients of the prepared (folded) forward", () => {
  for (const seed of [0, 1]) {
    const [kp, kx] = split(randomKey(seed));
    const layer = sllDense({ inner: 11 });
    const p: SllDenseParams = f64(layer.init(kp, [6]).params);
    const x = mul(cast(normal(kx, [4, 6]), "float64"), 2);
    const c = cast(normal(randomKey(200 + seed), [4, 6]), "float64");
    const lossOf = (y: Tensor) => sum(mul(square(y), c));
    const [v1, g1] = valueAndGrad((q: SllDenseParams) => lossOf(layer.apply(q, x)))(p);
    // the folded forward, differentiated: x + relu(Wx + b)·(−2t ⊙ W)
    const [v2, g2] = valueAndGrad((q: SllDenseParams) => {
      const h = relu(add(matmulT(x, q.weight, false, true), q.bias));
      return lossOf(add(x, matmul(h, sllFold(q.weight, sllDenseT(q)))));
    })(p);
    assert.ok(maxRelDiff(v1, v2) < 1e-12, `seed ${seed}: loss`);
    for (const k of ["weight", "bias", "q"] as const) {
      const err = maxRelDiff(g1[k], g2[k]);
      assert.ok(err < 1e-10, `seed ${seed}: d/d${k} differs by ${err} (relative)`);
    }
  }
});

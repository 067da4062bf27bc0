/**
 * Lipschitz estimates: the Jacobian power iteration (nested vjp) and the reference's power method
 * recover known spectral norms; on SLL layers and networks they stay ≤ 1; the per-layer report
 * lists the SLL modules as compute_lip.py does. Also checks that `isOneLipschitz` does reject
 * layers that are not 1-Lipschitz.
 */
import assert from "node:assert/strict";
import { estimateLipschitz, lipschitzReport, powerMethod } from "./lipschitz.ts";
import { lipschitzNetwork, sllDense, type SllDenseParams } from "../layers/mod.ts";
import type { Layer } from "../layers/mod.ts";
import { dispose, keep, scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { add, matmul, mul, relu, sub, swapLast, tensor } from "../tensor/ops.ts";
import { normal, randomKey } from "../tensor/random.ts";
import { sllDenseT } from "../layers/sll.ts";
import { isOneLipschitz } from "../testing.ts";
import { leakFreeTest } from "../tests/helpers.ts";

leakFreeTest(
  "estimateLipschitz and powerMethod recover a matrix's spectral norm",
  async () => {
    const w = tensor([[3, 0], [1, 1]], { dtype: "float64" });
    const x = normal(randomKey(1), [2, 2], "float64");
    const sigma = Math.sqrt((11 + Math.sqrt(85)) / 2); // of [[3,0],[1,1]]
    const local = await estimateLipschitz((z) => matmul(z, w), x, { iterations: 200 });
    for (const s of local) assert.ok(Math.abs(s - sigma) < 1e-9, `${s} vs ${sigma}`);
    const [pm] = await powerMethod((z) => matmul(z, w), [1, 2], { dtype: "float64" });
    assert.ok(Math.abs(pm - sigma) < 1e-9, `${pm} vs ${sigma}`);
    // A nonlinear map: relu(2x) at a point where every unit is active has local norm 2.
    const pos = tensor([[1, 2, 3]], { dtype: "float64" });
    const [r] = await estimateLipschitz((z) => relu(mul(z, 2)), pos);
    assert.ok(Math.abs(r - 2) < 1e-9, `${r}`);
    dispose([w, x, pos]);
  },
);

leakFreeTest(
  "Jacobian norms of an SLL network stay ≤ 1; lipschitzReport lists SLL layers",
  async () => {
    const net = lipschitzNetwork({
      inputShape: [1, 8, 8],
      numClasses: 1,
      nConv: 2,
      nDense: 2,
      width: 3,
      convInnerDim: 2,
      denseInnerDim: 5,
      mean: [0.5],
    });
    const params = scope(() => keep(net.init(randomKey(7)).params));
    const x = normal(randomKey(3), [3, 1, 8, 8]);
    const est = await estimateLipschitz((z) => net.apply(params, z), x, { iterations: 60 });
    assert.equal(est.length, 3);
    for (const s of est) assert.ok(s > 0.05 && s <= 1 + 1e-5, `local norm ${s}`);
    const rows = await lipschitzReport(net, params, { iterations: 100 });
    assert.deepEqual(rows.map((r) => r.name), [
      "SLL Conv 1",
      "SLL Conv 2",
      "SLL Dense 5",
      "SLL Dense 6",
    ]);
    assert.deepEqual(rows[0].inputShape, [3, 8, 8]);
    for (const r of rows) {
      assert.ok(r.estimate > 0.5 && r.estimate <= 1 + 1e-5, `${r.name}: ${r.estimate}`);
    }
    const big = await lipschitzReport(net, params, { iterations: 5, convSize: 12 });
    assert.deepEqual(big[0].inputShape, [3, 12, 12]);
    dispose([params, x]);
  },
);

leakFreeTest(
  "isOneLipschitz rejects layers that are not 1-Lipschitz, naming the seed",
  async () => {
    const scaled: Layer<Record<never, never>> = {
      init: (_k, s) => ({ outShape: [...s], params: {} }),
      apply: (_p, x) => mul(x, 1.001),
    };
    await assert.rejects(
      isOneLipschitz(scaled, { inShape: [3], seed: 5, name: "x ↦ 1.001x" }),
      /isOneLipschitz\(x ↦ 1\.001x\) failed \(fast-check seed 5\)/,
    );
    // An SLL dense layer whose W is scaled after t was computed: t too large, not 1-Lipschitz.
    const inner = sllDense({ inner: 1 });
    const broken: Layer<SllDenseParams> = {
      init: (k, s) => inner.init(k, s),
      apply: (p, x: Tensor) => {
        const t = sllDenseT(p);
        const w = mul(p.weight, 1.5);
        const h = mul(t, relu(add(matmul(x, swapLast(w)), p.bias)));
        return sub(x, mul(matmul(h, w), 2));
      },
    };
    await assert.rejects(
      isOneLipschitz(broken, { inShape: [3], seed: 11, numRuns: 50, name: "broken SLL" }),
      /broken SLL\) failed \(fast-check seed 11\)/,
    );
  },
);

/**
 * Lipschitz estimates: the Jacobian power iteration (Lanczos over nested vjp) and the power method
 * recover known spectral norms; on SLL layers and networks they stay ≤ 1; the per-layer report
 * lists EVERY layer of a network by structure, with the gradient search beside the power method,
 * and sees a violation far from 0 that f(v) − f(0) missed.
 */
import assert from "node:assert/strict";
import {
  ascendRatio,
  estimateLipschitz,
  jacobianSpectral,
  lipschitzReport,
  powerMethod,
  searchRatio,
} from "./lipschitz.ts";
import { flatten, type Layer, lipschitzNetwork, serial, sllDense } from "../layers/mod.ts";
import { dispose, keep, scope } from "../tensor/scope.ts";
import { add, matmul, mul, relu, sub, tensor } from "../tensor/ops.ts";
import { normal, randomKey } from "../tensor/random.ts";
import { leakFreeTest } from "../tests/helpers.ts";

/** x + 0.2·relu(x − 1) elementwise: slope 1.2 where a coordinate exceeds 1, 1 elsewhere. */
function slopeAwayFromZero(): Layer<Record<never, never>> {
  return {
    init: (_k, s) => ({ outShape: [...s], params: {} }),
    apply: (_p, x) => add(x, mul(relu(sub(x, 1)), 0.2)),
  };
}

leakFreeTest(
  "jacobianSpectral, estimateLipschitz and powerMethod recover a matrix's spectral norm",
  async () => {
    const w = tensor([[3, 0], [1, 1]], { dtype: "float64" });
    const x = normal(randomKey(1), [2, 2], "float64");
    const sigma = Math.sqrt((11 + Math.sqrt(85)) / 2); // of [[3,0],[1,1]]
    const local = await estimateLipschitz((z) => matmul(z, w), x, { iterations: 200 });
    for (const s of local) assert.ok(Math.abs(s - sigma) < 1e-9, `${s} vs ${sigma}`);
    const pm = await powerMethod((z) => matmul(z, w), [2], { dtype: "float64" });
    assert.ok(Math.abs(pm - sigma) < 1e-9, `${pm} vs ${sigma}`);
    const sr = await searchRatio((z) => matmul(z, w), [2], { dtype: "float64" });
    assert.ok(sr <= sigma * (1 + 1e-12) && sr > sigma * 0.999, `${sr} vs ${sigma}`);
    // A nonlinear map: relu(2x) at a point where every unit is active has local norm 2.
    const pos = tensor([[1, 2, 3]], { dtype: "float64" });
    const [r] = await estimateLipschitz((z) => relu(mul(z, 2)), pos);
    assert.ok(Math.abs(r - 2) < 1e-9, `${r}`);
    // A clustered spectrum (a 64-dim diagonal 1 … 1.01): Lanczos resolves the top in 30 steps.
    const d = tensor(Array.from({ length: 64 }, (_, i) => 1 + 0.01 * (i / 63) ** 4), {
      dtype: "float64",
    });
    const x64 = normal(randomKey(2), [1, 64], "float64");
    const j = await jacobianSpectral((z) => mul(z, d), x64, { iterations: 30 });
    assert.ok(j.norms[0] > 1.0099 && j.norms[0] <= 1.01 + 1e-12, `${j.norms[0]}`);
    dispose([w, x, pos, d, x64, j.directions]);
    await assert.rejects(powerMethod((z) => z, [1, 2, 0]), /inShape must be the per-example/);
  },
);

leakFreeTest(
  "ascendRatio moves both endpoints towards the worst pair",
  async () => {
    const w = tensor([[4, 0], [0, 1]], { dtype: "float64" });
    const x = tensor([[0, 1], [1, 0]], { dtype: "float64" });
    const y = tensor([[0.1, 1.1], [1.1, 0.1]], { dtype: "float64" }); // ratio ≈ 2.9 at the start
    const r = await ascendRatio((z) => matmul(z, w), x, y, { steps: 20 });
    for (const v of r.ratios) assert.ok(v > 3.99 && v <= 4 + 1e-12, `${v}`);
    dispose([w, x, y, r.x, r.y]);
  },
);

leakFreeTest(
  "Jacobian norms of an SLL network stay ≤ 1; lipschitzReport lists every layer",
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
    const est = await estimateLipschitz((z) => net.apply(params, z), x, { iterations: 30 });
    assert.equal(est.length, 3);
    for (const s of est) assert.ok(s > 0.05 && s <= 1 + 1e-5, `local norm ${s}`);
    const rows = await lipschitzReport(net, params, { iterations: 16, steps: 4 });
    // all eight modules: padding, 2 SLL conv, sum pool, flatten, 2 SLL dense, last layer
    assert.deepEqual(rows.map((r) => r.index), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(rows[1].inputShape, [3, 8, 8]);
    assert.deepEqual(rows[5].inputShape, [12]);
    assert.match(rows[1].params, /kernel \[2, 3, 3, 3\], bias \[1, 2, 1, 1\], q \[2\]/);
    for (const r of rows) {
      assert.ok(r.estimate <= 1 + 1e-5 && r.search <= 1 + 1e-5, `${r.name}: ${r.estimate}`);
      assert.ok(r.search <= r.estimate * (1 + 1e-3) + 1e-6 || r.search <= 1, `${r.name}`);
    }
    for (const r of rows.slice(0, 5)) assert.ok(r.estimate > 0.5, `${r.name}: ${r.estimate}`);
    const big = await lipschitzReport(net, params, { iterations: 4, steps: 1, convSize: 12 });
    assert.deepEqual(big[1].inputShape, [3, 12, 12]);
    dispose([params, x]);
  },
);

leakFreeTest(
  "lipschitzReport sees a layer whose constant is 1.2 only away from 0 (f(v) − f(0) reads 1)",
  async () => {
    const net = serial(sllDense({ inner: 4 }), slopeAwayFromZero(), flatten());
    const params = scope(() => keep(net.init(randomKey(0), [6]).params));
    // what the reference's f(v) − f(0) power method sees: unit v never leaves the slope-1 part
    const f = (z: Parameters<typeof net.apply>[1]) => slopeAwayFromZero().apply({}, z);
    const zero = tensor([[0, 0, 0, 0, 0, 0]]);
    const atZero = await estimateLipschitz(f, zero);
    zero.dispose();
    assert.ok(Math.abs(atZero[0] - 1) < 1e-6, `${atZero}`);
    const rows = await lipschitzReport(net, params, { inShape: [6] });
    assert.equal(rows.length, 3);
    assert.deepEqual(rows.map((r) => r.path), ["0", "1", "2"]);
    assert.ok(rows[0].estimate <= 1 + 1e-5, `sllDense ${rows[0].estimate}`);
    assert.ok(rows[1].estimate > 1.19 && rows[1].estimate < 1.2 + 1e-5, `${rows[1].estimate}`);
    assert.ok(rows[1].search > 1.19 && rows[1].search < 1.2 + 1e-5, `${rows[1].search}`);
    // nested networks are expanded; a plain serial needs its input shape
    const nested = serial(flatten(), net);
    const rows2 = await lipschitzReport(nested, [{}, params], { inShape: [6], iterations: 8 });
    assert.deepEqual(rows2.map((r) => r.path), ["0", "1.0", "1.1", "1.2"]);
    await assert.rejects(lipschitzReport(net, params), /pass options\.inShape/);
    dispose(params);
  },
);

/**
 * LiResNet blocks: refresh is pure and σ converges to ‖A‖₂; the certified constant
 * (certify's liresnetLipschitz) is ≥ every observed ratio, ≈ 1 once u has converged and > 1 for
 * a stale u (so a stale σ can never pass as a proof); gradients, CPU vs WebGPU, 1-Lipschitz.
 */
import assert from "node:assert/strict";
import { liresnetBlock, liresnetDense, type LiresnetParams } from "./liresnet.ts";
import { certifiedLipschitzFactor, liresnetLipschitz } from "../certify/liresnet.ts";
import { maxMin } from "./basic.ts";
import { serial } from "./layer.ts";
import { sllConv } from "./sll.ts";
import { mul } from "../tensor/ops.ts";
import { normal as normalOp, randomKey } from "../tensor/random.ts";
import { dispose, scope } from "../tensor/scope.ts";
import { isOneLipschitz } from "../testing.ts";
import { leakFreeTest } from "../tests/helpers.ts";
import { assertBackendsAgree, assertLayerGradients, drawParams } from "../tests/layer_checks.ts";

leakFreeTest(
  "liresnet: refresh is pure; the certified constant is ≈ 1 converged, > 1 stale",
  async () => {
    const block = liresnetBlock({ iterations: 0 });
    const inShape = [2, 4, 4];
    const { params } = drawParams(block, inShape, 4);
    // make the residual branch large so a stale u is visibly short of ‖A‖₂
    const big = scope(() => ({ ...params, weight: mul(params.weight, 40) }));
    const stale = scope(() => ({ ...big, u: normalOp(randomKey(9), big.u.shape, "float64") }));
    const fresh = scope(() => block.refresh(stale, 400));
    try {
      assert.notEqual(fresh.u, stale.u);
      const lStale = await liresnetLipschitz(block, stale, inShape);
      const lFresh = await liresnetLipschitz(block, fresh, inShape);
      assert.ok(lStale > 1.01, `a stale u must give a certified constant > 1, got ${lStale}`);
      // ≥ 1; above 1 by the torus bound's slack over zero padding on this small 4×4 input
      assert.ok(
        lFresh >= 1 && lFresh < 1.3 && lFresh < lStale,
        `converged: ${lFresh} vs ${lStale}`,
      );
      // the dense block's bound is tight once converged
      const dense = liresnetDense();
      const d = drawParams(dense, [5], 5);
      const dp = scope(() => dense.refresh(d.params, 300));
      const lDense = await liresnetLipschitz(dense, dp, [5]);
      assert.ok(lDense >= 1 && lDense < 1 + 1e-9, `dense certified constant ${lDense}`);
      dispose([d.params, dp]);
    } finally {
      dispose([params, { w: big.weight }, { u: stale.u }, { u: fresh.u }]);
    }
  },
);

leakFreeTest("liresnet: gradients match finite differences (u is state)", () => {
  // iterations 0: σ = ‖A u‖ with the stored u, so a finite difference in W does not move u
  // (with iterations > 0 apply's u depends on W but is cut from the gradient, as the authors')
  assertLayerGradients(liresnetBlock({ iterations: 0 }), [2, 3, 3], { state: ["u"] });
  assertLayerGradients(liresnetDense({ depth: 4, iterations: 0 }), [4], { state: ["u"] });
});

leakFreeTest("liresnet: CPU and WebGPU agree (forward and parameter gradients)", async () => {
  await assertBackendsAgree(liresnetBlock({ iterations: 3 }), [2, 4, 4]);
});

for (
  const [name, layer, inShape] of [
    ["liresnetBlock", liresnetBlock(), [2, 4, 4]],
    ["liresnetDense", liresnetDense({ depth: 2 }), [5]],
  ] as const
) {
  leakFreeTest(`1-Lipschitz (certified): ${name}`, async () => {
    const r = await isOneLipschitz(layer, {
      inShape,
      seed: 1504,
      name,
      numRuns: 4,
      prepare: (p: LiresnetParams) => layer.refresh(p, 300),
      bound: (p: LiresnetParams) => liresnetLipschitz(layer, p, inShape),
    });
    console.log(`  ${r.verdict}: ${r.summary}`);
  });
}

leakFreeTest("liresnet: configuration errors name the option", () => {
  assert.throws(() => liresnetBlock({ kernel: 2 }), /liresnetBlock: kernel must be an odd/);
  assert.throws(() => liresnetDense({ depth: 0 }), /liresnetDense: depth must be a positive/);
  assert.throws(() => liresnetBlock().shapes!([4]), /liresnetBlock: input shape/);
});

leakFreeTest("liresnet: a network's certified factor is the product over its blocks", async () => {
  const a = liresnetBlock(), b = liresnetBlock({ depth: 2 });
  const net = serial(a, maxMin(), serial(sllConv({ inner: 2 }), b));
  const inShape = [2, 4, 4];
  const { params } = drawParams(net, inShape, 6);
  try {
    const whole = await certifiedLipschitzFactor(net, params, inShape);
    const pa = await liresnetLipschitz(a, params[0], inShape);
    const pb = await liresnetLipschitz(b, params[2][1], inShape);
    assert.ok(Math.abs(whole - pa * pb) <= 1e-12 * whole, `${whole} vs ${pa}·${pb}`);
    assert.ok(whole >= 1);
    const plain = serial(maxMin(), sllConv({ inner: 2 }));
    const pp = drawParams(plain, inShape, 7).params;
    assert.equal(await certifiedLipschitzFactor(plain, pp, inShape), 1);
    dispose(pp);
  } finally {
    dispose(params);
  }
});

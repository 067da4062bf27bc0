/**
 * socConv: orthogonality (norm preservation, adjoint included) for square and stride-2 layers,
 * the certified kernel-norm bound, gradients, CPU vs WebGPU, and the 1-Lipschitz property.
 */
import assert from "node:assert/strict";
import { fantasticFourBound, socConv, socDense, spaceToDepth } from "./soc.ts";
import { arange, reshape } from "../tensor/ops.ts";
import { normal, randomKey } from "../tensor/random.ts";
import { scope } from "../tensor/scope.ts";
import { isOneLipschitz } from "../testing.ts";
import { leakFreeTest } from "../tests/helpers.ts";
import { convSpectralBound } from "../certify/gram.ts";
import {
  assertBackendsAgree,
  assertLayerGradients,
  assertNormPreserving,
} from "../tests/layer_checks.ts";

leakFreeTest(
  "socConv: orthogonal (‖f(x) − f(y)‖ = ‖x − y‖, ‖Jᵀv‖ = ‖v‖), square and stride 2",
  () => {
    assertNormPreserving(socConv({ features: 3 }), [3, 5, 5], { tol: 1e-9 });
    assertNormPreserving(socConv({ features: 8, stride: 2 }), [2, 4, 4], { tol: 1e-9 });
    // more outputs than inputs: zero channel padding keeps distances; fewer: the adjoint does
    assertNormPreserving(socConv({ features: 5 }), [3, 4, 4], { adjoint: false, tol: 1e-9 });
    assertNormPreserving(socConv({ features: 2 }), [3, 4, 4], { pairs: false, tol: 1e-9 });
  },
);

leakFreeTest("socConv: the fantastic-four bound is ≥ the certified spectral norm", async () => {
  for (const [seed, shape] of [[0, [4, 4, 3, 3]], [1, [2, 5, 3, 3]], [2, [3, 3, 5, 5]]] as const) {
    const k = scope(() => normal(randomKey(seed), [...shape], "float64"));
    const b = scope(() => fantasticFourBound(k));
    const ours = b.dataSync()[0];
    // the Gram bound is ≥ the truth, so a lower bound of the truth is needed: compare with
    // ‖conv‖ ≥ ‖conv‖ on a large torus ≈ the Gram bound within its slack (a few %)
    const gram = await convSpectralBound(k, [12, 12]);
    assert.ok(ours >= gram * 0.97, `fantastic four ${ours} vs Gram ${gram}`);
    k.dispose();
    b.dispose();
  }
});

leakFreeTest(
  "socConv: spaceToDepth matches SOC's rearrange b c (h k1) (w k2) -> b (c k1 k2) h w",
  () => {
    scope(() => {
      const y = spaceToDepth(reshape(arange(16), [1, 1, 4, 4]), 2);
      assert.deepEqual([...y.shape], [1, 4, 2, 2]);
      assert.deepEqual(Array.from(y.dataSync()), [
        0,
        2,
        8,
        10,
        1,
        3,
        9,
        11,
        4,
        6,
        12,
        14,
        5,
        7,
        13,
        15,
      ]);
    });
  },
);

leakFreeTest("socConv: gradients match finite differences", () => {
  assertLayerGradients(socConv({ features: 3, terms: 4 }), [2, 4, 4]);
  assertLayerGradients(socConv({ features: 4, stride: 2, terms: 3 }), [1, 4, 4]);
  assertLayerGradients(socDense({ features: 3, terms: 5 }), [4]);
});

leakFreeTest("socConv: CPU and WebGPU agree (forward and parameter gradients)", async () => {
  await assertBackendsAgree(socConv({ features: 2, terms: 4 }), [2, 4, 4]);
});

for (
  const [name, layer, inShape] of [
    ["socConv", socConv({ features: 3 }), [3, 5, 5]],
    ["socConv stride 2", socConv({ features: 4, stride: 2 }), [2, 4, 4]],
    ["socConv 4 terms, fewer outputs", socConv({ features: 2, terms: 4 }), [3, 4, 4]],
    ["socDense", socDense({ features: 6 }), [6]],
  ] as const
) {
  leakFreeTest(`1-Lipschitz: ${name}`, async () => {
    const r = await isOneLipschitz(layer, { inShape, seed: 1501, name, numRuns: 4 });
    console.log(`  ${r.verdict}: ${r.summary}`);
  });
}

leakFreeTest("socConv: configuration errors name the option", () => {
  assert.throws(() => socConv({ features: 2, kernel: 4 }), /socConv: kernel must be an odd/);
  assert.throws(() => socConv({ features: 2, stride: 3 as 2 }), /stride must be 1 or 2/);
  assert.throws(() => socConv({ features: 2, terms: 0 }), /terms must be a positive/);
  assert.throws(
    () => socConv({ features: 2, stride: 2 }).init(randomKey(0), [1, 5, 4]),
    /divisible/,
  );
});

/**
 * aocConv: orthogonal with circular padding for stride 1, stride 2 (more and fewer outputs),
 * kernel = stride (pure RKO) and grouped channels; gradients; CPU vs WebGPU; 1-Lipschitz with
 * zero padding and unconverged Björck.
 */
import assert from "node:assert/strict";
import { aocConv } from "./aoc.ts";
import { randomKey } from "../tensor/random.ts";
import { isOneLipschitz } from "../testing.ts";
import { leakFreeTest } from "../tests/helpers.ts";
import {
  assertBackendsAgree,
  assertLayerGradients,
  assertNormPreserving,
} from "../tests/layer_checks.ts";

const it = 40; // Björck iterations: converged to float64 precision on these draws

leakFreeTest(
  "aocConv: orthogonal with circular padding (stride 1, 2; kernel = stride; groups)",
  () => {
    // isometries: ‖f(x) − f(y)‖ = ‖x − y‖ and ‖Jᵀv‖ = ‖v‖ for square ones
    assertNormPreserving(aocConv({ features: 4, iterations: it }), [4, 5, 5]);
    assertNormPreserving(aocConv({ features: 8, stride: 2, iterations: it }), [2, 4, 4]);
    assertNormPreserving(aocConv({ features: 8, kernel: 2, stride: 2, iterations: it }), [2, 4, 4]);
    assertNormPreserving(aocConv({ features: 4, groups: 2, iterations: it }), [4, 4, 4]);
    // more outputs than C·s²: distances kept; fewer: gradient norms kept
    assertNormPreserving(aocConv({ features: 6, iterations: it }), [3, 4, 4], { adjoint: false });
    assertNormPreserving(aocConv({ features: 4, stride: 2, iterations: it }), [3, 4, 4], {
      pairs: false,
    });
  },
);

leakFreeTest("aocConv: gradients match finite differences", () => {
  assertLayerGradients(aocConv({ features: 4, stride: 2, iterations: 3 }), [2, 4, 4]);
  assertLayerGradients(aocConv({ features: 4, groups: 2, iterations: 2, padding: "zeros" }), [
    2,
    3,
    3,
  ]);
});

leakFreeTest("aocConv: CPU and WebGPU agree (forward and parameter gradients)", async () => {
  await assertBackendsAgree(aocConv({ features: 4, stride: 2, iterations: 4 }), [2, 4, 4]);
});

for (
  const [name, layer, inShape] of [
    ["aocConv", aocConv({ features: 3 }), [3, 5, 5]],
    [
      "aocConv stride 2, zeros, 2 Björck steps",
      aocConv({
        features: 4,
        stride: 2,
        padding: "zeros",
        iterations: 2,
      }),
      [2, 4, 4],
    ],
    ["aocConv groups 2, kernel 5", aocConv({ features: 4, groups: 2, kernel: 5 }), [2, 5, 5]],
  ] as const
) {
  leakFreeTest(`1-Lipschitz: ${name}`, async () => {
    const r = await isOneLipschitz(layer, { inShape, seed: 1506, name, numRuns: 4 });
    console.log(`  ${r.verdict}: ${r.summary}`);
  });
}

leakFreeTest("aocConv: configuration errors name the option", () => {
  assert.throws(() => aocConv({ features: 2, kernel: 1, stride: 2 }), /kernel ≥ stride/);
  assert.throws(() => aocConv({ features: 3, groups: 2 }), /multiple of groups 2/);
  assert.throws(
    () => aocConv({ features: 2, groups: 2 }).init(randomKey(0), [3, 4, 4]),
    /divisible by groups/,
  );
  assert.throws(
    () => aocConv({ features: 2, stride: 2 }).init(randomKey(0), [2, 5, 4]),
    /divisible by stride/,
  );
});

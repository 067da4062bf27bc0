/**
 * bcopConv: orthogonal with circular padding (norm preservation, adjoint included), square and
 * stride 2; the kernel is paraunitary (the full convolution keeps norms); gradients; CPU vs
 * WebGPU; the 1-Lipschitz property with zero padding and unconverged Björck.
 */
import assert from "node:assert/strict";
import { bcopConv, bcopKernel, circularPad } from "./bcop.ts";
import { arange, conv2d, norm, reshape } from "../tensor/ops.ts";
import { normal, randomKey } from "../tensor/random.ts";
import { scope } from "../tensor/scope.ts";
import { isOneLipschitz } from "../testing.ts";
import { assertClose, leakFreeTest } from "../tests/helpers.ts";
import {
  assertBackendsAgree,
  assertLayerGradients,
  assertNormPreserving,
} from "../tests/layer_checks.ts";

leakFreeTest(
  "bcopConv: orthogonal with circular padding (‖f(x) − f(y)‖ = ‖x − y‖, ‖Jᵀv‖ = ‖v‖)",
  () => {
    assertNormPreserving(bcopConv({ features: 4, padding: "circular", iterations: 40 }), [4, 5, 5]);
    assertNormPreserving(
      bcopConv({ features: 8, stride: 2, padding: "circular", iterations: 40 }),
      [
        2,
        4,
        4,
      ],
    );
  },
);

leakFreeTest("bcopConv: the kernel is paraunitary (the full convolution keeps norms)", () => {
  scope(() => {
    const k = bcopKernel(
      normal(randomKey(0), [4, 4], "float64"),
      normal(randomKey(1), [8, 4, 2], "float64"),
      5,
      40,
    );
    assert.deepEqual([...k.shape], [4, 4, 5, 5]);
    const x = normal(randomKey(2), [2, 4, 6, 6], "float64");
    const y = conv2d(x, k, { padding: 4 }); // every output that sees x
    assertClose(norm(y).dataSync(), norm(x).dataSync(), { rtol: 1e-9 });
    const c = circularPad(reshape(arange(9), [1, 1, 3, 3]), 1);
    assert.deepEqual(Array.from(c.dataSync()).slice(0, 5), [8, 6, 7, 8, 6]);
  });
});

leakFreeTest("bcopConv: gradients match finite differences", () => {
  assertLayerGradients(bcopConv({ features: 2, iterations: 3 }), [2, 3, 3]);
  assertLayerGradients(bcopConv({ features: 3, iterations: 2, padding: "circular" }), [2, 3, 3]);
});

leakFreeTest("bcopConv: CPU and WebGPU agree (forward and parameter gradients)", async () => {
  await assertBackendsAgree(bcopConv({ features: 2, iterations: 4 }), [2, 4, 4]);
});

for (
  const [name, layer, inShape] of [
    ["bcopConv", bcopConv({ features: 3 }), [3, 5, 5]],
    ["bcopConv 2 Björck steps, stride 2", bcopConv({ features: 4, stride: 2, iterations: 2 }), [
      1,
      4,
      4,
    ]],
    ["bcopConv fewer outputs, circular", bcopConv({ features: 2, padding: "circular" }), [3, 4, 4]],
  ] as const
) {
  leakFreeTest(`1-Lipschitz: ${name}`, async () => {
    const r = await isOneLipschitz(layer, { inShape, seed: 1505, name, numRuns: 4 });
    console.log(`  ${r.verdict}: ${r.summary}`);
  });
}

leakFreeTest("bcopConv: configuration errors name the option", () => {
  assert.throws(() => bcopConv({ features: 2, kernel: 2 }), /bcopConv: kernel must be an odd/);
  assert.throws(
    () => bcopConv({ features: 2, padding: "reflect" as "zeros" }),
    /padding must be "zeros" or "circular"/,
  );
  assert.throws(() => bcopConv({ features: 1 }).init(randomKey(0), [1, 4, 4]), /≥ 2 channels/);
});

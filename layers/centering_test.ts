/**
 * layerCentering and batchCentering: centred outputs, the running-mean state update (pure),
 * gradients, CPU vs WebGPU, the 1-Lipschitz property per example (evaluation) and, for the
 * training map, on the whole batch.
 */
import assert from "node:assert/strict";
import { batchCentering, layerCentering } from "./centering.ts";
import { add, mean, mul, norm, reshape, sub, tensor } from "../tensor/ops.ts";
import { normal, randomKey } from "../tensor/random.ts";
import { scope } from "../tensor/scope.ts";
import { isOneLipschitz } from "../testing.ts";
import { assertClose, leakFreeTest } from "../tests/helpers.ts";
import { assertBackendsAgree, assertLayerGradients } from "../tests/layer_checks.ts";

leakFreeTest("layerCentering: zero spatial (or feature) mean per example, plus the bias", () => {
  scope(() => {
    const layer = layerCentering();
    const { params } = layer.init(randomKey(0), [3, 4, 4]);
    const b = { bias: add(params.bias, reshape(tensor([1, 2, 3]), [1, 3, 1, 1])) };
    const y = layer.apply(b, normal(randomKey(1), [2, 3, 4, 4]));
    assertClose(mean(y, [2, 3]).dataSync(), [1, 2, 3, 1, 2, 3], { atol: 1e-6 });
    const d = layerCentering({ bias: false });
    const yd = d.apply(d.init(randomKey(0), [5]).params, tensor([[1, 2, 3, 4, 5]]));
    assertClose(yd.dataSync(), [-2, -1, 0, 1, 2]);
  });
});

leakFreeTest(
  "batchCentering: train centres by the batch mean, update is pure, eval uses it",
  () => {
    scope(() => {
      const layer = batchCentering({ momentum: 0.5 });
      const p0 = layer.init(randomKey(0), [2]).params;
      const x = tensor([[1, 10], [3, 20]]);
      assertClose(layer.trainApply(p0, x).dataSync(), [-1, -5, 1, 5]);
      const p1 = layer.update(p0, x);
      assertClose(p0.runningMean.dataSync(), [0, 0]); // unchanged: update is pure
      assertClose(p1.runningMean.dataSync(), [1, 7.5]);
      assertClose(layer.apply(p1, x).dataSync(), [0, 2.5, 2, 12.5]);
      const conv = batchCentering();
      const pc = conv.init(randomKey(0), [2, 3, 3]).params;
      const xc = normal(randomKey(2), [4, 2, 3, 3]);
      assertClose(mean(conv.trainApply(pc, xc), [0, 2, 3]).dataSync(), [0, 0], { atol: 1e-6 });
      assertClose(
        conv.update(pc, xc).runningMean.dataSync(),
        mul(mean(xc, [0, 2, 3]), 0.05).dataSync(),
        { atol: 1e-7 },
      );
      assert.throws(() => batchCentering({ momentum: 2 }), /momentum must be in \[0, 1\]/);
      assert.throws(
        () => conv.apply(pc, normal(randomKey(3), [1, 3, 3, 3])),
        /2 channels on axis 1/,
      );
    });
  },
);

leakFreeTest("batchCentering: the training map is 1-Lipschitz on the whole batch", () => {
  scope(() => {
    const layer = batchCentering();
    const p = layer.init(randomKey(0), [3, 2, 2]).params;
    for (let i = 0; i < 5; i++) {
      const x = normal(randomKey(10 + i), [4, 3, 2, 2]);
      const y = add(x, mul(normal(randomKey(20 + i), [4, 3, 2, 2]), 10 ** (i - 2)));
      const pf = { bias: p.bias, runningMean: p.runningMean };
      const r = norm(sub(layer.trainApply(pf, x), layer.trainApply(pf, y))).dataSync()[0] /
        norm(sub(x, y)).dataSync()[0];
      assert.ok(r <= 1 + 1e-5, `ratio ${r}`);
    }
  });
});

leakFreeTest("centering: gradients match finite differences", () => {
  assertLayerGradients(layerCentering(), [2, 3, 3]);
  assertLayerGradients(layerCentering(), [5]);
  assertLayerGradients(batchCentering(), [2, 3, 3], { state: ["runningMean"] });
});

leakFreeTest("centering: CPU and WebGPU agree (forward and parameter gradients)", async () => {
  await assertBackendsAgree(layerCentering(), [2, 3, 3]);
  await assertBackendsAgree(batchCentering(), [4]);
});

for (
  const [name, layer, inShape] of [
    ["layerCentering conv", layerCentering(), [2, 3, 3]],
    ["layerCentering dense", layerCentering(), [5]],
    ["batchCentering eval", batchCentering(), [2, 3, 3]],
  ] as const
) {
  leakFreeTest(`1-Lipschitz: ${name}`, async () => {
    const r = await isOneLipschitz(layer, { inShape, seed: 1503, name, numRuns: 4 });
    console.log(`  ${r.verdict}: ${r.summary}`);
  });
}

/**
 * Prach et al.'s ConvNet: the sizes of the paper, the stage shapes (28 → 32 padding, width
 * doubling per block), 1-Lipschitz from input to logits for every registered layer, the global
 * max pool's own Lipschitz property, and the errors for unknown layers and bad sizes.
 */
import assert from "node:assert/strict";
import { convNet, CONVNET_SIZES, globalMaxPool } from "./convnet.ts";
import { LAYER_REGISTRY, layerNames } from "./registry.ts";
import { randomKey } from "../tensor/random.ts";
import { zeros } from "../tensor/ops.ts";
import { scope } from "../tensor/scope.ts";
import { isOneLipschitz } from "../testing.ts";
import { leakFreeTest } from "../tests/helpers.ts";

const tiny = {
  baseWidth: 2,
  blocks: 2,
  layersPerBlock: 1,
  inputShape: [1, 3, 4] as [number, number, number],
  numClasses: 2,
  mean: [0.5],
};

leakFreeTest("convNet: the paper's sizes and the stage shapes of XS on 28×28", () => {
  assert.deepEqual(Object.keys(CONVNET_SIZES).slice(0, 4), ["xs", "s", "m", "l"]);
  assert.deepEqual(
    ["xs", "s", "m", "l"].map((s) => CONVNET_SIZES[s as "xs"].baseWidth),
    [16, 32, 64, 128],
  );
  const net = convNet({
    layer: "aol",
    size: "xs",
    inputShape: [1, 28, 28],
    numClasses: 10,
    mean: [0.3],
  });
  assert.deepEqual(net.inShapes.slice(0, 5), [
    [1, 28, 28],
    [1, 32, 32],
    [16, 32, 32],
    [16, 32, 32],
    [16, 32, 32],
  ]);
  assert.deepEqual(net.inShapes.slice(5, 9), [[32, 16, 16], [64, 8, 8], [128, 4, 4], [256, 2, 2]]);
  assert.deepEqual(net.inShapes.at(-1), [512]);
  assert.deepEqual(net.shapes().outShape, [10]);
  assert.equal(net.config.layersPerBlock, 5);
  assert.equal(net.stateful, false);
  scope(() => {
    const { params } = net.init(randomKey(0));
    assert.equal(net.lastWeight(params), null); // unnormalised head: the generic √2 certificate
  });
});

leakFreeTest("convNet: unknown layers and impossible sizes are one clear error", () => {
  assert.throws(() => convNet({ ...tiny, layer: "nope" }), (e: Error) => {
    assert.ok(e instanceof RangeError);
    assert.match(e.message, new RegExp(`registered layers are ${layerNames().join(", ")}`));
    return true;
  });
  assert.throws(
    () => convNet({ ...tiny, layer: "sll", numClasses: 100 }),
    /numClasses \(100\) exceeds/,
  );
  assert.throws(() => convNet({ ...tiny, layer: "sll", baseWidth: 3 }), /baseWidth must be even/);
  assert.throws(() => convNet({ ...tiny, layer: "sll", mean: [] }), /mean must have one entry/);
});

leakFreeTest("1-Lipschitz: globalMaxPool", async () => {
  const r = await isOneLipschitz(globalMaxPool(), { inShape: [3, 3, 2], numRuns: 3, seed: 1503 });
  console.log(`  ${r.verdict}: ${r.summary}`);
});

for (const e of LAYER_REGISTRY) {
  leakFreeTest(`1-Lipschitz: convNet with ${e.name} (input to logits)`, async () => {
    const net = convNet({ ...tiny, layer: e.name });
    scope(() => {
      const { params } = net.init(randomKey(1));
      assert.deepEqual(net.apply(params, zeros([2, 1, 3, 4])).shape, [2, 2]);
    });
    const r = await isOneLipschitz({ init: net.init, apply: net.apply }, {
      inShape: tiny.inputShape,
      numRuns: 2,
      seed: 1504,
      name: `convNet ${e.name}`,
      prepare: (p) => net.refresh(p, 300),
    });
    console.log(`  ${r.verdict}: ${r.summary}`);
  });
}

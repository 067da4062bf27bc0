/**
 * The BRO layers: block reflectors are orthogonal and symmetric (unitary and Hermitian per
 * frequency), the reference's ranks and identity init, norm preservation, 1-Lipschitz property,
 * gradients and CPU/WebGPU agreement.
 */
import assert from "node:assert/strict";
import { blockReflector, broConv, broDense, cblockReflector } from "./bro.ts";
import { concat, matmul, mul, swapLast } from "../tensor/ops.ts";
import { cmatmul, ctranspose } from "../tensor/complex.ts";
import { randomKey } from "../tensor/random.ts";
import { assertClose } from "../tests/helpers.ts";
import {
  arr,
  assertNormPreserving,
  cpuWebGpuTest,
  drawParams,
  eyeValues,
  f64,
  layerGradCheck,
  lipschitzTests,
  scopedTest,
} from "../tests/spectral_helpers.ts";

scopedTest(
  "blockReflector: orthogonal, symmetric, W·V = −V; complex: unitary and Hermitian",
  () => {
    const v = f64(1, [2, 5, 2]);
    const w = blockReflector(v, 0);
    assertClose(arr(matmul(w, w)), [...eyeValues(5), ...eyeValues(5)], { rtol: 0, atol: 1e-12 });
    assertClose(arr(swapLast(w)), arr(w), { rtol: 0, atol: 1e-14 });
    assertClose(arr(matmul(w, v)), arr(mul(v, -1)), { rtol: 0, atol: 1e-12 });
    const cv = f64(2, [3, 4, 2, 2]);
    const cw = cblockReflector(cv, 0);
    assertClose(arr(cmatmul(ctranspose(cw), cw)), [0, 1, 2].flatMap(() => eyeValues(4, true)), {
      rtol: 0,
      atol: 1e-12,
    });
    assertClose(arr(ctranspose(cw)), arr(cw), { rtol: 0, atol: 1e-14 });
    // the ridge keeps a zero or rank-deficient V finite: W = I for V = 0
    assertClose(arr(blockReflector(mul(f64(3, [4, 1]), 0))), eyeValues(4), { rtol: 0, atol: 0 });
    const deficient = concat([f64(3, [4, 1]), f64(3, [4, 1])], 1); // rank 1 of 2 columns
    const wd = blockReflector(deficient);
    assertClose(arr(matmul(wd, wd)), eyeValues(4), { rtol: 0, atol: 1e-4 }); // ε-perturbed
    const xs = f64(4, [4, 5]), wx = matmul(wd, xs); // ‖Wx‖ ≤ ‖x‖ column by column
    const xv = arr(xs), wv = arr(wx);
    for (let j = 0; j < 5; j++) {
      let nx = 0, nw = 0;
      for (let i = 0; i < 4; i++) [nx, nw] = [nx + xv[i * 5 + j] ** 2, nw + wv[i * 5 + j] ** 2];
      assert.ok(nw <= nx * (1 + 1e-12), `column ${j}: ‖Wx‖² ${nw} > ‖x‖² ${nx}`);
    }
    assertClose(arr(cblockReflector(mul(cv, 0))), [0, 1, 2].flatMap(() => eyeValues(4, true)), {
      rtol: 0,
      atol: 0,
    });
  },
);

scopedTest("bro: the reference's ranks, identity init and shapes", () => {
  assert.deepEqual(broConv({ features: 4 }).shapes!([4, 8, 8]), {
    outShape: [4, 8, 8],
    params: { weight: [4, 3, 3, 3], bias: [4] }, // cin = cout: r = cin − 1
  });
  assert.deepEqual(broConv({ features: 6 }).shapes!([2, 8, 8]).params.weight, [6, 2, 3, 3]);
  assert.deepEqual(broConv({ features: 2 }).shapes!([5, 8, 8]).params.weight, [5, 2, 3, 3]);
  const s2 = broConv({ features: 8, stride: 2 }).shapes!([2, 8, 8]);
  assert.deepEqual([s2.outShape, s2.params.weight], [[8, 4, 4], [8, 7, 3, 3]]); // k kept
  assert.deepEqual(broDense({ features: 6 }).shapes!([4]).params, { weight: [6, 3], bias: [6] });
  // identity init: W = I − 2·diag(1…1, 0…0) (the first r coordinates reflected)
  const p = drawParams(broDense({ features: 4 }), [4], 0, "float64");
  assertClose(arr(blockReflector(p.weight)), [
    ...[-1, 0, 0, 0],
    ...[0, -1, 0, 0],
    ...[0, 0, 1, 0],
    ...[0, 0, 0, 1],
  ], { rtol: 0, atol: 1e-4 });
  assert.throws(
    () => broConv({ features: 2, init: "xavier" as "random" }).init(randomKey(0), [2, 4, 4]),
    /init must be/,
  );
});

scopedTest("bro: norm preserving (circular, cin = cout, ε = 0; dense in = out)", () => {
  assertNormPreserving(broConv({ features: 3, padding: "circular", eps: 0, init: "random" }), [
    3,
    5,
    6,
  ]);
  assertNormPreserving(
    broConv({ features: 4, padding: "circular", eps: 0, init: "random", rankFraction: 0.5 }),
    [4, 4, 4],
  );
  assertNormPreserving(broDense({ features: 6, eps: 0, init: "random" }), [6]);
});

scopedTest("bro: gradients (V, bias, input) match finite differences in float64", () => {
  layerGradCheck(broConv({ features: 3, init: "random" }), [3, 3, 4]);
  layerGradCheck(broConv({ features: 2, init: "random", padding: "circular" }), [3, 4, 3]);
  layerGradCheck(broDense({ features: 3, init: "random" }), [5]);
});

lipschitzTests([
  ["broConv square", broConv({ features: 3, init: "random" }), [3, 4, 4]],
  [
    "broConv cout > cin, circular",
    broConv({ features: 4, init: "random", padding: "circular" }),
    [2, 4, 4],
  ],
  ["broConv stride 2", broConv({ features: 3, stride: 2, init: "random" }), [1, 4, 4]],
  ["broDense tall", broDense({ features: 6, init: "random" }), [3]],
]);

cpuWebGpuTest("bro", [
  [broConv({ features: 3, init: "random" }), [3, 4, 4]],
  [broDense({ features: 4, init: "random" }), [4]],
]);

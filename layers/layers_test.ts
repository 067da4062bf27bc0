/**
 * Unit behaviour of the 1-Lipschitz layers beyond the Lipschitz property: the safe inverse (t = 0
 * and finite gradients for an all-zero row), exact values of the activations and pooling,
 * Björck orthogonality, CPL power-iteration state, the network's shapes and config errors.
 */
import assert from "node:assert/strict";
import {
  aolDenseWeight,
  bjorck,
  cplDense,
  groupSort,
  lipschitzNetwork,
  maxMin,
  paddingChannels,
  poolingLinear,
  presets,
  sllConv,
  type SllConvParams,
  sllConvT,
  sllDense,
  type SllDenseParams,
  sllDenseT,
  spaceToDepth,
  sumPool,
} from "./mod.ts";
import { dispose, scope } from "../tensor/scope.ts";
import { leakFreeTest } from "../tests/helpers.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { abs, matmul, max, mul, ones, sub, sum, swapLast, tensor, zeros } from "../tensor/ops.ts";
import { normal, randomKey } from "../tensor/random.ts";
import { grad } from "../autodiff/autodiff.ts";
import { flattenTree } from "../tensor/tree.ts";

function t(name: string, fn: () => void): void {
  leakFreeTest(name, () => {
    scope(fn);
  });
}
const arr = (x: Tensor): number[] => Array.from(x.dataSync());
const near = (a: number[], b: number[], tol = 1e-6): void =>
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) <= tol, `${i}: ${v} vs ${b[i]}`));

t("safe inverse: a zero row of W gives t = 0 and finite gradients (dense)", () => {
  const layer = sllDense({ inner: 2 });
  const p: SllDenseParams = {
    weight: tensor([[0, 0, 0], [1, 2, 2]]),
    bias: tensor([[0.1, 0.2]]),
    q: tensor([0.3, -0.2]),
  };
  near(arr(sllDenseT(p)), [0, 1 / 9]);
  const x = tensor([[1, -1, 2]]);
  const g = grad((q: SllDenseParams) => sum(layer.apply(q, x)))(p);
  for (const [k, v] of Object.entries(flattenTree(g))) {
    assert.ok(arr(v).every(Number.isFinite), `d/d${k} is finite`);
  }
});

t("safe inverse: a zero kernel slice gives t = 0 and finite gradients (conv)", () => {
  const layer = sllConv({ inner: 2 });
  const k = tensor([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0], { shape: [2, 1, 3, 3] });
  const p: SllConvParams = { kernel: k, bias: zeros([1, 2, 1, 1]), q: zeros([2]) };
  near(arr(sllConvT(p, "paper")), [0, 1]);
  near(arr(sllConvT(p, "reference")), [0, 1]);
  const x = normal(randomKey(0), [1, 1, 4, 4]);
  const g = grad((q: SllConvParams) => sum(layer.apply(q, x)))(p);
  for (const v of Object.values(flattenTree(g))) assert.ok(arr(v).every(Number.isFinite));
});

t("q modes: reference ignores q in the conv t, paper does not", () => {
  const layer = sllConv({ inner: 3 });
  const p = layer.init(randomKey(1), [2, 4, 4]).params;
  const shifted = { ...p, q: tensor([0, 3, -2]) };
  near(arr(sllConvT(p, "reference")), arr(sllConvT(shifted, "reference")), 0);
  assert.notDeepEqual(arr(sllConvT(p, "paper")), arr(sllConvT(shifted, "paper")));
  // A constant shift of q changes nothing in paper mode either (only differences matter).
  near(arr(sllConvT(p, "paper")), arr(sllConvT({ ...p, q: sub(p.q, 5) }, "paper")), 1e-5);
});

t("activations, pooling and padding compute the documented values", () => {
  near(arr(maxMin().apply({}, tensor([[1, 5, 3, 2]]))), [3, 5, 1, 2]);
  near(arr(groupSort({ groupSize: 4 }).apply({}, tensor([[1, 5, 3, 2, 0, -1, 7, 7]]))), [
    5,
    3,
    2,
    1,
    7,
    7,
    0,
    -1,
  ]);
  near(arr(poolingLinear({ features: 2 }).apply({}, ones([1, 8]))), [2, 2]);
  near(arr(poolingLinear({ features: 2, agg: "max" }).apply({}, tensor([[1, 4, 2, 3, 9]]))), [
    4,
    3,
  ]);
  near(arr(sumPool().apply({}, ones([1, 1, 8, 8]))), [4, 4, 4, 4]);
  const y = paddingChannels({ features: 3 }).apply({}, ones([1, 1, 2, 2]));
  assert.deepEqual([...y.shape], [1, 3, 2, 2]);
  assert.equal(arr(y).reduce((a, b) => a + b), 4);
  assert.throws(
    () => paddingChannels({ features: 2 }).init(randomKey(0), [3, 4, 4]),
    /features must be/,
  );
  assert.throws(() => sumPool().init(randomKey(0), [1, 6, 8]), /not divisible by 4/);
  assert.throws(() => sllConv({ inner: 3, kernel: 4 }), /kernel must be odd/);
  const dense = sllDense({ inner: 2 });
  const { params } = dense.init(randomKey(0), [4]); // D = 4 inferred from inShape
  assert.throws(() => dense.apply(params, ones([1, 5])), /input must be \[\*, 4\], got \[1, 5\]/);
  dispose(params);
  // the old spellings fail loudly instead of being ignored
  const old = { cin: 4, inner: 2 } as unknown as { inner: number };
  assert.throws(() => sllConv(old), /sllConv: unknown option cin .*inferred from inShape/);
  const oldQ = { inner: 2, qMode: "paper" } as unknown as { inner: number };
  assert.throws(() => sllDense(oldQ), /sllDense: unknown option qMode/);
});

t("bjorck gives an orthogonal matrix; AOL's rescaled weight has norm ≤ 1", () => {
  const w = normal(randomKey(2), [6, 4], "float64");
  const q = bjorck(w, 30);
  const err = max(
    abs(
      sub(
        matmul(swapLast(q), q),
        tensor([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], {
          shape: [4, 4],
          dtype: "float64",
        }),
      ),
    ),
  ).dataSync()[0];
  assert.ok(err < 1e-9, `‖QᵀQ − I‖max = ${err}`);
  const a = aolDenseWeight(mul(normal(randomKey(3), [5, 7], "float64"), 100));
  // Spectral norm by power iteration on AᵀA (host, float64): AOL guarantees ‖A‖₂ ≤ 1.
  const ata = arr(matmul(swapLast(a), a));
  let v = [1, 1, 1, 1, 1, 1, 1], lambda = 0;
  for (let it = 0; it < 500; it++) {
    const w2 = v.map((_, i) => v.reduce((s2, vj, j) => s2 + ata[i * 7 + j] * vj, 0));
    lambda = Math.hypot(...w2);
    v = w2.map((e) => e / lambda);
  }
  assert.ok(lambda <= 1 + 1e-9 && lambda > 0.1, `‖A‖₂² = ${lambda}`);
});

t("CPL: refresh is pure and converges to the spectral norm", () => {
  const layer = cplDense({ inner: 2 });
  const p = {
    weight: tensor([[3, 0, 0], [0, 1, 0]]),
    bias: zeros([1, 2]),
    u: tensor([[0.6, 0.8, 0]]),
  };
  const r = layer.refresh(p, 60);
  near(arr(p.u), [0.6, 0.8, 0]); // unchanged
  near(arr(abs(r.u)), [1, 0, 0], 1e-6);
});

t("lipschitzNetwork: shapes, state-dict keys, presets and config errors", () => {
  const net = lipschitzNetwork({
    ...presets.tiny,
    inputShape: [3, 8, 12],
    numClasses: 5,
    mean: [0.4, 0.5, 0.6],
  });
  const { params, outShape } = net.init(randomKey(0));
  assert.deepEqual(outShape, [5]);
  assert.deepEqual([...net.apply(params, zeros([2, 3, 8, 12])).shape], [2, 5]);
  const f = presets.tiny.width * 2 * 3;
  assert.deepEqual(net.stateDictShapes["module.model.model.5.weight"], [
    presets.tiny.denseInnerDim,
    f,
  ]);
  assert.deepEqual(net.stateDictShapes["module.model.model.7.weight"], [5, f]);
  // Tensors round-trip through toStateDict / fromStateDict.
  const again = net.fromStateDict(net.toStateDict(params));
  near(arr(net.apply(again, ones([1, 3, 8, 12]))), arr(net.apply(params, ones([1, 3, 8, 12]))), 0);
  assert.deepEqual(presets.fmnist.spaceToDepth, 2);
  assert.deepEqual(presets.small, {
    nConv: 20,
    nDense: 7,
    width: 45,
    convInnerDim: 5,
    denseInnerDim: 2048,
  });
  assert.throws(
    () =>
      lipschitzNetwork({ ...presets.tiny, inputShape: [1, 30, 28], numClasses: 10, mean: [0, 1] }),
    /H and W must be divisible by 4, got 30×28; mean must have one entry per input channel \(1\)/,
  );
});

t(
  "lipschitzNetwork with spaceToDepth 2: module 0 unshuffles, keys shift by one, same function",
  () => {
    const net = lipschitzNetwork({
      inputShape: [1, 8, 8],
      numClasses: 3,
      nConv: 2,
      nDense: 1,
      width: 6,
      convInnerDim: 3,
      denseInnerDim: 5,
      mean: [0.2],
      spaceToDepth: 2,
    });
    // [1,8,8] → [4,4,4] → padded [6,4,4] → 2 convs → sum-pool 2/2 [6,2,2] → F = 24 = 6·(8/4)·(8/4)
    assert.deepEqual(net.inShapes.slice(0, 4), [[1, 8, 8], [4, 4, 4], [6, 4, 4], [6, 4, 4]]);
    assert.deepEqual(net.stateDictShapes["module.model.model.2.kernel"], [3, 6, 3, 3]);
    assert.deepEqual(net.stateDictShapes["module.model.model.6.weight"], [5, 24]);
    assert.deepEqual(net.stateDictShapes["module.model.model.7.weight"], [3, 24]);
    const { params } = net.init(randomKey(1));
    const x = normal(randomKey(2), [3, 1, 8, 8]);
    // the network's fused first conv (sllConvOfPadded) against the modules one by one
    let h: Tensor = sub(x, 0.2);
    net.layers.forEach((m, i) => h = m.apply(params[i], h));
    near(arr(net.apply(params, x)), arr(h), 1e-5);
    const prepared = net.prepare(params);
    near(arr(prepared.apply(x)), arr(h), 1e-5);
    prepared.dispose();
    // module 0 is spaceToDepth (nn.PixelUnshuffle(2)), module 3 the sum-pool of 2×2 windows / 2
    near(arr(net.layers[0].apply({}, x)), arr(spaceToDepth(x, 2)), 0);
    for (
      const [bad, re] of [
        [{ spaceToDepth: 3 }, /spaceToDepth must be 1, 2 or 4, got 3/],
        [
          { spaceToDepth: 2, width: 3 },
          /width \(3\) must be ≥ the 4 channels after space-to-depth 2/,
        ],
      ] as const
    ) {
      assert.throws(() => lipschitzNetwork({ ...net.config, ...bad }), re);
    }
  },
);

/**
 * `prepare` (parameter-only work done once for many batches, e.g. the SLL rescaling t): the same
 * outputs as `apply` for both SLL layers in both q modes, a layer without `prepare` and a whole
 * network, and nothing left alive after `dispose`.
 */
import assert from "node:assert/strict";
import { leakFreeTest } from "../tests/helpers.ts";
import { normal, randomKey, split } from "../tensor/random.ts";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { prepareLayer } from "./layer.ts";
import { lipschitzNetwork } from "./network.ts";
import { sllConv, sllDense } from "./sll.ts";
import { flatten } from "./basic.ts";

async function same(a: Tensor, b: Tensor, what: string): Promise<void> {
  const [x, y] = [await a.data(), await b.data()];
  assert.equal(x.length, y.length);
  for (let i = 0; i < x.length; i++) {
    assert.ok(
      Math.abs(x[i] - y[i]) <= 1e-6 * (1 + Math.abs(y[i])),
      `${what}[${i}]: ${x[i]} vs ${y[i]}`,
    );
  }
}

leakFreeTest("sllConv/sllDense prepare: the same outputs as apply, t computed once", async () => {
  const [k1, k2, k3, k4] = split(randomKey(3), 4);
  for (const qMode of ["paper", "reference"] as const) {
    const conv = sllConv({ inner: 5, qMode });
    const p = scope(() => conv.init(k1, [3, 6, 6]).params);
    const f = prepareLayer(conv, p);
    for (const key of [k2, k3]) {
      const [got, want] = scope(() => {
        const x = normal(key, [2, 3, 6, 6]);
        return [f.apply(x), conv.apply(p, x)];
      });
      await same(got, want, `sllConv ${qMode}`);
      got.dispose(), want.dispose();
    }
    f.dispose();
    Object.values(p).forEach((t) => t.dispose());
  }
  const dense = sllDense({ inner: 9 });
  const p = scope(() => dense.init(k4, [7]).params);
  const f = prepareLayer(dense, p);
  const [got, want] = scope(() => {
    const x = normal(k2, [4, 7]);
    return [f.apply(x), dense.apply(p, x)];
  });
  await same(got, want, "sllDense");
  got.dispose(), want.dispose();
  f.dispose();
  Object.values(p).forEach((t) => t.dispose());
  // a layer without prepare: apply underneath
  const g = prepareLayer(flatten(), {});
  const [y, want2] = scope(() => [g.apply(normal(k3, [2, 3, 2])), normal(k3, [2, 6])]);
  await same(y, want2, "flatten");
  y.dispose(), want2.dispose(), g.dispose();
});

leakFreeTest("lipschitzNetwork.prepare: the same logits as apply", async () => {
  const net = lipschitzNetwork({
    inputShape: [1, 8, 8],
    numClasses: 3,
    nConv: 2,
    nDense: 2,
    width: 4,
    convInnerDim: 3,
    denseInnerDim: 6,
    mean: [0.3],
  });
  const params = scope(() => net.init(randomKey(1)).params);
  const f = net.prepare(params);
  const [got, want] = scope(() => {
    const x = normal(randomKey(2), [3, 1, 8, 8]);
    return [f.apply(x), net.apply(params, x)];
  });
  await same(got, want, "network");
  assert.throws(
    () => scope(() => f.apply(normal(randomKey(2), [3, 2, 8, 8]))),
    /input must be \[B, 1, 8, 8\]/,
  );
  got.dispose(), want.dispose();
  f.dispose();
  for (const p of params) Object.values(p as Record<string, Tensor>).forEach((t) => t.dispose());
});

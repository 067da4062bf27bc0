/**
 * The SLL fold (−2t folded into the weight) against the paper's literal formulas, written here
 * op by op: dense y = x − 2·Wᵀ(t ⊙ relu(Wx + b)) and conv y = x − 2·convT(t ⊙ relu(conv(x, K) +
 * b), K), in float64 on random parameters (q scaled up so t varies a lot), both q modes.
 */
import assert from "node:assert/strict";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  add,
  cast,
  conv2d,
  convTranspose2d,
  matmul,
  mul,
  pad,
  relu,
  reshape,
  sub,
  sum,
  swapLast,
} from "../tensor/ops.ts";
import { valueAndGrad } from "../autodiff/autodiff.ts";
import { normal, randomKey, split } from "../tensor/random.ts";
import { mapTree } from "../tensor/tree.ts";
import {
  type QMode,
  sllConv,
  sllConvOfPadded,
  type SllConvParams,
  sllConvT,
  sllDense,
  type SllDenseParams,
  sllDenseT,
  sllFold,
} from "./sll.ts";
import { leakFreeTest } from "../tests/helpers.ts";

function maxAbsDiff(a: Tensor, b: Tensor): number {
  assert.deepEqual([...a.shape], [...b.shape]);
  const x = a.dataSync(), y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

function t(name: string, fn: () => void): void {
  leakFreeTest(name, () => {
    scope(fn);
  });
}

const f64 = <P>(p: P, qScale = 3): P =>
  mapTree(p, (v, path) => mul(cast(v, "float64"), path === "q" ? qScale : 1));

t("sllFold scales axis 0 by −2t", () => {
  const w = reshape(cast(normal(randomKey(0), [6]), "float64"), [3, 2]);
  const tv = cast(normal(randomKey(1), [3]), "float64");
  const want = mul(mul(w, reshape(tv, [3, 1])), -2);
  assert.ok(maxAbsDiff(sllFold(w, tv), want) === 0);
});

t("sllDense apply equals the literal x − 2·Wᵀ(t ⊙ relu(Wx + b))", () => {
  for (const seed of [0, 1, 2]) {
    const [kp, kx] = split(randomKey(seed));
    const layer = sllDense({ inner: 7 });
    const p: SllDenseParams = f64(layer.init(kp, [5]).params);
    const x = mul(cast(normal(kx, [4, 5]), "float64"), 2);
    // literal, in the paper's column convention with batch rows: Wx → x·Wᵀ
    const tv = reshape(sllDenseT(p), [1, 7]);
    const h = relu(add(matmul(x, swapLast(p.weight)), p.bias)); // [B, inner]
    const literal = sub(x, mul(matmul(mul(tv, h), p.weight), 2));
    const err = maxAbsDiff(layer.apply(p, x), literal);
    assert.ok(err < 1e-12, `seed ${seed}: max |folded − literal| = ${err}`);
  }
});

for (const qMode of ["paper", "reference"] as QMode[]) {
  t(
    `sllConv apply (${qMode} q) equals the literal x − 2·convT(t ⊙ relu(conv(x, K) + b), K)`,
    () => {
      for (const [seed, kernel] of [[0, 3], [1, 5]]) {
        const [kp, kx] = split(randomKey(seed));
        const layer = sllConv({ inner: 4, kernel, qMode });
        const p = f64(layer.init(kp, [3, 6, 6]).params);
        const x = cast(normal(kx, [2, 3, 6, 6]), "float64");
        const pad = (kernel - 1) / 2;
        const tv = reshape(sllConvT(p, qMode), [1, 4, 1, 1]);
        const h = relu(add(conv2d(x, p.kernel, { padding: pad }), p.bias));
        const literal = sub(x, mul(convTranspose2d(mul(tv, h), p.kernel, { padding: pad }), 2));
        const err = maxAbsDiff(layer.apply(p, x), literal);
        assert.ok(err < 1e-12, `seed ${seed}, k ${kernel}: max |folded − literal| = ${err}`);
      }
    },
  );
}

for (const qMode of ["paper", "reference"] as QMode[]) {
  t(`sllConvOfPadded (${qMode} q): value and gradients of sllConv on the zero-padded input`, () => {
    // float32 (the CPU kernels' path: direct/Winograd convolutions on the real channels only)
    for (const [seed, c, C, kernel] of [[0, 1, 8, 3], [1, 3, 5, 5], [2, 4, 4, 3]]) {
      const [kp, kx] = split(randomKey(seed));
      const layer = sllConv({ inner: 6, kernel, qMode });
      const params = layer.init(kp, [C, 9, 10]).params;
      const x = normal(kx, [3, c, 9, 10]);
      const padded = (v: Tensor) => pad(v, [[0, 0], [0, C - c], [0, 0], [0, 0]]);
      // a loss that weighs every output element differently
      const w = normal(randomKey(seed + 10), [3, C, 9, 10]);
      type Args = { p: SllConvParams; v: Tensor };
      const loss = (f: (p: SllConvParams, v: Tensor) => Tensor) =>
        valueAndGrad((a: Args) => sum(mul(f(a.p, a.v), w)));
      const [yA, gA] = loss((p, v) => sllConvOfPadded(p, v, qMode))({ p: params, v: x });
      const [yB, gB] = loss((p, v) => layer.apply(p, padded(v)))({ p: params, v: x });
      const tol = (a: Tensor) => 1e-5 * (1 + Math.max(...Array.from(a.dataSync(), Math.abs)));
      assert.ok(maxAbsDiff(yA, yB) <= tol(yB), `seed ${seed}: loss`);
      for (const k of ["kernel", "bias", "q"] as const) {
        const err = maxAbsDiff(gA.p[k], gB.p[k]);
        assert.ok(err <= tol(gB.p[k]), `seed ${seed}: d${k} differs by ${err}`);
      }
      assert.ok(maxAbsDiff(gA.v, gB.v) <= tol(gB.v), `seed ${seed}: dx`);
      assert.deepEqual([...sllConvOfPadded(params, x, qMode).shape], [3, C, 9, 10]);
    }
  });
}

t("sllConvOfPadded: an input with more channels than the kernel is a TypeError", () => {
  const { params } = sllConv({ inner: 2 }).init(randomKey(0), [2, 4, 4]);
  assert.throws(() => sllConvOfPadded(params, normal(randomKey(1), [1, 3, 4, 4])), TypeError);
});

/**
 * The LOT convolution: per-frequency Newton–Schulz orthogonalisation (unitary once converged,
 * never expanding after few steps), the reference's init and shapes, norm preservation,
 * 1-Lipschitz property, gradients and CPU/WebGPU agreement.
 */
import assert from "node:assert/strict";
import { lotConv, lotDense, lotOrthogonalize } from "./lot.ts";
import { cmatmul, ctranspose } from "../tensor/complex.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { assertClose } from "../tests/helpers.ts";
import {
  arr,
  assertNormPreserving,
  cpuWebGpuTest,
  drawParams,
  f64,
  layerGradCheck,
  lipschitzTests,
  scopedTest,
} from "../tests/spectral_helpers.ts";

/** Largest singular value of each host complex matrix via the power method on Q*Q. */
function maxSingular(q: Tensor, iters = 200): number {
  const g = cmatmul(ctranspose(q), q); // [..., n, n, 2]
  const n = g.shape[g.rank - 2], per = n * n * 2, v = arr(g);
  let worst = 0;
  for (let b = 0; b < v.length / per; b++) {
    let x = Array.from({ length: n }, (_, i) => [1 + i * 0.1, 0.3]);
    let lam = 0;
    for (let it = 0; it < iters; it++) {
      const y = x.map((_, i) => {
        let r = 0, s = 0;
        for (let j = 0; j < n; j++) {
          const o = b * per + (i * n + j) * 2, [gr, gi] = [v[o], v[o + 1]];
          r += gr * x[j][0] - gi * x[j][1];
          s += gr * x[j][1] + gi * x[j][0];
        }
        return [r, s];
      });
      const nrm = Math.sqrt(y.reduce((a, [r, s]) => a + r * r + s * s, 0));
      lam = nrm / Math.sqrt(x.reduce((a, [r, s]) => a + r * r + s * s, 0));
      x = y.map(([r, s]) => [r / nrm, s / nrm]);
    }
    worst = Math.max(worst, Math.sqrt(lam));
  }
  return worst;
}

scopedTest("lotOrthogonalize: unitary once converged, never expanding after 1–10 steps", () => {
  const w = f64(1, [6, 3, 3, 2], 3);
  const q = lotOrthogonalize(w, 40, 0);
  const eye: number[] = [];
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) eye.push(i === j ? 1 : 0, 0);
  assertClose(arr(cmatmul(q, ctranspose(q))), Array(6).fill(eye).flat(), { rtol: 0, atol: 1e-9 });
  // badly conditioned: singular values far apart, few steps — still ≤ 1
  const bad = f64(2, [4, 3, 5, 2]);
  for (const it of [1, 3, 10]) {
    const s = maxSingular(lotOrthogonalize(bad, it));
    assert.ok(s <= 1 + 1e-9, `${it} steps: largest singular value ${s}`);
  }
});

scopedTest("lotConv: the reference's identity init for cin = cout, shapes, errors", () => {
  const layer = lotConv({ features: 3 });
  assert.deepEqual(layer.shapes!([3, 8, 8]), {
    outShape: [3, 8, 8],
    params: { weight: [3, 3, 3, 3], bias: [3] },
  });
  assert.deepEqual(lotConv({ features: 8, stride: 2 }).shapes!([2, 8, 8]).params.weight, [
    8,
    8,
    3,
    3,
  ]);
  // identity init: the layer is the identity map (up to the ε ridge)
  const p = drawParams(layer, [3, 4, 5], 0, "float64");
  const x = f64(3, [2, 3, 4, 5]);
  assertClose(arr(layer.apply(p, x)), arr(x), { rtol: 1e-4, atol: 1e-4 });
  assert.throws(() => lotConv({ features: 2, iterations: -1 }), /iterations must be/);
  assert.throws(() => lotConv({ features: 2, init: "zero" as "random" }), /init must be/);
});

scopedTest(
  "lotConv: norm preserving with circular padding, cin = cout, converged (ε = 0, 30 steps)",
  () => {
    assertNormPreserving(
      lotConv({ features: 3, padding: "circular", eps: 0, iterations: 30, init: "random" }),
      [3, 5, 4],
    );
    assertNormPreserving(lotDense({ features: 5, eps: 0, iterations: 30, init: "random" }), [5]);
  },
);

scopedTest("lotConv: gradients (weight, bias, input) match finite differences in float64", () => {
  layerGradCheck(lotConv({ features: 3, init: "random", iterations: 6 }), [3, 3, 4]);
  layerGradCheck(lotConv({ features: 2, init: "random", padding: "circular", iterations: 4 }), [
    3,
    4,
    3,
  ]);
});

lipschitzTests([
  ["lotConv square", lotConv({ features: 3, init: "random" }), [3, 4, 4]],
  ["lotConv cout > cin, 3 steps", lotConv({ features: 4, iterations: 3, padding: "circular" }), [
    2,
    4,
    4,
  ]],
  ["lotConv stride 2", lotConv({ features: 3, stride: 2 }), [1, 4, 4]],
  ["lotDense", lotDense({ features: 4 }), [5]],
]);

cpuWebGpuTest("lot", [
  [lotConv({ features: 3, init: "random" }), [3, 4, 4]],
  [lotDense({ features: 4, init: "random" }), [3]],
]);

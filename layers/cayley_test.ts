/**
 * The Cayley layers and the Fourier plumbing they share (layers/fourier.ts): the per-frequency
 * kernel reproduces conv2d (circular and zero padding), Cayley matrices are orthogonal/unitary,
 * the layers preserve norms, are 1-Lipschitz, have correct gradients and agree on CPU and WebGPU.
 */
import assert from "node:assert/strict";
import { cayleyConv, cayleyDense, cayleyDenseWeight } from "./cayley.ts";
import { applyFourier, cayley, ccayley, fourierKernel } from "./fourier.ts";
import { spaceToDepth } from "./soc.ts";
import { concat, conv2d, matmul, slice, swapLast } from "../tensor/ops.ts";
import { cmatmul, ctranspose } from "../tensor/complex.ts";
import type { Tensor } from "../tensor/tensor.ts";
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

/** x padded circularly by p on both spatial axes. */
function circularPad(x: Tensor, p: number): Tensor {
  const [b, c, h, w] = x.shape;
  const rows = concat([
    slice(x, [0, 0, h - p, 0], [b, c, p, w]),
    x,
    slice(x, [0, 0, 0, 0], [b, c, p, w]),
  ], 2);
  const hh = h + 2 * p;
  return concat([
    slice(rows, [0, 0, 0, w - p], [b, c, hh, p]),
    rows,
    slice(rows, [0, 0, 0, 0], [b, c, hh, p]),
  ], 3);
}

scopedTest(
  "fourier: per-frequency kernel reproduces circular conv2d (odd/even sizes, k 1, 3, 5; kernels larger than the grid fold)",
  () => {
    for (const [k, h, w] of [[3, 6, 5], [3, 4, 4], [1, 3, 4], [5, 3, 3], [3, 2, 2]]) {
      const weight = f64(1, [3, 2, k, k]), x = f64(2, [2, 2, h, w]);
      const want = conv2d(circularPad(x, (k - 1) / 2), weight);
      const got = applyFourier(fourierKernel(weight, [h, w]), x, 0);
      assertClose(arr(got), arr(want), { rtol: 1e-10, atol: 1e-12, what: `k ${k}, ${h}×${w}` });
    }
  },
);

scopedTest(
  "fourier: zero padding (pad k//2, FFT, crop) reproduces conv2d with padding k//2",
  () => {
    const weight = f64(3, [2, 3, 3, 3]), x = f64(4, [2, 3, 5, 6]);
    const got = applyFourier(fourierKernel(weight, [7, 8]), x, 1);
    assertClose(arr(got), arr(conv2d(x, weight, { padding: 1 })), { rtol: 1e-10, atol: 1e-12 });
  },
);

scopedTest(
  "soc's space-to-depth (the FFT layers' stride 2) is the reference's einops b c (h k1) (w k2) -> b (c k1 k2) h w",
  () => {
    const x = f64(5, [1, 2, 4, 6]);
    const y = arr(spaceToDepth(x, 2)), xv = arr(x);
    for (let c = 0; c < 2; c++) {
      for (let k1 = 0; k1 < 2; k1++) {
        for (let k2 = 0; k2 < 2; k2++) {
          for (let i = 0; i < 2; i++) {
            for (let j = 0; j < 3; j++) {
              const out = (((c * 4 + k1 * 2 + k2) * 2 + i) * 3) + j;
              assert.equal(y[out], xv[(c * 4 + i * 2 + k1) * 6 + j * 2 + k2]);
            }
          }
        }
      }
    }
  },
);

scopedTest("cayley: QᵀQ = I (tall, square), QQᵀ = I (wide); complex: Q*Q = I", () => {
  for (const [m, n] of [[5, 3], [4, 4], [2, 5]]) {
    const q = cayley(f64(6, [2, m, n], 2));
    const gram = m >= n ? matmul(swapLast(q), q) : matmul(q, swapLast(q));
    const r = Math.min(m, n);
    assertClose(arr(gram), [...eyeValues(r), ...eyeValues(r)], { rtol: 0, atol: 1e-12 });
  }
  for (const [m, n] of [[3, 3], [4, 2], [2, 3]]) {
    const q = ccayley(f64(7, [3, m, n, 2], 2));
    const gram = m >= n ? cmatmul(ctranspose(q), q) : cmatmul(q, ctranspose(q));
    const r = Math.min(m, n);
    assertClose(arr(gram), [0, 1, 2].flatMap(() => eyeValues(r, true)), { rtol: 0, atol: 1e-12 });
  }
});

scopedTest("cayleyDense: orthogonal weight, α from the drawn weight, shapes and errors", () => {
  const layer = cayleyDense({ features: 4 });
  const p = drawParams(layer, [4], 0, "float64");
  const q = cayleyDenseWeight(p);
  assertClose(arr(matmul(swapLast(q), q)), eyeValues(4), { rtol: 0, atol: 1e-12 });
  const w = arr(p.weight);
  assertClose(arr(p.alpha), [Math.sqrt(w.reduce((s, v) => s + v * v, 0))], { rtol: 1e-12 });
  assert.deepEqual(layer.shapes!([6]).params, { weight: [4, 6], bias: [4], alpha: [1] });
  assert.throws(() => layer.init(randomKey(0), [2, 3]), /cayleyDense: input shape must be \[\*\]/);
});

scopedTest("cayleyConv: shapes for stride 1/2 and both paddings, clear errors", () => {
  assert.deepEqual(cayleyConv({ features: 5 }).shapes!([3, 8, 8]), {
    outShape: [5, 8, 8],
    params: { weight: [5, 3, 3, 3], bias: [5], alpha: [] },
  });
  const s2 = cayleyConv({ features: 6, stride: 2 }).shapes!([3, 8, 6]);
  assert.deepEqual(s2.outShape, [6, 4, 3]);
  assert.deepEqual(s2.params.weight, [6, 12, 1, 1]); // the reference: 4·cin, max(1, k//2)
  assert.throws(
    () => cayleyConv({ features: 2, stride: 2 }).shapes!([1, 5, 4]),
    /stride 2 needs even/,
  );
  assert.throws(
    () => cayleyConv({ features: 2, padding: "same" as "zero" }).shapes!([1, 4, 4]),
    /padding must be "circular" or "zero"/,
  );
});

scopedTest(
  "cayleyConv: norm preserving (‖f(x)−f(y)‖ = ‖x−y‖, ‖Jᵀv‖ = ‖v‖) for cout = cin, isometry for cout > cin",
  () => {
    assertNormPreserving(cayleyConv({ features: 3 }), [3, 6, 5]);
    assertNormPreserving(cayleyConv({ features: 3, kernel: 5 }), [3, 6, 6]);
    assertNormPreserving(cayleyConv({ features: 5 }), [2, 4, 4], { adjoint: false });
    assertNormPreserving(cayleyConv({ features: 8, stride: 2 }), [2, 4, 4]);
    assertNormPreserving(cayleyDense({ features: 6 }), [6]);
    assertNormPreserving(cayleyDense({ features: 7 }), [4], { adjoint: false });
  },
);

scopedTest(
  "cayleyConv: gradients (weight, bias, α, input) match finite differences in float64",
  () => {
    layerGradCheck(cayleyConv({ features: 3 }), [2, 4, 3]);
    layerGradCheck(cayleyConv({ features: 2, padding: "zero" }), [3, 3, 4]);
    layerGradCheck(cayleyDense({ features: 3 }), [5]);
  },
);

lipschitzTests([
  ["cayleyConv square", cayleyConv({ features: 3 }), [3, 4, 4]],
  ["cayleyConv cout < cin, zero padding", cayleyConv({ features: 2, padding: "zero" }), [
    3,
    4,
    4,
  ]],
  ["cayleyConv stride 2", cayleyConv({ features: 4, stride: 2 }), [2, 4, 4]],
  ["cayleyDense wide", cayleyDense({ features: 3 }), [6]],
]);

cpuWebGpuTest("cayley", [
  [cayleyConv({ features: 3 }), [2, 4, 4]],
  [cayleyDense({ features: 4 }), [3]],
]);

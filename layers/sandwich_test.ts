/**
 * The Sandwich layers: the dense layer against a float64 host evaluation of the paper's
 * equation, the convolution with a 1×1 kernel against the dense layer per pixel, shapes, the
 * 1-Lipschitz property (ψ and α included), gradients and CPU/WebGPU agreement.
 */
import assert from "node:assert/strict";
import { sandwichConv, sandwichDense, type SandwichParams } from "./sandwich.ts";
import { cayley, rescale } from "./fourier.ts";
import { div, reshape, transpose } from "../tensor/ops.ts";
import { assertClose } from "../tests/helpers.ts";
import {
  arr,
  cpuWebGpuTest,
  drawParams,
  f64,
  layerGradCheck,
  lipschitzTests,
  scopedTest,
} from "../tests/spectral_helpers.ts";

scopedTest(
  "sandwichDense: y = √2·AᵀΨ·relu(√2·Ψ⁻¹B·x + b) against a float64 host evaluation",
  () => {
    const [din, out] = [3, 4];
    const layer = sandwichDense({ features: out });
    const p0 = drawParams(layer, [din], 1, "float64");
    const p: SandwichParams = { ...p0, psi: f64(2, [out], 0.7), bias: f64(3, [out], 0.5) };
    const q = arr(cayley(rescale(p.weight, p.alpha))); // [out, out + din], tested in cayley_test
    const psi = arr(p.psi), b = arr(p.bias), x = arr(f64(4, [2, din]));
    const want: number[] = [];
    for (let n = 0; n < 2; n++) {
      const h = Array.from({ length: out }, (_, i) => {
        let s = 0;
        for (let j = 0; j < din; j++) s += q[i * (out + din) + out + j] * x[n * din + j];
        return Math.exp(psi[i]) * Math.max(0, Math.SQRT2 * Math.exp(-psi[i]) * s + b[i]);
      });
      for (let j = 0; j < out; j++) {
        let s = 0;
        for (let i = 0; i < out; i++) s += q[i * (out + din) + j] * h[i];
        want.push(Math.SQRT2 * s);
      }
    }
    assertClose(arr(layer.apply(p, f64(4, [2, din]))), want, { rtol: 1e-12, atol: 1e-13 });
    assert.deepEqual(layer.shapes!([3]).params, {
      weight: [4, 7],
      bias: [4],
      alpha: [1],
      psi: [4],
    });
  },
);

scopedTest("sandwichConv with a 1×1 kernel is sandwichDense at every pixel", () => {
  const conv = sandwichConv({ features: 3, kernel: 1 });
  const dense = sandwichDense({ features: 3 });
  const pc = drawParams(conv, [2, 4, 3], 5, "float64");
  const pd: SandwichParams = {
    weight: reshape(pc.weight, [3, 5]),
    bias: pc.bias,
    // the conv rescales by the norm over all 4·2 frequencies of the 4×3 grid: √8·‖W‖
    alpha: reshape(div(pc.alpha, Math.sqrt(8)), [1]),
    psi: f64(6, [3], 0.5),
  };
  const x = f64(7, [2, 2, 4, 3]);
  const yc = conv.apply({ ...pc, psi: pd.psi }, x);
  const pixels = reshape(transpose(x, [0, 2, 3, 1]), [-1, 2]);
  const yd = transpose(reshape(dense.apply(pd, pixels), [2, 4, 3, 3]), [0, 3, 1, 2]);
  assertClose(arr(yc), arr(yd), { rtol: 1e-10, atol: 1e-12 });
  assert.deepEqual(sandwichConv({ features: 4, stride: 2 }).shapes!([2, 8, 8]), {
    outShape: [4, 4, 4],
    params: { weight: [4, 12, 1, 1], bias: [4], alpha: [], psi: [4] },
  });
});

scopedTest(
  "sandwich: gradients (weight, bias, α, ψ, input) match finite differences in float64",
  () => {
    layerGradCheck(sandwichConv({ features: 2 }), [2, 3, 4]);
    layerGradCheck(sandwichDense({ features: 3 }), [4]);
  },
);

lipschitzTests([
  ["sandwichConv", sandwichConv({ features: 3 }), [2, 4, 4]],
  ["sandwichConv stride 2", sandwichConv({ features: 3, stride: 2 }), [1, 4, 4]],
  ["sandwichDense", sandwichDense({ features: 5 }), [4]],
]);

cpuWebGpuTest("sandwich", [
  [sandwichConv({ features: 3 }), [2, 4, 4]],
  [sandwichDense({ features: 4 }), [3]],
]);

/**
 * householder activation: the documented values (θ = π/2 is MaxMin up to the pairing), sinCos,
 * norm and gradient-norm preservation, gradients, CPU vs WebGPU and the 1-Lipschitz property.
 */
import assert from "node:assert/strict";
import { householder, sinCos } from "./householder.ts";
import { tensor } from "../tensor/ops.ts";
import { randomKey } from "../tensor/random.ts";
import { scope } from "../tensor/scope.ts";
import { isOneLipschitz } from "../testing.ts";
import { assertClose, leakFreeTest } from "../tests/helpers.ts";
import {
  assertBackendsAgree,
  assertLayerGradients,
  assertNormPreserving,
} from "../tests/layer_checks.ts";

leakFreeTest("householder: θ = π/2 sorts each pair (min first), other θ reflect across θ/2", () => {
  scope(() => {
    const act = householder();
    const { params } = act.init(randomKey(0), [4]);
    // pairs (1, 5) and (3, 2): min in the first half, max in the second
    assertClose(act.apply(params, tensor([[1, 3, 5, 2]])).dataSync(), [1, 2, 5, 3]);
    const flat = householder({ theta: 0 });
    const p0 = flat.init(randomKey(0), [2]).params;
    // θ = 0: mirror line y = 0; y < 0 (s = −y > 0) is reflected to −y
    assertClose(flat.apply(p0, tensor([[2, -3], [2, 3]])).dataSync(), [2, 3, 2, 3]);
  });
});

leakFreeTest("householder: sinCos matches Math.sin/Math.cos over many turns", () => {
  scope(() => {
    const xs = [-1e3, -31.4, -7, -Math.PI, -1, 0, 0.3, 1.5707963, 3.2, 10, 123.456, 1e3];
    const [s, c] = sinCos(tensor(xs, { dtype: "float64" }));
    assertClose(s.dataSync(), xs.map(Math.sin), { rtol: 0, atol: 1e-13 });
    assertClose(c.dataSync(), xs.map(Math.cos), { rtol: 0, atol: 1e-13 });
  });
});

leakFreeTest("householder: ‖f(z)‖ = ‖z‖ and ‖Jᵀv‖ = ‖v‖ (images and vectors)", () => {
  // piecewise orthogonal through 0: norms (not all distances) and gradient norms are kept
  assertNormPreserving(householder({ theta: 1.1 }), [4, 3, 3], { pairs: false });
  assertNormPreserving(householder({ theta: -0.4 }), [6], { pairs: false });
  scope(() => {
    const act = householder({ theta: 2.2 });
    const p = act.init(randomKey(0), [6]).params;
    const z = tensor([[1, -2, 3, 0.5, 4, -1]]);
    const n = (a: ArrayLike<number>): number => Math.hypot(...Array.from(a));
    assert.ok(Math.abs(n(act.apply(p, z).dataSync()) - n(z.dataSync())) < 1e-5);
  });
});

leakFreeTest("householder: gradients match finite differences", () => {
  assertLayerGradients(householder({ theta: 0.7 }), [4, 2, 2]);
  assertLayerGradients(householder({ theta: 2 }), [6]);
});

leakFreeTest("householder: CPU and WebGPU agree (forward and parameter gradients)", async () => {
  await assertBackendsAgree(householder({ theta: 0.9 }), [4, 3, 3]);
});

for (
  const [name, inShape] of [["householder conv", [4, 3, 3]], ["householder dense", [6]]] as const
) {
  leakFreeTest(`1-Lipschitz: ${name}`, async () => {
    const r = await isOneLipschitz(householder(), { inShape, seed: 1502, name, numRuns: 4 });
    console.log(`  ${r.verdict}: ${r.summary}`);
  });
}

leakFreeTest("householder: odd channels and wrong inputs are clear errors", () => {
  assert.throws(() => householder().shapes!([3, 4, 4]), /householder: input shape .* even C/);
  assert.throws(() => householder().shapes!([4, 4]), /householder: input shape/);
});

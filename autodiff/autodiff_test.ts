/**
 * Reverse mode: grad and valueAndGrad over parameter trees, stopGradient, second order through
 * nested grad, zeros for leaves the output ignores, and the scalar-output check.
 * @module
 */
import assert from "node:assert/strict";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import * as o from "../tensor/ops.ts";
import { grad, valueAndGrad, vjp } from "./autodiff.ts";
import { leakFreeTest } from "../tests/helpers.ts";

leakFreeTest("grad/valueAndGrad over trees, stopGradient, second order", () => {
  scope(() => {
    const params = { w: o.tensor([1, 2]), layers: [{ b: o.tensor([3]) }] };
    const f = (p: typeof params) =>
      o.add(o.sum(o.mul(p.w, p.w)), o.sum(o.mul(p.layers[0].b, o.stopGradient(p.layers[0].b))));
    const [v, g] = valueAndGrad(f)(params);
    assert.equal(v.dataSync()[0], 1 + 4 + 9);
    assert.deepEqual(Array.from(g.w.dataSync()), [2, 4]);
    assert.deepEqual(Array.from(g.layers[0].b.dataSync()), [3]);
    // d²/dx² of x³ at 2 = 12
    const d2 = grad((x: Tensor) => o.sum(grad((y: Tensor) => o.sum(o.mul(o.mul(y, y), y)))(x)))(
      o.tensor([2]),
    );
    assert.deepEqual(Array.from(d2.dataSync()), [12]);
    // a leaf the output does not depend on gets zeros
    const [, pb] = vjp((a: Tensor, _b: Tensor) => o.mul(a, 2), o.tensor([1]), o.tensor([5, 6]));
    const [ga, gb] = pb(o.tensor([1]));
    assert.deepEqual(Array.from(ga.dataSync()), [2]);
    assert.deepEqual(Array.from(gb.dataSync()), [0, 0]);
    assert.throws(
      () => valueAndGrad((x: Tensor) => o.mul(x, 2))(o.ones([2])),
      /must return a scalar tensor/,
    );
  });
});

/**
 * Errors raised while differentiating name the function the user called (`grad`,
 * `valueAndGrad`, `vjp`), not the internal recorder.
 */
import assert from "node:assert/strict";
import { memory, scope } from "../tensor/scope.ts";
import { mul, sum, tensor } from "../tensor/ops.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { grad, valueAndGrad, vjp } from "./autodiff.ts";

function t(name: string, fn: () => void): void {
  Deno.test(name, () => {
    const before = memory().tensors;
    scope(fn);
    assert.equal(memory().tensors, before, "live tensors back to baseline");
  });
}

const square = (x: Tensor): Tensor => mul(x, x);

t("a non-scalar f is reported by grad / valueAndGrad under their own names", () => {
  const x = tensor([1, 2]);
  assert.throws(() => grad(square)(x), {
    name: "TypeError",
    message: /^grad: f must return a scalar tensor \(one element\), got shape \[2\]/,
  });
  assert.throws(() => valueAndGrad(square)(x), {
    name: "TypeError",
    message: /^valueAndGrad: f must return a scalar tensor/,
  });
});

t("a disposed parameter is reported by the function called", () => {
  const x = tensor([1, 2]);
  x.dispose();
  const f = (p: Tensor): Tensor => sum(mul(p, p));
  assert.throws(() => grad(f)(x), /^Error: grad: tensor #\d+ \(shape \[2\]/);
  assert.throws(() => valueAndGrad(f)(x), /^Error: valueAndGrad: tensor #\d+/);
  assert.throws(() => vjp(f, x), /^Error: vjp: tensor #\d+/);
});

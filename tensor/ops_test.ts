/**
 * The ops namespace as users meet it: broadcasting laws (a + b equals an explicit broadcastTo,
 * and commutes), error messages naming shapes, axes and dtypes across families, and numbers as
 * operands leaving no tensors behind, traced or not.
 * @module
 */
import fc from "fast-check";
import assert from "node:assert/strict";
import { normalHost } from "./prng.ts";
import { dispose, memory, scope } from "./scope.ts";
import type { Tensor } from "./tensor.ts";
import * as o from "./ops.ts";
import { grad } from "../autodiff/autodiff.ts";
import { check, leakFreeTest } from "../tests/helpers.ts";

const dim = fc.integer({ min: 1, max: 4 });

leakFreeTest("broadcasting: a + b equals explicit broadcastTo then add, and commutes", () => {
  check(
    fc.property(
      fc.array(dim, { maxLength: 4 }),
      fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
      fc.integer(),
      (s, ones, seed) => {
        scope(() => {
          const sb = s.map((d, i) => (ones[i] ? 1 : d)).slice(seed & 1);
          const a = o.tensor(normalHost([seed >>> 0, 1], s.reduce((x, y) => x * y, 1)), {
            shape: s,
          });
          const b = o.tensor(normalHost([seed >>> 0, 2], sb.reduce((x, y) => x * y, 1)), {
            shape: sb,
          });
          const ab = o.add(a, b), ba = o.add(b, a);
          assert.deepEqual(ab.shape, s);
          assert.deepEqual(ab.dataSync(), ba.dataSync());
          assert.deepEqual(ab.dataSync(), o.add(a, o.broadcastTo(b, s)).dataSync());
        });
      },
    ),
    100,
  );
});

leakFreeTest("broadcasting errors name the shapes and the axis", () => {
  scope(() => {
    assert.throws(
      () => o.add(o.zeros([2, 3]), o.zeros([4])),
      /Cannot broadcast shapes \[2, 3\] and \[4\]: axis 1 .* sizes 3 and 4/,
    );
    assert.throws(
      () => o.matmul(o.zeros([2, 3]), o.zeros([4, 5])),
      /matmul: inner dimensions differ: \[2, 3\] · \[4, 5\]/,
    );
    assert.throws(
      () => o.sum(o.zeros([2, 3]), 2),
      /sum: axis 2 is out of range for a tensor of rank 2 \(shape \[2, 3\]\)/,
    );
    assert.throws(
      () => o.reshape(o.zeros([2, 3]), [4]),
      /reshape: cannot reshape \[2, 3\] \(6 elements\) to \[4\]/,
    );
    assert.throws(
      () => o.conv2d(o.zeros([1, 2, 5, 5]), o.zeros([3, 4, 3, 3])),
      /conv2d: input \[1, 2, 5, 5\] has 2 channels but weight \[3, 4, 3, 3\] expects 4/,
    );
    assert.throws(
      () => o.add(o.zeros([2]), o.zeros([2], "int32")),
      /add: dtypes differ \(float32 and int32\)/,
    );
    assert.throws(
      () => o.pad(o.zeros([2, 3]), [[0, 0], [3, 0]], { mode: "reflect" }),
      /reflect padding \[3, 0\] must be smaller than axis 1 of size 3/,
    );
  });
});

leakFreeTest("numbers as operands leave no tensors behind, traced or not", () => {
  const x = o.ones([2]);
  const before = memory().tensors;
  const x2 = o.add(x, 2);
  const y = o.mul(x2, 3);
  assert.equal(memory().tensors, before + 2);
  dispose([x, x2, y]);
  scope(() => {
    const g = grad((v: Tensor) => o.sum(o.mul(o.add(v, 2), 3)))(o.ones([2]));
    assert.deepEqual(Array.from(g.dataSync()), [3, 3]);
  });
});

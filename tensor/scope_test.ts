/**
 * Memory scopes: scope frees intermediates and moves its result out, keep and dispose are
 * explicit, use after dispose names the tensor, a Promise or an exception inside scope frees all.
 * @module
 */
import assert from "node:assert/strict";
import { dispose, keep, memory, scope } from "./scope.ts";
import * as o from "./ops.ts";
import { leakFreeTest } from "../tests/helpers.ts";

leakFreeTest("scope frees intermediates and keeps the result; keep/dispose are explicit", () => {
  const base = memory().tensors;
  const kept = scope(() => {
    const a = o.ones([3]);
    const b = o.add(a, 1);
    return { b, n: 3 };
  });
  assert.equal(memory().tensors, base + 1);
  assert.deepEqual(Array.from(kept.b.dataSync()), [2, 2, 2]);
  const p = scope(() => keep(o.zeros([2])));
  scope(() => {
    o.add(p, 1);
  });
  assert.equal(p.isDisposed, false);
  dispose([kept.b, p]);
  assert.equal(memory().tensors, base);
  assert.throws(
    () => o.add(p, 1),
    /add: tensor #\d+ \(shape \[2\], float32, made by full\) was already disposed/,
  );
  assert.throws(() => scope(() => Promise.resolve(1)), /scope: fn returned a Promise/);
  // an exception inside scope frees everything created there
  assert.throws(() =>
    scope(() => {
      o.ones([5]);
      throw new Error("boom");
    }), /boom/);
  assert.equal(memory().tensors, base);
});

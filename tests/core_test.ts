/**
 * Core semantics beyond gradients: broadcasting laws, conv2d against naive loops and the
 * conv/convTranspose adjoint identity, scopes/keep/dispose and use-after-dispose errors, error
 * messages naming shapes and axes, PRNG determinism and Threefry test vectors.
 */
import fc from "fast-check";
import assert from "node:assert/strict";
import { normalHost, threefry2x32 } from "../tensor/prng.ts";
import { dispose, keep, memory, scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import * as o from "../tensor/ops.ts";
import { normal, permutation, randomKey, split, uniform } from "../tensor/random.ts";
import { grad, valueAndGrad, vjp } from "../autodiff/autodiff.ts";
import { assertClose, check, leakFreeTest } from "./helpers.ts";
import { convArb, naiveConv2d } from "./conv_ref.ts";

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

leakFreeTest("conv2d matches naive loops (float32 path, incl. fast kernels)", () => {
  check(
    fc.property(convArb(), (c) => {
      scope(() => {
        const x = Array.from(normalHost([c.seed, 1], c.xs.reduce((a, b) => a * b)));
        const w = Array.from(normalHost([c.seed, 2], c.ws.reduce((a, b) => a * b)));
        const y = o.conv2d(o.tensor(x, { shape: c.xs }), o.tensor(w, { shape: c.ws }), {
          stride: c.stride,
          padding: c.padding,
        });
        assert.deepEqual(y.shape, c.ys);
        assertClose(y.dataSync(), naiveConv2d(x, c.xs, w, c.ws, c.stride, c.padding), {
          rtol: 1e-4,
          atol: 1e-4,
          what: "conv2d",
        });
      });
    }),
    60,
  );
});

leakFreeTest("convTranspose2d is the adjoint of conv2d: <conv(x), y> = <x, convT(y)>", () => {
  check(
    fc.property(convArb(), fc.constantFrom("float32" as const, "float64" as const), (c, dtype) => {
      scope(() => {
        const x = o.tensor(normalHost([c.seed, 1], c.xs.reduce((a, b) => a * b)), {
          shape: c.xs,
          dtype,
        });
        const w = o.tensor(normalHost([c.seed, 2], c.ws.reduce((a, b) => a * b)), {
          shape: c.ws,
          dtype,
        });
        const y = o.tensor(normalHost([c.seed, 3], c.ys.reduce((a, b) => a * b)), {
          shape: c.ys,
          dtype,
        });
        const opts = { stride: c.stride, padding: c.padding };
        const lhs = o.sum(o.mul(o.conv2d(x, w, opts), y)).dataSync()[0];
        const xt = o.convTranspose2d(y, w, { ...opts, outputPadding: c.outputPadding });
        assert.deepEqual(xt.shape, c.xs);
        const rhs = o.sum(o.mul(x, xt)).dataSync()[0];
        const tol = dtype === "float64" ? 1e-10 : 1e-4;
        assert.ok(Math.abs(lhs - rhs) <= tol * (1 + Math.abs(lhs)), `${lhs} vs ${rhs}`);
      });
    }),
    60,
  );
});

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

Deno.test("Threefry-2x32 matches the published test vectors", () => {
  const hex = (a: number[]) => a.map((x) => x.toString(16).padStart(8, "0")).join(" ");
  assert.equal(hex(threefry2x32(0, 0, 0, 0)), "6b200159 99ba4efe");
  assert.equal(
    hex(threefry2x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff)),
    "1cb996fc bb002be7",
  );
  assert.equal(
    hex(threefry2x32(0x13198a2e, 0x03707344, 0x243f6a88, 0x85a308d3)),
    "c4923a9c 483df7a0",
  );
});

leakFreeTest("random: same key same numbers, split keys differ, sane moments, permutations", () => {
  scope(() => {
    const k = randomKey(42);
    assert.deepEqual(normal(k, [5]).dataSync(), normal(k, [5]).dataSync());
    const [a, b] = split(k);
    assert.notDeepEqual(normal(a, [5]).dataSync(), normal(b, [5]).dataSync());
    const x = Array.from(normal(randomKey(1), [20000]).dataSync());
    const m = x.reduce((s, v) => s + v, 0) / x.length;
    const v = x.reduce((s, y) => s + (y - m) ** 2, 0) / x.length;
    assert.ok(Math.abs(m) < 0.03 && Math.abs(v - 1) < 0.05, `mean ${m} var ${v}`);
    const u = uniform(randomKey(2), [1000], -2, 3).dataSync();
    assert.ok(u.every((t) => t >= -2 && t < 3));
    const p = Array.from(permutation(randomKey(3), 100).dataSync()).sort((q, r) => q - r);
    assert.deepEqual(p, Array.from({ length: 100 }, (_, i) => i));
    assert.throws(() => split([1, 2, 3] as unknown as [number, number]), /split: expected a key/);
  });
});

/**
 * The conv family: conv2d against naive loops (the float32 path, fast kernels included) and
 * convTranspose2d as the adjoint of conv2d, <conv(x), y> = <x, convT(y)>, in float32 and float64.
 * @module
 */
import fc from "fast-check";
import assert from "node:assert/strict";
import { normalHost } from "../prng.ts";
import { scope } from "../scope.ts";
import * as o from "../ops.ts";
import { assertClose, check, leakFreeTest } from "../../tests/helpers.ts";
import { convArb, naiveConv2d } from "../../tests/conv_ref.ts";

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

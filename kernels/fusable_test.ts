/**
 * The fusers' shared list (kernels/fusable.ts): every elementwise primitive of the ELEMENTWISE
 * table (unary, binary, each compare op, where, cast to each dtype) and broadcastTo is fusable in
 * both languages with the table's own expression, and primitives outside it are fused by neither.
 */
import assert from "node:assert/strict";
import { DTYPES } from "./dtype.ts";
import { ELEMENTWISE, elementwiseNames } from "./elementwise.ts";
import { fusableExprIn } from "./fusable.ts";
import type { PrimName, PrimParams } from "./prims.ts";

const LANGS = ["js", "wgsl"] as const;

Deno.test("fusable: every ELEMENTWISE entry fuses, in JS and WGSL, as the table writes it", () => {
  for (const lang of LANGS) {
    for (const out of DTYPES) {
      for (const inp of DTYPES) {
        for (const n of [...elementwiseNames("unary"), ...elementwiseNames("binary"), "where"]) {
          const prim = n as "neg";
          assert.equal(
            fusableExprIn(lang, prim, {}, out, inp),
            ELEMENTWISE[prim][lang](out, inp),
            `${lang} ${n} ${out}(${inp})`,
          );
        }
        for (const op of elementwiseNames("compare")) {
          const params = { op } as PrimParams["compare"];
          assert.equal(
            fusableExprIn(lang, "compare", params, out, inp),
            ELEMENTWISE[op][lang](out, inp),
          );
        }
        assert.equal(
          fusableExprIn(lang, "cast", { dtype: out }, out, inp),
          ELEMENTWISE.cast[lang](out, inp),
        );
      }
    }
    assert.equal(fusableExprIn(lang, "broadcastTo", { shape: [2] }, "float32", "float32"), "a");
  }
});

Deno.test("fusable: reductions, products and layout primitives are fused by neither backend", () => {
  const others: [PrimName, unknown][] = [
    ["sum", { axes: [0], keepDims: false }],
    ["max", { axes: [0], keepDims: false }],
    ["matmul", {}],
    ["transpose", { perm: [1, 0] }],
  ];
  for (const lang of LANGS) {
    for (const [prim, params] of others) {
      assert.equal(fusableExprIn(lang, prim, params as never, "float32", "float32"), null, prim);
    }
  }
});

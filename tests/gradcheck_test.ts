/**
 * The gradient check: every primitive's row of the shared case table (tests/prim_cases.ts, also
 * fed to the backend conformance suite) and one row per composite. fast-check draws shapes and
 * values; each case checks the forward pass against a host reference where one is given, and
 * the vjp against central finite differences in float64 via ⟨u, J v⟩ = ⟨Jᵀu, v⟩ wherever the
 * primitive has a vjp rule and a float64 output.
 * @module
 */
import fc from "fast-check";
import assert from "node:assert/strict";
import type { PrimName } from "../kernels/prims.ts";
import { bindPrim, PRIM_NAMES, PRIMS } from "../tensor/prims/mod.ts";
import { sizeOf } from "../kernels/shape.ts";
import { normalHost, uniformHost } from "../tensor/prng.ts";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import * as o from "../tensor/ops.ts";
import { vjp } from "../autodiff/autodiff.ts";
import { assertClose, check, leakFreeTest } from "./helpers.ts";
import { describeCase, type Kind, PRIM_CASES, type PrimCase, vals } from "./prim_cases.ts";

/** One input of a case: float64 values (differentiated unless `constant`) or int32. */
interface In {
  shape: number[];
  values: number[];
  int?: boolean;
  constant?: boolean;
}

/** A drawn case: inputs, the function under test and an optional host reference. */
interface Case {
  inputs: In[];
  f: (...xs: Tensor[]) => Tensor;
  /** Expected forward output from the host values. */
  ref?: (...xs: number[][]) => number[];
  /** Not differentiable: only the forward (and absence of gradient) is checked. */
  nondiff?: boolean;
}

type Row = fc.Arbitrary<Case>;

// ----- drawing helpers --------------------------------------------------------------------------

const dim = fc.integer({ min: 1, max: 4 });
const shapeArb = (min = 0, max = 3): fc.Arbitrary<number[]> =>
  fc.array(dim, { minLength: min, maxLength: max });
const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });

function inp(shape: number[], seed: number, kind?: Kind): In {
  return { shape, values: vals(seed, sizeOf(shape), kind) };
}

// ----- rows ------------------------------------------------------------------------------------

function unaryRow(
  f: (x: Tensor) => Tensor,
  ref: (v: number) => number,
  kind?: Kind,
  nondiff = false,
): Row {
  return fc.tuple(shapeArb(), seedArb).map(([s, seed]) => ({
    inputs: [inp(s, seed, kind)],
    f,
    ref: (x) => x.map(ref),
    nondiff,
  }));
}

const COMPOSITE_ROWS: Record<string, Row> = {
  castFloat64: unaryRow((x) => o.cast(x, "float64"), (v) => v),
  castFloat32: unaryRow(
    (x) => o.cast(o.cast(x, "float32"), "float64"),
    Math.fround,
    "normal",
    true,
  ),
  castInt32: unaryRow(
    (x) => o.cast(o.cast(o.mul(x, 3), "int32"), "float64"),
    (v) => Math.trunc(3 * v),
    "normal",
    true,
  ),
  relu: unaryRow(o.relu, (v) => Math.max(v, 0), "awayFromZero"),
  square: unaryRow(o.square, (v) => v * v),
  clip: unaryRow((x) => o.clip(x, -0.5, 0.5), (v) => Math.min(Math.max(v, -0.5), 0.5), "normal"),
  mean: fc.tuple(shapeArb(1, 3), seedArb).map(([s, seed]) => ({
    inputs: [inp(s, seed)],
    f: (x) => o.mean(x),
    ref: (x) => [x.reduce((a, b) => a + b, 0) / x.length],
  })),
  min: fc.tuple(shapeArb(1, 3), seedArb).map(([s, seed]) => ({
    inputs: [{ shape: s, values: vals(seed, sizeOf(s), "distinct") }],
    f: (x) => o.min(x, -1),
  })),
  logsumexp: fc.tuple(shapeArb(1, 3), seedArb).map(([s, seed]) => ({
    inputs: [inp(s, seed)],
    f: (x) => o.logsumexp(x, -1),
  })),
  softmax: fc.tuple(shapeArb(1, 3), seedArb).map(([s, seed]) => ({
    inputs: [inp(s, seed)],
    f: (x) => o.softmax(x, -1),
  })),
  logSoftmax: fc.tuple(shapeArb(1, 3), seedArb).map(([s, seed]) => ({
    inputs: [inp(s, seed)],
    f: (x) => o.logSoftmax(x, 0),
  })),
  norm: fc.tuple(shapeArb(1, 3), seedArb).map(([s, seed]) => ({
    inputs: [inp(s, seed, "awayFromZero")],
    f: (x) => o.norm(x, -1),
  })),
  crossEntropy: fc.tuple(dim, fc.integer({ min: 2, max: 5 }), seedArb).map(([b, k, seed]) => ({
    inputs: [inp([b, k], seed), {
      shape: [b],
      values: Array.from(uniformHost([seed, 8], b), (u) => Math.floor(u * k)),
      int: true,
      constant: true,
    }],
    f: o.crossEntropy,
  })),
  oneHot: fc.tuple(dim, fc.integer({ min: 1, max: 5 }), seedArb).map(([b, k, seed]) => ({
    inputs: [{
      shape: [b],
      values: Array.from(uniformHost([seed, 8], b), (u) => Math.floor(u * k)),
      int: true,
      constant: true,
    }],
    f: (l) => o.oneHot(l, k, "float64"),
    ref: (l) => l.flatMap((v) => Array.from({ length: k }, (_, j) => +(j === v))),
    nondiff: true,
  })),
  reflectPad: fc.tuple(fc.integer({ min: 2, max: 5 }), fc.integer({ min: 2, max: 5 }), seedArb).map(
    ([h, w, seed]) => ({
      inputs: [inp([1, h, w], seed)],
      f: (x) =>
        o.pad(x, [[0, 0], [1, Math.min(2, h - 1)], [Math.min(2, w - 1), 1]], { mode: "reflect" }),
    }),
  ),
  reverse: fc.tuple(shapeArb(1, 3), seedArb).map(([s, seed]) => ({
    inputs: [inp(s, seed)],
    f: (x) => o.reverse(x, 0),
  })),
  expandDims: fc.tuple(shapeArb(0, 3), seedArb).map(([s, seed]) => ({
    inputs: [inp(s, seed)],
    f: (x) => o.expandDims(x, 0),
  })),
  // the matmul vjp's Gram path (one tensor on both sides: (G + Gᵀ)·A in one product), batched
  // or not, weighted by a non-symmetric constant so G ≠ Gᵀ
  gram: fc.tuple(dim, dim, shapeArb(0, 1), seedArb).map(([m, k, batch, seed]) => ({
    inputs: [inp([...batch, m, k], seed), {
      ...inp([m, m], seed + 1),
      constant: true,
    }],
    f: (x: Tensor, c: Tensor) => o.mul(o.matmulT(x, x, false, true), c),
    ref: (a: number[], c: number[]) => {
      const out: number[] = [];
      for (let z = 0; z < a.length / (m * k); z++) {
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < m; j++) {
            let acc = 0;
            for (let p = 0; p < k; p++) acc += a[z * m * k + i * k + p] * a[z * m * k + j * k + p];
            out.push(acc * c[i * m + j]);
          }
        }
      }
      return out;
    },
  })),
};

// ----- the check ---------------------------------------------------------------------------------

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function runCase(c: Case, name: string): void {
  scope(() => {
    const xs = c.inputs.map((i) =>
      o.tensor(i.values, { shape: i.shape, dtype: i.int ? "int32" : "float64" })
    );
    const y = c.f(...xs);
    const yv = y.dataSync();
    if (c.ref) {
      const expected = c.ref(...c.inputs.map((i) => i.values));
      assertClose(yv, expected, { rtol: 1e-9, atol: 1e-9, what: `${name} forward` });
    }
    const diffIdx = c.inputs.map((_, i) => i).filter((i) =>
      !c.inputs[i].int && !c.inputs[i].constant
    );
    if (c.nondiff || y.dtype !== "float64") return;
    const u = normalHost([99, yv.length], yv.length);
    const ct = o.tensor(u, { shape: y.shape, dtype: "float64" });
    const g = (...d: Tensor[]): Tensor => {
      const all = [...xs];
      diffIdx.forEach((k, j) => (all[k] = d[j]));
      return c.f(...all);
    };
    const [, pb] = vjp(g, ...diffIdx.map((k) => xs[k]));
    const cts = pb(ct) as Tensor[];
    const dirs = diffIdx.map((k, j) => normalHost([123, j], xs[k].size));
    const lhs = cts.reduce((s, t, j) => s + dot(t.dataSync(), dirs[j]), 0);
    const h = 1e-6;
    const shifted = (sgn: number): Float64Array =>
      g(...diffIdx.map((k, j) =>
        o.add(
          xs[k],
          o.tensor(dirs[j].map((d) => sgn * h * d), { shape: xs[k].shape, dtype: "float64" }),
        )
      ))
        .dataSync() as Float64Array;
    const fp = shifted(1), fm = shifted(-1);
    const rhs = dot(u, fp.map((v, i) => (v - fm[i]) / (2 * h)));
    const scale = Math.abs(lhs) + Math.abs(rhs) + 1e-6;
    assert.ok(
      Math.abs(lhs - rhs) <= 1e-5 * scale,
      `${name}: vjp ⟨Jᵀu, v⟩ = ${lhs} but finite differences ⟨u, Jv⟩ = ${rhs} (shapes ${
        JSON.stringify(c.inputs.map((i) => i.shape))
      })`,
    );
  });
}

/** A primitive's case as a gradient-check case: float inputs in float64, its rule's vjp. */
function primCase<P extends PrimName>(prim: P, c: PrimCase<P>): Case {
  return {
    inputs: c.inputs.map((x) => ({ shape: x.shape, values: x.values, int: x.int })),
    f: (...xs) => bindPrim(prim, xs, c.params),
    ref: c.ref,
    nondiff: !PRIMS[prim].vjp,
  };
}

Deno.test("every primitive has a gradient-check row", () => {
  const missing = PRIM_NAMES.filter((p) => !(p in PRIM_CASES));
  assert.deepEqual(missing, [], `no row in tests/prim_cases.ts for ${missing.join(", ")}`);
});

for (const prim of PRIM_NAMES) {
  leakFreeTest(
    `gradcheck primitive ${prim}`,
    () =>
      check(
        fc.property(PRIM_CASES[prim] as fc.Arbitrary<PrimCase<PrimName>>, (c) =>
          runCase(primCase(prim, c), `${prim} (${describeCase(c)})`)),
        100,
      ),
  );
}
for (const [name, row] of Object.entries(COMPOSITE_ROWS)) {
  leakFreeTest(
    `gradcheck composite ${name}`,
    () => check(fc.property(row, (c) => runCase(c, name)), 50),
  );
}

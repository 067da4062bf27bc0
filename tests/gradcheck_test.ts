/**
 * The gradient-check table: one row per primitive (typed over PrimName, so a primitive without a
 * row does not compile) and one per composite. fast-check draws shapes and a value seed; each
 * case checks the forward pass against a host reference where one is given, and the vjp against
 * central finite differences in float64 via ⟨u, J v⟩ = ⟨Jᵀu, v⟩.
 */
import fc from "fast-check";
import { AssertionError } from "node:assert/strict";
import type { PrimName } from "../kernels/prims.ts";
import { PRIM_NAMES } from "../tensor/prims/mod.ts";
import { sizeOf, stridesOf } from "../kernels/shape.ts";
import { normalHost, permutationHost, uniformHost } from "../tensor/prng.ts";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import * as o from "../tensor/ops.ts";
import { vjp } from "../autodiff/autodiff.ts";
import { assertClose, check, leakFreeTest } from "./helpers.ts";
import { convArb, naiveConv2d } from "./conv_ref.ts";

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

function values(
  seed: number,
  n: number,
  kind: "normal" | "positive" | "awayFromZero" = "normal",
): number[] {
  const v = Array.from(normalHost([seed >>> 0, 7], n));
  if (kind === "positive") return v.map((x) => Math.abs(x) + 0.5);
  if (kind === "awayFromZero") return v.map((x) => (x >= 0 ? x + 0.1 : x - 0.1));
  return v;
}

/** Distinct values (a shuffled grid plus noise) so max/argmax have no ties. */
function distinct(seed: number, n: number): number[] {
  const p = permutationHost([seed >>> 0, 3], n);
  const u = uniformHost([seed >>> 0, 4], n, 0, 0.3);
  return Array.from(p, (k, i) => k - n / 2 + u[i]);
}

/** Shape `s` with some axes set to 1 and some leading axes dropped (a broadcast operand). */
function broadcastable(s: number[], seed: number): number[] {
  const u = uniformHost([seed >>> 0, 11], s.length + 1);
  const drop = Math.floor(u[s.length] * (s.length + 1));
  return s.slice(drop).map((d, i) => (u[i + drop] < 0.3 ? 1 : d));
}

function inp(shape: number[], seed: number, kind?: "normal" | "positive" | "awayFromZero"): In {
  return { shape, values: values(seed, sizeOf(shape), kind) };
}

// ----- host references ---------------------------------------------------------------------------

function bcastRef(
  shapes: number[][],
  out: number[],
  xs: number[][],
  f: (...v: number[]) => number,
): number[] {
  const n = sizeOf(out);
  const res = new Array<number>(n);
  const ost = stridesOf(out);
  for (let i = 0; i < n; i++) {
    const args = xs.map((x, k) => {
      const s = shapes[k];
      let off = 0, st = 1;
      for (let d = s.length - 1; d >= 0; d--) {
        const od = d + out.length - s.length;
        const idx = Math.floor(i / ost[od]) % out[od];
        off += (s[d] === 1 ? 0 : idx) * st;
        st *= s[d];
      }
      return x[off];
    });
    res[i] = f(...args);
  }
  return res;
}

function outShapeOf(...shapes: number[][]): number[] {
  const r = Math.max(...shapes.map((s) => s.length));
  return Array.from(
    { length: r },
    (_, i) => Math.max(...shapes.map((s) => s[s.length - r + i] ?? 1)),
  );
}

// ----- rows ------------------------------------------------------------------------------------

function unaryRow(
  f: (x: Tensor) => Tensor,
  ref: (v: number) => number,
  kind?: "normal" | "positive" | "awayFromZero",
  nondiff = false,
): Row {
  return fc.tuple(shapeArb(), seedArb).map(([s, seed]) => ({
    inputs: [inp(s, seed, kind)],
    f,
    ref: (x) => x.map(ref),
    nondiff,
  }));
}

function binaryRow(
  f: (a: Tensor, b: Tensor) => Tensor,
  ref: (a: number, b: number) => number,
  bKind?: "positive",
): Row {
  return fc.tuple(shapeArb(0, 4), seedArb, fc.boolean()).map(([s, seed, swap]) => {
    const sa = s, sb = broadcastable(s, seed);
    const [A, B] = swap ? [sb, sa] : [sa, sb];
    const out = outShapeOf(A, B);
    const a = inp(A, seed), b = inp(B, seed + 1, bKind);
    return { inputs: [a, b], f, ref: (x, y) => bcastRef([A, B], out, [x, y], ref) };
  });
}

/** maximum/minimum with operands kept ≥ 0.05 apart, so no ties sit inside the FD step. */
function extremumRow(
  f: (a: Tensor, b: Tensor) => Tensor,
  ref: (a: number, b: number) => number,
): Row {
  return fc.tuple(shapeArb(1, 3), seedArb).map(([s, seed]) => {
    const a = inp(s, seed);
    const b = { shape: s, values: a.values.map((v, i) => v + (i % 2 ? 0.3 : -0.3)) };
    return { inputs: [a, b], f, ref: (x, y) => x.map((v, i) => ref(v, y[i])) };
  });
}

const axesArb = (rank: number): fc.Arbitrary<number[]> =>
  fc.subarray(Array.from({ length: rank }, (_, i) => i));

const PRIM_ROWS: Record<PrimName, Row> = {
  neg: unaryRow(o.neg, (v) => -v),
  exp: unaryRow(o.exp, Math.exp),
  log: unaryRow(o.log, Math.log, "positive"),
  sqrt: unaryRow(o.sqrt, Math.sqrt, "positive"),
  abs: unaryRow(o.abs, Math.abs, "awayFromZero"),
  sign: unaryRow(o.sign, Math.sign, "awayFromZero", true),
  add: binaryRow(o.add, (a, b) => a + b),
  sub: binaryRow(o.sub, (a, b) => a - b),
  mul: binaryRow(o.mul, (a, b) => a * b),
  div: binaryRow(o.div, (a, b) => a / b, "positive"),
  maximum: extremumRow(o.maximum, Math.max),
  minimum: extremumRow(o.minimum, Math.min),
  compare: fc.tuple(shapeArb(1, 3), seedArb, fc.constantFrom(o.less, o.greaterEqual, o.equal)).map((
    [s, seed, cmp],
  ) => {
    const a = inp(s, seed), b = inp(s, seed + 1);
    b.values = b.values.map((v, i) => (i % 3 === 0 ? a.values[i] : v)); // some ties
    const ref = cmp === o.less
      ? (x: number, y: number) => +(x < y)
      : cmp === o.equal
      ? (x: number, y: number) => +(x === y)
      : (x: number, y: number) => +(x >= y);
    return {
      inputs: [a, b],
      f: (x, y) => o.cast(cmp(x, y), "float64"),
      ref: (x, y) => x.map((v, i) => ref(v, y[i])),
      nondiff: true,
    };
  }),
  where: fc.tuple(shapeArb(1, 3), seedArb).map(([s, seed]) => {
    const c = { shape: broadcastable(s, seed), values: [] as number[], int: true, constant: true };
    c.values = uniformHost([seed, 5], sizeOf(c.shape)).map((
      u,
    ) => (u < 0.5 ? 1 : 0)) as unknown as number[];
    c.values = Array.from(c.values);
    const a = inp(s, seed + 1), b = inp(broadcastable(s, seed + 2), seed + 3);
    const out = outShapeOf(c.shape, a.shape, b.shape);
    return {
      inputs: [c, a, b],
      f: o.where,
      ref: (cv, av, bv) =>
        bcastRef([c.shape, a.shape, b.shape], out, [cv, av, bv], (q, x, y) => (q ? x : y)),
    };
  }),
  cast: unaryRow((x) => o.cast(x, "float64"), (v) => v),
  sum: fc.tuple(shapeArb(0, 4), seedArb, fc.boolean()).chain(([s, seed, keep]) =>
    axesArb(s.length).map((axes) => ({
      inputs: [inp(s, seed)],
      f: (x: Tensor) => o.sum(x, axes, keep),
    }))
  ),
  max: fc.tuple(shapeArb(1, 3), seedArb, fc.boolean()).chain(([s, seed, keep]) =>
    axesArb(s.length).map((axes) => ({
      inputs: [{ shape: s, values: distinct(seed, sizeOf(s)) }],
      f: (x: Tensor) => o.max(x, axes, keep),
    }))
  ),
  argmax: fc.tuple(shapeArb(1, 3), seedArb).map(([s, seed]) => ({
    inputs: [{ shape: s, values: distinct(seed, sizeOf(s)) }],
    f: (x) => o.cast(o.argmax(x, -1), "float64"),
    ref: (x) => {
      const n = s[s.length - 1], out: number[] = [];
      for (let i = 0; i < x.length; i += n) {
        const row = x.slice(i, i + n);
        out.push(row.indexOf(Math.max(...row)));
      }
      return out;
    },
    nondiff: true,
  })),
  matmul: fc.tuple(dim, dim, dim, shapeArb(0, 2), seedArb, fc.boolean(), fc.boolean()).map((
    [m, k, n, batch, seed, tA, tB],
  ) => {
    const ba = broadcastable(batch, seed), bb = broadcastable(batch, seed + 9);
    const A = [...ba, ...(tA ? [k, m] : [m, k])], B = [...bb, ...(tB ? [n, k] : [k, n])];
    const outB = outShapeOf(ba, bb);
    return {
      inputs: [inp(A, seed), inp(B, seed + 1)],
      f: (x: Tensor, y: Tensor) => o.matmulT(x, y, tA, tB),
      ref: (a: number[], b: number[]) => {
        const res: number[] = [];
        const nb = sizeOf(outB);
        const ia = bcastRef(
          [ba],
          outB,
          [Array.from({ length: sizeOf(ba) }, (_, i) => i)],
          (v) => v,
        );
        const ib = bcastRef(
          [bb],
          outB,
          [Array.from({ length: sizeOf(bb) }, (_, i) => i)],
          (v) => v,
        );
        for (let z = 0; z < nb; z++) {
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < n; j++) {
              let acc = 0;
              for (let p = 0; p < k; p++) {
                const av = a[ia[z] * m * k + (tA ? p * m + i : i * k + p)];
                const bv = b[ib[z] * k * n + (tB ? j * k + p : p * n + j)];
                acc += av * bv;
              }
              res.push(acc);
            }
          }
        }
        return res;
      },
    };
  }),
  reshape: fc.tuple(shapeArb(1, 3), seedArb).map(([s, seed]) => ({
    inputs: [inp(s, seed)],
    f: (x) => o.reshape(x, [sizeOf(s)]),
    ref: (x) => x,
  })),
  transpose: fc.tuple(shapeArb(1, 4), seedArb).map(([s, seed]) => {
    const perm = Array.from(permutationHost([seed, 1], s.length));
    return { inputs: [inp(s, seed)], f: (x) => o.transpose(x, perm) };
  }),
  broadcastTo: fc.tuple(shapeArb(1, 3), seedArb).map(([s, seed]) => {
    const src = broadcastable(s, seed);
    return {
      inputs: [inp(src, seed)],
      f: (x) => o.broadcastTo(x, s),
      ref: (x) => bcastRef([src], s, [x], (v) => v),
    };
  }),
  slice: fc.tuple(shapeArb(1, 3), seedArb).map(([s, seed]) => {
    const u = uniformHost([seed, 2], 2 * s.length);
    const begin = s.map((d, i) => Math.floor(u[i] * d));
    const size = s.map((d, i) => 1 + Math.floor(u[s.length + i] * (d - begin[i])));
    return { inputs: [inp(s, seed)], f: (x) => o.slice(x, begin, size) };
  }),
  pad: fc.tuple(shapeArb(1, 3), seedArb).map(([s, seed]) => {
    const u = uniformHost([seed, 2], 2 * s.length);
    const widths = s.map((_, i) =>
      [Math.floor(u[2 * i] * 3), Math.floor(u[2 * i + 1] * 3)] as [number, number]
    );
    return { inputs: [inp(s, seed)], f: (x) => o.pad(x, widths, { value: 0 }) };
  }),
  concat: fc.tuple(shapeArb(1, 3), seedArb, fc.integer({ min: 1, max: 3 })).map(
    ([s, seed, parts]) => {
      const axis = seed % s.length;
      const shapes = Array.from(
        { length: parts },
        (_, i) => s.map((d, a) => (a === axis ? 1 + ((seed >> i) & 1) : d)),
      );
      return {
        inputs: shapes.map((sh, i) => inp(sh, seed + i)),
        f: (...xs) => o.concat(xs, axis),
      };
    },
  ),
  gather: fc.tuple(shapeArb(1, 3), seedArb, fc.integer({ min: 1, max: 5 })).map(([s, seed, m]) => {
    const axis = seed % s.length;
    const idx = Array.from(uniformHost([seed, 6], m), (u) => Math.floor(u * s[axis]));
    return {
      inputs: [inp(s, seed), { shape: [m], values: idx, int: true, constant: true }],
      f: (x, i) => o.gather(x, i, axis),
    };
  }),
  scatterAdd: fc.tuple(shapeArb(1, 3), seedArb, fc.integer({ min: 1, max: 4 })).map(
    ([s, seed, size]) => {
      const axis = seed % s.length;
      const idx = Array.from(uniformHost([seed, 6], s[axis]), (u) => Math.floor(u * size));
      return {
        inputs: [inp(s, seed), { shape: [s[axis]], values: idx, int: true, constant: true }],
        f: (g, i) => o.scatterAdd(g, i, axis, size),
      };
    },
  ),
  conv2d: convArb().map((c) => ({
    inputs: [inp(c.xs, c.seed), inp(c.ws, c.seed + 1)],
    f: (x, w) => o.conv2d(x, w, { stride: c.stride, padding: c.padding }),
    ref: (x, w) => naiveConv2d(x, c.xs, w, c.ws, c.stride, c.padding),
  })),
  convTranspose2d: convArb().map((c) => ({
    inputs: [inp(c.ys, c.seed), inp(c.ws, c.seed + 1)],
    f: (y, w) =>
      o.convTranspose2d(y, w, {
        stride: c.stride,
        padding: c.padding,
        outputPadding: c.outputPadding,
      }),
  })),
  conv2dFilterGrad: convArb().map((c) => ({
    inputs: [inp(c.xs, c.seed), inp(c.ys, c.seed + 1)],
    f: (x, gy) =>
      o.conv2dFilterGrad(x, gy, {
        stride: c.stride,
        padding: c.padding,
        kernel: [c.ws[2], c.ws[3]],
      }),
  })),
  avgPool2d: poolArb().map((p) => ({
    inputs: [inp(p.xs, p.seed)],
    f: (x) =>
      o.avgPool2d(x, { size: p.size, stride: p.stride, padding: p.padding, divisor: p.divisor }),
  })),
  avgPool2dTranspose: poolArb().map((p) => ({
    inputs: [inp(p.ys, p.seed)],
    f: (g) =>
      o.avgPool2dTranspose(g, {
        size: p.size,
        stride: p.stride,
        padding: p.padding,
        divisor: p.divisor,
        inSize: [p.xs[2], p.xs[3]],
      }),
  })),
};

function poolArb(): fc.Arbitrary<{
  xs: number[];
  ys: number[];
  size: [number, number];
  stride: [number, number];
  padding: [number, number];
  divisor: number;
  seed: number;
}> {
  return fc.record({
    b: fc.integer({ min: 1, max: 2 }),
    c: fc.integer({ min: 1, max: 3 }),
    h: fc.integer({ min: 2, max: 8 }),
    k: fc.integer({ min: 1, max: 4 }),
    s: fc.integer({ min: 1, max: 4 }),
    p: fc.integer({ min: 0, max: 1 }),
    divisor: fc.constantFrom(1, 4, 9),
    seed: seedArb,
  }).map((r) => {
    const k = Math.min(r.k, r.h), p = Math.min(r.p, Math.floor(k / 2));
    const ho = Math.floor((r.h + 2 * p - k) / r.s) + 1;
    return {
      xs: [r.b, r.c, r.h, r.h],
      ys: [r.b, r.c, ho, ho],
      size: [k, k] as [number, number],
      stride: [r.s, r.s] as [number, number],
      padding: [p, p] as [number, number],
      divisor: r.divisor,
      seed: r.seed,
    };
  });
}

const COMPOSITE_ROWS: Record<string, Row> = {
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
    inputs: [{ shape: s, values: distinct(seed, sizeOf(s)) }],
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
    if (c.nondiff) return;
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
    if (!(Math.abs(lhs - rhs) <= 1e-5 * scale)) {
      throw new AssertionError({
        message: `${name}: vjp ⟨Jᵀu, v⟩ = ${lhs} but finite differences ⟨u, Jv⟩ = ${rhs} (shapes ${
          JSON.stringify(c.inputs.map((i) => i.shape))
        })`,
      });
    }
  });
}

Deno.test("every primitive has a gradient-check row", () => {
  const missing = PRIM_NAMES.filter((p) => !(p in PRIM_ROWS));
  if (missing.length) {
    throw new AssertionError({ message: `no gradient-check row for ${missing.join(", ")}` });
  }
});

for (const [name, row] of Object.entries(PRIM_ROWS)) {
  leakFreeTest(
    `gradcheck primitive ${name}`,
    () => check(fc.property(row, (c) => runCase(c, name)), 100),
  );
}
for (const [name, row] of Object.entries(COMPOSITE_ROWS)) {
  leakFreeTest(
    `gradcheck composite ${name}`,
    () => check(fc.property(row, (c) => runCase(c, name)), 50),
  );
}

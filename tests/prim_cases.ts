/**
 * The per-primitive case table shared by the gradient check (tests/gradcheck_test.ts) and the
 * backend conformance suite (tests/backend_conformance_test.ts): for every primitive, a
 * fast-check generator of inputs and params, with a host reference of the forward pass where
 * one is cheap. Typed over PrimName, so a primitive without a row does not compile; both suites
 * also fail at run time on a name of PRIM_NAMES without a row. Values are float32-exact and kept
 * away from kinks and ties (abs at 0, max ties, maximum's crossing), so finite differences hold.
 * @module
 */
import fc from "fast-check";
import type { BinaryName, PrimName, PrimParams, UnaryName } from "../kernels/prims.ts";
import { sizeOf, stridesOf } from "../kernels/shape.ts";
import { naiveConv2d } from "./conv_ref.ts";
import { fftDraw, irfft2Ref, rfft2Ref } from "./fft_ref.ts";
import { boostPermutedDiagonal, solveRef } from "./solve_ref.ts";

/** One input: float values (float64 or float32 as the suite runs them) or int32. */
export interface CaseInput {
  /** Dimensions. */
  shape: number[];
  /** Values, row-major. */
  values: number[];
  /** An int32 input (indices, conditions, or an int32 variant of the kernel). */
  int?: boolean;
}

/** A drawn case of primitive P. */
export interface PrimCase<P extends PrimName> {
  /** The primitive's inputs. */
  inputs: CaseInput[];
  /** Its static parameters. */
  params: PrimParams[P];
  /** A seed for whatever else the suite draws (cotangents). */
  seed: number;
  /** The expected forward output from the input values, where a host reference is given. */
  ref?: (...xs: number[][]) => number[];
}

/** A row: the generator of one primitive's cases. */
export type PrimRow<P extends PrimName> = fc.Arbitrary<PrimCase<P>>;

// ----- drawing -----------------------------------------------------------------------------------

/** A small deterministic generator of uniforms in [0, 1) from a seed (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** How input values are drawn. */
export type Kind =
  | "normal"
  | "positive"
  | "awayFromZero"
  | "small-ints"
  | "distinct"
  | "lowGrid"
  | "highGrid";

/** `n` float32-exact values of `kind` from `seed`. */
export function vals(seed: number, n: number, kind: Kind = "normal"): number[] {
  const r = rng(seed);
  if (kind === "distinct") {
    // a shuffled grid plus noise < 0.5: no two values tie (max, argmax)
    const order = Array.from({ length: n }, (_, i) => i).sort(() => r() - 0.5);
    return order.map((k) => Math.fround(k - n / 2 + 0.4 * r()));
  }
  return Array.from({ length: n }, () => {
    const u = r();
    switch (kind) {
      case "positive":
        return Math.fround(0.1 + 2.9 * u);
      case "awayFromZero":
        return Math.fround((0.5 + 1.5 * r()) * (u < 0.5 ? -1 : 1));
      case "small-ints":
        return Math.floor(u * 5) - 2;
      // integers plus [0, 0.1) against integers plus [0.5, 0.6): the two never come within 0.4
      case "lowGrid":
        return Math.fround(Math.floor(u * 5) - 2 + 0.1 * r());
      case "highGrid":
        return Math.fround(Math.floor(u * 5) - 2 + 0.5 + 0.1 * r());
      default:
        return Math.fround(4 * u - 2);
    }
  });
}

const seedArb = fc.integer({ min: 1, max: 2 ** 31 - 1 });
const dim = (max = 5) => fc.integer({ min: 1, max });
const shapeArb = (min = 0, max = 4, maxDim = 5): fc.Arbitrary<number[]> =>
  fc.array(dim(maxDim), { minLength: min, maxLength: max });

const inp = (shape: number[], seed: number, kind?: Kind): CaseInput => ({
  shape,
  values: vals(seed, sizeOf(shape), kind),
});

/** The same input as small int32 values when `int` (forward-only checks of int32 kernels). */
function maybeInt(x: CaseInput, int: boolean): CaseInput {
  return int ? { ...x, values: x.values.map((v) => Math.round(v * 2)), int: true } : x;
}

/** A shape broadcastable to `s`: some leading axes dropped, some axes set to 1. */
function partner(s: number[], seed: number): number[] {
  const r = rng(seed ^ 0x5bd1e995);
  const drop = Math.floor(r() * (s.length + 1) * 0.5);
  return s.slice(drop).map((d) => (r() < 0.35 ? 1 : d));
}

function axesOf(rank: number, mask: number): number[] {
  return Array.from({ length: rank }, (_, i) => i).filter((i) => (mask >> i) & 1);
}

const windowOut = (h: number, k: number, s: number, p: number) =>
  Math.floor((h + 2 * p - k) / s) + 1;

// ----- host references ---------------------------------------------------------------------------

/** The numpy broadcast of `shapes`. */
function outShapeOf(...shapes: number[][]): number[] {
  const r = Math.max(0, ...shapes.map((s) => s.length));
  return Array.from(
    { length: r },
    (_, i) => Math.max(1, ...shapes.map((s) => s[s.length - r + i] ?? 1)),
  );
}

/** f applied elementwise to `xs` broadcast from `shapes` to `out`. */
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

/** Host matmul op(a)·op(b) with broadcast batch axes. */
function matmulRef(
  [ba, bb]: number[][],
  [m, k, n]: number[],
  tA: boolean,
  tB: boolean,
): (a: number[], b: number[]) => number[] {
  return (a, b) => {
    const outB = outShapeOf(ba, bb);
    const idx = (s: number[]) =>
      bcastRef([s], outB, [Array.from({ length: sizeOf(s) }, (_, i) => i)], (v) => v);
    const ia = idx(ba), ib = idx(bb), res: number[] = [];
    for (let z = 0; z < sizeOf(outB); z++) {
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let acc = 0;
          for (let p = 0; p < k; p++) {
            acc += a[ia[z] * m * k + (tA ? p * m + i : i * k + p)] *
              b[ib[z] * k * n + (tB ? j * k + p : p * n + j)];
          }
          res.push(acc);
        }
      }
    }
    return res;
  };
}

/** Host argmax along `axis` (first index on ties). */
function argmaxRef(shape: number[], axis: number): (x: number[]) => number[] {
  return (x) => {
    const n = shape[axis], inner = sizeOf(shape.slice(axis + 1));
    const outer = sizeOf(shape.slice(0, axis)), res: number[] = [];
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let best = 0;
        for (let j = 1; j < n; j++) {
          if (x[(o * n + j) * inner + i] > x[(o * n + best) * inner + i]) best = j;
        }
        res.push(best);
      }
    }
    return res;
  };
}

const COMPARE: Record<PrimParams["compare"]["op"], (a: number, b: number) => boolean> = {
  eq: (a, b) => a === b,
  ne: (a, b) => a !== b,
  lt: (a, b) => a < b,
  le: (a, b) => a <= b,
  gt: (a, b) => a > b,
  ge: (a, b) => a >= b,
};

// ----- rows --------------------------------------------------------------------------------------

function unaryRow<P extends UnaryName>(ref: (v: number) => number, kind?: Kind): PrimRow<P> {
  return fc.tuple(shapeArb(), seedArb).map(([s, seed]) => ({
    inputs: [inp(s, seed, kind)],
    params: {} as PrimParams[P],
    seed,
    ref: (x) => x.map(ref),
  }));
}

/** a ∘ b with one operand broadcast; `kinds` draw the two operands' values. */
function binaryRow<P extends BinaryName>(
  ref: (a: number, b: number) => number,
  kinds: [Kind, Kind] = ["normal", "normal"],
  swappable = true,
): PrimRow<P> {
  return fc.tuple(shapeArb(), seedArb, fc.boolean()).map(([s, seed, swap]) => {
    const t = partner(s, seed);
    const [sa, sb] = swap && swappable ? [t, s] : [s, t];
    return {
      inputs: [inp(sa, seed, kinds[0]), inp(sb, seed + 1, kinds[1])],
      params: {} as PrimParams[P],
      seed,
      ref: (x, y) => bcastRef([sa, sb], outShapeOf(sa, sb), [x, y], ref),
    };
  });
}

function convDraw() {
  return fc.record({
    b: dim(2),
    c: dim(3),
    o: dim(3),
    h: fc.integer({ min: 3, max: 7 }),
    w: fc.integer({ min: 3, max: 7 }),
    kh: dim(3),
    kw: dim(3),
    sh: dim(2),
    sw: dim(2),
    ph: fc.integer({ min: 0, max: 1 }),
    pw: fc.integer({ min: 0, max: 1 }),
    seed: seedArb,
  });
}

function poolDraw() {
  return fc.record({
    b: dim(2),
    c: dim(3),
    h: fc.integer({ min: 2, max: 8 }),
    w: fc.integer({ min: 2, max: 8 }),
    k: dim(3),
    s: dim(3),
    p: fc.nat(1),
    div: fc.constantFrom(0, 4),
    seed: seedArb,
  }).filter((g) => g.h + 2 * g.p >= g.k && g.w + 2 * g.p >= g.k && 2 * g.p <= g.k).map((g) => ({
    ...g,
    ho: windowOut(g.h, g.k, g.s, g.p),
    wo: windowOut(g.w, g.k, g.s, g.p),
    params: {
      size: [g.k, g.k] as [number, number],
      stride: [g.s, g.s] as [number, number],
      padding: [g.p, g.p] as [number, number],
      divisor: g.div || g.k * g.k,
    },
  }));
}

/** The table: one row per primitive. */
export const PRIM_CASES: { [P in PrimName]: PrimRow<P> } = {
  neg: unaryRow((v) => -v),
  exp: unaryRow(Math.exp),
  log: unaryRow(Math.log, "positive"),
  sqrt: unaryRow(Math.sqrt, "positive"),
  abs: unaryRow(Math.abs, "awayFromZero"),
  sign: unaryRow(Math.sign, "small-ints"),
  add: binaryRow((a, b) => a + b),
  sub: binaryRow((a, b) => a - b),
  mul: binaryRow((a, b) => a * b),
  div: binaryRow((a, b) => a / b, ["normal", "awayFromZero"], false),
  maximum: binaryRow(Math.max, ["lowGrid", "highGrid"]),
  minimum: binaryRow(Math.min, ["lowGrid", "highGrid"]),
  compare: fc.tuple(
    shapeArb(),
    seedArb,
    fc.constantFrom("eq", "ne", "lt", "le", "gt", "ge" as const),
  ).map(([s, seed, op]) => {
    const t = partner(s, seed);
    return {
      inputs: [inp(s, seed, "small-ints"), inp(t, seed + 1, "small-ints")],
      params: { op },
      seed,
      ref: (x, y) => bcastRef([s, t], outShapeOf(s, t), [x, y], (a, b) => +COMPARE[op](a, b)),
    };
  }),
  where: fc.tuple(shapeArb(), seedArb).map(([s, seed]) => {
    const sc = partner(s, seed + 7), sb = partner(s, seed);
    const cond = { shape: sc, values: vals(seed + 2, sizeOf(sc)).map((v) => (v > 0 ? 1 : 0)) };
    return {
      inputs: [{ ...cond, int: true }, inp(s, seed), inp(sb, seed + 1)],
      params: {},
      seed,
      ref: (c, a, b) =>
        bcastRef([sc, s, sb], outShapeOf(sc, s, sb), [c, a, b], (q, x, y) => (q ? x : y)),
    };
  }),
  cast: fc.tuple(shapeArb(), seedArb, fc.constantFrom("float32", "int32" as const), fc.boolean())
    .map(([s, seed, dtype, fromInt]) => ({
      inputs: [fromInt ? { ...inp(s, seed, "small-ints"), int: true } : inp(s, seed)],
      params: { dtype },
      seed,
      ref: (x) => x.map(dtype === "int32" ? Math.trunc : Math.fround),
    })),
  sum: fc.tuple(shapeArb(0, 4, 6), seedArb, fc.nat(15), fc.boolean(), fc.boolean()).map((
    [s, seed, mask, keepDims, int],
  ) => ({
    inputs: [maybeInt(inp(s, seed), int)],
    params: { axes: axesOf(s.length, mask), keepDims },
    seed,
  })),
  max: fc.tuple(shapeArb(0, 4, 6), seedArb, fc.nat(15), fc.boolean(), fc.boolean()).map((
    [s, seed, mask, keepDims, int],
  ) => ({
    inputs: [int ? maybeInt(inp(s, seed), true) : inp(s, seed, "distinct")],
    params: { axes: axesOf(s.length, mask), keepDims },
    seed,
  })),
  argmax: fc.tuple(shapeArb(1, 4, 6), seedArb, fc.nat(3), fc.boolean(), fc.boolean()).map((
    [s, seed, a, keepDims, int],
  ) => ({
    inputs: [int ? maybeInt(inp(s, seed), true) : inp(s, seed, "distinct")],
    params: { axis: a % s.length, keepDims },
    seed,
    ref: argmaxRef(s, a % s.length),
  })),
  // small sizes, plus sizes that take the WebGPU wide kernel (n > 16) and its vec4 paths (m, k,
  // n multiples of 4: A copied transposed, B copied by 4×4 blocks, whole-vec4 stores) or not
  matmul: fc.tuple(
    shapeArb(0, 2, 3),
    fc.oneof(dim(6), fc.constantFrom(8, 12, 20)),
    fc.oneof(dim(9), fc.constantFrom(8, 16, 20)),
    fc.oneof(dim(7), fc.constantFrom(17, 20, 24, 36)),
    seedArb,
    fc.boolean(),
    fc.boolean(),
  ).map(([batch, m, k, n, seed, transA, transB]) => {
    const bb = partner(batch, seed);
    return {
      inputs: [
        inp([...batch, ...(transA ? [k, m] : [m, k])], seed),
        inp([...bb, ...(transB ? [n, k] : [k, n])], seed + 1),
      ],
      params: { transA, transB },
      seed,
      ref: matmulRef([batch, bb], [m, k, n], transA, transB),
    };
  }),
  reshape: fc.tuple(shapeArb(), seedArb).map(([s, seed]) => ({
    inputs: [inp(s, seed)],
    params: { shape: [...s].reverse() },
    seed,
    ref: (x) => x,
  })),
  transpose: fc.tuple(shapeArb(1, 5), seedArb, fc.boolean()).map(([s, seed, int]) => {
    const r = rng(seed);
    const perm = s.map((_, i) => i).sort(() => r() - 0.5);
    return { inputs: [maybeInt(inp(s, seed), int)], params: { perm }, seed };
  }),
  broadcastTo: fc.tuple(shapeArb(), seedArb).map(([s, seed]) => {
    const src = partner(s, seed);
    return {
      inputs: [inp(src, seed)],
      params: { shape: s },
      seed,
      ref: (x) => bcastRef([src], s, [x], (v) => v),
    };
  }),
  slice: fc.tuple(shapeArb(1, 4, 6), seedArb).map(([s, seed]) => {
    const r = rng(seed);
    const begin = s.map((d) => Math.floor(r() * d));
    const size = s.map((d, i) => 1 + Math.floor(r() * (d - begin[i])));
    return { inputs: [inp(s, seed)], params: { begin, size }, seed };
  }),
  pad: fc.tuple(shapeArb(1, 4), seedArb, fc.constantFrom(0, 1.5)).map(([s, seed, value]) => {
    const r = rng(seed);
    const widths = s.map(() => [Math.floor(r() * 3), Math.floor(r() * 3)] as [number, number]);
    return { inputs: [inp(s, seed)], params: { widths, value }, seed };
  }),
  concat: fc.tuple(shapeArb(1, 4), seedArb, fc.integer({ min: 1, max: 3 }), fc.nat(3)).map((
    [s, seed, count, a],
  ) => {
    const axis = a % s.length;
    const r = rng(seed);
    const inputs = Array.from({ length: count }, (_, i) => {
      const sh = [...s];
      sh[axis] = 1 + Math.floor(r() * 3);
      return inp(sh, seed + i);
    });
    return { inputs, params: { axis }, seed };
  }),
  gather: fc.tuple(shapeArb(1, 4), seedArb, fc.nat(3), dim(7), fc.boolean()).map((
    [s, seed, a, m, int],
  ) => {
    const axis = a % s.length;
    const r = rng(seed);
    const idx = Array.from({ length: m }, () => Math.floor(r() * s[axis]));
    return {
      inputs: [maybeInt(inp(s, seed), int), { shape: [m], values: idx, int: true }],
      params: { axis },
      seed,
    };
  }),
  scatterAdd: fc.tuple(shapeArb(1, 4), seedArb, fc.nat(3), dim(6)).map(([s, seed, a, size]) => {
    const axis = a % s.length;
    const r = rng(seed);
    const idx = Array.from({ length: s[axis] }, () => Math.floor(r() * size));
    return {
      inputs: [inp(s, seed), { shape: [s[axis]], values: idx, int: true }],
      params: { axis, size },
      seed,
    };
  }),
  conv2d: convDraw().filter((g) => g.h + 2 * g.ph >= g.kh && g.w + 2 * g.pw >= g.kw).map((g) => {
    const xs = [g.b, g.c, g.h, g.w], ws = [g.o, g.c, g.kh, g.kw];
    const stride: [number, number] = [g.sh, g.sw], padding: [number, number] = [g.ph, g.pw];
    return {
      inputs: [inp(xs, g.seed), inp(ws, g.seed + 1)],
      params: { stride, padding },
      seed: g.seed,
      ref: (x, w) => naiveConv2d(x, xs, w, ws, stride, padding),
    };
  }),
  convTranspose2d: fc.tuple(convDraw(), fc.nat(1), fc.nat(1)).map(([g, oph, opw]) => {
    const op: [number, number] = [Math.min(oph, g.sh - 1), Math.min(opw, g.sw - 1)];
    return {
      inputs: [inp([g.b, g.o, g.h, g.w], g.seed), inp([g.o, g.c, g.kh, g.kw], g.seed + 1)],
      params: {
        stride: [g.sh, g.sw] as [number, number],
        padding: [g.ph, g.pw] as [number, number],
        outputPadding: op,
      },
      seed: g.seed,
    };
  }).filter((c) => {
    const [, , h, w] = c.inputs[0].shape, [, , kh, kw] = c.inputs[1].shape;
    const p = c.params;
    return (h - 1) * p.stride[0] - 2 * p.padding[0] + kh + p.outputPadding[0] >= 1 &&
      (w - 1) * p.stride[1] - 2 * p.padding[1] + kw + p.outputPadding[1] >= 1;
  }),
  conv2dFilterGrad: convDraw().filter((g) => g.h + 2 * g.ph >= g.kh && g.w + 2 * g.pw >= g.kw)
    .map((g) => {
      const ho = windowOut(g.h, g.kh, g.sh, g.ph), wo = windowOut(g.w, g.kw, g.sw, g.pw);
      return {
        inputs: [inp([g.b, g.c, g.h, g.w], g.seed), inp([g.b, g.o, ho, wo], g.seed + 1)],
        params: { stride: [g.sh, g.sw], padding: [g.ph, g.pw], kernel: [g.kh, g.kw] },
        seed: g.seed,
      };
    }),
  avgPool2d: poolDraw().map((c) => ({
    inputs: [inp([c.b, c.c, c.h, c.w], c.seed)],
    params: c.params,
    seed: c.seed,
  })),
  avgPool2dTranspose: poolDraw().map((c) => ({
    inputs: [inp([c.b, c.c, c.ho, c.wo], c.seed)],
    params: { ...c.params, inSize: [c.h, c.w] },
    seed: c.seed,
  })),
  rfft2: fftDraw().map((d) => ({
    inputs: [inp([...d.batch, d.h, d.w], d.seed)],
    params: { norm: d.norm },
    seed: d.seed,
    ref: (x) => rfft2Ref(x, d.h, d.w, d.norm),
  })),
  irfft2: fftDraw().map((d) => ({
    inputs: [inp([...d.batch, d.h, Math.floor(d.w / 2) + 1, 2], d.seed)],
    params: { size: [d.h, d.w], norm: d.norm },
    seed: d.seed,
    ref: (z) => irfft2Ref(z, d.h, d.w, d.norm),
  })),
  // batched systems with row swaps needed (a strong entry on a permuted diagonal)
  solve: fc.tuple(shapeArb(0, 2, 3), dim(6), dim(3), fc.boolean(), seedArb).map((
    [batch, n, k, transA, seed],
  ) => {
    const a = inp([...batch, n, n], seed);
    return {
      inputs: [
        { ...a, values: boostPermutedDiagonal(a.values, n, rng(seed ^ 0x2545f491)) },
        inp([
          ...batch,
          n,
          k,
        ], seed + 1),
      ],
      params: { transA },
      seed,
      ref: (av, bv) => solveRef(av, bv, n, k, transA),
    };
  }),
};

/** A one-line description of a case for failure messages. */
export function describeCase(c: PrimCase<PrimName>): string {
  return `inputs ${
    c.inputs.map((x) => `${x.int ? "int32" : "float"}[${x.shape}]`).join(", ")
  }, params ${JSON.stringify(c.params)}`;
}

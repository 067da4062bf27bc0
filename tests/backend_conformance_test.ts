/**
 * Backend conformance: every primitive, forward and backward (through `vjp`), on shapes and
 * parameters drawn by fast-check, WebGPU float32 against the CPU in float64. One row per
 * primitive in a table typed over PrimName (a missing row does not compile) and a test that walks
 * PRIM_NAMES (a missing row fails at run time too). Tolerance, per element:
 * |gpu − cpu| ≤ 1e-4·|cpu| + 1e-4·(1 + max|cpu|) — float32 rounding of sums of up to ~100 terms.
 * Without a WebGPU adapter the suite FAILS with instructions; it never skips.
 */
import fc from "fast-check";
import { AssertionError } from "node:assert/strict";
import type { PrimName, PrimParams } from "../kernels/prims.ts";
import { sizeOf } from "../kernels/shape.ts";
import { initWebGpu, setBackend } from "../tensor/backend.ts";
import { memory, scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { bindPrim, PRIM_NAMES, PRIMS } from "../tensor/prims/mod.ts";
import { tensor } from "../tensor/ops.ts";
import { vjp } from "../autodiff/autodiff.ts";
import { assertClose, checkAsync, FC_SEED } from "./helpers.ts";

/** One input: float values (float64 on the CPU, float32 on WebGPU) or int32. */
interface In {
  shape: number[];
  values: number[];
  int?: boolean;
}

/** A drawn case for primitive P. */
interface Case<P extends PrimName> {
  inputs: In[];
  params: PrimParams[P];
  /** Seed of the cotangent values. */
  seed: number;
}

type Row<P extends PrimName> = fc.Arbitrary<Case<P>>;

// ----- drawing -----------------------------------------------------------------------------------

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Kind = "normal" | "positive" | "awayFromZero" | "small-ints";

function vals(seed: number, n: number, kind: Kind = "normal"): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    const u = r();
    switch (kind) {
      case "positive":
        return Math.fround(0.1 + 2.9 * u);
      case "awayFromZero":
        return Math.fround((0.5 + 1.5 * r()) * (u < 0.5 ? -1 : 1));
      case "small-ints":
        return Math.floor(u * 5) - 2;
      default:
        return Math.fround(4 * u - 2);
    }
  });
}

const seedArb = fc.integer({ min: 1, max: 2 ** 31 - 1 });
const dim = (max = 5) => fc.integer({ min: 1, max });
const shapeArb = (min = 0, max = 4, maxDim = 5): fc.Arbitrary<number[]> =>
  fc.array(dim(maxDim), { minLength: min, maxLength: max });

const inp = (shape: number[], seed: number, kind?: Kind): In => ({
  shape,
  values: vals(seed, sizeOf(shape), kind),
});

/** The same input as small int32 values when `int` (forward-only checks of int32 kernels). */
function maybeInt(x: In, int: boolean): In {
  return int ? { ...x, values: x.values.map((v) => Math.round(v * 2)), int: true } : x;
}

/** A shape broadcastable to `s`: some leading axes dropped, some axes set to 1. */
function partner(s: number[], seed: number): number[] {
  const r = rng(seed ^ 0x5bd1e995);
  const drop = Math.floor(r() * (s.length + 1) * 0.5);
  return s.slice(drop).map((d) => (r() < 0.35 ? 1 : d));
}

function unaryRow<P extends "neg" | "exp" | "log" | "sqrt" | "abs" | "sign">(kind?: Kind): Row<P> {
  return fc.tuple(shapeArb(), seedArb).map(([s, seed]) => ({
    inputs: [inp(s, seed, kind)],
    params: {} as PrimParams[P],
    seed,
  }));
}

function binaryRow<P extends "add" | "sub" | "mul" | "div" | "maximum" | "minimum">(
  bKind?: Kind,
): Row<P> {
  return fc.tuple(shapeArb(), seedArb, fc.boolean()).map(([s, seed, swap]) => {
    const t = partner(s, seed);
    const [sa, sb] = swap && bKind === undefined ? [t, s] : [s, t];
    return {
      inputs: [inp(sa, seed), inp(sb, seed + 1, bKind)],
      params: {} as PrimParams[P],
      seed,
    };
  });
}

function axesOf(rank: number, mask: number): number[] {
  return Array.from({ length: rank }, (_, i) => i).filter((i) => (mask >> i) & 1);
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

const out = (h: number, k: number, s: number, p: number) => Math.floor((h + 2 * p - k) / s) + 1;

// ----- the table: one row per primitive ----------------------------------------------------------

const ROWS: { [P in PrimName]: Row<P> } = {
  neg: unaryRow(),
  exp: unaryRow(),
  log: unaryRow("positive"),
  sqrt: unaryRow("positive"),
  abs: unaryRow("awayFromZero"),
  sign: unaryRow("small-ints"),
  add: binaryRow(),
  sub: binaryRow(),
  mul: binaryRow(),
  div: binaryRow("awayFromZero"),
  maximum: binaryRow(),
  minimum: binaryRow(),
  compare: fc.tuple(
    shapeArb(),
    seedArb,
    fc.constantFrom("eq", "ne", "lt", "le", "gt", "ge" as const),
  ).map(([s, seed, op]) => ({
    inputs: [inp(s, seed, "small-ints"), inp(partner(s, seed), seed + 1, "small-ints")],
    params: { op },
    seed,
  })),
  where: fc.tuple(shapeArb(), seedArb).map(([s, seed]) => ({
    inputs: [
      { shape: partner(s, seed + 7), values: [], int: true },
      inp(s, seed),
      inp(partner(s, seed), seed + 1),
    ].map((x, i) =>
      i === 0 ? { ...x, values: vals(seed + 2, sizeOf(x.shape)).map((v) => (v > 0 ? 1 : 0)) } : x
    ),
    params: {},
    seed,
  })),
  cast: fc.tuple(shapeArb(), seedArb, fc.constantFrom("float32", "int32" as const), fc.boolean())
    .map(([s, seed, dtype, fromInt]) => ({
      inputs: [fromInt ? { ...inp(s, seed, "small-ints"), int: true } : inp(s, seed)],
      params: { dtype },
      seed,
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
    inputs: [maybeInt(inp(s, seed), int)],
    params: { axes: axesOf(s.length, mask), keepDims },
    seed,
  })),
  argmax: fc.tuple(shapeArb(1, 4, 6), seedArb, fc.nat(3), fc.boolean(), fc.boolean()).map((
    [s, seed, a, keepDims, int],
  ) => ({
    inputs: [maybeInt(inp(s, seed), int)],
    params: { axis: a % s.length, keepDims },
    seed,
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
  )
    .map(([batch, m, k, n, seed, transA, transB]) => ({
      inputs: [
        inp([...batch, ...(transA ? [k, m] : [m, k])], seed),
        inp([...partner(batch, seed), ...(transB ? [n, k] : [k, n])], seed + 1),
      ],
      params: { transA, transB },
      seed,
    })),
  reshape: fc.tuple(shapeArb(), seedArb).map(([s, seed]) => ({
    inputs: [inp(s, seed)],
    params: { shape: [...s].reverse() },
    seed,
  })),
  transpose: fc.tuple(shapeArb(1, 5), seedArb, fc.boolean()).map(([s, seed, int]) => {
    const r = rng(seed);
    const perm = s.map((_, i) => i).sort(() => r() - 0.5);
    return { inputs: [maybeInt(inp(s, seed), int)], params: { perm }, seed };
  }),
  broadcastTo: fc.tuple(shapeArb(), seedArb).map(([s, seed]) => ({
    inputs: [inp(partner(s, seed), seed)],
    params: { shape: s },
    seed,
  })),
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
  conv2d: convDraw().filter((g) => g.h + 2 * g.ph >= g.kh && g.w + 2 * g.pw >= g.kw).map((g) => ({
    inputs: [inp([g.b, g.c, g.h, g.w], g.seed), inp([g.o, g.c, g.kh, g.kw], g.seed + 1)],
    params: { stride: [g.sh, g.sw], padding: [g.ph, g.pw] },
    seed: g.seed,
  })),
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
      const ho = out(g.h, g.kh, g.sh, g.ph), wo = out(g.w, g.kw, g.sw, g.pw);
      return {
        inputs: [inp([g.b, g.c, g.h, g.w], g.seed), inp([g.b, g.o, ho, wo], g.seed + 1)],
        params: { stride: [g.sh, g.sw], padding: [g.ph, g.pw], kernel: [g.kh, g.kw] },
        seed: g.seed,
      };
    }),
  avgPool2d: poolRow().map((c) => ({
    inputs: [inp([c.b, c.c, c.h, c.w], c.seed)],
    params: c.params,
    seed: c.seed,
  })),
  avgPool2dTranspose: poolRow().map((c) => ({
    inputs: [inp([c.b, c.c, c.ho, c.wo], c.seed)],
    params: { ...c.params, inSize: [c.h, c.w] },
    seed: c.seed,
  })),
};

function poolRow() {
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
    ho: out(g.h, g.k, g.s, g.p),
    wo: out(g.w, g.k, g.s, g.p),
    params: {
      size: [g.k, g.k] as [number, number],
      stride: [g.s, g.s] as [number, number],
      padding: [g.p, g.p] as [number, number],
      divisor: g.div || g.k * g.k,
    },
  }));
}

// ----- running a case ----------------------------------------------------------------------------

/** Forward output and input cotangents (null where not differentiable) on one backend. */
function runOn<P extends PrimName>(prim: P, c: Case<P>, float: "float64" | "float32"): Tensor[] {
  return scope(() => {
    const xs = c.inputs.map((x) =>
      tensor(x.values, { shape: x.shape, dtype: x.int ? "int32" : float })
    );
    const f = (...a: Tensor[]) => bindPrim(prim, a, c.params);
    const y = f(...xs);
    const res = [y];
    if (PRIMS[prim].vjp && y.dtype !== "int32") {
      const [y2, pb] = vjp(f, ...xs);
      const ct = tensor(vals(c.seed + 99, y2.size), { shape: y2.shape, dtype: float });
      const gs = pb(ct) as Tensor[];
      gs.forEach((g, i) => {
        if (!c.inputs[i].int) res.push(g);
      });
    }
    return res;
  });
}

async function readAll(ts: Tensor[]): Promise<number[][]> {
  const out = await Promise.all(ts.map((t) => t.data()));
  ts.forEach((t) => t.dispose());
  return out.map((d) => Array.from(d));
}

function describe(c: Case<PrimName>): string {
  return `inputs ${
    c.inputs.map((x) => `${x.int ? "int32" : "float"}[${x.shape}]`).join(", ")
  }, params ${JSON.stringify(c.params)}`;
}

let adapterError: Error | null = null;
try {
  await initWebGpu();
} catch (e) {
  adapterError = e as Error;
}

function requireAdapter(): void {
  if (adapterError) {
    throw new Error(
      `backend conformance needs a WebGPU adapter and found none — this suite fails rather than skips. ${adapterError.message}`,
    );
  }
}

async function checkPrim<P extends PrimName>(prim: P): Promise<void> {
  requireAdapter();
  const row = ROWS[prim] as Row<P>;
  const before = { cpu: memory("cpu"), gpu: memory("webgpu") };
  await checkAsync(
    fc.asyncProperty(row, async (c) => {
      await setBackend("cpu");
      const ref = await readAll(runOn(prim, c, "float64"));
      await setBackend("webgpu");
      const got = await readAll(runOn(prim, c, "float32"));
      await setBackend("cpu");
      if (ref.length !== got.length) {
        throw new AssertionError({
          message: `${prim}: ${got.length} outputs, expected ${ref.length}`,
        });
      }
      ref.forEach((e, i) => {
        const scale = e.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        assertClose(got[i], e, {
          rtol: 1e-4,
          atol: 1e-4 * (1 + scale),
          what: `${prim} ${i === 0 ? "forward" : `cotangent of input ${i - 1}`} (${
            describe(c as Case<PrimName>)
          }, seed ${FC_SEED})`,
        });
      });
    }),
    20,
  );
  for (const [name, b] of [["cpu", before.cpu], ["webgpu", before.gpu]] as const) {
    const now = memory(name);
    if (now.tensors !== b.tensors || now.bytes !== b.bytes) {
      throw new AssertionError({
        message: `${prim}: ${name} leaked ${now.tensors - b.tensors} tensors / ${
          now.bytes - b.bytes
        } bytes`,
      });
    }
  }
}

Deno.test("backend conformance: a WebGPU adapter is present (fails, never skips, without one)", () => {
  requireAdapter();
});

Deno.test("backend conformance: every primitive of PRIM_NAMES has a row", () => {
  const missing = PRIM_NAMES.filter((p) => !(p in ROWS));
  if (missing.length) {
    throw new AssertionError({ message: `no conformance row for: ${missing.join(", ")}` });
  }
});

for (const prim of PRIM_NAMES) {
  Deno.test(`backend conformance: ${prim} forward+backward, webgpu f32 vs cpu f64`, () =>
    checkPrim(prim));
}

/**
 * The shared ELEMENTWISE table, checked where it matters: for every entry, the CPU kernels (its
 * JS expression) and the WebGPU kernels (its WGSL expression, fused and unfused) give the same
 * values — NaN, ±Inf and ±0 (sign included) among the inputs, every pair of them for binary
 * entries; special results exactly, others within exp/log's WGSL accuracy — and both follow the
 * entry's NaN rule.
 */
import assert from "node:assert/strict";
import type { DType, TypedArray } from "./dtype.ts";
import { ELEMENTWISE, type ElementwiseName, elementwiseNames } from "./elementwise.ts";
import type { Backend, KernelName } from "./prims.ts";
import { createCpuBackend } from "./cpu/backend.ts";
import { acquireWebGpu } from "./webgpu/mod.ts";

const gpu = await acquireWebGpu(); // fails the file without an adapter
const cpu = createCpuBackend();

/** Special and ordinary float32 values (every one exactly representable). */
const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 2.5, -2.5, 0.75, 1e-30, -3e38];
/** Values around the int32 range, for casts. */
const BIG = [3e9, -3e9, 2147483520, -2147483648, 2147483648, 1e10, -1e10, 2.9, -2.9];

interface Case {
  prim: KernelName;
  params: Record<string, unknown>;
  inputs: { data: TypedArray; dtype: DType }[];
  out: DType;
}

/** Every ordered pair of `vs` as two arrays. */
function pairs(vs: number[]): [Float32Array, Float32Array] {
  const a = new Float32Array(vs.length * vs.length), b = new Float32Array(a.length);
  vs.forEach((x, i) =>
    vs.forEach((y, j) => ((a[i * vs.length + j] = x), (b[i * vs.length + j] = y)))
  );
  return [a, b];
}

function casesOf(name: ElementwiseName): Case[] {
  const f32 = (d: Float32Array) => ({ data: d, dtype: "float32" as const });
  const op = ELEMENTWISE[name];
  const [a, b] = pairs(SPECIAL);
  switch (op.kind) {
    case "unary":
      return [{
        prim: name as KernelName,
        params: {},
        inputs: [f32(new Float32Array(SPECIAL))],
        out: "float32",
      }];
    case "binary":
      return [{ prim: name as KernelName, params: {}, inputs: [f32(a), f32(b)], out: "float32" }];
    case "compare":
      return [{ prim: "compare", params: { op: name }, inputs: [f32(a), f32(b)], out: "int32" }];
    case "select": {
      const c = new Int32Array(a.length).map((_, i) => (i * 7) % 3 === 0 ? 0 : i % 5);
      return [{
        prim: "where",
        params: {},
        inputs: [{ data: c, dtype: "int32" }, f32(a), f32(b)],
        out: "float32",
      }];
    }
    case "cast": {
      const x = new Float32Array([...SPECIAL, ...BIG]);
      const ints = new Int32Array([0, 1, -1, 2147483647, -2147483648, 16777217, -16777217]);
      return [
        { prim: "cast", params: { dtype: "int32" }, inputs: [f32(x)], out: "int32" },
        { prim: "cast", params: { dtype: "float32" }, inputs: [f32(x)], out: "float32" },
        {
          prim: "cast",
          params: { dtype: "float32" },
          inputs: [{ data: ints, dtype: "int32" }],
          out: "float32",
        },
      ];
    }
  }
}

async function runOn(b: Backend, c: Case): Promise<TypedArray> {
  const n = c.inputs[0].data.length;
  const args = c.inputs.map((x) => ({
    storage: b.upload(x.data, x.dtype),
    shape: [n],
    dtype: x.dtype,
  }));
  // deno-lint-ignore no-explicit-any
  const st = b.run(c.prim, args, c.params as any, { shape: [n], dtype: c.out });
  const out = await b.read(st, c.out, n);
  b.free(st);
  for (const a of args) b.free(a.storage);
  return out;
}

/** What the entry's NaN rule says element i must be, or undefined when no NaN is involved. */
function nanExpected(name: ElementwiseName, c: Case, i: number): number | undefined {
  const op = ELEMENTWISE[name];
  const floats = c.inputs.filter((x) => x.dtype !== "int32").map((x) => x.data[i]);
  if (!floats.some(Number.isNaN) || op.nan === "select") return undefined;
  if (op.nan === "propagate") return c.out === "int32" ? 0 : NaN;
  return op.nan === "true" ? 1 : 0;
}

/**
 * Exactly equal when either value is NaN, infinite or zero (NaN = NaN; -0 ≠ +0); otherwise
 * within 2 ulp-ish (1e-6 relative), the accuracy WGSL allows exp and log.
 */
function agree(got: number, want: number): boolean {
  const special = (v: number) => !Number.isFinite(v) || v === 0;
  if (special(got) || special(want)) return Object.is(got, want);
  return Math.abs(got - want) <= 1e-6 * Math.abs(want);
}

const fmtCase = (c: Case, i: number) =>
  `${c.prim}${JSON.stringify(c.params)}(${c.inputs.map((x) => x.data[i]).join(", ")})`;

for (const name of Object.keys(ELEMENTWISE) as ElementwiseName[]) {
  Deno.test(`ELEMENTWISE.${name}: CPU and WebGPU agree on NaN, ±Inf and ±0, per its NaN rule`, async () => {
    const live0 = gpu.stats().liveBuffers;
    for (const c of casesOf(name)) {
      const want = await runOn(cpu, c);
      for (const fusion of [true, false]) {
        gpu.fusion = fusion;
        let got: TypedArray;
        try {
          got = await runOn(gpu, c);
        } finally {
          gpu.fusion = true;
        }
        for (let i = 0; i < want.length; i++) {
          assert.ok(
            agree(got[i], want[i]),
            `${fmtCase(c, i)}: cpu ${Object.is(want[i], -0) ? "-0" : want[i]}, webgpu ${
              Object.is(got[i], -0) ? "-0" : got[i]
            } (fusion ${fusion ? "on" : "off"})`,
          );
        }
      }
      for (let i = 0; i < want.length; i++) {
        const e = nanExpected(name, c, i);
        assert.ok(
          e === undefined || Object.is(want[i], e),
          `${fmtCase(c, i)} gave ${want[i]}; the NaN rule "${ELEMENTWISE[name].nan}" says ${e}`,
        );
      }
    }
    const live = gpu.stats().liveBuffers;
    assert.equal(live, live0, `${live - live0} GPU buffers still handed out`);
  });
}

Deno.test("max reductions propagate NaN on both backends (the same bit test as the table)", async () => {
  const x = new Float32Array([1, NaN, 2, -Infinity, 3, 4, NaN, NaN]);
  const c = { prim: "max" as KernelName, params: { axes: [1], keepDims: false }, out: "float32" };
  for (const b of [cpu, gpu] as Backend[]) {
    const s = b.upload(x, "float32");
    const o = b.run("max", [{ storage: s, shape: [4, 2], dtype: "float32" }], c.params, {
      shape: [4],
      dtype: "float32",
    });
    const got = Array.from(await b.read(o, "float32", 4));
    b.free(o);
    b.free(s);
    assert.equal(String(got), "NaN,2,4,NaN", `${b.name}: max over rows gave ${got}`);
  }
});

Deno.test("ELEMENTWISE: kinds partition the names; CPU expression lists derive from it", () => {
  const kinds = ["unary", "binary", "compare", "select", "cast"] as const;
  const total = kinds.reduce((s, k) => s + elementwiseNames(k).length, 0);
  assert.equal(total, Object.keys(ELEMENTWISE).length, `kinds cover ${total} of the entries`);
});

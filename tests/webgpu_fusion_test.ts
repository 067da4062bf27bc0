/**
 * WebGPU elementwise fusion: random programs of elementwise ops (broadcasting, broadcastTo,
 * shared subexpressions, compare/where/cast, reshapes of pending values, reductions) give
 * the CPU's results with fusion on and off; fusion really cuts dispatches; pending values keep
 * their inputs alive after those are disposed, are never computed when disposed unread, and
 * `keep()` computes them; chains past the node and binding budgets stay correct.
 */
import fc from "fast-check";
import assert from "node:assert/strict";
import { initWebGpu, setBackend } from "../tensor/backend.ts";
import { keep, scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import * as o from "../tensor/ops.ts";
import { acquireWebGpu } from "../kernels/webgpu/mod.ts";
import type { GpuStorage } from "../kernels/webgpu/backend.ts";
import { assertClose, checkAsync, leakFreeTest } from "./helpers.ts";

await initWebGpu(); // throws (fails the file) without an adapter
const gpu = await acquireWebGpu();

const storageOf = (t: Tensor): GpuStorage =>
  (t as unknown as { ref(op: string): { storage: GpuStorage } }).ref("test").storage;

/** Runs `fn` on WebGPU with fusion set as asked; live tensors and buffers must return. */
function onGpu(name: string, fn: () => void | Promise<void>, fusion = true): void {
  leakFreeTest(name, async () => {
    await setBackend("webgpu");
    const live0 = gpu.stats().liveBuffers;
    gpu.fusion = fusion;
    try {
      await fn();
    } finally {
      gpu.fusion = true;
      await setBackend("cpu");
    }
    const live = gpu.stats().liveBuffers;
    assert.equal(live, live0, `${live - live0} GPU buffers still handed out`);
  });
}

// ----- random programs -------------------------------------------------------------------------

type Step =
  | { kind: "unary"; op: number; a: number }
  | { kind: "binary"; op: number; a: number; b: number }
  | { kind: "where"; a: number; b: number; c: number }
  | { kind: "cast"; a: number }
  | { kind: "reshape"; a: number }
  | { kind: "reduce"; a: number };

const UNARY: ((x: Tensor) => Tensor)[] = [
  o.neg,
  o.abs,
  o.sign,
  (x) => o.sqrt(o.abs(x)),
  (x) => o.exp(o.neg(o.abs(x))),
  (x) => o.log(o.add(o.abs(x), 1)),
];
const BINARY: ((a: Tensor, b: Tensor) => Tensor)[] = [
  o.add,
  o.sub,
  (a, b) => o.clip(o.mul(a, b), -8, 8), // bounded, so long programs stay finite
  (a, b) => o.div(a, o.add(o.abs(b), 1)),
  o.maximum,
  o.minimum,
];

const stepArb = (k: number): fc.Arbitrary<Step> => {
  const v = fc.nat({ max: 1000 }).map((i) => i % k);
  return fc.oneof(
    fc.record({ kind: fc.constant("unary" as const), op: fc.nat({ max: 5 }), a: v }),
    fc.record({ kind: fc.constant("binary" as const), op: fc.nat({ max: 5 }), a: v, b: v }),
    fc.record({ kind: fc.constant("where" as const), a: v, b: v, c: v }),
    fc.record({ kind: fc.constant("cast" as const), a: v }),
    fc.record({ kind: fc.constant("reshape" as const), a: v }),
    fc.record({ kind: fc.constant("reduce" as const), a: v }),
  );
};

/**
 * Inputs of shape [r, c], [c], [r, 1] and [] (so binary ops broadcast), then the steps: each
 * takes earlier values by index (mod their count); every value is an output.
 */
function runProgram(inputs: Tensor[], steps: Step[], shape: number[]): Tensor[] {
  const vals = [...inputs];
  const at = (i: number) => vals[i % vals.length];
  for (const s of steps) {
    let y: Tensor;
    if (s.kind === "unary") y = UNARY[s.op](at(s.a));
    else if (s.kind === "binary") y = BINARY[s.op](at(s.a), at(s.b));
    else if (s.kind === "where") y = o.where(o.greater(at(s.a), 0), at(s.b), at(s.c));
    else if (s.kind === "cast") y = o.cast(o.cast(o.mul(at(s.a), 3), "int32"), "float32");
    else if (s.kind === "reshape") {
      const x = o.broadcastTo(at(s.a), shape);
      // a pending value seen through another shape, then used elementwise again
      y = o.reshape(o.mul(o.reshape(x, [shape[0] * shape[1]]), 0.5), shape);
    } else {
      const x = o.add(at(s.a), o.zeros(shape)); // a reduction reads a pending value
      y = o.add(o.sum(x, -1, true), x);
    }
    vals.push(y);
  }
  return vals.slice(inputs.length);
}

async function programsAgree(fusion: boolean): Promise<void> {
  const arb = fc.record({
    r: fc.integer({ min: 1, max: 5 }),
    c: fc.integer({ min: 1, max: 7 }),
    seed: fc.integer(),
    steps: fc.integer({ min: 1, max: 40 }).chain((n) =>
      fc.tuple(...Array.from({ length: n }, (_, i) => stepArb(4 + i)))
    ),
  });
  await checkAsync(
    fc.asyncProperty(arb, async ({ r, c, seed, steps }) => {
      let s = seed >>> 0 || 1;
      const rand = (n: number) =>
        Array.from({ length: n }, () => {
          s ^= s << 13, s >>>= 0, s ^= s >>> 17, s ^= s << 5, s >>>= 0;
          return Math.round((s / 2 ** 32 * 4 - 2) * 64) / 64; // exact in float32
        });
      const data = [rand(r * c), rand(c), rand(r), rand(1)];
      const shapes = [[r, c], [c], [r, 1], []];
      const outputs = async (backend: "cpu" | "webgpu") => {
        await setBackend(backend);
        const ys = scope(() => {
          const xs = data.map((d, i) => o.tensor(d, { shape: shapes[i] }));
          return runProgram(xs, steps, [r, c]);
        });
        const out = await Promise.all(ys.map((y) => y.data()));
        ys.forEach((y) => y.dispose());
        return out;
      };
      const fused0 = gpu.stats().fused;
      const want = await outputs("cpu");
      const got = await outputs("webgpu");
      want.forEach((w, i) =>
        assertClose(got[i], w, { rtol: 2e-5, atol: 2e-5, what: `value ${i} (fusion ${fusion})` })
      );
      if ((gpu.stats().fused > fused0) !== fusion) {
        assert.fail(`fusion ${fusion ? "on, yet no op was fused" : "off, yet ops were fused"}`);
      }
    }),
    30,
  );
}

onGpu("webgpu fusion: random elementwise programs match the CPU", () => programsAgree(true));
onGpu(
  "webgpu fusion off: random elementwise programs match the CPU",
  () => programsAgree(false),
  false,
);

// ----- lifetimes and budgets -------------------------------------------------------------------

onGpu("webgpu fusion: a chain of 1,000 ops runs in a few dispatches and stays exact", async () => {
  const s = o.tensor([1, 2, 3, 4]);
  const d0 = gpu.stats().dispatches;
  const z = scope(() => {
    let z = o.zeros([4]);
    for (let i = 0; i < 1000; i++) z = i % 2 ? o.sub(z, s) : o.add(z, o.mul(s, 2));
    return z;
  });
  const got = await z.data();
  const n = gpu.stats().dispatches - d0;
  assertClose(got, [500, 1000, 1500, 2000], { rtol: 0, atol: 0 });
  if (n > 1000 / 10) {
    assert.fail(`${n} dispatches for 1,000 elementwise ops: fusion did not happen`);
  }
  z.dispose();
  s.dispose();
});

onGpu("webgpu fusion: more distinct inputs than one kernel may bind", async () => {
  const y = scope(() => {
    const xs = Array.from({ length: 20 }, (_, i) => o.full([3], i + 1));
    return xs.reduce((acc, x) => o.add(acc, x)); // 20 buffers: more than one kernel binds
  });
  assertClose(await y.data(), [210, 210, 210], { rtol: 0, atol: 0 });
  y.dispose();
});

onGpu("webgpu fusion: a pending value keeps its disposed inputs' buffers", async () => {
  const n = 4096;
  const a = o.full([n], 1);
  const b = o.mul(a, 3); // pending: reads a's buffer when computed
  if (!storageOf(b).expr) assert.fail("mul was dispatched at once; expected a pending fused value");
  a.dispose(); // a's buffer must survive until b is computed
  const c = o.full([n], 7); // same size class: must not get a's buffer
  const d = o.add(c, 0);
  const bd = await b.data();
  const dd = await d.data();
  if (bd.some((v) => v !== 3)) assert.fail(`pending value read a recycled buffer: ${bd[0]}`);
  if (dd.some((v) => v !== 7)) assert.fail(`upload lost: ${dd[0]}`);
  [b, c, d].forEach((t) => t.dispose());
});

onGpu("webgpu fusion: a pending value disposed unread never runs", () => {
  const a = o.full([64], 2);
  const d0 = gpu.stats().dispatches;
  const live0 = gpu.stats().liveBuffers;
  scope(() => {
    o.exp(o.mul(o.add(a, 1), a)); // disposed at the scope's end, never read
  });
  if (gpu.stats().dispatches !== d0) assert.fail("a disposed pending value was computed");
  if (gpu.stats().liveBuffers !== live0) {
    assert.fail("a disposed pending value still holds a buffer");
  }
  a.dispose();
});

onGpu("webgpu fusion: keep() computes a pending value, so it holds no inputs", async () => {
  const a = o.full([8], 2);
  const k = scope(() => keep(o.mul(o.add(a, 1), a)));
  if (storageOf(k).expr) assert.fail("keep() left the value pending");
  a.dispose();
  assertClose(await k.data(), new Array(8).fill(6), { rtol: 0, atol: 0 });
  k.dispose();
});

Deno.test("initWebGpu({ fusion }) switches fusion on the process-wide backend", async () => {
  try {
    await initWebGpu({ fusion: false });
    if (gpu.fusion) assert.fail("initWebGpu({ fusion: false }) left fusion on");
    await initWebGpu({ fusion: true });
    if (!gpu.fusion) assert.fail("initWebGpu({ fusion: true }) left fusion off");
  } finally {
    gpu.fusion = true;
  }
});

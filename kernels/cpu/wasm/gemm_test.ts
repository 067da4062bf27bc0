// Tests of the wasm emitter and sgemm: LEB128 encodings, and sgemm against a float64 loop on
// random shapes (awkward sizes, all transpose combinations, batches with broadcast strides),
// one vs two threads, argument errors. fast-check is seeded; FC_SEED=<n> reproduces a failure.
import assert from "node:assert/strict";
import fc from "fast-check";
import { sleb, uleb } from "./emit.ts";
import { gemmBlocked, type Kernels, TILE } from "./driver.ts";
import { buildKernelModule } from "./kernels.ts";
import {
  type GemmOptions,
  setWasmThreads,
  sgemm,
  shutdownWasmThreads,
  wasmAvailable,
} from "./mod.ts";
import { randomArray } from "../../../bench/harness.ts";

const SEED = Number(Deno.env.get("FC_SEED") ?? 20250117);

/** Float64 reference and Σ|a||b| (the scale of the rounding error) for one gemm call. */
function naiveGemm(
  a: Float32Array,
  b: Float32Array,
  o: GemmOptions,
): { ref: Float64Array; scale: number } {
  const { m, n, k, batch = 1, transA = false, transB = false } = o;
  const sA = o.strideA ?? m * k, sB = o.strideB ?? k * n;
  const ref = new Float64Array(batch * m * n);
  let scale = 0;
  for (let bi = 0; bi < batch; bi++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0, abs = 0;
        for (let kk = 0; kk < k; kk++) {
          const av = a[bi * sA + (transA ? kk * m + i : i * k + kk)];
          const bv = b[bi * sB + (transB ? j * k + kk : kk * n + j)];
          acc += av * bv, abs += Math.abs(av * bv);
        }
        ref[(bi * m + i) * n + j] = acc;
        scale = Math.max(scale, abs);
      }
    }
  }
  return { ref, scale };
}

function checkGemm(o: GemmOptions, seed: number): void {
  const batch = o.batch ?? 1;
  const sA = o.strideA ?? o.m * o.k, sB = o.strideB ?? o.k * o.n;
  const a = randomArray(Math.max(1, (batch - 1) * sA + o.m * o.k), seed);
  const b = randomArray(Math.max(1, (batch - 1) * sB + o.k * o.n), seed + 1);
  const c = sgemm(a, b, o);
  const { ref, scale } = naiveGemm(a, b, o);
  assert.equal(c.length, ref.length);
  let err = 0;
  for (let i = 0; i < c.length; i++) err = Math.max(err, Math.abs(c[i] - ref[i]));
  assert.ok(
    err <= 1e-5 * Math.max(scale, 1e-30),
    `sgemm ${JSON.stringify(o)}: max error ${err} vs scale ${scale}`,
  );
}

Deno.test("emit: LEB128 encodings", () => {
  assert.deepEqual(uleb(0), [0]);
  assert.deepEqual(uleb(127), [127]);
  assert.deepEqual(uleb(128), [0x80, 1]);
  assert.deepEqual(uleb(624485), [0xe5, 0x8e, 0x26]);
  assert.deepEqual(sleb(-1), [0x7f]);
  assert.deepEqual(sleb(63), [63]);
  assert.deepEqual(sleb(64), [0xc0, 0]);
  assert.deepEqual(sleb(-123456), [0xc0, 0xbb, 0x78]);
});

Deno.test("sgemm: available", () => {
  assert.ok(wasmAvailable(), "WebAssembly SIMD should be available in Deno");
});

Deno.test("sgemm: awkward sizes and all transpose combinations", () => {
  try {
    const sizes = [1, 3, 17, 65, 257];
    let seed = 1;
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (
          const [m, n, k] of [[1, 1, 1], [3, 17, 65], [257, 3, 17], [17, 257, 3], [65, 65, 257], [
            7,
            9,
            600,
          ]]
        ) {
          checkGemm({ m, n, k, transA, transB }, seed++);
        }
        for (const m of sizes) {
          checkGemm({ m, n: sizes[(m * 7) % 5], k: sizes[(m * 3) % 5], transA, transB }, seed++);
        }
      }
    }
    // Beyond one n block (nc = 4096) and one m block (mc = 120).
    checkGemm({ m: 3, n: 4100, k: 5 }, 99);
    checkGemm({ m: 250, n: 12, k: 300, transA: true }, 98);
  } finally {
    shutdownWasmThreads();
  }
});

Deno.test("sgemm: random shapes, batches and broadcast strides (fast-check)", () => {
  try {
    const dim = fc.oneof(fc.integer({ min: 1, max: 24 }), fc.constantFrom(1, 3, 17, 65, 130));
    fc.assert(
      fc.property(
        dim,
        dim,
        dim,
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom("default", "broadcastA", "broadcastB", "padded"),
        fc.integer({ min: 0, max: 1 << 20 }),
        (m, n, k, batch, transA, transB, strides, seed) => {
          const o: GemmOptions = { m, n, k, batch, transA, transB };
          if (strides === "broadcastA") o.strideA = 0;
          if (strides === "broadcastB") o.strideB = 0;
          if (strides === "padded") o.strideA = m * k + 5, o.strideB = k * n + 3;
          checkGemm(o, seed);
        },
      ),
      { seed: SEED, numRuns: 120 },
    );
  } catch (e) {
    console.error(`sgemm property failed; reproduce with FC_SEED=${SEED}`);
    throw e;
  } finally {
    shutdownWasmThreads();
  }
});

Deno.test("sgemm: one and two threads agree", () => {
  const prev = setWasmThreads(2);
  try {
    for (
      const [o, seed] of [
        [{ m: 200, n: 190, k: 150 }, 5],
        [{ m: 64, n: 300, k: 129, batch: 3, strideB: 0, transA: true }, 6],
        [{ m: 130, n: 77, k: 260, batch: 2, transB: true }, 7],
      ] as [GemmOptions, number][]
    ) {
      const a = randomArray((o.batch ?? 1) * o.m * o.k, seed);
      const b = randomArray((o.batch ?? 1) * o.k * o.n, seed + 1);
      setWasmThreads(1);
      const one = sgemm(a, b, o);
      setWasmThreads(2);
      const two = sgemm(a, b, o);
      assert.deepEqual(two, one, `threads disagree for ${JSON.stringify(o)}`);
      checkGemm(o, seed);
    }
  } finally {
    setWasmThreads(prev);
    shutdownWasmThreads();
  }
});

Deno.test("sgemm: empty shapes and k = 0 give zeros", () => {
  assert.deepEqual(
    sgemm(new Float32Array(0), new Float32Array(0), { m: 2, n: 3, k: 0 }),
    new Float32Array(6),
  );
  assert.equal(sgemm(new Float32Array(0), new Float32Array(6), { m: 0, n: 3, k: 2 }).length, 0);
});

Deno.test("sgemm: argument errors name the problem", () => {
  assert.throws(
    () => sgemm(new Float32Array(3), new Float32Array(4), { m: 2, n: 2, k: 2 }),
    TypeError,
  );
  assert.throws(
    () => sgemm(new Float32Array(4), new Float32Array(4), { m: 2.5, n: 2, k: 2 }),
    RangeError,
  );
  assert.throws(
    () => sgemm(new Float32Array(4), new Float32Array(4), { m: 2, n: 2, k: 2, batch: 2 }),
    /batch 2/,
  );
});

Deno.test("sgemm: the mul+add fallback kernel (no relaxed SIMD) agrees with the reference", () => {
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: false });
  const bytes = buildKernelModule({ mr: TILE.mr, nr: TILE.nr, ku: TILE.ku, relaxed: false }, false);
  assert.ok(WebAssembly.validate(bytes));
  const kx = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } })
    .exports as unknown as Kernels;
  const [m, n, k] = [37, 29, 300];
  const mPad = Math.ceil(m / TILE.mr) * TILE.mr, nPad = Math.ceil(n / TILE.nr) * TILE.nr;
  const a = randomArray(m * k, 71), b = randomArray(k * n, 72);
  const [aAt, bAt, cAt, scratch] = [1024, 1024 + 4 * m * k, 1024 + 4 * (m * k + k * n), 1 << 20];
  new Float32Array(memory.buffer, aAt, m * k).set(a);
  new Float32Array(memory.buffer, bAt, k * n).set(b);
  gemmBlocked(kx, aAt, bAt, cAt, m, 0, n, k, k, 1, 1, n, nPad, scratch);
  const c = new Float32Array(memory.buffer, cAt, mPad * nPad);
  const { ref, scale } = naiveGemm(a, b, { m, n, k });
  let err = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) err = Math.max(err, Math.abs(c[i * nPad + j] - ref[i * n + j]));
  }
  assert.ok(err <= 1e-5 * scale, `fallback kernel error ${err} vs scale ${scale}`);
});

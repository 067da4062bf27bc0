// Tests of the CPU kernel selection (SLL_CPU_KERNELS) and of its two matmul paths: the wasm
// Gram kernel (one triangle) and the native BLAS through Deno.dlopen (sgemm, ssyrk), each
// against a float64 loop and against each other on random shapes (fast-check, seeded; FC_SEED
// reproduces), through the same FastCpuKernels entry the backend calls. CI installs OpenBLAS, so
// the BLAS rows run there; without a native BLAS they say so loudly and are ignored.
import assert from "node:assert/strict";
import fc from "fast-check";
import { randomArray } from "../../bench/harness.ts";
import type { KernelArg, OutInfo } from "../prims.ts";
import type { TypedArray } from "../dtype.ts";
import { loadNativeBlas } from "./blas.ts";
import { BLAS_MIN_MACS, type CpuKernelSelection, selectCpuKernels } from "./fast.ts";
import { mirrorLower } from "./linalg.ts";
import { gram, setWasmThreads, shutdownWasmThreads } from "./wasm/mod.ts";

const SEED = Number(Deno.env.get("FC_SEED") ?? 20261202);
const blasProbe = loadNativeBlas();
const noBlas = "error" in blasProbe ? blasProbe.error : null;
if (noBlas) console.warn(`\n*** fast_test: native BLAS rows IGNORED: ${noBlas} ***\n`);

/** op(A)·op(B) in float64, and Σ|a·b| per output (the scale of float32 rounding). */
function reference(
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
  tA: boolean,
  tB: boolean,
  batch: number,
): { ref: Float64Array; scale: number } {
  const ref = new Float64Array(batch * m * n);
  let scale = 0;
  for (let z = 0; z < batch; z++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0, abs = 0;
        for (let p = 0; p < k; p++) {
          const av = a[z * m * k + (tA ? p * m + i : i * k + p)];
          const bv = b[z * k * n + (tB ? j * k + p : p * n + j)];
          acc += av * bv, abs += Math.abs(av * bv);
        }
        ref[(z * m + i) * n + j] = acc;
        scale = Math.max(scale, abs);
      }
    }
  }
  return { ref, scale };
}

function maxErr(c: Float32Array, ref: ArrayLike<number>): number {
  assert.equal(c.length, ref.length);
  let err = 0;
  for (let i = 0; i < c.length; i++) err = Math.max(err, Math.abs(c[i] - ref[i]));
  return err;
}

/** Runs the selection's matmul kernel as the backend does. */
function run(
  sel: CpuKernelSelection,
  a: Float32Array,
  aShape: number[],
  b: Float32Array,
  bShape: number[],
  outShape: number[],
  tA: boolean,
  tB: boolean,
): Float32Array {
  const arg = (s: Float32Array, shape: number[]): KernelArg<TypedArray> =>
    ({ storage: s, shape, dtype: "float32" }) as unknown as KernelArg<TypedArray>;
  const out = { shape: outShape, dtype: "float32" } as OutInfo;
  const c = sel.kernels.matmul?.(arg(a, aShape), arg(b, bShape), out, tA, tB);
  assert.ok(c, `${sel.kind} declined a plain matmul`);
  return c;
}

Deno.test("SLL_CPU_KERNELS: a bad value is one clear error", () => {
  assert.throws(
    () => selectCpuKernels("fast"),
    (e: unknown) =>
      e instanceof RangeError &&
      /SLL_CPU_KERNELS=fast: expected one of auto, wasm, blas, reference/.test(e.message),
  );
});

Deno.test("SLL_CPU_KERNELS=blas without a library names the package to install", () => {
  assert.throws(
    () => selectCpuKernels("blas", ["libsll-no-such-blas.so"]),
    (e: unknown) =>
      e instanceof Error && /SLL_CPU_KERNELS=blas: no native BLAS found/.test(e.message) &&
      /libsll-no-such-blas\.so/.test(e.message) && /apt-get install libopenblas0/.test(e.message),
  );
  // auto falls back to the wasm kernels and says why
  const sel = selectCpuKernels("auto", ["libsll-no-such-blas.so"]);
  assert.equal(sel.kind, "wasm");
  assert.match(sel.detail, /no native BLAS found/);
  assert.equal(selectCpuKernels("wasm").kind, "wasm");
  assert.equal(selectCpuKernels("reference").kind, "reference");
});

Deno.test("mirrorLower copies the lower triangle up", () => {
  const n = 70, c = new Float32Array(n * n).map((_, i) => i);
  mirrorLower(c, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) assert.equal(c[i * n + j], Math.max(i, j) * n + Math.min(i, j));
  }
});

Deno.test("wasm gram (one triangle) equals A·Aᵀ on one and two threads", () => {
  try {
    // sizes across the micro-tile (6×8), m-block (120) and k-block (256) edges
    for (const [n, k] of [[1, 1], [5, 3], [13, 300], [121, 257], [250, 40], [130, 270]]) {
      const a = randomArray(n * k, n + k);
      const { ref, scale } = reference(a, a, n, n, k, false, true, 1);
      for (const threads of [1, 2]) {
        const prev = setWasmThreads(threads);
        const c = gram(a, { n, k });
        setWasmThreads(prev);
        const err = maxErr(c, ref);
        assert.ok(err <= 1e-5 * scale, `gram n ${n} k ${k} (${threads} thr): err ${err}`);
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < i; j++) assert.equal(c[i * n + j], c[j * n + i], "not symmetric");
        }
      }
    }
  } finally {
    shutdownWasmThreads();
  }
});

Deno.test({
  name: "native BLAS sgemm/ssyrk agree with the wasm kernels and float64 (fast-check)",
  ignore: noBlas !== null,
  fn: () => {
    const blas = selectCpuKernels("blas"), wasm = selectCpuKernels("wasm");
    assert.equal(blas.kind, "blas");
    const dimArb = fc.integer({ min: 1, max: 160 });
    try {
      fc.assert(
        fc.property(
          dimArb,
          dimArb,
          fc.integer({ min: 64, max: 300 }),
          fc.integer({ min: 1, max: 2 }),
          fc.boolean(),
          fc.boolean(),
          fc.boolean(),
          (m, n, k, batch, tA, tB, isGram) => {
            // large enough for the BLAS path (products below BLAS_MIN_MACS stay on wasm)
            if (m * n * k < BLAS_MIN_MACS) k = Math.ceil(BLAS_MIN_MACS / (m * n));
            const bsh = (r: number, c: number): number[] => batch > 1 ? [batch, r, c] : [r, c];
            const a = randomArray(batch * m * k, m + 7 * k);
            let b = randomArray(batch * k * n, n + 3 * k);
            let aShape = bsh(tA ? k : m, tA ? m : k), bShape = bsh(tB ? n : k, tB ? k : n);
            if (isGram) [b, bShape, tA, tB, n] = [a, aShape = bsh(m, k), false, true, m];
            const outShape = bsh(m, n);
            const got = run(blas, a, aShape, b, bShape, outShape, tA, tB);
            const viaWasm = run(wasm, a, aShape, b, bShape, outShape, tA, tB);
            const { ref, scale } = reference(a, b, m, n, k, tA, tB, batch);
            const tol = 1e-5 * scale;
            assert.ok(maxErr(got, ref) <= tol, `blas vs float64: ${maxErr(got, ref)} > ${tol}`);
            assert.ok(maxErr(got, viaWasm) <= 2 * tol, `blas vs wasm: ${maxErr(got, viaWasm)}`);
          },
        ),
        { seed: SEED, numRuns: 12 },
      );
    } catch (e) {
      if (e instanceof Error) e.message = `[replay with FC_SEED=${SEED}] ${e.message}`;
      throw e;
    } finally {
      shutdownWasmThreads();
    }
  },
});

Deno.test("outer products (k = 1, every transpose flag): exact products on wasm and BLAS", () => {
  const sels = [selectCpuKernels("wasm"), ...(noBlas === null ? [selectCpuKernels("blas")] : [])];
  try {
    // 2048 × 2048 × 1 is past BLAS_MIN_MACS: both sizes of the dispatch
    for (const [m, n] of [[3, 5], [1, 7], [2048, 2048]]) {
      const a = randomArray(m, m + 1), b = randomArray(n, n + 2);
      for (const sel of sels) {
        for (const tA of [false, true]) {
          for (const tB of [false, true]) {
            const c = run(sel, a, tA ? [1, m] : [m, 1], b, tB ? [n, 1] : [1, n], [m, n], tA, tB);
            for (let i = 0; i < m; i++) {
              for (let j = 0; j < n; j++) {
                const want = Math.fround(a[i] * b[j]);
                if (c[i * n + j] !== want) {
                  assert.fail(
                    `${sel.kind} ${m}×${n} tA ${tA} tB ${tB} [${i},${j}]: ${c[i * n + j]}`,
                  );
                }
              }
            }
          }
        }
      }
    }
  } finally {
    shutdownWasmThreads();
  }
});

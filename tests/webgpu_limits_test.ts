/**
 * Sizes past Mesa's per-invocation loop limit (65,535 iterations, silently truncated on
 * llvmpipe/lavapipe): long reductions, a matmul with k = 70,000, convolutions whose reduction
 * (c·kh·kw, or b·ho·wo for the filter gradient) exceeds the limit, and a scatterAdd over 70,000
 * indices. Each result is checked against a float64 reference; a kernel that looped past the
 * limit in one invocation would come out wrong here.
 */
import { initWebGpu, setBackend } from "../tensor/backend.ts";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { tensor } from "../tensor/ops.ts";
import { assertClose, leakFreeTest } from "./helpers.ts";
import type { PrimName, PrimParams } from "../kernels/prims.ts";
import { bindPrim } from "../tensor/prims/mod.ts";

await initWebGpu(); // throws (fails the file) without an adapter

function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13, s >>>= 0, s ^= s >>> 17, s ^= s << 5, s >>>= 0;
    out[i] = lo + (hi - lo) * (s / 4294967296);
  }
  return out;
}

interface Input {
  shape: number[];
  data: Float32Array | Int32Array;
}

/** Runs one primitive on the CPU (float64) and on WebGPU (float32); returns both outputs. */
async function both<P extends PrimName>(
  prim: P,
  inputs: Input[],
  params: PrimParams[P],
): Promise<{ cpu: ArrayLike<number>; gpu: ArrayLike<number> }> {
  const run = async (backend: "cpu" | "webgpu") => {
    await setBackend(backend);
    const y = scope(() => {
      const xs = inputs.map((x) =>
        tensor(x.data, {
          shape: x.shape,
          dtype: x.data instanceof Int32Array ? "int32" : backend === "cpu" ? "float64" : "float32",
        })
      );
      return bindPrim(prim, xs, params) as Tensor;
    });
    const d = await y.data();
    y.dispose();
    return d;
  };
  const cpu = await run("cpu");
  const gpu = await run("webgpu");
  await setBackend("cpu");
  return { cpu, gpu };
}

function tol(cpu: ArrayLike<number>, rtol = 1e-4): { rtol: number; atol: number } {
  let m = 0;
  for (let i = 0; i < cpu.length; i++) m = Math.max(m, Math.abs(cpu[i]));
  return { rtol, atol: rtol * (1 + m) };
}

leakFreeTest(
  "webgpu limits: sum, max and argmax over 10⁶ elements",
  async () => {
    const n = 1_000_000;
    const x = rand(n, 1, 0, 1);
    x[999_000] = 5; // the maximum sits far past the first 65,535 entries
    const s = await both("sum", [{ shape: [n], data: x }], { axes: [0], keepDims: false });
    assertClose(s.gpu, s.cpu, { rtol: 1e-5, atol: 0, what: "sum of 10⁶" });
    const m = await both("max", [{ shape: [n], data: x }], { axes: [0], keepDims: false });
    assertClose(m.gpu, m.cpu, { what: "max of 10⁶" });
    const a = await both("argmax", [{ shape: [n], data: x }], { axis: 0, keepDims: false });
    assertClose(a.gpu, [999_000], { what: "argmax of 10⁶" });
    // a middle-axis reduction of the same size: [2, 500000, 1] → 2 sums
    const s2 = await both("sum", [{ shape: [2, n / 2, 1], data: x }], {
      axes: [1],
      keepDims: false,
    });
    assertClose(s2.gpu, s2.cpu, { rtol: 1e-5, atol: 0, what: "row sums of 500,000" });
  },
);

leakFreeTest(
  "webgpu limits: matmul with k = 70,000 (its transposed-A form, and n = 20)",
  async () => {
    const k = 70_000;
    const a = rand(3 * k, 2), b = rand(k * 5, 3);
    const r = await both("matmul", [{ shape: [3, k], data: a }, { shape: [k, 5], data: b }], {
      transA: false,
      transB: false,
    });
    assertClose(r.gpu, r.cpu, { ...tol(r.cpu, 1e-3), what: "matmul k = 70,000" });
    // aᵀ·b with a stored [k, 3]: the weight-gradient shape of a long batch
    const t = await both("matmul", [{ shape: [k, 3], data: a }, { shape: [k, 5], data: b }], {
      transA: true,
      transB: false,
    });
    assertClose(t.gpu, t.cpu, { ...tol(t.cpu, 1e-3), what: "matmul aᵀ·b, k = 70,000" });
    // n = 20: past the narrow kernel (n ≤ 16 on software adapters), so the wide one is split too;
    // m = 4 and k % 4 = 0, so it reads A copied transposed, 4 rows per load
    const a4 = rand(4 * k, 4), b20 = rand(k * 20, 5);
    const w = await both("matmul", [{ shape: [4, k], data: a4 }, { shape: [k, 20], data: b20 }], {
      transA: false,
      transB: false,
    });
    assertClose(w.gpu, w.cpu, { ...tol(w.cpu, 1e-3), what: "matmul [4, k]·[k, 20], k = 70,000" });
  },
);

leakFreeTest(
  "webgpu limits: conv2d and convTranspose2d with c·kh·kw = 72,000; filter gradient over b·ho·wo = 73,728",
  async () => {
    const c = 8000;
    const x = rand(c * 9, 4), w = rand(2 * c * 9, 5);
    const conv = await both("conv2d", [{ shape: [1, c, 3, 3], data: x }, {
      shape: [2, c, 3, 3],
      data: w,
    }], { stride: [1, 1], padding: [1, 1] });
    assertClose(conv.gpu, conv.cpu, { ...tol(conv.cpu, 1e-3), what: "conv2d c·k·k = 72,000" });
    const ct = await both("convTranspose2d", [{ shape: [1, c, 3, 3], data: x }, {
      shape: [c, 2, 3, 3],
      data: w,
    }], { stride: [1, 1], padding: [1, 1], outputPadding: [0, 0] });
    assertClose(ct.gpu, ct.cpu, { ...tol(ct.cpu, 1e-3), what: "convTranspose2d o·k·k = 72,000" });
    const b = 72;
    const xs = rand(b * 32 * 32, 6), gy = rand(b * 32 * 32, 7);
    const fg = await both("conv2dFilterGrad", [{ shape: [b, 1, 32, 32], data: xs }, {
      shape: [b, 1, 32, 32],
      data: gy,
    }], { stride: [1, 1], padding: [1, 1], kernel: [3, 3] });
    assertClose(fg.gpu, fg.cpu, { ...tol(fg.cpu, 1e-3), what: "filter gradient over 73,728" });
  },
);

leakFreeTest(
  "webgpu limits: wide matmuls use every register-tile column group (n = 140, 300, 1030)",
  async () => {
    for (const n of [140, 300, 1030]) {
      const a = rand(3 * 50, 9), b = rand(50 * n, 10);
      const r = await both("matmul", [{ shape: [3, 50], data: a }, { shape: [50, n], data: b }], {
        transA: false,
        transB: false,
      });
      assertClose(r.gpu, r.cpu, { ...tol(r.cpu, 1e-4), what: `matmul [3, 50]·[50, ${n}]` });
      // B stored transposed [n, 52] (moved in 4×4 blocks when both sides are multiples of 4)
      const bt = rand(n * 52, 11), at = rand(2 * 3 * 52, 12);
      const t = await both("matmul", [{ shape: [2, 3, 52], data: at }, {
        shape: [n, 52],
        data: bt,
      }], { transA: false, transB: true });
      assertClose(t.gpu, t.cpu, { ...tol(t.cpu, 1e-4), what: `matmul [2,3,52]·[${n}, 52]ᵀ` });
    }
  },
);

leakFreeTest(
  "webgpu limits: scatterAdd of 70,000 slices",
  async () => {
    const m = 70_000;
    const g = rand(m * 2, 8);
    const idx = new Int32Array(m).map((_, i) => (i * 7919) % 5);
    const r = await both("scatterAdd", [{ shape: [m, 2], data: g }, { shape: [m], data: idx }], {
      axis: 0,
      size: 5,
    });
    assertClose(r.gpu, r.cpu, { ...tol(r.cpu, 1e-4), what: "scatterAdd of 70,000" });
  },
);

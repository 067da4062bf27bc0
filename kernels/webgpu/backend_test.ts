/**
 * Both kernel profiles on whatever adapter is present: a backend forced to the "gpu" profile
 * (workgroup-memory tiled GEMM for matmul and the implicit-GEMM convolutions) and one forced to
 * "software" (im2col in batch chunks), each compared against the CPU reference kernels; the
 * GEMM's tile choice from adapter limits and its loop-budget k split.
 */
import assert from "node:assert/strict";
import { createCpuBackend } from "../cpu/backend.ts";
import type { KernelName, PrimParams } from "../prims.ts";
import { acquireWebGpu } from "./mod.ts";
import { createWebGpuBackend, sizeClass, type WebGpuBackend } from "./backend.ts";
import { gemmParts, pickGemmTile } from "./gemm.wgsl.ts";
import { LOOP_BUDGET } from "./wgsl.ts";

const real = await acquireWebGpu(); // fails the file without an adapter
const gpuPathBackend = createWebGpuBackend(real.device, real.adapter, { profile: "gpu" });
const cpu = createCpuBackend();
// the real adapter's kernels with a tiny im2col budget: every batch item is its own chunk
const chunked = createWebGpuBackend(real.device, real.adapter, {
  colsBytes: 4096,
  profile: "software",
});

function rand(n: number, seed: number): Float32Array {
  let s = seed;
  return new Float32Array(n).map(() => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  });
}

async function same<P extends KernelName>(
  prim: P,
  shapes: number[][],
  params: PrimParams[P],
  outShape: number[],
  gpuPath = gpuPathBackend,
): Promise<void> {
  await sameOn(gpuPath, prim, shapes, params, outShape);
}

async function sameOn<P extends KernelName>(
  gpuPath: WebGpuBackend,
  prim: P,
  shapes: number[][],
  params: PrimParams[P],
  outShape: number[],
): Promise<void> {
  const data = shapes.map((s, i) => rand(s.reduce((a, b) => a * b, 1), i + 1));
  const out = { shape: outShape, dtype: "float32" as const };
  const want = cpu.readSync!( // the CPU backend may return a pending (fused) value
    cpu.run(
      prim,
      shapes.map((s, i) => ({ storage: data[i], shape: s, dtype: "float32" })),
      params,
      out,
    ),
    "float32",
    outShape.reduce((a, b) => a * b, 1),
  );
  const ins = shapes.map((s, i) => ({
    storage: gpuPath.upload(data[i], "float32"),
    shape: s,
    dtype: "float32" as const,
  }));
  const st = gpuPath.run(prim, ins, params, out);
  const got = await gpuPath.read(st, "float32", want.length);
  [...ins.map((x) => x.storage), st].forEach((s) => gpuPath.free(s));
  for (let i = 0; i < want.length; i++) {
    assert.ok(
      Math.abs(got[i] - want[i]) <= 1e-4 * (1 + Math.abs(want[i])),
      `${prim} (GPU path): element ${i} is ${got[i]}, expected ${want[i]}`,
    );
  }
}

Deno.test("webgpu GPU-path kernels: conv2d, convTranspose2d, filter gradient, matmul", async () => {
  const p = { stride: [2, 1] as [number, number], padding: [1, 0] as [number, number] };
  await same("conv2d", [[2, 3, 7, 6], [4, 3, 3, 2]], p, [2, 4, 4, 5]);
  await same("convTranspose2d", [[2, 4, 4, 5], [4, 3, 3, 2]], { ...p, outputPadding: [0, 0] }, [
    2,
    3,
    7,
    6,
  ]);
  await same("conv2dFilterGrad", [[2, 3, 7, 6], [2, 4, 4, 5]], { ...p, kernel: [3, 2] }, [
    4,
    3,
    3,
    2,
  ]);
  await same("matmul", [[2, 5, 9], [9, 13]], { transA: false, transB: false }, [2, 5, 13]);
  await same("matmul", [[9, 5], [13, 9]], { transA: true, transB: true }, [5, 13]);
  // 4 rows of a transposed A per vec4 load; B [n, k] copied by 4×4 blocks
  await same("matmul", [[12, 8], [20, 12]], { transA: true, transB: true }, [8, 20]);
  const s = gpuPathBackend.stats();
  assert.equal(s.liveBuffers, 0, `${s.liveBuffers} buffers still live`);
});

Deno.test("webgpu gpu profile: the tiled GEMM over transposes, batch strides, tiles and k splits", async () => {
  const t = (transA: boolean, transB: boolean) => ({ transA, transB });
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
    const a = ta ? [3, 37, 21] : [3, 21, 37], b = tb ? [29, 37] : [37, 29]; // B broadcast
    await same("matmul", [a, b], t(ta, tb), [3, 21, 29]);
  }
  // past one 128×128 tile and its edges (largest tile: ≥ 256 workgroups of it)
  await same("matmul", [[2048, 24], [24, 2100]], t(false, false), [2048, 2100]);
  // a small output with a long k: split into parts to fill the GPU, parts summed
  await same("matmul", [[6, 3000], [3000, 5]], t(false, false), [6, 5]);
  // stride 2, asymmetric padding and kernel: the transposed conv skips off-stride taps
  const p = { stride: [2, 2] as [number, number], padding: [0, 1] as [number, number] };
  await same("convTranspose2d", [[3, 5, 4, 4], [5, 2, 3, 3]], { ...p, outputPadding: [1, 0] }, [
    3,
    2,
    10,
    7,
  ]);
  await same("conv2d", [[3, 2, 10, 7], [5, 2, 3, 3]], p, [3, 5, 4, 4]);
  await same("conv2dFilterGrad", [[3, 2, 10, 7], [3, 5, 4, 4]], { ...p, kernel: [3, 3] }, [
    5,
    2,
    3,
    3,
  ]);
});

Deno.test("webgpu gpu profile: tiles follow the adapter's limits; k parts keep the loop budget", () => {
  const lim = {
    maxComputeWorkgroupStorageSize: 16384,
    maxComputeInvocationsPerWorkgroup: 256,
    maxComputeWorkgroupSizeX: 256,
    maxComputeWorkgroupSizeY: 256,
  };
  const check = (ok: boolean, what: string) => assert.ok(ok, what);
  check(pickGemmTile(lim, 4096, 4096, 1).bm === 128, "large outputs take the 128×128 tile");
  check(pickGemmTile(lim, 1024, 1024, 1).bm === 64, "1024² takes 64×64 (256 workgroups)");
  const few = { ...lim, maxComputeInvocationsPerWorkgroup: 128 };
  check(pickGemmTile(few, 4096, 4096, 1).bm === 16, "128 invocations: only the 64-lane tile");
  const small = { ...lim, maxComputeWorkgroupStorageSize: 4096 };
  check(pickGemmTile(small, 4096, 4096, 1).bm === 32, "4 KiB of workgroup memory: 32×32");
  for (const k of [1, 15, 70000, 1 << 20]) {
    for (const tile of [pickGemmTile(lim, 4096, 4096, 1), pickGemmTile(lim, 8, 8, 1)]) {
      const { parts, kChunk } = gemmParts(tile, k, 1);
      check(parts * kChunk >= k && (parts - 1) * kChunk < k, `parts cover k = ${k} once`);
      check((kChunk / tile.bk) * (tile.bk + 1) <= LOOP_BUDGET, `k = ${k}: within the budget`);
    }
  }
});

Deno.test("webgpu matmul on the adapter's own tile: narrow outputs with 1, 2 and 4 rows per invocation", async () => {
  // on a software adapter these take the narrow kernel (n ≤ 16): m ≥ 256 gives 2 rows per
  // invocation, m ≥ 512 gives 4 (a transposed A then loads them as one vec4); k % 4 = 0 steps
  // 4 k at a time, k = 30 one (B's row then as n / 4 vec4s when n % 4 = 0); on a GPU they take
  // the wide kernel
  const t = (transA: boolean, transB: boolean) => ({ transA, transB });
  await sameOn(real, "matmul", [[512, 36], [36, 10]], t(false, false), [512, 10]);
  await sameOn(real, "matmul", [[36, 520], [10, 36]], t(true, true), [520, 10]);
  await sameOn(real, "matmul", [[30, 300], [30, 7]], t(true, false), [300, 7]);
  await sameOn(real, "matmul", [[300, 30], [30, 12]], t(false, false), [300, 12]); // B rows as vec4s
  await sameOn(real, "matmul", [[2, 260, 30], [2, 13, 30]], t(false, true), [2, 260, 13]);
  // wide: A copied transposed (m, k % 4 = 0), B [n, k] copied by 4×4 blocks
  await sameOn(real, "matmul", [[2, 40, 36], [60, 36]], t(false, true), [2, 40, 60]);
});

Deno.test("webgpu im2col convolutions in batch chunks (tiny im2col budget)", async () => {
  const p = { stride: [1, 1] as [number, number], padding: [1, 1] as [number, number] };
  await same("conv2d", [[5, 3, 6, 6], [4, 3, 3, 3]], p, [5, 4, 6, 6], chunked);
  await same("convTranspose2d", [[5, 4, 6, 6], [4, 3, 3, 3]], { ...p, outputPadding: [0, 0] }, [
    5,
    3,
    6,
    6,
  ], chunked);
  await same("conv2dFilterGrad", [[5, 3, 6, 6], [5, 4, 6, 6]], { ...p, kernel: [3, 3] }, [
    4,
    3,
    3,
    3,
  ], chunked);
});

Deno.test("webgpu size classes: 256 B minimum, at most 25% slack", () => {
  for (const b of [1, 256, 257, 1000, 4096, 5000, 1 << 20, (1 << 20) + 1]) {
    const c = sizeClass(b);
    assert.ok(!(c < b || (b > 256 && c > b * 1.25 + 1)), `sizeClass(${b}) = ${c}`);
  }
});

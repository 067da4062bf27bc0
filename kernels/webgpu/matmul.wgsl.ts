/**
 * WGSL builder for batched matmul, register-blocked: each invocation computes a TM×4 block of
 * C = A·B (TM rows shared by the whole workgroup, 4 adjacent columns per invocation), so the A
 * loads are workgroup-uniform (one scalar load on SIMD software rasterisers such as llvmpipe)
 * and the B loads are one vec4 when n % 4 = 0. The k loop is cut into parts of at most
 * LOOP_BUDGET iterations (Mesa truncates loops past 65,535): with more than one part the
 * partial products are written [part, batch, m, n] and summed by the reduction kernel.
 * @module
 */
import { type KernelSource, LOOP_BUDGET, paramsStruct, u } from "./wgsl.ts";

/** Rows of C per workgroup (and per invocation). */
export const TM = 4;
/** Invocations per workgroup, side by side along n (4 columns each). */
export const MM_WG = 64;

/** The k range one invocation covers (k parts split longer products). */
export function matmulParts(k: number): { parts: number; kChunk: number } {
  const kChunk = Math.min(Math.max(k, 1), LOOP_BUDGET);
  return { parts: Math.max(1, Math.ceil(k / kChunk)), kChunk };
}

/**
 * C[z] (+ part offset) = A[z] · B[z] over k ∈ chunk(part). `aStride`/`bStride` are the matrix
 * strides between batch items (0 broadcasts one matrix over the batch).
 */
export function matmulKernel(
  m: number,
  k: number,
  n: number,
  batch: number,
  aStride: number,
  bStride: number,
  transA = false,
): KernelSource {
  const { parts, kChunk } = matmulParts(k);
  const vec = n % 4 === 0;
  const { decl, data } = paramsStruct([
    u("m", m, "rows of A and C"),
    u("k", k, "columns of A, rows of B"),
    u("n", n, "columns of B and C"),
    u("batch", batch, "batch items (grid z = part · batch + item)"),
    u("aStride", aStride, "elements between A matrices (0: broadcast)"),
    u("bStride", bStride, "elements between B matrices (0: broadcast)"),
    u("kChunk", kChunk, "k entries per part"),
    u("cStride", batch * m * n, "elements between the parts' outputs"),
  ]);
  const rows = Array.from({ length: TM }, (_, r) => r);
  const bLoad = vec ? "let bv = b4[(bBase + kk * p.n + col) / 4u];" : `let bo = bBase + kk * p.n;
    let bv = vec4<f32>(b[bo + c0], b[bo + c1], b[bo + c2], b[bo + c3]);`;
  const code = `// C[z][r, c] = Σ_{kk ∈ chunk(part)} A[z][r, kk] · B[z][kk, c]${
    transA ? ", A stored transposed [k, m]" : ""
  }
// workgroup (x, y, z): columns [x·${MM_WG * 4}, +${MM_WG * 4}), rows [y·${TM}, +${TM}),
// z = part · batch + item; each invocation accumulates a ${TM}×4 block, ≤ ${LOOP_BUDGET} k steps.
${decl}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> ${vec ? "b4: array<vec4<f32>>" : "b: array<f32>"};
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(${MM_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let item = wid.z % p.batch;
  let part = wid.z / p.batch;
  let col = (wid.x * ${MM_WG}u + lid.x) * 4u;
  let row0 = wid.y * ${TM}u;
  let k0 = part * p.kChunk;
  let k1 = min(p.k, k0 + p.kChunk);
  // clamp out-of-range rows/columns for the loads; their results are not stored
  ${
    rows.map((r) =>
      `let ar${r} = item * p.aStride + min(row0 + ${r}u, p.m - 1u)${transA ? "" : " * p.k"};`
    ).join("\n  ")
  }
  ${vec ? "" : [0, 1, 2, 3].map((j) => `let c${j} = min(col + ${j}u, p.n - 1u);`).join("\n  ")}
  let bBase = item * p.bStride;
  ${rows.map((r) => `var acc${r} = vec4<f32>(0.0);`).join("\n  ")}
  for (var kk0 = k0; kk0 < k1; kk0++) {
    let kk = kk0;
    ${bLoad}
    ${rows.map((r) => `acc${r} += a[ar${r} + ${transA ? "kk * p.m" : "kk"}] * bv;`).join("\n    ")}
  }
  if (col >= p.n) { return; }
  let cBase = part * p.cStride + item * p.m * p.n;
  ${
    rows.map((r) =>
      `if (row0 + ${r}u < p.m) { store(cBase + (row0 + ${r}u) * p.n, col, acc${r}); }`
    ).join("\n  ")
  }
}
fn store(base: u32, col: u32, v: vec4<f32>) {
  out[base + col] = v.x;
  if (col + 1u < p.n) { out[base + col + 1u] = v.y; }
  if (col + 2u < p.n) { out[base + col + 2u] = v.z; }
  if (col + 3u < p.n) { out[base + col + 3u] = v.w; }
}
`;
  const grid: [number, number, number] = [
    Math.ceil(n / (MM_WG * 4)),
    Math.ceil(m / TM),
    batch * parts,
  ];
  return { code, grid, params: data };
}

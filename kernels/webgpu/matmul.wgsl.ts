/**
 * WGSL builder for batched matmul, register-blocked: each invocation computes a tm × (4·tn4)
 * block of C = op(A)·B, tm rows shared by the workgroup (workgroup-uniform A loads) and tn4
 * adjacent vec4 column groups of its own (contiguous vec4 B loads when n % 4 = 0). The tile is
 * chosen per adapter: software rasterisers (llvmpipe, lavapipe) run a workgroup as SIMD lanes
 * on one core and want large per-invocation tiles; GPUs want small ones. The k loop is cut into
 * parts of at most LOOP_BUDGET iterations (Mesa truncates loops past 65,535): with more than
 * one part the partial products are written [part, batch, m, n] and summed by the reduction.
 * @module
 */
import { type KernelSource, LOOP_BUDGET, paramsStruct, u } from "./wgsl.ts";

/** Register tile of the matmul kernel. */
export interface MatmulTile {
  /** Rows of C per workgroup (each invocation computes all of them). */
  tm: number;
  /** vec4 column groups per invocation (at most; shrunk for narrow outputs). */
  tn4: number;
  /** Invocations per workgroup, side by side along n. */
  wg: number;
}

/** Tile for GPUs. */
export const GPU_TILE: MatmulTile = { tm: 4, tn4: 1, wg: 64 };
/** Tile for CPU-backed adapters (measured on llvmpipe: 16×32 per invocation, 8 per group). */
export const CPU_TILE: MatmulTile = { tm: 16, tn4: 8, wg: 8 };

/**
 * The k range one invocation covers (k parts split longer products).
 *
 * @example
 * ```ts
 * import { matmulParts } from "./matmul.wgsl.ts";
 * matmulParts(70000); // { parts: 5, kChunk: 16384 }
 * ```
 */
export function matmulParts(k: number): { parts: number; kChunk: number } {
  const kChunk = Math.min(Math.max(k, 1), LOOP_BUDGET);
  return { parts: Math.max(1, Math.ceil(k / kChunk)), kChunk };
}

/**
 * C[z] (+ part offset) = op(A[z]) · B[z] over k ∈ chunk(part). `aStride`/`bStride` are the
 * matrix strides between batch items (0 broadcasts one matrix over the batch); with `transA`,
 * A is stored [k, m].
 *
 * @example
 * ```ts
 * import { CPU_TILE, matmulKernel } from "./matmul.wgsl.ts";
 * const k = matmulKernel(64, 70000, 32, 1, 0, 0, false, CPU_TILE);
 * ```
 */
export function matmulKernel(
  m: number,
  k: number,
  n: number,
  batch: number,
  aStride: number,
  bStride: number,
  transA: boolean,
  tile: MatmulTile,
): KernelSource {
  const { parts, kChunk } = matmulParts(k);
  const vec = n % 4 === 0;
  const wg = tile.wg;
  // the tile shrunk to fit the output evenly (same workgroup count, fewest padded rows and
  // columns): m = 45 takes 3 × 15 rows instead of 3 × 16; n = 408 (102 vec4s over 2 groups of 8
  // lanes) takes 7 vec4s per lane instead of 8; narrow outputs keep one lane per vec4 column
  const n4 = Math.max(1, Math.ceil(n / 4));
  const tn4 = Math.ceil(n4 / (wg * Math.ceil(n4 / (wg * tile.tn4))));
  const tm = Math.ceil(Math.max(m, 1) / Math.ceil(Math.max(m, 1) / tile.tm));
  const { decl, data } = paramsStruct([
    u("m", m, "rows of C"),
    u("k", k, "reduced length"),
    u("n", n, "columns of B and C"),
    u("batch", batch, "batch items (grid z = part · batch + item)"),
    u("aStride", aStride, "elements between A matrices (0: broadcast)"),
    u("bStride", bStride, "elements between B matrices (0: broadcast)"),
    u("kChunk", kChunk, "k entries per part"),
    u("cStride", batch * m * n, "elements between the parts' outputs"),
  ]);
  const R = Array.from({ length: tm }, (_, r) => r);
  const G = Array.from({ length: tn4 }, (_, g) => g);
  const aRow = (r: number) =>
    `let ar${r} = item * p.aStride + min(row0 + ${r}u, p.m - 1u)${transA ? "" : " * p.k"};`;
  const aAt = (r: number) => `a[ar${r} + ${transA ? "kk * p.m" : "kk"}]`;
  // column offsets (clamped for the loads; stores are masked) are computed once, outside k
  const colOff = G.map((g) =>
    vec
      ? `let cg${g} = min(col4 + ${g}u, n4 - 1u);`
      : [0, 1, 2, 3].map((j) => `let c${g}_${j} = min((col4 + ${g}u) * 4u + ${j}u, p.n - 1u);`)
        .join(" ")
  );
  const bLoad = G.map((g) =>
    vec
      ? `let bv${g} = b4[kb + cg${g}];`
      : `let bv${g} = vec4<f32>(${[0, 1, 2, 3].map((j) => `b[kb + c${g}_${j}]`).join(", ")});`
  );
  const code = `// C[z][r, c] = Σ_{kk ∈ chunk(part)} A[z][r, kk] · B[z][kk, c]${
    transA ? " (A stored transposed, [k, m])" : ""
  }
// workgroup (x, y, z): columns [x·${wg * tn4 * 4}, +${wg * tn4 * 4}), rows [y·${tm}, +${tm}),
// z = part · batch + item; each invocation accumulates ${tm}×${
    tn4 * 4
  } of C over ≤ ${LOOP_BUDGET} k steps.
${decl}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> ${vec ? "b4: array<vec4<f32>>" : "b: array<f32>"};
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let item = wid.z % p.batch;
  let part = wid.z / p.batch;
  let col4 = (wid.x * ${wg}u + lid.x) * ${tn4}u;
  let row0 = wid.y * ${tm}u;
  let k0 = part * p.kChunk;
  let k1 = min(p.k, k0 + p.kChunk);
  let n4 = (p.n + 3u) / 4u;
  ${R.map(aRow).join("\n  ")}
  ${colOff.join("\n  ")}
  let bBase = item * p.bStride${vec ? " / 4u" : ""};
  ${R.map((r) => G.map((g) => `var acc${r}_${g} = vec4<f32>(0.0);`).join(" ")).join("\n  ")}
  for (var kk = k0; kk < k1; kk++) {
    let kb = bBase + kk * ${vec ? "n4" : "p.n"};
    ${bLoad.join("\n    ")}
    ${R.map((r) => `let a${r} = ${aAt(r)};`).join("\n    ")}
    ${R.map((r) => G.map((g) => `acc${r}_${g} += a${r} * bv${g};`).join(" ")).join("\n    ")}
  }
  let cBase = part * p.cStride + item * p.m * p.n;
  ${
    R.map((r) =>
      `if (row0 + ${r}u < p.m) {\n    ${
        G.map((g) => `store(cBase + (row0 + ${r}u) * p.n, (col4 + ${g}u) * 4u, acc${r}_${g});`)
          .join("\n    ")
      }\n  }`
    ).join("\n  ")
  }
}
fn store(base: u32, col: u32, v: vec4<f32>) {
  if (col < p.n) { out[base + col] = v.x; }
  if (col + 1u < p.n) { out[base + col + 1u] = v.y; }
  if (col + 2u < p.n) { out[base + col + 2u] = v.z; }
  if (col + 3u < p.n) { out[base + col + 3u] = v.w; }
}
`;
  const grid: [number, number, number] = [
    Math.ceil(n / (wg * tn4 * 4)),
    Math.ceil(m / tm),
    batch * parts,
  ];
  return { code, grid, params: data };
}

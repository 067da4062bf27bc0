/**
 * The GPU-class GEMM: C[z] = A[z]·B[z] tiled through workgroup memory, with the operands read by
 * pluggable loaders, so one kernel template serves matmul (A and B each stored plain or
 * transposed, batch strides) and the implicit-GEMM convolutions (conv2d, its transpose and its
 * filter gradient read x, w and gy in place: no im2col buffer).
 *
 * Work split: a workgroup computes a BM×BN block of C with (BN/TN)×(BM/TM) invocations, each
 * TM×TN outputs at rows ly + i·WY and columns lx + j·WX (neighbouring lanes touch neighbouring
 * addresses in workgroup memory and in C). Per step of BK along k, the workgroup stages a BM×BK
 * slab of A and a BK×BN slab of B in workgroup memory (each lane loads BM·BK/T and BK·BN/T
 * elements, lanes along the operand's contiguous axis), then every lane runs BK rank-1 updates.
 * Tile sizes come from the adapter's limits (`pickGemmTile`).
 *
 * Loop budget: per invocation the k loop runs ⌈kChunk/BK⌉ times with an inner loop of BK, so a
 * part covers at most ⌊LOOP_BUDGET/(BK+1)⌋·BK of k (Mesa truncates loops past 65,535
 * iterations); longer products, or small outputs that need more workgroups to fill a GPU, are
 * split into k parts written [part, z, m, n] and summed by the reduction.
 * @module
 */
import { type Field, type KernelSource, LOOP_BUDGET, paramsStruct, u } from "./wgsl.ts";

/** A workgroup tile of the GEMM. */
export interface GemmTile {
  /** Rows of C per workgroup. */
  bm: number;
  /** Columns of C per workgroup. */
  bn: number;
  /** k per staged slab. */
  bk: number;
  /** Rows of C per invocation. */
  tm: number;
  /** Columns of C per invocation. */
  tn: number;
}

/** The adapter limits a tile must fit (a subset of GPUSupportedLimits). */
export interface GemmLimits {
  /** Bytes of workgroup memory one workgroup may use. */
  maxComputeWorkgroupStorageSize: number;
  /** Invocations per workgroup. */
  maxComputeInvocationsPerWorkgroup: number;
  /** Workgroup size along x. */
  maxComputeWorkgroupSizeX: number;
  /** Workgroup size along y. */
  maxComputeWorkgroupSizeY: number;
}

/** Tiles from the largest down; the first that fits the limits and fills the GPU is taken. */
const TILES: readonly GemmTile[] = [
  { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8 }, // 256 lanes, 64 accumulators each, 8 KiB
  { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 }, // 256 lanes, 8 KiB
  { bm: 32, bn: 32, bk: 16, tm: 2, tn: 2 }, // 256 lanes, 4 KiB
  { bm: 16, bn: 16, bk: 16, tm: 2, tn: 2 }, // 64 lanes, 2 KiB (adapters with few lanes)
];

/** Workgroups below which a GEMM takes a smaller tile (or more k parts) to fill the GPU. */
const FILL_GROUPS = 256;

/** True when `t` fits the adapter's limits. */
function fits(t: GemmTile, lim: GemmLimits): boolean {
  const wx = t.bn / t.tn, wy = t.bm / t.tm;
  return wx * wy <= lim.maxComputeInvocationsPerWorkgroup &&
    wx <= lim.maxComputeWorkgroupSizeX && wy <= lim.maxComputeWorkgroupSizeY &&
    (t.bm + t.bn) * t.bk * 4 <= lim.maxComputeWorkgroupStorageSize;
}

/**
 * The tile for an m×n output (nb of them) on an adapter with `lim`: the largest that fits the
 * limits and still gives FILL_GROUPS workgroups, else the smallest that fits.
 *
 * @example
 * ```ts
 * import { pickGemmTile } from "./gemm.wgsl.ts";
 * const lim = { maxComputeWorkgroupStorageSize: 16384, maxComputeInvocationsPerWorkgroup: 256,
 *   maxComputeWorkgroupSizeX: 256, maxComputeWorkgroupSizeY: 256 };
 * pickGemmTile(lim, 4096, 4096, 1); // { bm: 128, bn: 128, … }
 * pickGemmTile(lim, 64, 64, 1); // { bm: 16, bn: 16, … }
 * ```
 */
export function pickGemmTile(lim: GemmLimits, m: number, n: number, nb: number): GemmTile {
  const ok = TILES.filter((t) => fits(t, lim));
  if (!ok.length) {
    throw new RangeError(
      `gemm: no workgroup tile fits this adapter (${lim.maxComputeInvocationsPerWorkgroup} invocations, ${lim.maxComputeWorkgroupStorageSize} B of workgroup memory); use SLL_WEBGPU_PROFILE=software`,
    );
  }
  const groups = (t: GemmTile) => Math.ceil(m / t.bm) * Math.ceil(n / t.bn) * nb;
  return ok.find((t) => groups(t) >= FILL_GROUPS) ?? ok[ok.length - 1];
}

/**
 * The k parts of a GEMM: enough that each respects the loop budget, and, when the output gives
 * few workgroups, more (down to 4·BK of k each) so the GPU fills up.
 *
 * @example
 * ```ts
 * import { gemmParts } from "./gemm.wgsl.ts";
 * const t = { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 };
 * gemmParts(t, 70000, 1024); // { parts: 5, kChunk: 14000 }
 * ```
 */
export function gemmParts(
  t: GemmTile,
  k: number,
  groups: number,
): { parts: number; kChunk: number } {
  const maxChunk = Math.floor(LOOP_BUDGET / (t.bk + 1)) * t.bk;
  const budget = Math.ceil(k / maxChunk);
  const fill = Math.min(Math.ceil(FILL_GROUPS / Math.max(1, groups)), Math.floor(k / (4 * t.bk)));
  const parts = Math.max(1, budget, fill);
  const kChunk = Math.max(t.bk, Math.ceil(Math.ceil(k / parts) / t.bk) * t.bk);
  return { parts: Math.max(1, Math.ceil(k / kChunk)), kChunk };
}

/** How a GEMM reads its operands: WGSL bodies of `loadA(z, row, kk)` and `loadB(z, kk, col)`. */
export interface GemmOperands {
  /** The equation, for the kernel's header comment. */
  formula: string;
  /** Extra Params fields the loaders read (as `p.<name>`). */
  fields: Field[];
  /** Body of `fn loadA(z: u32, row: u32, kk: u32) -> f32` (row < m, kk < k guaranteed). */
  loadA: string;
  /** Body of `fn loadB(z: u32, kk: u32, col: u32) -> f32` (kk < k, col < n guaranteed). */
  loadB: string;
  /** Which index of A neighbouring lanes should vary: "k" (A rows contiguous) or "m". */
  aContig: "k" | "m";
  /** Which index of B neighbouring lanes should vary: "n" (B rows contiguous) or "k". */
  bContig: "n" | "k";
}

/**
 * The tiled GEMM kernel: out[part, z, m, n] = Σ_{kk ∈ chunk(part)} A[z](m, kk) · B[z](kk, n),
 * z < nb, with inputs bound as x0 (A's source) and x1 (B's source). Returns the kernel and its
 * part count (sum the parts when > 1).
 *
 * @example
 * ```ts
 * import { gemmKernel, matmulOperands } from "./gemm.wgsl.ts";
 * const t = { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 };
 * const k = gemmKernel(t, 256, 300, 128, 1, matmulOperands(0, 0, false, true));
 * ```
 */
export function gemmKernel(
  t: GemmTile,
  m: number,
  k: number,
  n: number,
  nb: number,
  ops: GemmOperands,
): KernelSource & { parts: number } {
  const gx = Math.ceil(n / t.bn), gy = Math.ceil(m / t.bm);
  const { parts, kChunk } = gemmParts(t, k, gx * gy * nb);
  const wx = t.bn / t.tn, wy = t.bm / t.tm, lanes = wx * wy;
  const { decl, data } = paramsStruct([
    u("m", m, "rows of C"),
    u("n", n, "columns of C"),
    u("k", k, "length of the reduction"),
    u("nb", nb, "batch items (grid z = nb · parts)"),
    u("parts", parts, "k parts (partial results summed afterwards)"),
    u("kChunk", kChunk, "k per part, a multiple of BK within the loop budget"),
    ...ops.fields,
  ]);
  // staging loads, unrolled: lane l loads elements l, l + T, … of the slab
  const stage = (
    slab: "As" | "Bs",
    count: number,
    idx: (i: string) => [string, string], // [row-or-k index in slab, k-or-col index]
    guard: string,
    load: string,
    at: string,
  ) =>
    Array.from({ length: count / lanes }, (_, j) => {
      const [a, b] = idx(`(l + ${j * lanes}u)`);
      return `{ let s0 = ${a}; let s1 = ${b}; var v = 0.0;
      if (${guard}) { v = ${load}; }
      ${slab}[${at}] = v; }`;
    }).join("\n    ");
  // A slab As[kk·BM + r]: rows r of C, k index kk
  const stageA = stage(
    "As",
    t.bm * t.bk,
    (i) => ops.aContig === "k" ? [`${i} / BK`, `${i} % BK`] : [`${i} % BM`, `${i} / BM`],
    "m0 + s0 < p.m && kt + s1 < k1",
    "loadA(z, m0 + s0, kt + s1)",
    "s1 * BM + s0",
  );
  // B slab Bs[kk·BN + c]
  const stageB = stage(
    "Bs",
    t.bk * t.bn,
    (i) => ops.bContig === "n" ? [`${i} / BN`, `${i} % BN`] : [`${i} % BK`, `${i} / BK`],
    "kt + s0 < k1 && n0 + s1 < p.n",
    "loadB(z, kt + s0, n0 + s1)",
    "s0 * BN + s1",
  );
  const acc: string[] = [], fmas: string[] = [], aLoads: string[] = [], bLoads: string[] = [];
  const stores: string[] = [];
  for (let i = 0; i < t.tm; i++) aLoads.push(`let a${i} = As[kk * BM + ly + ${i * wy}u];`);
  for (let j = 0; j < t.tn; j++) bLoads.push(`let b${j} = Bs[kk * BN + lx + ${j * wx}u];`);
  for (let i = 0; i < t.tm; i++) {
    for (let j = 0; j < t.tn; j++) {
      acc.push(`var c${i}_${j} = 0.0;`);
      fmas.push(`c${i}_${j} = fma(a${i}, b${j}, c${i}_${j});`);
      stores.push(
        `if (r${i} < p.m && n0 + lx + ${j * wx}u < p.n) { out[base + r${i} * p.n + n0 + lx + ${
          j * wx
        }u] = c${i}_${j}; }`,
      );
    }
  }
  const rows = Array.from({ length: t.tm }, (_, i) => `let r${i} = m0 + ly + ${i * wy}u;`);
  const code = `// ${ops.formula}
// Tiled GEMM out[part, z, m, n] = Σ_{kk ∈ chunk(part)} A(z; m, kk) · B(z; kk, n): a workgroup
// computes ${t.bm}×${t.bn} of C through workgroup memory (slabs of BK = ${t.bk} along k), each of
// its ${lanes} invocations ${t.tm}×${t.tn} outputs. Loops: ⌈kChunk/BK⌉ · (BK + 1) ≤ ${LOOP_BUDGET}.
const BM = ${t.bm}u;
const BN = ${t.bn}u;
const BK = ${t.bk}u;
${decl}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x0: array<f32>;
@group(0) @binding(2) var<storage, read> x1: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
var<workgroup> As: array<f32, ${t.bm * t.bk}>;
var<workgroup> Bs: array<f32, ${t.bk * t.bn}>;

fn loadA(z: u32, row: u32, kk: u32) -> f32 {
  ${ops.loadA}
}

fn loadB(z: u32, kk: u32, col: u32) -> f32 {
  ${ops.loadB}
}

@compute @workgroup_size(${wx}, ${wy})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let z = wid.z / p.parts;
  let part = wid.z % p.parts;
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  let lx = lid.x;
  let ly = lid.y;
  let l = ly * ${wx}u + lx;
  let k0 = part * p.kChunk;
  let k1 = min(p.k, k0 + p.kChunk);
  ${acc.join("\n  ")}
  // every lane runs every iteration (no early return): the barriers stay in uniform control flow
  for (var kt = k0; kt < k1; kt += BK) {
    ${stageA}
    ${stageB}
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      ${aLoads.join("\n      ")}
      ${bLoads.join("\n      ")}
      ${fmas.join("\n      ")}
    }
    workgroupBarrier();
  }
  let base = (part * p.nb + z) * p.m * p.n;
  ${rows.join("\n  ")}
  ${stores.join("\n  ")}
}
`;
  const grid: [number, number, number] = [gx, gy, nb * parts]; // checked by the caller
  return { code, grid, params: data, parts };
}

/**
 * Loaders of a batched matmul: A stored [m, k] (or [k, m] with `transA`), B stored [k, n] (or
 * [n, k] with `transB`), `aStride`/`bStride` elements between batch items (0: broadcast).
 *
 * @example
 * ```ts
 * import { matmulOperands } from "./gemm.wgsl.ts";
 * matmulOperands(0, 4096, true, false).aContig; // "m"
 * ```
 */
export function matmulOperands(
  aStride: number,
  bStride: number,
  transA: boolean,
  transB: boolean,
): GemmOperands {
  return {
    formula: `C[z] = ${transA ? "Aᵀ" : "A"}[z] · ${transB ? "Bᵀ" : "B"}[z] (A stored ${
      transA ? "[k, m]" : "[m, k]"
    }, B stored ${transB ? "[n, k]" : "[k, n]"})`,
    fields: [
      u("sa", aStride, "elements between A's batch items (0: one A for all)"),
      u("sb", bStride, "elements between B's batch items (0: one B for all)"),
    ],
    loadA: transA
      ? "return x0[z * p.sa + kk * p.m + row];"
      : "return x0[z * p.sa + row * p.k + kk];",
    loadB: transB
      ? "return x1[z * p.sb + col * p.k + kk];"
      : "return x1[z * p.sb + kk * p.n + col];",
    aContig: transA ? "m" : "k",
    bContig: transB ? "k" : "n",
  };
}

/**
 * WGSL builders of solve on WebGPU: Gauss–Jordan elimination with partial pivoting on an
 * augmented work matrix w = [op(a) | b] per system, one dispatch per phase: load, then for each
 * column c a pivot pass (one invocation per system: find the largest |w[i][c]|, i ≥ c, swap it
 * into row c) and an elimination pass (one invocation per entry), then x = w[:, n:] / diag.
 * Each system's work block ends with a flag word set when a pivot is exactly zero (singular):
 * its x is then written as NaN. Loops run over one row or column (≤ LOOP_BUDGET, checked).
 * @module
 */
import { ENTRY_1D, FLAT_INDEX, grid1d, type KernelSource, paramsStruct, u, WG } from "./wgsl.ts";

/** A batch of systems: `batch` matrices n × n with k right-hand sides; a transposed when set. */
export interface SolveGeom {
  batch: number;
  n: number;
  k: number;
  transA: boolean;
}

/** Floats per system in the work buffer: the n × (n + k) augmented matrix and the flag. */
export function workStride(g: SolveGeom): number {
  return g.n * (g.n + g.k) + 1;
}

/** Which phase: load the augmented matrix, pivot column c, eliminate column c, or finish. */
export type SolvePhase = "load" | "pivot" | "eliminate" | "finish";

const EQUATION: Record<SolvePhase, string> = {
  load: "w[z] = [op(a[z]) | b[z]], flag = 0 (one invocation per entry of w)",
  pivot:
    "p = argmax_{i ≥ c} |w[z][i][c]|; swap rows c and p; flag = 1 when that maximum is 0 (one invocation per system)",
  eliminate:
    "w[z][i][j] −= w[z][i][c] / w[z][c][c] · w[z][c][j] for i ≠ c, j > c (one invocation per entry; column c and row c are only read)",
  finish: "x[z][i][r] = w[z][i][n + r] / w[z][i][i], or NaN when the system is singular",
};

const BODY: Record<SolvePhase, string> = {
  load: `let m = p.n + p.k;
  let z = i / (p.n * m);
  let e = i % (p.n * m);
  let r = e / m;
  let j = e % m;
  let base = z * p.stride;
  if (j < p.n) {
    if (p.trans == 1u) { w[base + e] = a[z * p.n * p.n + j * p.n + r]; }
    else { w[base + e] = a[z * p.n * p.n + r * p.n + j]; }
  } else {
    w[base + e] = b[z * p.n * p.k + r * p.k + (j - p.n)];
  }
  if (e == 0u) { w[base + p.stride - 1u] = 0.0; }`,
  pivot: `let m = p.n + p.k;
  let base = i * p.stride;
  var best = -1.0;
  var piv = p.c;
  // n − c rows, then n + k − c columns (≤ LOOP_BUDGET, checked by the runner)
  for (var r = p.c; r < p.n; r = r + 1u) {
    let v = abs(w[base + r * m + p.c]);
    if (v > best) { best = v; piv = r; }
  }
  if (!(best > 0.0)) { w[base + p.stride - 1u] = 1.0; return; }
  if (piv != p.c) {
    for (var j = p.c; j < m; j = j + 1u) {
      let t = w[base + p.c * m + j];
      w[base + p.c * m + j] = w[base + piv * m + j];
      w[base + piv * m + j] = t;
    }
  }`,
  eliminate: `let m = p.n + p.k;
  let z = i / (p.n * m);
  let e = i % (p.n * m);
  let r = e / m;
  let j = e % m;
  let base = z * p.stride;
  if (r == p.c || j <= p.c || w[base + p.stride - 1u] != 0.0) { return; }
  let l = w[base + r * m + p.c] / w[base + p.c * m + p.c];
  w[base + e] = w[base + e] - l * w[base + p.c * m + j];`,
  finish: `let m = p.n + p.k;
  let z = i / (p.n * p.k);
  let e = i % (p.n * p.k);
  let r = e / p.k;
  let base = z * p.stride;
  if (w[base + p.stride - 1u] != 0.0) { x[i] = bitcast<f32>(0x7fc00000u); return; }
  x[i] = w[base + r * m + p.n + e % p.k] / w[base + r * m + r];`,
};

/**
 * One phase's kernel over the batch (`c`: the column of a pivot or elimination phase).
 *
 * @example
 * ```ts
 * import { solvePhaseKernel } from "./solve.wgsl.ts";
 * const k = solvePhaseKernel("pivot", { batch: 4, n: 3, k: 1, transA: false }, 0);
 * ```
 */
export function solvePhaseKernel(phase: SolvePhase, g: SolveGeom, c: number): KernelSource {
  const m = g.n + g.k;
  const count = phase === "pivot"
    ? g.batch
    : phase === "finish"
    ? g.batch * g.n * g.k
    : g.batch * g.n * m;
  const { decl, data } = paramsStruct([
    u("count", count, "invocations doing work"),
    u("n", g.n, "matrix size"),
    u("k", g.k, "right-hand sides"),
    u("stride", workStride(g), "floats per system in w: n·(n + k) entries, then the flag"),
    u("c", c, "current column (pivot and eliminate)"),
    u("trans", g.transA ? 1 : 0, "1: load aᵀ instead of a"),
  ]);
  const bindings = phase === "load"
    ? `@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> w: array<f32>;`
    : phase === "finish"
    ? `@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;`
    : "@group(0) @binding(1) var<storage, read_write> w: array<f32>;";
  const code = `// solve, ${phase}: ${EQUATION[phase]}
const WG = ${WG}u;
${decl}
@group(0) @binding(0) var<uniform> p: Params;
${bindings}
${ENTRY_1D}
  ${FLAT_INDEX}
  if (i >= p.count) { return; }
  ${BODY[phase]}
}
`;
  return { code, grid: grid1d(Math.ceil(count / WG)), params: data };
}

/**
 * WGSL builder of the fft family's O(n log n) axis passes: one workgroup per line, the line in
 * workgroup memory, a mixed-radix Stockham autosort over the factors of n (each stage one
 * barrier; each invocation computes outputs lid, lid + WG, … as a p-term sum), one dispatch per
 * axis pass. Lines of up to STOCKHAM_MAX points (4 arrays of f32 in 8 KiB of workgroup memory);
 * a prime factor p costs O(n·p) (no Bluestein here), longer lines use the direct kernels.
 * @module
 */
import { factorize } from "../fft.ts";
import type { FftPass } from "./fft.wgsl.ts";
import { grid1d, type KernelSource, LOOP_BUDGET, paramsStruct, u } from "./wgsl.ts";

/** Longest line the workgroup-memory kernel takes (two complex ping-pong buffers, 8 KiB). */
export const STOCKHAM_MAX = 512;

/** Invocations per workgroup (one line per workgroup). */
const WGS = 64;

const LOAD: Record<FftPass, string> = {
  realRows: `for (var i = lid.x; i < N; i = i + WGS) {
    a_re[i] = x[line * N + i];
    a_im[i] = 0.0;
  }`,
  cols: `let b = line / p.wh;
  let k2 = line % p.wh;
  for (var i = lid.x; i < N; i = i + WGS) {
    let j = 2u * ((b * N + i) * p.wh + k2);
    a_re[i] = x[j];
    a_im[i] = x[j + 1u];
  }`,
  // the row's full Hermitian extension; DC and Nyquist imaginary parts do not enter
  realRowsInverse: `for (var i = lid.x; i < N; i = i + WGS) {
    var srcBin = i;
    var cj = 1.0;
    if (i >= p.wh) { srcBin = N - i; cj = -1.0; }
    let j = 2u * (line * p.wh + srcBin);
    a_re[i] = x[j];
    if (i == 0u || 2u * i == N) { a_im[i] = 0.0; } else { a_im[i] = cj * x[j + 1u]; }
  }`,
};

function storeAt(pass: FftPass): string {
  const re = "w_re[src + ", im = "w_im[src + ";
  switch (pass) {
    case "realRows":
      return `for (var k = lid.x; k < p.wh; k = k + WGS) {
    out[2u * (line * p.wh + k)] = ${re}k] * p.scale;
    out[2u * (line * p.wh + k) + 1u] = ${im}k] * p.scale;
  }`;
    case "cols":
      return `for (var i = lid.x; i < N; i = i + WGS) {
    let j = 2u * ((b * N + i) * p.wh + k2);
    out[j] = ${re}i] * p.scale;
    out[j + 1u] = ${im}i] * p.scale;
  }`;
    case "realRowsInverse":
      return `for (var i = lid.x; i < N; i = i + WGS) {
    out[line * N + i] = ${re}i] * p.scale;
  }`;
  }
}

/** Loop iterations one invocation runs for a line of n (load, stages, store). */
export function stockhamIterations(n: number): number {
  const per = Math.ceil(n / WGS);
  return per * (2 + factorize(n).reduce((s, p) => s + p, 0));
}

/** Most stages (factors of n ≤ STOCKHAM_MAX) the Params struct has room for. */
const MAX_STAGES = 8;

/**
 * The pass over `lines` lines of length n: realRows (real row → its ⌊n/2⌋+1 bins), cols (complex,
 * element i of line (b, k2) at ((b·n + i)·wh + k2), both ways) or realRowsInverse (bins → real
 * row); `sign` −1 forward, +1 inverse; results times `scale`. n and its radices are Params, so
 * one pipeline serves every length of a pass.
 *
 * @example
 * ```ts
 * import { stockhamKernel } from "./fft_stockham.wgsl.ts";
 * const k = stockhamKernel("cols", 12, 3 * 5, 5, -1, 1); // 15 lines of 12, 5 bins per row
 * ```
 */
export function stockhamKernel(
  pass: FftPass,
  n: number,
  lines: number,
  wh: number,
  sign: number,
  scale: number,
): KernelSource {
  const radices = n > 1 ? factorize(n) : [];
  if (n > STOCKHAM_MAX || radices.length > MAX_STAGES || stockhamIterations(n) > LOOP_BUDGET) {
    throw new RangeError(`fft: the workgroup kernel takes lines of ≤ ${STOCKHAM_MAX}, got ${n}`);
  }
  const { decl, data } = paramsStruct([
    u("lines", lines, "lines, one per workgroup"),
    u("n", n, "points per line"),
    u("wh", wh, "⌊W/2⌋+1: kept bins per row of the plane"),
    u("stages", radices.length, "radices in use below"),
    { name: "sign", type: "f32", value: sign, doc: "−1 forward, +1 inverse" },
    { name: "scale", type: "f32", value: scale, doc: "the norm's factor, applied once" },
    ...Array.from(
      { length: MAX_STAGES },
      (_, i) => u(`r${i}`, radices[i] ?? 1, `radix of stage ${i} (4s, then 2, 3, 5, … ascending)`),
    ),
  ]);
  const code =
    `// ${pass}: one line of n ≤ ${STOCKHAM_MAX} points per workgroup, mixed-radix Stockham autosort in
// workgroup memory (decimation in frequency): with stride s (the product of earlier radices) and
// sub-length l = p·m, y[q + s(p·j + t)] = W_l^{jt}·Σ_r x[q + s(j + r·m)]·W_p^{rt}.
// Loops: ⌈n/WGS⌉ outputs per invocation per stage, each a p-term sum — at most
// ⌈n/WGS⌉·(2 + Σp) iterations, checked against the ${LOOP_BUDGET} budget by the builder (Mesa
// stops loops past 65,535).
const WGS = ${WGS}u;
const MAX = ${STOCKHAM_MAX}u;
const TAU = 6.283185307179586;
${decl}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
// two ping-pong halves [0, MAX) and [MAX, 2·MAX) per component: 8 KiB in all
var<workgroup> w_re: array<f32, ${2 * STOCKHAM_MAX}>;
var<workgroup> w_im: array<f32, ${2 * STOCKHAM_MAX}>;

fn radix(k: u32) -> u32 {
  switch k {
${Array.from({ length: MAX_STAGES }, (_, i) => `    case ${i}u: { return p.r${i}; }`).join("\n")}
    default: { return 1u; }
  }
}

@compute @workgroup_size(${WGS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let line = wid.y * nwg.x + wid.x; // uniform across the workgroup: the early return is too
  if (line >= p.lines) { return; }
  let N = p.n;
  ${LOAD[pass].replaceAll("a_re", "w_re").replaceAll("a_im", "w_im")}
  workgroupBarrier();
  var s = 1u;
  var l = N;
  var src = 0u;
  for (var st = 0u; st < p.stages; st = st + 1u) {
    let pr = radix(st);
    let m = l / pr;
    let dst = MAX - src;
    for (var o = lid.x; o < N; o = o + WGS) {
      let q = o % s;
      let t = (o / s) % pr;
      let j = o / (s * pr);
      var sr = 0.0;
      var si = 0.0;
      for (var r = 0u; r < pr; r = r + 1u) {
        let v = src + q + s * (j + r * m);
        let a = p.sign * TAU * f32((r * t) % pr) / f32(pr);
        let c = cos(a);
        let d = sin(a);
        sr = sr + w_re[v] * c - w_im[v] * d;
        si = si + w_re[v] * d + w_im[v] * c;
      }
      let tw = p.sign * TAU * f32((j * t) % l) / f32(l);
      w_re[dst + o] = sr * cos(tw) - si * sin(tw);
      w_im[dst + o] = sr * sin(tw) + si * cos(tw);
    }
    workgroupBarrier();
    s = s * pr;
    l = m;
    src = dst;
  }
  ${storeAt(pass)}
}
`;
  return { code, grid: grid1d(lines), params: data };
}

/**
 * WGSL builder of the fft family's O(n log n) axis passes, one dispatch each: ⌊512/n⌋ lines per
 * workgroup side by side in workgroup memory, a mixed-radix Stockham autosort over the factors
 * of n with a twiddle table made once per workgroup (one barrier per stage; each invocation
 * computes outputs lid, lid + WG, … as p-term sums). Lines of up to STOCKHAM_MAX points (12 KiB
 * of workgroup memory); a prime factor p costs O(n·p) (no Bluestein here); longer lines use the
 * direct kernels.
 * @module
 */
import { factorize } from "../fft.ts";
import type { FftPass } from "./fft.wgsl.ts";
import { grid1d, type KernelSource, LOOP_BUDGET, paramsStruct, u } from "./wgsl.ts";

/** Longest line the workgroup-memory kernel takes (two complex ping-pong buffers, 8 KiB). */
export const STOCKHAM_MAX = 512;

/** Invocations per workgroup (it holds ⌊STOCKHAM_MAX/n⌋ lines). */
const WGS = 64;

/**
 * Per element e < lpw·N of the workgroup's lines: `line` (global), `i` (index in the line) and
 * `ok` (a real line, not padding past the last). The body runs only when ok.
 */
function perElement(body: string): string {
  return `for (var e = lid.x; e < p.lpw * N; e = e + WGS) {
    let line = first + e / N;
    let i = e % N;
    if (line < p.lines) {
      ${body}
    }
  }`;
}

const LOAD: Record<FftPass, string> = {
  realRows: perElement(`w_re[e] = x[line * N + i];
      w_im[e] = 0.0;`),
  cols: perElement(`let j = 2u * (((line / p.wh) * N + i) * p.wh + line % p.wh);
      w_re[e] = x[j];
      w_im[e] = x[j + 1u];`),
  // the row's full Hermitian extension; DC and Nyquist imaginary parts do not enter
  realRowsInverse: perElement(`var srcBin = i;
      var cj = 1.0;
      if (i >= p.wh) { srcBin = N - i; cj = -1.0; }
      let j = 2u * (line * p.wh + srcBin);
      w_re[e] = x[j];
      if (i == 0u || 2u * i == N) { w_im[e] = 0.0; } else { w_im[e] = cj * x[j + 1u]; }`),
};

function storeAt(pass: FftPass): string {
  switch (pass) {
    case "realRows":
      return perElement(`if (i < p.wh) {
        out[2u * (line * p.wh + i)] = w_re[src + e] * p.scale;
        out[2u * (line * p.wh + i) + 1u] = w_im[src + e] * p.scale;
      }`);
    case "cols":
      return perElement(`let j = 2u * (((line / p.wh) * N + i) * p.wh + line % p.wh);
      out[j] = w_re[src + e] * p.scale;
      out[j + 1u] = w_im[src + e] * p.scale;`);
    case "realRowsInverse":
      return perElement(`out[line * N + i] = w_re[src + e] * p.scale;`);
  }
}

/** Loop iterations one invocation runs for a line of n (load, stages, store). */
export function stockhamIterations(n: number): number {
  const per = Math.ceil(Math.floor(STOCKHAM_MAX / n) * n / WGS);
  return per * (2 + factorize(n).reduce((s, p) => s + p, 0)) + Math.ceil(n / WGS);
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
  const lpw = Math.floor(STOCKHAM_MAX / n);
  const { decl, data } = paramsStruct([
    u("lines", lines, "lines in all"),
    u("lpw", lpw, "lines per workgroup: ⌊MAX/n⌋, side by side in workgroup memory"),
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
    `// ${pass}: ⌊${STOCKHAM_MAX}/n⌋ lines of n ≤ ${STOCKHAM_MAX} points per workgroup, mixed-radix Stockham autosort
// in workgroup memory (decimation in frequency): with stride s (the product of earlier radices) and
// sub-length l = p·m, y[q + s(p·j + t)] = W_l^{jt}·Σ_r x[q + s(j + r·m)]·W_p^{rt}.
// Loops: ⌈lpw·n/WGS⌉ ≤ ${STOCKHAM_MAX / WGS} outputs per invocation per stage, each a p-term sum —
// at most ⌈lpw·n/WGS⌉·(2 + Σp) iterations, checked against the ${LOOP_BUDGET} budget by the builder (Mesa
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
// cos and sign·sin of 2π·t/n: 4 KiB more (12 KiB of the 16 KiB WebGPU guarantees)
var<workgroup> tw_c: array<f32, ${STOCKHAM_MAX}>;
var<workgroup> tw_s: array<f32, ${STOCKHAM_MAX}>;

fn radix(k: u32) -> u32 {
  switch k {
${Array.from({ length: MAX_STAGES }, (_, i) => `    case ${i}u: { return p.r${i}; }`).join("\n")}
    default: { return 1u; }
  }
}

@compute @workgroup_size(${WGS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  // the workgroup's first line: uniform across it, so the early return is too
  let first = (wid.y * nwg.x + wid.x) * p.lpw;
  if (first >= p.lines) { return; }
  let N = p.n;
  // twiddle table W_N^t (t < N) once per workgroup: one cos/sin per entry instead of per term
  for (var t = lid.x; t < N; t = t + WGS) {
    let a = TAU * f32(t) / f32(N);
    tw_c[t] = cos(a);
    tw_s[t] = p.sign * sin(a);
  }
  ${LOAD[pass]}
  workgroupBarrier();
  var s = 1u;
  var l = N;
  var src = 0u;
  for (var st = 0u; st < p.stages; st = st + 1u) {
    let pr = radix(st);
    let m = l / pr;
    let dst = MAX - src;
    for (var o = lid.x; o < p.lpw * N; o = o + WGS) {
      let base = src + (o / N) * N; // this line's start
      let oi = o % N;
      let q = oi % s;
      let t = (oi / s) % pr;
      let j = oi / (s * pr);
      var sr = 0.0;
      var si = 0.0;
      for (var r = 0u; r < pr; r = r + 1u) {
        let v = base + q + s * (j + r * m);
        let ti = ((r * t) % pr) * (N / pr); // W_p^{rt} = W_N^{rt·N/p}
        let c = tw_c[ti];
        let d = tw_s[ti];
        sr = sr + w_re[v] * c - w_im[v] * d;
        si = si + w_re[v] * d + w_im[v] * c;
      }
      let wi = ((j * t) % l) * (N / l); // W_l^{jt} = W_N^{jt·N/l}
      let wc = tw_c[wi];
      let ws = tw_s[wi];
      w_re[dst + o] = sr * wc - si * ws;
      w_im[dst + o] = sr * ws + si * wc;
    }
    workgroupBarrier();
    s = s * pr;
    l = m;
    src = dst;
  }
  ${storeAt(pass)}
}
`;
  return { code, grid: grid1d(Math.ceil(lines / lpw)), params: data };
}

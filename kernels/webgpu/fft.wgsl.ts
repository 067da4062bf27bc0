/**
 * WGSL builders of the fft family's axis passes, one dispatch each: the real rows of rfft2
 * (real → half spectrum), a complex pass along H (forward or inverse), and the rows of irfft2
 * (half spectrum → real). Each invocation computes one output element as a direct sum over its
 * line, twiddles indexed by (k·n mod N) so angles stay exact in f32; the sum runs over one axis
 * (≤ LOOP_BUDGET terms, checked by the runner).
 * @module
 */
import { ENTRY_1D, FLAT_INDEX, grid1d, type KernelSource, paramsStruct, u, WG } from "./wgsl.ts";

/** Which pass: rows of rfft2, columns (complex, along H), or rows of irfft2. */
export type FftPass = "realRows" | "cols" | "realRowsInverse";

const EQUATION: Record<FftPass, string> = {
  realRows:
    "out[l, k] = Σ_n x[l, n]·exp(−2πi·k·n/W), k < ⌊W/2⌋+1 (one real row l → its half spectrum)",
  cols: "out[b, k1, k2] = scale·Σ_n1 t[b, n1, k2]·exp(s·2πi·k1·n1/H) (complex, along H)",
  realRowsInverse:
    "out[l, n] = scale·Σ_{k<⌊W/2⌋+1} c_k·Re(t[l, k]·exp(+2πi·k·n/W)), c = 1 on DC/Nyquist, else 2",
};

const BODY: Record<FftPass, string> = {
  realRows: `let l = i / p.wh;
  let k = i % p.wh;
  var re = 0.0;
  var im = 0.0;
  // W terms (≤ LOOP_BUDGET, checked by the runner): Mesa stops loops past 65,535 iterations
  for (var n = 0u; n < p.w; n = n + 1u) {
    let a = TAU * f32((k * n) % p.w) / f32(p.w);
    let v = x[l * p.w + n];
    re = re + v * cos(a);
    im = im - v * sin(a);
  }
  out[2u * i] = re * p.scale;
  out[2u * i + 1u] = im * p.scale;`,
  cols: `let k2 = i % p.wh;
  let k1 = (i / p.wh) % p.h;
  let b = i / (p.wh * p.h);
  var re = 0.0;
  var im = 0.0;
  // H terms (≤ LOOP_BUDGET, checked by the runner)
  for (var n = 0u; n < p.h; n = n + 1u) {
    let a = p.sign * TAU * f32((k1 * n) % p.h) / f32(p.h);
    let j = 2u * ((b * p.h + n) * p.wh + k2);
    let c = cos(a);
    let s = sin(a);
    re = re + x[j] * c - x[j + 1u] * s;
    im = im + x[j] * s + x[j + 1u] * c;
  }
  out[2u * i] = re * p.scale;
  out[2u * i + 1u] = im * p.scale;`,
  realRowsInverse: `let l = i / p.w;
  let n = i % p.w;
  var acc = 0.0;
  // ⌊W/2⌋+1 terms (≤ LOOP_BUDGET, checked by the runner)
  for (var k = 0u; k < p.wh; k = k + 1u) {
    let a = TAU * f32((k * n) % p.w) / f32(p.w);
    let j = 2u * (l * p.wh + k);
    var c = 2.0;
    if (k == 0u || 2u * k == p.w) { c = 1.0; }
    acc = acc + c * (x[j] * cos(a) - x[j + 1u] * sin(a));
  }
  out[i] = acc * p.scale;`,
};

/**
 * One axis pass over `lines` planes' lines: `batch` planes of h × w (wh = ⌊w/2⌋+1 kept bins),
 * `sign` −1 forward / +1 inverse (cols only), results times `scale`.
 *
 * @example
 * ```ts
 * import { fftPassKernel } from "./fft.wgsl.ts";
 * const k = fftPassKernel("realRows", { batch: 2, h: 4, w: 6, wh: 4 }, -1, 1);
 * ```
 */
export function fftPassKernel(
  pass: FftPass,
  g: { batch: number; h: number; w: number; wh: number },
  sign: number,
  scale: number,
): KernelSource {
  const n = pass === "realRowsInverse" ? g.batch * g.h * g.w : g.batch * g.h * g.wh;
  const { decl, data } = paramsStruct([
    u("n", n, "output elements (real) or complex output values"),
    u("h", g.h, "H: rows per plane"),
    u("w", g.w, "W: real columns per row"),
    u("wh", g.wh, "⌊W/2⌋+1: kept bins per row"),
    { name: "sign", type: "f32", value: sign, doc: "−1 forward, +1 inverse (cols pass)" },
    { name: "scale", type: "f32", value: scale, doc: "the norm's factor, applied once" },
  ]);
  const code = `// ${EQUATION[pass]}
// one invocation per output element, a direct sum over its line
const WG = ${WG}u;
const TAU = 6.283185307179586;
${decl}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${ENTRY_1D}
  ${FLAT_INDEX}
  if (i >= p.n) { return; }
  ${BODY[pass]}
}
`;
  return { code, grid: grid1d(Math.ceil(n / WG)), params: data };
}

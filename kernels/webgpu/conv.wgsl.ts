/**
 * WGSL builders for conv2d, convTranspose2d (its adjoint), conv2dFilterGrad and the pooling
 * pair, NCHW. The convolutions are implicit GEMMs, register-blocked like matmul: a workgroup
 * owns CT channels (workgroup-uniform weight loads), an invocation 4 output positions (or 4
 * filter taps); the kh×kw taps are unrolled. The reduced axis (input channels, or batch·space
 * for the filter gradient) is cut into parts of ≤ LOOP_BUDGET / (kh·kw) steps (Mesa truncates
 * loops past 65,535 iterations); parts are written side by side and summed by the reduction.
 * @module
 */
import type { ConvGeom } from "../prims.ts";
import type { PoolGeom } from "../shape.ts";
import {
  ENTRY_1D,
  FLAT_INDEX,
  grid1d,
  type KernelSource,
  LOOP_BUDGET,
  paramsStruct,
  u,
  WG,
} from "./wgsl.ts";

/** Channels per workgroup in the convolution kernels. */
export const CT = 4;
/** Invocations per workgroup in the convolution kernels. */
export const CONV_WG = 64;

/**
 * Parts the reduced length `len` is cut into when each step costs `taps` loop iterations.
 *
 * @example
 * ```ts
 * import { convParts } from "./conv.wgsl.ts";
 * convParts(8000, 9); // { parts: 5, chunk: 1820 }
 * ```
 */
export function convParts(len: number, taps: number): { parts: number; chunk: number } {
  const chunk = Math.max(1, Math.min(len, Math.floor(LOOP_BUDGET / taps)));
  return { parts: Math.max(1, Math.ceil(len / chunk)), chunk };
}

/**
 * conv2d (`transposed` false): y[b, o, q] = Σ_{c, i, j} w[o, c, i, j] · x[b, c, q·s − p + (i, j)]
 * convTranspose2d (true):       x[b, c, q] = Σ_{o, i, j} w[o, c, i, j] · y[b, o, (q + p − (i, j))/s]
 * Output [parts, b, rows, space]: rows are o (or c), the reduction is over c (or o).
 *
 * @example
 * ```ts
 * import { convKernel } from "./conv.wgsl.ts";
 * const k = convKernel({ b: 1, c: 3, h: 8, w: 8, o: 4, kh: 3, kw: 3, ho: 8, wo: 8, stride: [1, 1], padding: [1, 1] }, false);
 * ```
 */
export function convKernel(g: ConvGeom, transposed: boolean): KernelSource & { parts: number } {
  const rows = transposed ? g.c : g.o;
  const red = transposed ? g.o : g.c;
  const [inH, inW] = transposed ? [g.ho, g.wo] : [g.h, g.w];
  const [outH, outW] = transposed ? [g.h, g.w] : [g.ho, g.wo];
  const space = outH * outW;
  const { parts, chunk } = convParts(red, g.kh * g.kw);
  const { decl, data } = paramsStruct([
    u("b", g.b, "batch size"),
    u("rows", rows, "output channels"),
    u("red", red, "reduced (input) channels"),
    u("inH", inH, "input height"),
    u("inW", inW, "input width"),
    u("outH", outH, "output height"),
    u("outW", outW, "output width"),
    u("sh", g.stride[0], "stride along h"),
    u("sw", g.stride[1], "stride along w"),
    u("ph", g.padding[0], "padding along h"),
    u("pw", g.padding[1], "padding along w"),
    u("chunk", chunk, "reduced channels per part"),
    u("cStride", g.b * rows * space, "elements between the parts' outputs"),
  ]);
  const KK = g.kh * g.kw;
  // weight index of (row, r, tap): conv w[row, r, ·], transposed w[r, row, ·]
  const wIdx = (row: string, tap: number) =>
    transposed
      ? `(rc * p.rows + ${row}) * ${KK}u + ${tap}u`
      : `(${row} * p.red + rc) * ${KK}u + ${tap}u`;
  const taps: string[] = [];
  for (let i = 0; i < g.kh; i++) {
    for (let j = 0; j < g.kw; j++) {
      const tap = i * g.kw + j;
      const ws = Array.from({ length: CT }, (_, t) => `let w${t} = wt[${wIdx(`r${t}`, tap)}];`);
      const xs = [0, 1, 2, 3].map((q) => {
        const cond = transposed
          ? `let yh${q} = i32(oh${q}) + i32(p.ph) - ${i}; let yw${q} = i32(ow${q}) + i32(p.pw) - ${j};
      let ok${q} = yh${q} >= 0 && yw${q} >= 0 && u32(yh${q}) % p.sh == 0u && u32(yw${q}) % p.sw == 0u &&
        u32(yh${q}) / p.sh < p.inH && u32(yw${q}) / p.sw < p.inW && v${q};
      let ih${q} = select(0u, u32(yh${q}) / p.sh, ok${q}); let iw${q} = select(0u, u32(yw${q}) / p.sw, ok${q});`
          : `let yh${q} = i32(oh${q} * p.sh + ${i}u) - i32(p.ph); let yw${q} = i32(ow${q} * p.sw + ${j}u) - i32(p.pw);
      let ok${q} = yh${q} >= 0 && yw${q} >= 0 && u32(yh${q}) < p.inH && u32(yw${q}) < p.inW && v${q};
      let ih${q} = select(0u, u32(yh${q}), ok${q}); let iw${q} = select(0u, u32(yw${q}), ok${q});`;
        return `${cond}
      let x${q} = select(0.0, xin[xBase + ih${q} * p.inW + iw${q}], ok${q});`;
      });
      const fma = Array.from(
        { length: CT },
        (_, t) => `acc${t} += w${t} * vec4<f32>(x0, x1, x2, x3);`,
      );
      taps.push(`{ // tap (${i}, ${j})
      ${ws.join("\n      ")}
      ${xs.join("\n      ")}
      ${fma.join("\n      ")}
    }`);
    }
  }
  const rowsIdx = Array.from({ length: CT }, (_, t) => t);
  const code = `// ${
    transposed
      ? "x[b, c, q] = Σ_{o,i,j} w[o, c, i, j] · y[b, o, (q + pad − (i, j)) / stride] (when exact)"
      : "y[b, o, q] = Σ_{c,i,j} w[o, c, i, j] · x[b, c, q · stride − pad + (i, j)]"
  }
// workgroup (x, y, z): positions [x·${CONV_WG * 4}, +${CONV_WG * 4}), channels [y·${CT}, +${CT}),
// z = part · batch + b; each invocation: ${CT} channels × 4 positions, ≤ chunk reduced channels.
${decl}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xin: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(${CONV_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let bi = wid.z % p.b;
  let part = wid.z / p.b;
  let q0 = (wid.x * ${CONV_WG}u + lid.x) * 4u;
  let space = p.outH * p.outW;
  ${
    [0, 1, 2, 3].map((q) =>
      `let v${q} = q0 + ${q}u < space; let oh${q} = (q0 + ${q}u) / p.outW; let ow${q} = (q0 + ${q}u) % p.outW;`
    ).join("\n  ")
  }
  let row0 = wid.y * ${CT}u;
  ${rowsIdx.map((t) => `let r${t} = min(row0 + ${t}u, p.rows - 1u);`).join("\n  ")}
  ${rowsIdx.map((t) => `var acc${t} = vec4<f32>(0.0);`).join("\n  ")}
  let c0 = part * p.chunk;
  let c1 = min(p.red, c0 + p.chunk);
  for (var rc = c0; rc < c1; rc++) {
    let xBase = (bi * p.red + rc) * p.inH * p.inW;
    ${taps.join("\n    ")}
  }
  let oBase = part * p.cStride + bi * p.rows * space;
  ${
    rowsIdx.map((t) =>
      `if (row0 + ${t}u < p.rows) { store(oBase + (row0 + ${t}u) * space, q0, space, acc${t}); }`
    ).join("\n  ")
  }
}
fn store(base: u32, q0: u32, space: u32, v: vec4<f32>) {
  if (q0 < space) { out[base + q0] = v.x; }
  if (q0 + 1u < space) { out[base + q0 + 1u] = v.y; }
  if (q0 + 2u < space) { out[base + q0 + 2u] = v.z; }
  if (q0 + 3u < space) { out[base + q0 + 3u] = v.w; }
}
`;
  const grid: [number, number, number] = [
    Math.ceil(space / (CONV_WG * 4)),
    Math.ceil(rows / CT),
    g.b * parts,
  ];
  return { code, grid, params: data, parts };
}

/**
 * dw[o, c, i, j] = Σ_{b, oh, ow} gy[b, o, oh, ow] · x[b, c, oh·sh − ph + i, ow·sw − pw + j].
 * Output [parts, o, c·kh·kw]: workgroup-uniform o block, 4 filter taps per invocation, the
 * batch·space reduction cut into parts of ≤ LOOP_BUDGET steps.
 *
 * @example
 * ```ts
 * import { filterGradKernel } from "./conv.wgsl.ts";
 * const k = filterGradKernel({ b: 2, c: 3, h: 8, w: 8, o: 4, kh: 3, kw: 3, ho: 8, wo: 8, stride: [1, 1], padding: [1, 1] });
 * ```
 */
export function filterGradKernel(g: ConvGeom): KernelSource & { parts: number } {
  const len = g.b * g.ho * g.wo;
  const { parts, chunk } = convParts(len, 1);
  const cols = g.c * g.kh * g.kw;
  const { decl, data } = paramsStruct([
    u("b", g.b, "batch size"),
    u("o", g.o, "output channels (rows of dw)"),
    u("c", g.c, "input channels"),
    u("h", g.h, "input height"),
    u("w", g.w, "input width"),
    u("ho", g.ho, "output-gradient height"),
    u("wo", g.wo, "output-gradient width"),
    u("sh", g.stride[0], "stride along h"),
    u("sw", g.stride[1], "stride along w"),
    u("ph", g.padding[0], "padding along h"),
    u("pw", g.padding[1], "padding along w"),
    u("cols", cols, "columns of dw: c · kh · kw"),
    u("len", len, "reduction length b · ho · wo"),
    u("chunk", chunk, "reduction steps per part"),
  ]);
  const KK = g.kh * g.kw;
  const rowsIdx = Array.from({ length: CT }, (_, t) => t);
  const code =
    `// dw[o, col] = Σ_{b,oh,ow} gy[b, o, oh, ow] · x[b, c, oh·sh − ph + i, ow·sw − pw + j], col = (c, i, j)
// workgroup (x, y, z): columns [x·${CONV_WG * 4}, +${
      CONV_WG * 4
    }), o in [y·${CT}, +${CT}), z = part;
// each invocation: ${CT} rows × 4 columns over ≤ chunk steps of (b, oh, ow).
${decl}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gy: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(${CONV_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let col0 = (wid.x * ${CONV_WG}u + lid.x) * 4u;
  ${
      [0, 1, 2, 3].map((q) =>
        `let cq${q} = min(col0 + ${q}u, p.cols - 1u); let ch${q} = cq${q} / ${KK}u; let ti${q} = i32((cq${q} % ${KK}u) / ${g.kw}u) - i32(p.ph); let tj${q} = i32(cq${q} % ${g.kw}u) - i32(p.pw);`
      ).join("\n  ")
    }
  let row0 = wid.y * ${CT}u;
  ${rowsIdx.map((t) => `let r${t} = min(row0 + ${t}u, p.o - 1u);`).join("\n  ")}
  ${rowsIdx.map((t) => `var acc${t} = vec4<f32>(0.0);`).join("\n  ")}
  let s0 = wid.z * p.chunk;
  let s1 = min(p.len, s0 + p.chunk);
  let plane = p.ho * p.wo;
  var bi = s0 / plane;
  var oh = (s0 % plane) / p.wo;
  var ow = s0 % p.wo;
  for (var s = s0; s < s1; s++) {
    let gBase = bi * p.o * plane + oh * p.wo + ow;
    ${rowsIdx.map((t) => `let g${t} = gy[gBase + r${t} * plane];`).join("\n    ")}
    let xb = bi * p.c;
    let yh = i32(oh * p.sh);
    let yw = i32(ow * p.sw);
    ${
      [0, 1, 2, 3].map((q) =>
        `let ih${q} = yh + ti${q}; let iw${q} = yw + tj${q};
    let ok${q} = ih${q} >= 0 && iw${q} >= 0 && u32(ih${q}) < p.h && u32(iw${q}) < p.w;
    let x${q} = select(0.0, x[((xb + ch${q}) * p.h + select(0u, u32(ih${q}), ok${q})) * p.w + select(0u, u32(iw${q}), ok${q})], ok${q});`
      ).join("\n    ")
    }
    let xv = vec4<f32>(x0, x1, x2, x3);
    ${rowsIdx.map((t) => `acc${t} += g${t} * xv;`).join("\n    ")}
    ow++;
    if (ow == p.wo) { ow = 0u; oh++; if (oh == p.ho) { oh = 0u; bi++; } }
  }
  let oBase = wid.z * p.o * p.cols;
  ${
      rowsIdx.map((t) =>
        `if (row0 + ${t}u < p.o) { store(oBase + (row0 + ${t}u) * p.cols, col0, acc${t}); }`
      ).join("\n  ")
    }
}
fn store(base: u32, c0: u32, v: vec4<f32>) {
  if (c0 < p.cols) { out[base + c0] = v.x; }
  if (c0 + 1u < p.cols) { out[base + c0 + 1u] = v.y; }
  if (c0 + 2u < p.cols) { out[base + c0 + 2u] = v.z; }
  if (c0 + 3u < p.cols) { out[base + c0 + 3u] = v.w; }
}
`;
  const grid: [number, number, number] = [
    Math.ceil(cols / (CONV_WG * 4)),
    Math.ceil(g.o / CT),
    parts,
  ];
  return { code, grid, params: data, parts };
}

function poolParams(g: PoolGeom, n: number): { decl: string; data: Uint32Array } {
  return paramsStruct([
    u("n", n, "invocations (one per output element)"),
    u("h", g.h, "input height"),
    u("w", g.w, "input width"),
    u("ho", g.ho, "output height"),
    u("wo", g.wo, "output width"),
    u("kh", g.size[0], "window height"),
    u("kw", g.size[1], "window width"),
    u("sh", g.stride[0], "stride along h"),
    u("sw", g.stride[1], "stride along w"),
    u("ph", g.padding[0], "padding along h"),
    u("pw", g.padding[1], "padding along w"),
    { name: "inv", type: "f32", value: 1 / g.divisor, doc: "1 / divisor" },
  ]);
}

/**
 * y[p, oh, ow] = Σ_{window} x[p, ·] / divisor; loops over the kh·kw window (≤ LOOP_BUDGET).
 *
 * @example
 * ```ts
 * import { avgPoolKernel } from "./conv.wgsl.ts";
 * const k = avgPoolKernel({ planes: 2, h: 8, w: 8, ho: 2, wo: 2, size: [4, 4], stride: [4, 4], padding: [0, 0], divisor: 4 });
 * ```
 */
export function avgPoolKernel(g: PoolGeom): KernelSource {
  const n = g.planes * g.ho * g.wo;
  const { decl, data } = poolParams(g, n);
  const code =
    `// y[p, oh, ow] = (1 / divisor) · Σ_{i < kh, j < kw} x[p, oh·sh − ph + i, ow·sw − pw + j] (zero padding)
// one invocation per output element; loops over the window (kh·kw ≤ ${LOOP_BUDGET})
const WG = ${WG}u;
${decl}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${ENTRY_1D}
  ${FLAT_INDEX}
  if (i >= p.n) { return; }
  let ow = i % p.wo;
  let oh = (i / p.wo) % p.ho;
  let pl = i / (p.wo * p.ho);
  var s = 0.0;
  for (var a = 0u; a < p.kh; a++) {
    let ih = i32(oh * p.sh + a) - i32(p.ph);
    if (ih < 0 || u32(ih) >= p.h) { continue; }
    for (var bb = 0u; bb < p.kw; bb++) {
      let iw = i32(ow * p.sw + bb) - i32(p.pw);
      if (iw < 0 || u32(iw) >= p.w) { continue; }
      s += x[(pl * p.h + u32(ih)) * p.w + u32(iw)];
    }
  }
  out[i] = s * p.inv;
}
`;
  return { code, grid: grid1d(Math.ceil(n / WG)), params: data };
}

/**
 * x[p, h, w] = Σ_{windows (oh, ow) covering (h, w)} g[p, oh, ow] / divisor: one invocation per
 * input element, looping over the ≤ ⌈kh/sh⌉·⌈kw/sw⌉ windows that cover it.
 *
 * @example
 * ```ts
 * import { avgPoolTransposeKernel } from "./conv.wgsl.ts";
 * const k = avgPoolTransposeKernel({ planes: 2, h: 8, w: 8, ho: 2, wo: 2, size: [4, 4], stride: [4, 4], padding: [0, 0], divisor: 4 });
 * ```
 */
export function avgPoolTransposeKernel(g: PoolGeom): KernelSource {
  const n = g.planes * g.h * g.w;
  const { decl, data } = poolParams(g, n);
  const code =
    `// x[p, h, w] = (1 / divisor) · Σ_{oh·sh − ph ≤ h < oh·sh − ph + kh, same for w} g[p, oh, ow]
// one invocation per input element; loops over the ≤ ⌈kh/sh⌉·⌈kw/sw⌉ covering windows
const WG = ${WG}u;
${decl}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${ENTRY_1D}
  ${FLAT_INDEX}
  if (i >= p.n) { return; }
  let iw = i32(i % p.w) + i32(p.pw);
  let ih = i32((i / p.w) % p.h) + i32(p.ph);
  let pl = i / (p.w * p.h);
  // windows oh with oh·sh ≤ ih < oh·sh + kh
  let ohLo = max(0, (ih - i32(p.kh) + i32(p.sh)) / i32(p.sh));
  let ohHi = min(i32(p.ho) - 1, ih / i32(p.sh));
  let owLo = max(0, (iw - i32(p.kw) + i32(p.sw)) / i32(p.sw));
  let owHi = min(i32(p.wo) - 1, iw / i32(p.sw));
  var s = 0.0;
  for (var oh = ohLo; oh <= ohHi; oh++) {
    for (var ow = owLo; ow <= owHi; ow++) {
      s += g[(pl * p.ho + u32(oh)) * p.wo + u32(ow)];
    }
  }
  out[i] = s * p.inv;
}
`;
  return { code, grid: grid1d(Math.ceil(n / WG)), params: data };
}

/**
 * im2col for the GEMM convolutions. For batch items b ∈ [b0, b0 + nb), rows r < rows, columns
 * q < space it writes out[b·sB + r·sR + q·sQ] =
 *   forward (r = (c, i, j), q = (oh, ow)):     x[b, c, oh·sh − ph + i, ow·sw − pw + j]
 *   transposed (r = (o, i, j), q = (h, w)):    y[b, o, (h + ph − i)/sh, (w + pw − j)/sw] when exact
 * and 0 outside the input (and for padding rows rows ≤ r < rowsPad). The geometry is baked in as
 * constants (divisions by constants are cheap; a model has few conv shapes); when columns are
 * contiguous (sQ = 1) each invocation writes 4 of them as one vec4. No loops.
 *
 * @example
 * ```ts
 * import { im2colKernel } from "./conv.wgsl.ts";
 * const g = { b: 2, c: 3, h: 8, w: 8, o: 4, kh: 3, kw: 3, ho: 8, wo: 8, stride: [1, 1] as [number, number], padding: [1, 1] as [number, number] };
 * const k = im2colKernel(g, false, 0, 2, 27, { sB: 27 * 64, sR: 64, sQ: 1 });
 * ```
 */
export function im2colKernel(
  g: ConvGeom,
  transposed: boolean,
  b0: number,
  nb: number,
  rowsPad: number,
  layout: { sB: number; sR: number; sQ: number },
): KernelSource {
  const red = transposed ? g.o : g.c;
  const [inH, inW] = transposed ? [g.ho, g.wo] : [g.h, g.w];
  const [outH, outW] = transposed ? [g.h, g.w] : [g.ho, g.wo];
  const KK = g.kh * g.kw;
  const space = outH * outW;
  // 4 adjacent entries per invocation along whichever axis is contiguous in the output
  const axis = layout.sB % 4 !== 0
    ? null
    : layout.sQ === 1 && space % 4 === 0 && layout.sR % 4 === 0
    ? "q"
    : layout.sR === 1 && rowsPad % 4 === 0 && layout.sQ % 4 === 0
    ? "r"
    : null;
  const vec = axis !== null;
  // along q without padding rows, one invocation writes all kh·kw taps of one channel: the
  // index arithmetic is shared by the taps and constant-folds per tap
  const taps = axis === "q" && rowsPad === red * KK;
  // along r (the filter gradient's [q, r] layout), one invocation writes a whole row q: the
  // kh·kw tap offsets and bounds are computed once, then one loop over the channels
  const rowWise = axis === "r" && !transposed && red <= LOOP_BUDGET;
  const per = rowWise ? rowsPad : (vec ? 4 : 1) * (taps ? KK : 1);
  const n = nb * rowsPad * space / per;
  const [pq, pr] = axis === "q" ? [4, 1] : axis === "r" ? [1, 4] : [1, 1];
  const { decl, data } = paramsStruct([
    u("n", n, `invocations: nb · rowsPad · space${vec ? " / 4" : ""}`),
    u("b0", b0, "first batch item"),
  ]);
  const C = (name: string, v: number, doc: string) => `const ${name} = ${v}u; // ${doc}`;
  const consts = [
    C("RED", red, "input channels"),
    C("ROWS", red * KK, "rows of the column matrix: channels · kh · kw"),
    C("ROWS_PAD", rowsPad, "rows including zero padding rows"),
    C("IN_H", inH, "input height"),
    C("IN_W", inW, "input width"),
    C("OUT_W", outW, "output width"),
    C("SPACE", space, "output positions"),
    C("SH", g.stride[0], "stride along h"),
    C("SW", g.stride[1], "stride along w"),
    C("PH", g.padding[0], "padding along h"),
    C("PW", g.padding[1], "padding along w"),
    C("SB", layout.sB, "output stride of a batch item"),
    C("SR", layout.sR, "output stride of a row"),
    C("SQ", layout.sQ, "output stride of a column"),
  ];
  const src = transposed
    ? `let yh = i32(oh) + i32(PH) - i32(ti); let yw = i32(ow) + i32(PW) - i32(tj);
  let ok = r < ROWS && yh >= 0 && yw >= 0 && u32(yh) % SH == 0u && u32(yw) % SW == 0u &&
    u32(yh) / SH < IN_H && u32(yw) / SW < IN_W;
  let ih = select(0u, u32(yh) / SH, ok); let iw = select(0u, u32(yw) / SW, ok);`
    : `let yh = i32(oh * SH + ti) - i32(PH); let yw = i32(ow * SW + tj) - i32(PW);
  let ok = r < ROWS && yh >= 0 && yw >= 0 && u32(yh) < IN_H && u32(yw) < IN_W;
  let ih = select(0u, u32(yh), ok); let iw = select(0u, u32(yw), ok);`;
  const tapIdx = Array.from({ length: KK }, (_, t) => [t, Math.floor(t / g.kw), t % g.kw]);
  const rowBody = `let q = i % SPACE;
  let b = i / SPACE;
  let oh = q / OUT_W;
  let ow = q % OUT_W;
  let base = b * SB + q * SQ;
  let xb = (p.b0 + b) * RED * IN_H * IN_W;
  ${
    tapIdx.map(([t, ti, tj]) =>
      `let yh${t} = i32(oh * SH + ${ti}u) - i32(PH); let yw${t} = i32(ow * SW + ${tj}u) - i32(PW);
  let ok${t} = yh${t} >= 0 && yw${t} >= 0 && u32(yh${t}) < IN_H && u32(yw${t}) < IN_W;
  let off${t} = select(0u, u32(yh${t}) * IN_W + u32(yw${t}), ok${t});`
    ).join("\n  ")
  }
  for (var ch = 0u; ch < RED; ch++) {
    let xc = xb + ch * IN_H * IN_W;
    let oc = base + ch * ${KK}u;
    ${tapIdx.map(([t]) => `out[oc + ${t}u] = select(0.0, x[xc + off${t}], ok${t});`).join("\n    ")}
  }
  for (var r = ROWS; r < ROWS_PAD; r++) { out[base + r] = 0.0; }`;
  const tapsBody = `let q = (i % (SPACE / 4u)) * 4u;
  let ch = (i / (SPACE / 4u)) % RED;
  let b = i / ((SPACE / 4u) * RED);
  ${
    Array.from({ length: KK }, (_, t) => {
      const [ti, tj] = [Math.floor(t / g.kw), t % g.kw];
      const e = (d: number) => `at(b, r${t}, ch, ${ti}u, ${tj}u, q + ${d}u)`;
      return `let r${t} = ch * ${KK}u + ${t}u;
  out[(b * SB + r${t} * SR) / 4u + q / 4u] = vec4<f32>(${[0, 1, 2, 3].map(e).join(", ")});`;
    }).join("\n  ")
  }`;
  const body = `let q = (i % (SPACE / ${pq}u)) * ${pq}u;
  let r = ((i / (SPACE / ${pq}u)) % (ROWS_PAD / ${pr}u)) * ${pr}u;
  let b = i / ((SPACE / ${pq}u) * (ROWS_PAD / ${pr}u));
  ${
    axis === "q"
      ? "out[(b * SB + r * SR) / 4u + q / 4u] = vec4<f32>(entry(b, r, q), entry(b, r, q + 1u), entry(b, r, q + 2u), entry(b, r, q + 3u));"
      : axis === "r"
      ? "out[(b * SB + q * SQ) / 4u + r / 4u] = vec4<f32>(entry(b, r, q), entry(b, r + 1u, q), entry(b, r + 2u, q), entry(b, r + 3u, q));"
      : "out[b * SB + r * SR + q * SQ] = entry(b, r, q);"
  }`;
  const code = `// ${
    transposed
      ? "cols[b, (o,i,j), (h,w)] = y[b, o, (h + ph − i)/sh, (w + pw − j)/sw] (0 unless exact, in range)"
      : "cols[b, (c,i,j), (oh,ow)] = x[b, c, oh·sh − ph + i, ow·sw − pw + j] (0 outside)"
  }
// one invocation per ${
    taps
      ? "channel and 4 adjacent columns (kh·kw vec4 stores)"
      : vec
      ? "4 adjacent columns (one vec4 store)"
      : "entry"
  } of the column matrix, padding rows included; no loops
const WG = ${WG}u;
${consts.join("\n")}
${decl}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<${vec && !rowWise ? "vec4<f32>" : "f32"}>;
fn entry(b: u32, r: u32, q: u32) -> f32 {
  let rc = min(r, ROWS - 1u);
  let tap = rc % ${KK}u;
  return at(b, r, rc / ${KK}u, tap / ${g.kw}u, tap % ${g.kw}u, q);
}
fn at(b: u32, r: u32, ch: u32, ti: u32, tj: u32, q: u32) -> f32 {
  let oh = q / OUT_W;
  let ow = q % OUT_W;
  ${src}
  return select(0.0, x[(((p.b0 + b) * RED + ch) * IN_H + ih) * IN_W + iw], ok);
}
${ENTRY_1D}
  ${FLAT_INDEX}
  if (i >= p.n) { return; }
  ${rowWise ? rowBody : taps ? tapsBody : body}
}
`;
  return { code, grid: grid1d(Math.ceil(n / WG)), params: data };
}

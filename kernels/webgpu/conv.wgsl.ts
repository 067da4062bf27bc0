/**
 * WGSL builders for the convolutions and the pooling pair, NCHW. On GPUs the convolutions
 * (conv2d, convTranspose2d, conv2dFilterGrad) are implicit GEMMs: operand loaders for the tiled
 * workgroup-memory GEMM of gemm.wgsl.ts, reading x, w, y and gy in place (its loop budget
 * applies). On software adapters they are im2col (built here) followed by the register-tiled
 * matmul. The pooling kernels loop over one window (≤ LOOP_BUDGET taps).
 * @module
 */
import type { ConvGeom } from "../prims.ts";
import type { PoolGeom } from "../shape.ts";
import type { GemmOperands } from "./gemm.wgsl.ts";
import {
  ENTRY_1D,
  type Field,
  FLAT_INDEX,
  grid1d,
  type KernelSource,
  LOOP_BUDGET,
  paramsStruct,
  u,
  WG,
} from "./wgsl.ts";

/** The convolution geometry as Params fields (the loaders read them as `p.<name>`). */
function geomFields(g: ConvGeom): Field[] {
  return [
    u("c", g.c, "input channels"),
    u("h", g.h, "input height"),
    u("wd", g.w, "input width"),
    u("o", g.o, "output channels"),
    u("kh", g.kh, "kernel height"),
    u("kw", g.kw, "kernel width"),
    u("ho", g.ho, "output height"),
    u("wo", g.wo, "output width"),
    u("sh", g.stride[0], "stride along h"),
    u("sw", g.stride[1], "stride along w"),
    u("ph", g.padding[0], "padding along h"),
    u("pw", g.padding[1], "padding along w"),
  ];
}

/** WGSL: x1[b, c, oy·sh − ph + ky, ox·sw − pw + kx] or 0 in the padding (x1 is x [B,C,H,W]). */
const X_TAP = `let iy = i32(oy * p.sh + r / p.kw) - i32(p.ph);
  let ix = i32(ox * p.sw + r % p.kw) - i32(p.pw);
  if (iy < 0 || ix < 0 || iy >= i32(p.h) || ix >= i32(p.wd)) { return 0.0; }
  return x1[((b * p.c + c) * p.h + u32(iy)) * p.wd + u32(ix)];`;

/**
 * The implicit-GEMM operands of conv2d (`transposed` false) or convTranspose2d (true), read in
 * place by `gemmKernel` with x0 = w [O, C, kh, kw] and x1 = x (or y), batch item z:
 * - conv2d: y[z, o, q] = Σ_{r=(c,i,j)} w[o, r] · x[z, c, q·s − p + (i, j)];
 *   m = O, k = C·kh·kw, n = Ho·Wo.
 * - convTranspose2d: x[z, c, q] = Σ_{r=(o,i,j)} w[o, c, i, j] · y[z, o, (q + p − (i, j))/s]
 *   (taps whose position is not a multiple of the stride read 0); m = C, k = O·kh·kw, n = H·W.
 *
 * @example
 * ```ts
 * import { convOperands } from "./conv.wgsl.ts";
 * const g = { b: 1, c: 3, h: 8, w: 8, o: 4, kh: 3, kw: 3, ho: 8, wo: 8, stride: [1, 1] as [number, number], padding: [1, 1] as [number, number] };
 * convOperands(g, false).fields.length; // 12
 * ```
 */
export function convOperands(g: ConvGeom, transposed: boolean): GemmOperands {
  if (!transposed) {
    return {
      formula: "conv2d: y[z, o, q] = Σ_{r=(c,i,j)} w[o, r] · x[z, c, q·s − p + (i, j)]",
      fields: geomFields(g),
      loadA: "return x0[row * p.k + kk];",
      loadB: `let b = z;
  let c = kk / (p.kh * p.kw);
  let r = kk % (p.kh * p.kw);
  let oy = col / p.wo;
  let ox = col % p.wo;
  ${X_TAP}`,
      aContig: "k",
      bContig: "n",
    };
  }
  return {
    formula:
      "convTranspose2d: x[z, c, q] = Σ_{r=(o,i,j)} w[o, c, i, j] · y[z, o, (q + p − (i, j))/s]",
    fields: geomFields(g),
    loadA: `let o = kk / (p.kh * p.kw);
  return x0[(o * p.c + row) * p.kh * p.kw + kk % (p.kh * p.kw)];`,
    loadB: `let o = kk / (p.kh * p.kw);
  let r = kk % (p.kh * p.kw);
  let ty = i32(col / p.wd) + i32(p.ph) - i32(r / p.kw);
  let tx = i32(col % p.wd) + i32(p.pw) - i32(r % p.kw);
  if (ty < 0 || tx < 0) { return 0.0; }
  let oy = u32(ty) / p.sh;
  let ox = u32(tx) / p.sw;
  if (u32(ty) % p.sh != 0u || u32(tx) % p.sw != 0u || oy >= p.ho || ox >= p.wo) { return 0.0; }
  return x1[((z * p.o + o) * p.ho + oy) * p.wo + ox];`,
    aContig: "k",
    bContig: "n",
  };
}

/**
 * The implicit-GEMM operands of conv2dFilterGrad, x0 = gy [B, O, Ho, Wo], x1 = x [B, C, H, W]:
 * dw[o, r=(c,i,j)] = Σ_{(b, q)} gy[b, o, q] · x[b, c, q·s − p + (i, j)]; m = O, k = B·Ho·Wo,
 * n = C·kh·kw, one batch item.
 *
 * @example
 * ```ts
 * import { filterGradOperands } from "./conv.wgsl.ts";
 * const g = { b: 2, c: 3, h: 8, w: 8, o: 4, kh: 3, kw: 3, ho: 8, wo: 8, stride: [1, 1] as [number, number], padding: [1, 1] as [number, number] };
 * filterGradOperands(g).bContig; // "k"
 * ```
 */
export function filterGradOperands(g: ConvGeom): GemmOperands {
  return {
    formula:
      "conv2dFilterGrad: dw[o, r=(c,i,j)] = Σ_{(b,q)} gy[b, o, q] · x[b, c, q·s − p + (i, j)]",
    fields: geomFields(g),
    loadA: `let b = kk / (p.ho * p.wo);
  return x0[(b * p.o + row) * p.ho * p.wo + kk % (p.ho * p.wo)];`,
    loadB: `let b = kk / (p.ho * p.wo);
  let q = kk % (p.ho * p.wo);
  let c = col / (p.kh * p.kw);
  let r = col % (p.kh * p.kw);
  let oy = q / p.wo;
  let ox = q % p.wo;
  ${X_TAP}`,
    aContig: "k",
    bContig: "k",
  };
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

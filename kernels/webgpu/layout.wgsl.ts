/**
 * WGSL builders for the layout primitives that are not strided views: pad (constant fill
 * outside a box), concat (one copy per input into its slab), gather and scatterAdd (indexed
 * along one axis, the tensor seen as [outer, axis, inner]). One invocation per output element;
 * scatterAdd's loop over indices is cut into chunks of at most LOOP_BUDGET (partial sums).
 * @module
 */
import { stridesOf } from "../shape.ts";
import type { DType } from "../dtype.ts";
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
  wgslType,
} from "./wgsl.ts";

function header(
  equation: string,
  split: string,
  fields: Field[],
  inputs: [string, string][],
  outType: string,
): { src: string; data: Uint32Array } {
  const { decl, data } = paramsStruct(fields);
  const ins = inputs.map(([n, t], k) =>
    `@group(0) @binding(${k + 1}) var<storage, read> ${n}: array<${t}>;`
  );
  const src = `// ${equation}
// ${split}
const WG = ${WG}u;
${decl}
@group(0) @binding(0) var<uniform> p: Params;
${ins.join("\n")}
@group(0) @binding(${inputs.length + 1}) var<storage, read_write> out: array<${outType}>;
${ENTRY_1D}
  ${FLAT_INDEX}
  if (i >= p.n) { return; }
`;
  return { src, data };
}

/**
 * out = x padded by `widths` with the constant `value`.
 *
 * @example
 * ```ts
 * import { padKernel } from "./layout.wgsl.ts";
 * const k = padKernel([2, 3], [[1, 1], [0, 2]], 0, "float32");
 * ```
 */
export function padKernel(
  shape: readonly number[],
  widths: readonly (readonly [number, number])[],
  value: number,
  dtype: DType,
): KernelSource {
  const outShape = shape.map((d, i) => d + widths[i][0] + widths[i][1]);
  const n = outShape.reduce((a, b) => a * b, 1);
  const r = shape.length;
  const st = stridesOf(shape);
  const t = wgslType(dtype);
  const fields: Field[] = [u("n", n, "number of output elements")];
  fields.push({ name: "value", type: t, value, doc: "fill value outside the input box" });
  for (let d = 0; d < r; d++) {
    fields.push(u(`o${d}`, outShape[d], `output size along axis ${d}`));
    fields.push(u(`lo${d}`, widths[d][0], `padding before axis ${d}`));
    fields.push(u(`x${d}`, shape[d], `input size along axis ${d}`));
    fields.push(u(`s${d}`, st[d], `input stride along axis ${d}`));
  }
  const { src, data } = header(
    "out[c] = x[c − lo] inside the box [lo, lo + size), else value",
    "one invocation per output element; index decomposed per axis, unrolled",
    fields,
    [["x", t]],
    t,
  );
  const body: string[] = ["var rem = i;", "var src = 0u;", "var inside = true;"];
  for (let d = r - 1; d >= 0; d--) {
    body.push(`let c${d} = rem % p.o${d}; rem = rem / p.o${d};`);
    body.push(`inside = inside && c${d} >= p.lo${d} && c${d} - p.lo${d} < p.x${d};`);
    body.push(`src += (c${d} - p.lo${d}) * p.s${d};`);
  }
  body.push("if (inside) { out[i] = x[src]; } else { out[i] = p.value; }");
  return {
    code: `${src}  ${body.join("\n  ")}\n}\n`,
    grid: grid1d(Math.ceil(n / WG)),
    params: data,
  };
}

/**
 * Copies x, seen as [outer, dx, inner], into out [outer, total, inner] at offset `off`.
 *
 * @example
 * ```ts
 * import { concatPartKernel } from "./layout.wgsl.ts";
 * const k = concatPartKernel(2, 3, 4, 5, 2, "float32"); // x [2,3,4] into out [2,5,4] at 2
 * ```
 */
export function concatPartKernel(
  outer: number,
  dx: number,
  inner: number,
  total: number,
  off: number,
  dtype: DType,
): KernelSource {
  const t = wgslType(dtype);
  const n = outer * dx * inner;
  const { src, data } = header(
    "out[o, off + j, r] = x[o, j, r] (one input's slab of a concatenation)",
    "one invocation per input element",
    [
      u("n", n, "number of input elements"),
      u("slab", dx * inner, "elements of x per outer index"),
      u("outSlab", total * inner, "elements of out per outer index"),
      u("off", off * inner, "element offset of this input within an out slab"),
    ],
    [["x", t]],
    t,
  );
  const body = "let o = i / p.slab;\n  out[o * p.outSlab + p.off + (i - o * p.slab)] = x[i];";
  return { code: `${src}  ${body}\n}\n`, grid: grid1d(Math.ceil(n / WG)), params: data };
}

/**
 * out[o, k, r] = x[o, idx[k], r]; out-of-range indices give 0.
 *
 * @example
 * ```ts
 * import { gatherKernel } from "./layout.wgsl.ts";
 * const k = gatherKernel(1, 10, 4, 3, "float32"); // x [10, 4], 3 indices along axis 0
 * ```
 */
export function gatherKernel(
  outer: number,
  d: number,
  inner: number,
  m: number,
  dtype: DType,
): KernelSource {
  const t = wgslType(dtype);
  const n = outer * m * inner;
  const { src, data } = header(
    "out[o, k, r] = x[o, idx[k], r] (0 for an index outside [0, d))",
    "one invocation per output element",
    [
      u("n", n, "number of output elements"),
      u("inner", inner, "elements after the gathered axis"),
      u("m", m, "number of indices"),
      u("d", d, "size of the gathered axis in x"),
    ],
    [["x", t], ["idx", "i32"]],
    t,
  );
  const body = `let r = i % p.inner;
  let k = (i / p.inner) % p.m;
  let o = i / (p.inner * p.m);
  let j = idx[k];
  if (j < 0 || u32(j) >= p.d) { out[i] = ${t}(0); return; }
  out[i] = x[(o * p.d + u32(j)) * p.inner + r];`;
  return { code: `${src}  ${body}\n}\n`, grid: grid1d(Math.ceil(n / WG)), params: data };
}

/**
 * One chunk of scatterAdd: out[part, o, j, r] = Σ_{k in chunk} [idx[k] = j] · g[o, k, r] over
 * indices k ∈ [part·chunk, min(m, (part+1)·chunk)); the parts are summed afterwards.
 *
 * @example
 * ```ts
 * import { scatterAddKernel } from "./layout.wgsl.ts";
 * const k = scatterAddKernel(1, 70000, 2, 5, "float32"); // k.parts = 5
 * ```
 */
export function scatterAddKernel(
  outer: number,
  m: number,
  inner: number,
  size: number,
  dtype: DType,
): KernelSource & { parts: number } {
  const t = wgslType(dtype);
  const chunk = Math.min(m, LOOP_BUDGET);
  const parts = Math.max(1, Math.ceil(m / chunk));
  const per = outer * size * inner;
  const n = per * parts;
  const { src, data } = header(
    "out[part, o, j, r] = Σ_{k ∈ chunk(part)} [idx[k] = j] · g[o, k, r]",
    `one invocation per (part, output element); each loops over ≤ ${LOOP_BUDGET} indices`,
    [
      u("n", n, "number of outputs over all parts"),
      u("per", per, "outputs per part"),
      u("inner", inner, "elements after the scattered axis"),
      u("size", size, "size of the output axis"),
      u("m", m, "number of indices (g's size along the axis)"),
      u("chunk", chunk, "indices handled per part"),
    ],
    [["g", t], ["idx", "i32"]],
    t,
  );
  const body = `let part = i / p.per;
  let e = i - part * p.per;
  let r = e % p.inner;
  let j = i32((e / p.inner) % p.size);
  let o = e / (p.inner * p.size);
  let k0 = part * p.chunk;
  let k1 = min(p.m, k0 + p.chunk);
  var acc = ${t}(0);
  for (var k = k0; k < k1; k++) {
    if (idx[k] == j) { acc += g[(o * p.m + k) * p.inner + r]; }
  }
  out[i] = acc;`;
  return {
    code: `${src}  ${body}\n}\n`,
    grid: grid1d(Math.ceil(n / WG)),
    params: data,
    parts,
  };
}

/**
 * Batched 2-D transpose in 4×4 blocks: out[z, c, r] = x[z, r, c] for x [batch, rows, cols] with
 * rows and cols multiples of 4; one invocation moves a block with 4 vec4 loads and 4 vec4
 * stores (16× fewer invocations than an element-wise copy). No loops.
 *
 * @example
 * ```ts
 * import { transpose4Kernel } from "./layout.wgsl.ts";
 * const k = transpose4Kernel(1, 1024, 1024);
 * ```
 */
export function transpose4Kernel(batch: number, rows: number, cols: number): KernelSource {
  const n = batch * (rows / 4) * (cols / 4);
  const { src, data } = header(
    "out[z, c, r] = x[z, r, c], moved as 4×4 blocks",
    "one invocation per 4×4 block: 4 vec4 loads, 4 vec4 stores",
    [
      u("n", n, "blocks"),
      u("r4", rows / 4, "row blocks"),
      u("c4", cols / 4, "column blocks"),
    ],
    [["x", "vec4<f32>"]],
    "vec4<f32>",
  );
  const body = `let cb = i % p.c4;
  let rb = (i / p.c4) % p.r4;
  let z = i / (p.c4 * p.r4);
  let base = (z * p.r4 * 4u + rb * 4u) * p.c4 + cb;
  let v0 = x[base];
  let v1 = x[base + p.c4];
  let v2 = x[base + 2u * p.c4];
  let v3 = x[base + 3u * p.c4];
  let o = (z * p.c4 * 4u + cb * 4u) * p.r4 + rb;
  out[o] = vec4<f32>(v0.x, v1.x, v2.x, v3.x);
  out[o + p.r4] = vec4<f32>(v0.y, v1.y, v2.y, v3.y);
  out[o + 2u * p.r4] = vec4<f32>(v0.z, v1.z, v2.z, v3.z);
  out[o + 3u * p.r4] = vec4<f32>(v0.w, v1.w, v2.w, v3.w);`;
  return { code: `${src}  ${body}\n}\n`, grid: grid1d(Math.ceil(n / WG)), params: data };
}

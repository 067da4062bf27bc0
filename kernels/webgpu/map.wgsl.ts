/**
 * The "map" kernel builder: out[i] = f(v₀(i), v₁(i), …) where each input is read through a
 * strided view of the output index (offset + Σ coord_d · stride_d). Unary and binary ops,
 * compare, where, cast, broadcastTo, transpose and slice are all this one kernel with a
 * different scalar expression and views; `fusedKernel` evaluates a whole DAG of such expressions
 * in one pass (the backend's elementwise fusion). Axes are coalesced first, so contiguous
 * operands cost one load and no index arithmetic. No loops: one invocation per output element.
 * @module
 */
import { broadcastStrides, coalesce, sizeOf, stridesOf } from "../shape.ts";
import type { DType } from "../dtype.ts";
import {
  ENTRY_1D,
  type Field,
  FLAT_INDEX,
  grid1d,
  type KernelSource,
  paramsStruct,
  u,
  WG,
  wgslType,
} from "./wgsl.ts";

/** How one input is read: element offset plus one stride per output axis (0 = broadcast). */
export interface View {
  offset: number;
  strides: number[];
  dtype: DType;
}

/**
 * A view of a contiguous input of `shape` broadcast (numpy rules) to `outShape`.
 *
 * @example
 * ```ts
 * import { broadcastView } from "./map.wgsl.ts";
 * broadcastView([3, 1], [2, 3, 4], "float32"); // strides [0, 1, 0]
 * ```
 */
export function broadcastView(
  shape: readonly number[],
  outShape: readonly number[],
  dtype: DType,
): View {
  return { offset: 0, strides: broadcastStrides(shape, outShape), dtype };
}

/**
 * One operation of a fused elementwise kernel: a WGSL expression template over operands named
 * a, b, c, and where each operand comes from: a negative number -(k + 1) is input view k,
 * `j` in [0, FUSED_CONST) the result of node j, `FUSED_CONST + k` scalar constant k.
 */
export interface FusedNode {
  expr: string;
  args: number[];
}

/** Operand code of the first scalar constant of a fused kernel (see `FusedNode`). */
export const FUSED_CONST = 1 << 24;

/** A scalar constant of a fused kernel: passed in Params (its bits), not in the source. */
export interface FusedConst {
  value: number;
  dtype: DType;
}

/**
 * Builds out[i] = `expr` over inputs named a, b, c (in view order) for an output of
 * `outShape`/`outDType`. `expr` is a WGSL expression of the output's type.
 *
 * @example
 * ```ts
 * import { broadcastView, mapKernel } from "./map.wgsl.ts";
 * const k = mapKernel("a + b", [broadcastView([4], [3, 4], "float32"), broadcastView([3, 4], [3, 4], "float32")], [3, 4], "float32");
 * ```
 */
export function mapKernel(
  expr: string,
  views: View[],
  outShape: readonly number[],
  outDType: DType,
): KernelSource {
  return fusedKernel(
    [{ expr, args: views.map((_, k) => -(k + 1)) }],
    views,
    [],
    outShape,
    outDType,
  );
}

/**
 * Builds one kernel evaluating a chain (a DAG) of elementwise operations per output element:
 * each input view is loaded once, each node becomes one `let`, the last node is stored. This is
 * how the backend fuses consecutive elementwise ops into one dispatch. Scalar constants travel
 * as Params fields, so a changing value (a step size) reuses the same compiled pipeline.
 *
 * @example
 * ```ts
 * import { broadcastView, fusedKernel } from "./map.wgsl.ts";
 * // (x · y) + y, x [3, 4], y [4]
 * const k = fusedKernel(
 *   [{ expr: "a * b", args: [-1, -2] }, { expr: "a + b", args: [0, -2] }],
 *   [broadcastView([3, 4], [3, 4], "float32"), broadcastView([4], [3, 4], "float32")],
 *   [],
 *   [3, 4],
 *   "float32",
 * );
 * ```
 */
export function fusedKernel(
  nodes: readonly FusedNode[],
  views: readonly View[],
  consts: readonly FusedConst[],
  outShape: readonly number[],
  outDType: DType,
): KernelSource {
  const n = sizeOf(outShape);
  const co = coalesce(outShape, views.map((v) => v.strides));
  const rank = co.shape.length;
  const outSt = stridesOf(co.shape);
  const modes = views.map((v, k) => {
    const st = co.strides[k];
    if (st.every((s) => s === 0)) return "scalar";
    if (v.offset === 0 && st.every((s, d) => s === outSt[d])) return "same";
    return "strided";
  });
  // Params values in field order: n, d0.., then per input (unless "same") its offset and strides
  const values = [n, ...co.shape];
  views.forEach((v, k) => {
    if (modes[k] === "same") return;
    values.push(v.offset);
    if (modes[k] === "strided") values.push(...co.strides[k]);
  });
  const constBits = consts.map((c) => constBitsOf(c));
  values.push(...constBits);
  // the source depends only on this key: build it once, then only pack the values
  let key = `${outDType}|${rank}|${views.map((v, k) => `${v.dtype}:${modes[k]}`)}|${
    consts.map((c) => c.dtype)
  }`;
  for (const nd of nodes) key += `|${nd.expr}(${nd.args})`;
  const cached = codeCache.get(key);
  if (cached) {
    const data = new Uint32Array(Math.ceil(values.length / 4) * 4);
    data.set(values);
    return { code: cached, grid: grid1d(Math.ceil(n / WG)), params: data };
  }
  const fields: Field[] = [u("n", n, "number of output elements")];
  for (let d = 0; d < rank; d++) {
    fields.push(u(`d${d}`, co.shape[d], `output size along coalesced axis ${d}`));
  }
  views.forEach((v, k) => {
    if (modes[k] === "same") return;
    fields.push(u(`x${k}_off`, v.offset, `element offset of input x${k}`));
    if (modes[k] === "strided") {
      for (let d = 0; d < rank; d++) {
        fields.push(u(`x${k}_s${d}`, co.strides[k][d], `stride of x${k} along axis ${d}`));
      }
    }
  });
  consts.forEach((c, k) =>
    fields.push(u(`k${k}`, constBits[k], `bits of scalar constant ${k} (${c.dtype})`))
  );
  const { decl, data } = paramsStruct(fields);
  const bindings = views.map((v, k) =>
    `@group(0) @binding(${k + 1}) var<storage, read> x${k}: array<${wgslType(v.dtype)}>;`
  );
  const strided = views.map((_, k) => k).filter((k) => modes[k] === "strided");
  // index decomposition, innermost axis first; unrolled (no loop) for the coalesced rank
  const idx: string[] = [];
  if (strided.length) {
    idx.push("var rem = i;");
    for (const k of strided) idx.push(`var x${k}_i = p.x${k}_off;`);
    for (let d = rank - 1; d >= 0; d--) {
      idx.push(`let c${d} = rem % p.d${d}; rem = rem / p.d${d};`);
      for (const k of strided) idx.push(`x${k}_i += c${d} * p.x${k}_s${d};`);
    }
  }
  const loads = views.map((_, k) => {
    const at = modes[k] === "same" ? "i" : modes[k] === "scalar" ? `p.x${k}_off` : `x${k}_i`;
    return `let v${k} = x${k}[${at}];`;
  });
  const operand = (a: number) =>
    a < 0 ? `v${-a - 1}` : a >= FUSED_CONST ? `k${a - FUSED_CONST}` : `t${a}`;
  const constLets = consts.map((c, k) => `let k${k} = bitcast<${wgslType(c.dtype)}>(p.k${k});`);
  const lets = nodes.map((nd, j) =>
    `let t${j} = ${nd.expr.replace(/\b([abc])\b/g, (c) => operand(nd.args[c.charCodeAt(0) - 97]))};`
  );
  const what = nodes.length === 1 && !consts.length
    ? `out[i] = ${nodes[0].expr}`
    : `${nodes.length} fused elementwise operation(s), ${consts.length} scalar constant(s)`;
  const code = `// ${what} over ${views.length} strided input view(s), rank ${rank} after
// coalescing; one invocation per output element, ${WG} per workgroup, no loops.
const WG = ${WG}u;
${decl}
@group(0) @binding(0) var<uniform> p: Params;
${bindings.join("\n")}
@group(0) @binding(${views.length + 1}) var<storage, read_write> out: array<${wgslType(outDType)}>;
${ENTRY_1D}
  ${FLAT_INDEX}
  if (i >= p.n) { return; }
  ${idx.join("\n  ")}
  ${loads.join("\n  ")}
  ${constLets.join("\n  ")}
  ${lets.join("\n  ")}
  out[i] = t${nodes.length - 1};
}
`;
  codeCache.set(key, code);
  return { code, grid: grid1d(Math.ceil(n / WG)), params: data };
}

const bitsF32 = new Float32Array(1), bitsI32 = new Int32Array(bitsF32.buffer);
const bitsU32 = new Uint32Array(bitsF32.buffer);

/** The 32 bits of a constant as its WGSL type stores them. */
function constBitsOf(c: FusedConst): number {
  if (c.dtype === "int32") bitsI32[0] = c.value;
  else bitsF32[0] = c.value;
  return bitsU32[0];
}

/** Generated sources by shape-independent key (the same string object keeps its hash). */
const codeCache = new Map<string, string>();

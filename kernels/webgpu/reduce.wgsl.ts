/**
 * WGSL builders for sum, max and argmax over the middle axis of x seen as [outer, R, inner]
 * (the backend transposes first when the reduced axes are not contiguous). Each pass reduces
 * chunks of at most CHUNK entries: out[o, part, i] = ⊕_{r ∈ chunk(part)} x[o, r, i]; the
 * backend repeats passes until one part is left, so no invocation loops more than CHUNK times
 * (Mesa truncates loops past 65,535 iterations). argmax carries (value, index) pairs between
 * passes as two u32 words (value bits, index).
 * @module
 */
import type { DType } from "../dtype.ts";
import { wgslIsNan } from "../elementwise.ts";
import {
  ENTRY_1D,
  FLAT_INDEX,
  grid1d,
  type KernelSource,
  LOOP_BUDGET,
  paramsStruct,
  u,
  WG,
  wgslType,
} from "./wgsl.ts";

/** Entries one invocation reduces per pass. */
export const CHUNK = Math.min(4096, LOOP_BUDGET);

/**
 * Parts a pass over R entries produces.
 *
 * @example
 * ```ts
 * import { partsOf } from "./reduce.wgsl.ts";
 * partsOf(1_000_000); // 245
 * ```
 */
export function partsOf(r: number): number {
  return Math.max(1, Math.ceil(r / CHUNK));
}

/**
 * One sum/max pass: [outer, R, inner] → [outer, parts(R), inner].
 *
 * @example
 * ```ts
 * import { reducePass } from "./reduce.wgsl.ts";
 * const k = reducePass("sum", 1, 1_000_000, 1, "float32");
 * ```
 */
export function reducePass(
  op: "sum" | "max",
  outer: number,
  r: number,
  inner: number,
  dtype: DType,
): KernelSource {
  const t = wgslType(dtype);
  const parts = partsOf(r);
  const n = outer * parts * inner;
  const { decl, data } = paramsStruct([
    u("n", n, "outputs of this pass: outer · parts · inner"),
    u("r", r, "length of the reduced axis"),
    u("inner", inner, "elements after the reduced axis"),
    u("parts", parts, "chunks the reduced axis is cut into"),
    u("chunk", CHUNK, "entries per chunk"),
  ]);
  const init = op === "sum"
    ? `${t}(0)`
    : t === "f32"
    ? "bitcast<f32>(0xff800000u)"
    : "i32(-2147483648)";
  // max propagates NaN like the CPU kernel: once acc is NaN no comparison replaces it
  const step = op === "sum"
    ? "acc += v;"
    : t === "f32"
    ? `if (v > acc || ${wgslIsNan("v")}) { acc = v; }`
    : "acc = max(acc, v);";
  const code = `// out[o, part, i] = ${
    op === "sum" ? "Σ" : "max"
  }_{r ∈ chunk(part)} x[o, r, i], chunk = [part·CHUNK, (part+1)·CHUNK) ∩ [0, R)
// one invocation per output of the pass; each loops over ≤ ${CHUNK} entries
const WG = ${WG}u;
${decl}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<${t}>;
@group(0) @binding(2) var<storage, read_write> out: array<${t}>;
${ENTRY_1D}
  ${FLAT_INDEX}
  if (i >= p.n) { return; }
  let ii = i % p.inner;
  let part = (i / p.inner) % p.parts;
  let o = i / (p.inner * p.parts);
  let r0 = part * p.chunk;
  let r1 = min(p.r, r0 + p.chunk);
  var acc = ${init};
  var src = (o * p.r + r0) * p.inner + ii;
  for (var k = r0; k < r1; k++) {
    let v = x[src];
    ${step}
    src += p.inner;
  }
  out[i] = acc;
}
`;
  return { code, grid: grid1d(Math.ceil(n / WG)), params: data };
}

/**
 * One argmax pass. `from`: "x" reads values of `dtype` (index = position), "pairs" reads
 * (value bits, index) u32 pairs. `to`: "pairs" writes pairs, "index" writes the i32 index.
 * Ties and all-NaN chunks keep the first index, as the CPU kernel.
 *
 * @example
 * ```ts
 * import { argmaxPass } from "./reduce.wgsl.ts";
 * const k = argmaxPass(4, 10, 1, "float32", "x", "index");
 * ```
 */
export function argmaxPass(
  outer: number,
  r: number,
  inner: number,
  dtype: DType,
  from: "x" | "pairs",
  to: "pairs" | "index",
): KernelSource {
  const t = wgslType(dtype);
  const parts = partsOf(r);
  const n = outer * parts * inner;
  const { decl, data } = paramsStruct([
    u("n", n, "outputs of this pass: outer · parts · inner"),
    u("r", r, "length of the reduced axis"),
    u("inner", inner, "elements after the reduced axis"),
    u("parts", parts, "chunks the reduced axis is cut into"),
    u("chunk", CHUNK, "entries per chunk"),
  ]);
  const load = from === "x"
    ? `let v = x[src]; let vi = k;`
    : `let v = bitcast<${t}>(x[2u * src]); let vi = x[2u * src + 1u];`;
  const store = to === "index"
    ? "out[i] = i32(best);"
    : "out[2u * i] = bitcast<u32>(acc); out[2u * i + 1u] = best;";
  const init = t === "f32" ? "bitcast<f32>(0xff800000u)" : "i32(-2147483648)";
  const code =
    `// (value, index) of the first maximum of x[o, r, i] over r ∈ chunk(part) (NaN never wins)
// one invocation per output of the pass; each loops over ≤ ${CHUNK} entries
const WG = ${WG}u;
${decl}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<${from === "x" ? t : "u32"}>;
@group(0) @binding(2) var<storage, read_write> out: array<${to === "index" ? "i32" : "u32"}>;
${ENTRY_1D}
  ${FLAT_INDEX}
  if (i >= p.n) { return; }
  let ii = i % p.inner;
  let part = (i / p.inner) % p.parts;
  let o = i / (p.inner * p.parts);
  let r0 = part * p.chunk;
  let r1 = min(p.r, r0 + p.chunk);
  var acc = ${init};
  var best = ${from === "x" ? "r0" : "x[2u * ((o * p.r + r0) * p.inner + ii) + 1u]"};
  var src = (o * p.r + r0) * p.inner + ii;
  for (var k = r0; k < r1; k++) {
    ${load}
    if (v > acc) { acc = v; best = vi; }
    src += p.inner;
  }
  ${store}
}
`;
  return { code, grid: grid1d(Math.ceil(n / WG)), params: data };
}

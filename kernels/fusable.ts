/**
 * Which primitives the backends' elementwise fusers record instead of running (unary, binary,
 * compare, where, cast, broadcastTo), and each one's scalar expression over operands a, b, c
 * from the shared `ELEMENTWISE` table, in JS (kernels/cpu/fusion.ts) or WGSL
 * (kernels/webgpu/fusion.ts). One list, so both fusers take the same primitives.
 * @module
 */
import type { DType } from "./dtype.ts";
import { ELEMENTWISE } from "./elementwise.ts";
import type { PrimName, PrimParams } from "./prims.ts";

/**
 * The scalar expression (operands a, b, c in input order) of an elementwise primitive or
 * broadcastTo in `lang`, for an output of `outDType` and operands of `inDType` (both fusers pass
 * the first input's dtype), or null for every other primitive (those are not fused).
 *
 * @example
 * ```ts
 * import { fusableExprIn } from "./fusable.ts";
 * fusableExprIn("js", "compare", { op: "lt" }, "int32", "float32"); // "+(a < b)"
 * ```
 */
export function fusableExprIn<P extends PrimName>(
  lang: "js" | "wgsl",
  prim: P,
  params: PrimParams[P],
  outDType: DType,
  inDType: DType,
): string | null {
  switch (prim) {
    case "neg":
    case "exp":
    case "log":
    case "sqrt":
    case "abs":
    case "sign":
    case "add":
    case "sub":
    case "mul":
    case "div":
    case "maximum":
    case "minimum":
    case "where":
      return ELEMENTWISE[prim as "neg"][lang](outDType, inDType);
    case "compare":
      return ELEMENTWISE[(params as PrimParams["compare"]).op][lang](outDType, inDType);
    case "cast":
      return ELEMENTWISE.cast[lang]((params as PrimParams["cast"]).dtype, inDType);
    case "broadcastTo": // a copy through a broadcast view: the identity per output element
      return "a";
    default:
      return null;
  }
}

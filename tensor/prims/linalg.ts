/**
 * The linalg family: batched matmul with transpose flags — its shape rule, a vjp that is again
 * one flagged matmul per input (no transposed copies), and the wrappers matmul and matmulT.
 * @module
 */
import type { LinalgParams } from "../../kernels/prims.ts";
import { broadcastShapes, fmt } from "../../kernels/shape.ts";
import { binder, type RuleTable } from "../engine.ts";
import type { Tensor } from "../tensor.ts";
import { checkTensor, sameDType } from "./checks.ts";
import { add } from "./elementwise.ts";
import { transpose } from "./layout.ts";

/** The linalg rules. */
export const LINALG_RULES: RuleTable<keyof LinalgParams> = {
  matmul: {
    shape: ([a, b], p) => {
      if (a.shape.length < 2 || b.shape.length < 2) {
        throw new TypeError(
          `matmul: both inputs need rank ≥ 2, got ${fmt(a.shape)} and ${
            fmt(b.shape)
          }; reshape vectors to [1, n] or [n, 1]`,
        );
      }
      const ra = a.shape.length, rb = b.shape.length;
      const [m, k] = p.transA
        ? [a.shape[ra - 1], a.shape[ra - 2]]
        : [a.shape[ra - 2], a.shape[ra - 1]];
      const [k2, n] = p.transB
        ? [b.shape[rb - 1], b.shape[rb - 2]]
        : [b.shape[rb - 2], b.shape[rb - 1]];
      if (k !== k2) {
        throw new TypeError(
          `matmul: inner dimensions differ: ${fmt(a.shape)}${p.transA ? "ᵀ" : ""} · ${
            fmt(b.shape)
          }${p.transB ? "ᵀ" : ""} (${k} vs ${k2})`,
        );
      }
      const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
      return { shape: [...batch, m, n], dtype: sameDType("matmul", [a, b]) };
    },
    // batch axes broadcast: autodiff sums each cotangent back over them
    broadcasts: true,
    // C = op(A)·op(B): each cotangent is again one matmul with flags, no transposed copies.
    // A Gram matrix A·Aᵀ (one tensor on both sides) has one cotangent, (G + Gᵀ)·A: one matmul
    // instead of G·A + Gᵀ·A
    vjp: (g, [a, b], _y, { transA: tA, transB: tB }, n) => {
      if (a === b && !tA && tB && n[0]) {
        const r = g.shape.length, perm = g.shape.map((_, i) => i);
        perm.splice(r - 2, 2, r - 1, r - 2);
        return [matmulT(add(g, transpose(g, perm)), a, false, false), null];
      }
      return [
        n[0] ? (tA ? matmulT(b, g, tB, true) : matmulT(g, b, false, !tB)) : null,
        n[1] ? (tB ? matmulT(g, a, true, tA) : matmulT(a, g, !tA, false)) : null,
      ];
    },
  },
};

const bind = binder(LINALG_RULES);

/** Batched matrix product a [..., m, k] · b [..., k, n]. @example `matmul(a, b)` */
export function matmul(a: Tensor, b: Tensor): Tensor {
  return matmulT(a, b, false, false);
}

/**
 * op(a) · op(b) where op transposes the last two axes when its flag is set — the same as
 * `matmul(swapLast(a), b)` etc. without materialising the transpose.
 *
 * @example
 * ```ts
 * import { matmulT, ones } from "@sll/sll";
 * const gram = matmulT(ones([3, 5]), ones([3, 5]), false, true); // [3, 3] = W·Wᵀ
 * ```
 */
export function matmulT(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
  return bind("matmul", [checkTensor(a, "matmul"), checkTensor(b, "matmul")], { transA, transB });
}

/**
 * The solve family: batched small linear systems a·x = b (LU with partial pivoting on the CPU,
 * Gauss–Jordan with partial pivoting on WebGPU) — the shape rule, a vjp that is again one solve
 * (with aᵀ, by a flag) and one matmul, and the wrappers solve and inverse. The primitive takes
 * equal batch axes; the wrapper broadcasts them first, so autodiff sums gradients back.
 * @module
 */
import type { SolveParams } from "../../kernels/prims.ts";
import { broadcastShapes, fmt } from "../../kernels/shape.ts";
import { binder, type RuleTable } from "../engine.ts";
import { tensor } from "../create.ts";
import type { Tensor } from "../tensor.ts";
import { isTracked } from "../trace.ts";
import { checkTensor, floatOnly, sameDType } from "./checks.ts";
import { neg } from "./elementwise.ts";
import { broadcastTo } from "./layout.ts";
import { matmulT } from "./linalg.ts";

/** The solve rules. */
export const SOLVE_RULES: RuleTable<keyof SolveParams> = {
  solve: {
    shape: ([a, b]) => {
      floatOnly("solve", a);
      const ra = a.shape.length, rb = b.shape.length, n = a.shape[ra - 1];
      if (ra < 2 || a.shape[ra - 2] !== n || rb !== ra || b.shape[rb - 2] !== n) {
        throw new TypeError(
          `solve: needs a [..., n, n] and b [..., n, k] with the same batch axes, got ${
            fmt(a.shape)
          } and ${fmt(b.shape)}`,
        );
      }
      if (a.shape.slice(0, -2).some((d, i) => d !== b.shape[i])) {
        throw new TypeError(
          `solve: batch axes differ: ${fmt(a.shape)} and ${fmt(b.shape)} (solve() broadcasts)`,
        );
      }
      return { shape: [...b.shape], dtype: sameDType("solve", [a, b]) };
    },
    // x = A⁻¹b with A = op(a): gb = A⁻ᵀ·g (one solve with the flag flipped) and gA = −gb·xᵀ,
    // so ga = −gb·xᵀ, or its transpose −x·gbᵀ when op transposes. Both are ops: differentiable.
    vjp: (g, [a], x, p, n) => {
      const gb = solve1(a, g, !p.transA);
      const ga = n[0]
        ? neg(p.transA ? matmulT(x, gb, false, true) : matmulT(gb, x, false, true))
        : null;
      return [ga, n[1] ? gb : null];
    },
  },
};

const bind = binder(SOLVE_RULES);

function solve1(a: Tensor, b: Tensor, transA: boolean): Tensor {
  return bind("solve", [a, b], { transA });
}

/** Options of solve. */
export interface SolveOptions {
  /** Solve aᵀ·x = b instead (no transposed copy of a). */
  transpose?: boolean;
}

/**
 * x with a·x = b for a batch of small square systems: a [..., n, n], b [..., n, k], batch axes
 * broadcast (numpy rules) → x [..., n, k]. LU with partial pivoting in float64 on the CPU;
 * Gauss–Jordan with partial pivoting on WebGPU. Differentiable in both arguments:
 * gb = solve(aᵀ, g), ga = −gb·xᵀ.
 *
 * Singular matrices: the CPU throws a RangeError naming the batch index of the first matrix
 * whose pivot is exactly zero (as LAPACK's getrf), never NaN garbage; there is no gradient
 * there (the forward pass throws, and the vjp would solve with the same singular aᵀ). WebGPU
 * cannot report synchronously: the x of a singular matrix comes back as all NaN (the others
 * stay exact), so check `await x.data()` for NaN where singular inputs are possible.
 *
 * @example
 * ```ts
 * import { solve, tensor } from "@sll/sll";
 * const a = tensor([[2, 1], [1, 3]]);
 * const x = solve(a, tensor([[3], [5]])); // [[0.8], [1.4]]
 * ```
 */
export function solve(a: Tensor, b: Tensor, options: SolveOptions = {}): Tensor {
  checkTensor(a, "solve", "a");
  checkTensor(b, "solve", "b");
  if (a.rank < 2 || b.rank < 2) {
    throw new TypeError(
      `solve: needs a [..., n, n] and b [..., n, k], got ${fmt(a.shape)} and ${
        fmt(b.shape)
      }; reshape a vector b to [n, 1]`,
    );
  }
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const temps: Tensor[] = [];
  const to = (t: Tensor): Tensor => {
    const s = [...batch, ...t.shape.slice(-2)];
    if (s.length === t.rank && s.every((d, i) => d === t.shape[i])) return t;
    const u = broadcastTo(t, s);
    temps.push(u);
    return u;
  };
  const x = solve1(to(a), to(b), options.transpose ?? false);
  if (!isTracked(x)) { for (const t of temps) t.dispose(); }
  return x;
}

/**
 * The inverse of each matrix of a batch a [..., n, n]: solve(a, I). Same errors as solve.
 *
 * @example
 * ```ts
 * import { inverse, tensor } from "@sll/sll";
 * const inv = inverse(tensor([[2, 0], [0, 4]])); // [[0.5, 0], [0, 0.25]]
 * ```
 */
export function inverse(a: Tensor): Tensor {
  checkTensor(a, "inverse");
  const n = a.shape[a.rank - 1];
  if (a.rank < 2 || a.shape[a.rank - 2] !== n) {
    throw new TypeError(`inverse: needs square matrices [..., n, n], got ${fmt(a.shape)}`);
  }
  const eye = tensor(Array.from({ length: n * n }, (_, i) => +(i % (n + 1) === 0)), {
    shape: [n, n],
    dtype: a.dtype,
  });
  const x = solve(a, eye);
  if (!isTracked(x)) eye.dispose();
  return x;
}

/**
 * The index family: gather (take entries at int32 indices along an axis) and its adjoint
 * scatterAdd — shape rules, vjps (each is the other's) and public wrappers.
 * @module
 */
import type { IndexParams } from "../../kernels/prims.ts";
import { fmt, normAxis } from "../../kernels/shape.ts";
import { binder, type RuleTable } from "../engine.ts";
import type { Tensor } from "../tensor.ts";
import { checkTensor } from "./checks.ts";

/** The index rules. */
export const INDEX_RULES: RuleTable<keyof IndexParams> = {
  gather: {
    shape: ([x, idx], p) => {
      if (idx.dtype !== "int32" || idx.shape.length !== 1) {
        throw new TypeError(
          `gather: indices must be a 1-D int32 tensor, got ${idx.dtype} ${fmt(idx.shape)}`,
        );
      }
      const shape = [...x.shape];
      shape[p.axis] = idx.shape[0];
      return { shape, dtype: x.dtype };
    },
    vjp: (g, [x, idx], _y, p) => [scatterAdd(g, idx, p.axis, x.shape[p.axis]), null],
  },
  scatterAdd: {
    shape: ([g, idx], p) => {
      if (idx.dtype !== "int32" || idx.shape.length !== 1 || idx.shape[0] !== g.shape[p.axis]) {
        throw new TypeError(
          `scatterAdd: indices must be 1-D int32 of length ${g.shape[p.axis]}, got ${idx.dtype} ${
            fmt(idx.shape)
          }`,
        );
      }
      const shape = [...g.shape];
      shape[p.axis] = p.size;
      return { shape, dtype: g.dtype };
    },
    vjp: (g, [_g, idx], _y, p) => [gather(g, idx, p.axis), null],
  },
};

const bind = binder(INDEX_RULES);

/**
 * Takes entries at int32 `indices` (1-D) along `axis`.
 *
 * @example
 * ```ts
 * import { gather, tensor } from "@sll/sll";
 * const y = gather(tensor([10, 20, 30]), tensor([2, 0], { dtype: "int32" }), 0); // [30, 10]
 * ```
 */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  checkTensor(x, "gather");
  checkTensor(indices, "gather", "indices");
  return bind("gather", [x, indices], { axis: normAxis(axis, x.rank, "gather", x.shape) });
}

/** Adjoint of gather: sums slices of `g` into `size` slots at `indices` along `axis`. */
export function scatterAdd(g: Tensor, indices: Tensor, axis: number, size: number): Tensor {
  checkTensor(g, "scatterAdd");
  return bind("scatterAdd", [g, indices], {
    axis: normAxis(axis, g.rank, "scatterAdd", g.shape),
    size,
  });
}

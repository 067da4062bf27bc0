/**
 * The reduce family: sum, max and argmax over axes — shape rules, vjps written with ops (sum's
 * is a broadcast, max's splits the gradient among ties) and public wrappers — plus
 * `unbroadcast`, the sum back to an input's shape that every broadcasting rule's cotangent needs.
 * @module
 */
import type { ReduceParams } from "../../kernels/prims.ts";
import { fmt, normAxes, normAxis } from "../../kernels/shape.ts";
import { binder, type RuleTable } from "../engine.ts";
import type { Tensor } from "../tensor.ts";
import { checkTensor } from "./checks.ts";
import { cast, div, equal, mul } from "./elementwise.ts";
import { broadcastTo, reshape } from "./layout.ts";

/** Shape after reducing `axes` (kept as size-1 axes with keepDims). */
export function reducedShape(
  shape: readonly number[],
  axes: readonly number[],
  keepDims: boolean,
): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepDims) out.push(1);
  });
  return out;
}

/** The reduce rules. */
export const REDUCE_RULES: RuleTable<keyof ReduceParams> = {
  sum: {
    shape: ([x], p) => ({ shape: reducedShape(x.shape, p.axes, p.keepDims), dtype: x.dtype }),
    vjp: (g, [x], _y, p) => [broadcastTo(reshape(g, reducedShape(x.shape, p.axes, true)), x.shape)],
  },
  max: {
    shape: ([x], p) => {
      for (const a of p.axes) {
        if (x.shape[a] === 0) {
          throw new RangeError(`max: cannot reduce axis ${a} of size 0 (shape ${fmt(x.shape)})`);
        }
      }
      return { shape: reducedShape(x.shape, p.axes, p.keepDims), dtype: x.dtype };
    },
    vjp: (g, [x], y, p) => {
      const keptShape = reducedShape(x.shape, p.axes, true);
      const mask = cast(equal(x, reshape(y, keptShape)), x.dtype);
      const count = sum(mask, p.axes, true);
      return [mul(mask, div(reshape(g, keptShape), count))];
    },
  },
  argmax: {
    shape: ([x], p) => {
      if (x.shape[p.axis] === 0) {
        throw new RangeError(`argmax: axis ${p.axis} has size 0 (shape ${fmt(x.shape)})`);
      }
      return { shape: reducedShape(x.shape, [p.axis], p.keepDims), dtype: "int32" };
    },
  },
};

const bind = binder(REDUCE_RULES);

/** Sum over `axes` (all when omitted). @example `sum(tensor([[1, 2], [3, 4]]), 1)` */
export function sum(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  checkTensor(x, "sum");
  return bind("sum", [x], { axes: normAxes(axes, x.rank, "sum", x.shape), keepDims });
}

/** Max over `axes` (all when omitted). @example `max(tensor([1, 5, 2]))` */
export function max(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  checkTensor(x, "max");
  return bind("max", [x], { axes: normAxes(axes, x.rank, "max", x.shape), keepDims });
}

/** Index of the maximum along `axis` (int32; first on ties). @example `argmax(logits, -1)` */
export function argmax(x: Tensor, axis = -1, keepDims = false): Tensor {
  checkTensor(x, "argmax");
  return bind("argmax", [x], { axis: normAxis(axis, x.rank, "argmax", x.shape), keepDims });
}

/** Sums `g` down to `shape` (the inverse of numpy broadcasting). */
export function unbroadcast(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.shape.length - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.shape.length; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = axes.length ? sum(g, axes, true) : g;
  return reshape(s, shape);
}

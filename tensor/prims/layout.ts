/**
 * The layout family: reshape (an alias, no copy), transpose, broadcastTo, slice, constant pad
 * and concat — shape rules, vjps written with these same ops, public wrappers — and the layout
 * composites (swapLast, expandDims, reverse, reflect padding) built on them and on gather.
 * @module
 */
import type { LayoutParams, Pair } from "../../kernels/prims.ts";
import { broadcastShapes, checkShape, fmt, normAxis, sizeOf } from "../../kernels/shape.ts";
import { binder, fromHost, type RuleTable } from "../engine.ts";
import type { Tensor } from "../tensor.ts";
import { checkTensor, sameDType } from "./checks.ts";
import { gather } from "./index.ts";

/** The layout rules. */
export const LAYOUT_RULES: RuleTable<keyof LayoutParams> = {
  reshape: {
    alias: true,
    shape: ([x], p) => {
      if (sizeOf(p.shape) !== sizeOf(x.shape)) {
        throw new TypeError(
          `reshape: cannot reshape ${fmt(x.shape)} (${sizeOf(x.shape)} elements) to ${
            fmt(p.shape)
          } (${sizeOf(p.shape)} elements)`,
        );
      }
      return { shape: [...p.shape], dtype: x.dtype };
    },
    vjp: (g, [x]) => [reshape(g, x.shape)],
  },
  transpose: {
    shape: ([x], p) => ({ shape: p.perm.map((i) => x.shape[i]), dtype: x.dtype }),
    vjp: (g, _x, _y, p) => {
      const inv = new Array<number>(p.perm.length);
      p.perm.forEach((d, i) => (inv[d] = i));
      return [transpose(g, inv)];
    },
  },
  broadcastTo: {
    shape: ([x], p) => {
      const s = broadcastShapes(x.shape, p.shape);
      if (s.length !== p.shape.length || s.some((d, i) => d !== p.shape[i])) {
        throw new TypeError(`broadcastTo: cannot broadcast ${fmt(x.shape)} to ${fmt(p.shape)}`);
      }
      return { shape: [...p.shape], dtype: x.dtype };
    },
    // the cotangent is summed back over the broadcast axes (autodiff's unbroadcast)
    broadcasts: true,
    vjp: (g) => [g],
  },
  slice: {
    shape: ([x], p) => ({ shape: [...p.size], dtype: x.dtype }),
    vjp: (g, [x], _y, p) => [
      pad(g, x.shape.map((d, i) => [p.begin[i], d - p.begin[i] - p.size[i]] as Pair)),
    ],
  },
  pad: {
    shape: ([x], p) => ({
      shape: x.shape.map((d, i) => d + p.widths[i][0] + p.widths[i][1]),
      dtype: x.dtype,
    }),
    vjp: (g, [x], _y, p) => [slice(g, p.widths.map((w) => w[0]), x.shape)],
  },
  concat: {
    shape: (xs, p) => {
      const s0 = xs[0].shape;
      for (const x of xs) {
        if (x.shape.length !== s0.length || x.shape.some((d, i) => i !== p.axis && d !== s0[i])) {
          throw new TypeError(
            `concat: shapes ${
              xs.map((y) => fmt(y.shape)).join(", ")
            } differ outside axis ${p.axis}`,
          );
        }
      }
      const shape = [...s0];
      shape[p.axis] = xs.reduce((s, x) => s + x.shape[p.axis], 0);
      return { shape, dtype: sameDType("concat", xs) };
    },
    vjp: (g, xs, _y, p) => {
      let off = 0;
      return xs.map((x) => {
        const begin = x.shape.map(() => 0);
        begin[p.axis] = off;
        off += x.shape[p.axis];
        return slice(g, begin, x.shape);
      });
    },
  },
};

const bind = binder(LAYOUT_RULES);

/** Swaps the last two axes. @example `swapLast(tensor([[1, 2]]))` */
export function swapLast(x: Tensor): Tensor {
  const r = x.rank;
  if (r < 2) throw new RangeError(`swapLast: needs rank ≥ 2, got ${fmt(x.shape)}`);
  const perm = x.shape.map((_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return transpose(x, perm);
}

/** Permutes axes (reverses them when `perm` is omitted). @example `transpose(x, [1, 0])` */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  checkTensor(x, "transpose");
  const p = perm === undefined
    ? x.shape.map((_, i) => x.rank - 1 - i)
    : perm.map((a) => normAxis(a, x.rank, "transpose", x.shape));
  if (p.length !== x.rank || new Set(p).size !== p.length) {
    throw new RangeError(
      `transpose: ${JSON.stringify(perm)} is not a permutation of the ${x.rank} axes of ${
        fmt(x.shape)
      }`,
    );
  }
  if (p.every((v, i) => v === i)) return reshape(x, x.shape);
  return bind("transpose", [x], { perm: p });
}

/** Same data, new shape; one entry may be −1 (inferred). @example `reshape(x, [2, -1])` */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor(x, "reshape");
  const s = [...shape];
  const inf = s.indexOf(-1);
  if (inf >= 0) {
    const rest = sizeOf(s.filter((_, i) => i !== inf));
    if (rest === 0 || x.size % rest !== 0) {
      throw new TypeError(
        `reshape: cannot infer -1 in ${fmt(shape)} for ${x.size} elements (input ${fmt(x.shape)})`,
      );
    }
    s[inf] = x.size / rest;
  }
  return bind("reshape", [x], { shape: checkShape(s, "reshape") });
}

/** Broadcasts to `shape`. @example `broadcastTo(tensor([1, 2]), [3, 2])` */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor(x, "broadcastTo");
  return bind("broadcastTo", [x], { shape: checkShape(shape, "broadcastTo") });
}

/** Inserts a size-1 axis at `axis`. @example `expandDims(tensor([1, 2]), 0)` */
export function expandDims(x: Tensor, axis: number): Tensor {
  const a = normAxis(axis, x.rank + 1, "expandDims", x.shape);
  const s = [...x.shape];
  s.splice(a, 0, 1);
  return reshape(x, s);
}

/**
 * x[begin : begin + size]; a size of −1 takes the rest of the axis.
 *
 * @example
 * ```ts
 * import { slice, tensor } from "@sll/sll";
 * const y = slice(tensor([[1, 2, 3], [4, 5, 6]]), [0, 1], [2, -1]); // [[2,3],[5,6]]
 * ```
 */
export function slice(x: Tensor, begin: readonly number[], size: readonly number[]): Tensor {
  checkTensor(x, "slice");
  if (begin.length !== x.rank || size.length !== x.rank) {
    throw new RangeError(
      `slice: begin ${JSON.stringify(begin)} and size ${
        JSON.stringify(size)
      } need ${x.rank} entries for ${fmt(x.shape)}`,
    );
  }
  const sz = size.map((s, i) => (s === -1 ? x.shape[i] - begin[i] : s));
  for (let i = 0; i < x.rank; i++) {
    if (!(begin[i] >= 0 && sz[i] >= 0 && begin[i] + sz[i] <= x.shape[i])) {
      throw new RangeError(
        `slice: axis ${i}: [${begin[i]}, ${begin[i] + sz[i]}) is outside [0, ${x.shape[i]}) of ${
          fmt(x.shape)
        }`,
      );
    }
  }
  return bind("slice", [x], { begin: [...begin], size: sz });
}

/**
 * Pads each axis by `widths[i] = [before, after]`, with a constant (default 0) or by reflection
 * (the edge is not repeated, as PyTorch's "reflect").
 *
 * @example
 * ```ts
 * import { pad, tensor } from "@sll/sll";
 * const y = pad(tensor([[1, 2, 3]]), [[0, 0], [2, 2]], { mode: "reflect" }); // [[3,2,1,2,3,2,1]]
 * ```
 */
export function pad(
  x: Tensor,
  widths: readonly (readonly [number, number])[],
  options: { mode?: "constant" | "reflect"; value?: number } = {},
): Tensor {
  checkTensor(x, "pad");
  if (widths.length !== x.rank) {
    throw new RangeError(
      `pad: widths has ${widths.length} entries but ${fmt(x.shape)} has ${x.rank} axes`,
    );
  }
  for (const [i, [lo, hi]] of widths.entries()) {
    if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 0 && hi >= 0)) {
      throw new RangeError(
        `pad: axis ${i}: widths must be non-negative integers, got [${lo}, ${hi}]`,
      );
    }
  }
  const mode = options.mode ?? "constant";
  if (mode === "constant") {
    return bind("pad", [x], {
      widths: widths.map((w) => [w[0], w[1]] as Pair),
      value: options.value ?? 0,
    });
  }
  if (mode !== "reflect") {
    throw new RangeError(`pad: mode must be "constant" or "reflect", got ${JSON.stringify(mode)}`);
  }
  let y = x;
  for (let a = 0; a < x.rank; a++) {
    const [lo, hi] = widths[a];
    if (lo === 0 && hi === 0) continue;
    const n = x.shape[a];
    if (lo >= n || hi >= n) {
      throw new RangeError(
        `pad: reflect padding [${lo}, ${hi}] must be smaller than axis ${a} of size ${n} (${
          fmt(x.shape)
        })`,
      );
    }
    const idx = new Int32Array(n + lo + hi);
    for (let q = 0; q < idx.length; q++) {
      const j = q - lo;
      idx[q] = j < 0 ? -j : j >= n ? 2 * (n - 1) - j : j;
    }
    y = gather(y, fromHost(idx, [idx.length], "int32", "reflectIndex"), a);
  }
  return y;
}

/** Concatenates along `axis`. @example `concat([a, b], 0)` */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(xs) || xs.length === 0) {
    throw new TypeError("concat: needs a non-empty array of tensors");
  }
  xs.forEach((x) => checkTensor(x, "concat"));
  if (xs.length === 1) return reshape(xs[0], xs[0].shape);
  return bind("concat", [...xs], { axis: normAxis(axis, xs[0].rank, "concat", xs[0].shape) });
}

/** Reverses `axis`. @example `reverse(tensor([1, 2, 3]), 0)` */
export function reverse(x: Tensor, axis: number): Tensor {
  const a = normAxis(axis, x.rank, "reverse", x.shape);
  const n = x.shape[a];
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = n - 1 - i;
  return gather(x, fromHost(idx, [n], "int32", "reverseIndex"), a);
}

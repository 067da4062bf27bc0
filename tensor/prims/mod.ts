/**
 * The primitive table: for every primitive, its shape/dtype rule and its vjp rule written with
 * ops (so gradients are themselves differentiable). Typed over `PrimName`: a primitive without
 * a definition is a compile error. Kernels live in the backends' tables, typed the same way.
 * @module
 */
import type { DType } from "../kernels/dtype.ts";
import type { OutInfo, Pair, PrimName, PrimParams } from "../kernels/prims.ts";
import { broadcastShapes, fmt, sizeOf } from "../kernels/shape.ts";
import type { Tensor } from "./engine.ts";
import * as o from "./ops.ts";

/** Shape/dtype view of an input. */
type Abstract = { shape: readonly number[]; dtype: DType };

/** One primitive's definition. */
export interface PrimDef<P extends PrimName> {
  /** Output shape and dtype; throws TypeError/RangeError naming the shapes. */
  shape(inputs: Abstract[], params: PrimParams[P]): OutInfo;
  /**
   * Cotangents of the inputs (null: not differentiable there, or not needed). `needs[i]` says
   * whether input i is traced: rules skip the work for the others. Absent: not differentiable.
   */
  vjp?(
    g: Tensor,
    inputs: Tensor[],
    out: Tensor,
    params: PrimParams[P],
    needs: readonly boolean[],
  ): (Tensor | null)[];
  /** The output shares the input's storage (no kernel runs). */
  alias?: boolean;
}

function sameDType(op: string, xs: Abstract[]): DType {
  for (const x of xs) {
    if (x.dtype !== xs[0].dtype) {
      throw new TypeError(
        `${op}: dtypes differ (${xs.map((y) => y.dtype).join(" and ")}); cast() one of them first`,
      );
    }
  }
  return xs[0].dtype;
}

function floatOnly(op: string, x: Abstract): void {
  if (x.dtype === "int32") {
    throw new TypeError(`${op}: needs a float tensor, got int32 ${fmt(x.shape)}; cast() it first`);
  }
}

const unaryShape = (op: string, float = true) => ([x]: Abstract[]): OutInfo => {
  if (float) floatOnly(op, x);
  return { shape: [...x.shape], dtype: x.dtype };
};

const binaryShape = (op: string) => ([a, b]: Abstract[]): OutInfo => ({
  shape: broadcastShapes(a.shape, b.shape),
  dtype: sameDType(op, [a, b]),
});

/** Sums `g` down to `shape` (the inverse of numpy broadcasting). */
export function unbroadcast(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.shape.length - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.shape.length; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = axes.length ? o.sum(g, axes, true) : g;
  return o.reshape(s, shape);
}

function convOut(h: number, k: number, s: number, p: number): number {
  return Math.floor((h + 2 * p - k) / s) + 1;
}

function checkRank4(op: string, what: string, s: readonly number[]): void {
  if (s.length !== 4) throw new TypeError(`${op}: ${what} must be 4-D (NCHW), got shape ${fmt(s)}`);
}

function convGeometry(
  op: string,
  x: readonly number[],
  w: readonly number[],
  stride: Pair,
  padding: Pair,
): [number, number] {
  checkRank4(op, "input", x);
  checkRank4(op, "weight", w);
  if (x[1] !== w[1]) {
    throw new TypeError(
      `${op}: input ${fmt(x)} has ${x[1]} channels but weight ${fmt(w)} expects ${w[1]} (axis 1)`,
    );
  }
  const ho = convOut(x[2], w[2], stride[0], padding[0]);
  const wo = convOut(x[3], w[3], stride[1], padding[1]);
  if (ho < 1 || wo < 1) {
    throw new RangeError(
      `${op}: kernel ${w[2]}×${w[3]} with padding ${padding} does not fit input ${x[2]}×${x[3]}`,
    );
  }
  return [ho, wo];
}

/** The table of primitive definitions. */
export const PRIMS: { [P in PrimName]: PrimDef<P> } = {
  neg: { shape: unaryShape("neg", false), vjp: (g) => [o.neg(g)] },
  exp: { shape: unaryShape("exp"), vjp: (g, _x, y) => [o.mul(g, y)] },
  log: { shape: unaryShape("log"), vjp: (g, [x]) => [o.div(g, x)] },
  sqrt: { shape: unaryShape("sqrt"), vjp: (g, _x, y) => [o.div(g, o.mul(y, 2))] },
  abs: { shape: unaryShape("abs", false), vjp: (g, [x]) => [o.mul(g, o.sign(x))] },
  sign: { shape: unaryShape("sign", false) },
  add: {
    shape: binaryShape("add"),
    vjp: (
      g,
      [a, b],
      _y,
      _p,
      n,
    ) => [n[0] ? unbroadcast(g, a.shape) : null, n[1] ? unbroadcast(g, b.shape) : null],
  },
  sub: {
    shape: binaryShape("sub"),
    vjp: (g, [a, b], _y, _p, n) => [
      n[0] ? unbroadcast(g, a.shape) : null,
      n[1] ? unbroadcast(o.neg(g), b.shape) : null,
    ],
  },
  mul: {
    shape: binaryShape("mul"),
    vjp: (g, [a, b], _y, _p, n) => [
      n[0] ? unbroadcast(o.mul(g, b), a.shape) : null,
      n[1] ? unbroadcast(o.mul(g, a), b.shape) : null,
    ],
  },
  div: {
    shape: binaryShape("div"),
    vjp: (g, [a, b], y, _p, n) => [
      n[0] ? unbroadcast(o.div(g, b), a.shape) : null,
      n[1] ? unbroadcast(o.neg(o.div(o.mul(g, y), b)), b.shape) : null,
    ],
  },
  maximum: {
    shape: binaryShape("maximum"),
    // ties split the gradient evenly, as in JAX and PyTorch
    vjp: (g, [a, b]) => {
      const wa = o.add(
        o.cast(o.greater(a, b), g.dtype),
        o.mul(o.cast(o.equal(a, b), g.dtype), 0.5),
      );
      return [unbroadcast(o.mul(g, wa), a.shape), unbroadcast(o.mul(g, o.sub(1, wa)), b.shape)];
    },
  },
  minimum: {
    shape: binaryShape("minimum"),
    vjp: (g, [a, b]) => {
      const wa = o.add(o.cast(o.less(a, b), g.dtype), o.mul(o.cast(o.equal(a, b), g.dtype), 0.5));
      return [unbroadcast(o.mul(g, wa), a.shape), unbroadcast(o.mul(g, o.sub(1, wa)), b.shape)];
    },
  },
  compare: {
    shape: ([a, b]) => ({
      shape: broadcastShapes(a.shape, b.shape),
      dtype: (sameDType("compare", [a, b]), "int32"),
    }),
  },
  where: {
    shape: ([c, a, b]) => {
      if (c.dtype !== "int32") {
        throw new TypeError(`where: condition must be int32 (from a comparison), got ${c.dtype}`);
      }
      return {
        shape: broadcastShapes(c.shape, a.shape, b.shape),
        dtype: sameDType("where", [a, b]),
      };
    },
    vjp: (g, [c, a, b], _y, _p, n) => [
      null,
      n[1] ? unbroadcast(o.where(c, g, 0), a.shape) : null,
      n[2] ? unbroadcast(o.where(c, 0, g), b.shape) : null,
    ],
  },
  cast: {
    shape: ([x], p) => ({ shape: [...x.shape], dtype: p.dtype }),
    vjp: (g, [x]) => [x.dtype === "int32" ? null : o.cast(g, x.dtype)],
  },
  sum: {
    shape: ([x], p) => ({ shape: reducedShape(x.shape, p.axes, p.keepDims), dtype: x.dtype }),
    vjp: (
      g,
      [x],
      _y,
      p,
    ) => [o.broadcastTo(o.reshape(g, reducedShape(x.shape, p.axes, true)), x.shape)],
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
      const mask = o.cast(o.equal(x, o.reshape(y, keptShape)), x.dtype);
      const count = o.sum(mask, p.axes, true);
      return [o.mul(mask, o.div(o.reshape(g, keptShape), count))];
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
    // C = op(A)·op(B): each cotangent is again one matmul with flags, no transposed copies
    vjp: (g, [a, b], _y, { transA: tA, transB: tB }, n) => {
      const mm = (x: Tensor, y: Tensor, transA: boolean, transB: boolean) =>
        o.matmulT(x, y, transA, transB);
      const ga = n[0] ? (tA ? mm(b, g, tB, true) : mm(g, b, false, !tB)) : null;
      const gb = n[1] ? (tB ? mm(g, a, true, tA) : mm(a, g, !tA, false)) : null;
      return [ga && unbroadcast(ga, a.shape), gb && unbroadcast(gb, b.shape)];
    },
  },
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
    vjp: (g, [x]) => [o.reshape(g, x.shape)],
  },
  transpose: {
    shape: ([x], p) => ({ shape: p.perm.map((i) => x.shape[i]), dtype: x.dtype }),
    vjp: (g, _x, _y, p) => {
      const inv = new Array<number>(p.perm.length);
      p.perm.forEach((d, i) => (inv[d] = i));
      return [o.transpose(g, inv)];
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
    vjp: (g, [x]) => [unbroadcast(g, x.shape)],
  },
  slice: {
    shape: ([x], p) => ({ shape: [...p.size], dtype: x.dtype }),
    vjp: (g, [x], _y, p) => [
      o.pad(g, x.shape.map((d, i) => [p.begin[i], d - p.begin[i] - p.size[i]] as Pair)),
    ],
  },
  pad: {
    shape: ([x], p) => ({
      shape: x.shape.map((d, i) => d + p.widths[i][0] + p.widths[i][1]),
      dtype: x.dtype,
    }),
    vjp: (g, [x], _y, p) => [o.slice(g, p.widths.map((w) => w[0]), x.shape)],
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
        return o.slice(g, begin, x.shape);
      });
    },
  },
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
    vjp: (g, [x, idx], _y, p) => [o.scatterAdd(g, idx, p.axis, x.shape[p.axis]), null],
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
    vjp: (g, [_g, idx], _y, p) => [o.gather(g, idx, p.axis), null],
  },
  conv2d: {
    shape: ([x, w], p) => {
      const [ho, wo] = convGeometry("conv2d", x.shape, w.shape, p.stride, p.padding);
      return { shape: [x.shape[0], w.shape[0], ho, wo], dtype: sameDType("conv2d", [x, w]) };
    },
    vjp: (g, [x, w], _y, p, n) => {
      const op: Pair = [
        x.shape[2] - ((g.shape[2] - 1) * p.stride[0] - 2 * p.padding[0] + w.shape[2]),
        x.shape[3] - ((g.shape[3] - 1) * p.stride[1] - 2 * p.padding[1] + w.shape[3]),
      ];
      return [
        n[0]
          ? o.convTranspose2d(g, w, { stride: p.stride, padding: p.padding, outputPadding: op })
          : null,
        n[1]
          ? o.conv2dFilterGrad(x, g, {
            stride: p.stride,
            padding: p.padding,
            kernel: [w.shape[2], w.shape[3]],
          })
          : null,
      ];
    },
  },
  convTranspose2d: {
    shape: ([y, w], p) => {
      checkRank4("convTranspose2d", "input", y.shape);
      checkRank4("convTranspose2d", "weight", w.shape);
      if (y.shape[1] !== w.shape[0]) {
        throw new TypeError(
          `convTranspose2d: input ${fmt(y.shape)} has ${y.shape[1]} channels but weight ${
            fmt(w.shape)
          } maps ${w.shape[0]} (axis 0)`,
        );
      }
      const h = (y.shape[2] - 1) * p.stride[0] - 2 * p.padding[0] + w.shape[2] + p.outputPadding[0];
      const wd = (y.shape[3] - 1) * p.stride[1] - 2 * p.padding[1] + w.shape[3] +
        p.outputPadding[1];
      if (h < 1 || wd < 1) throw new RangeError(`convTranspose2d: output size ${h}×${wd} is empty`);
      return {
        shape: [y.shape[0], w.shape[1], h, wd],
        dtype: sameDType("convTranspose2d", [y, w]),
      };
    },
    vjp: (g, [y, w], _x, p, n) => [
      n[0] ? o.conv2d(g, w, { stride: p.stride, padding: p.padding }) : null,
      n[1]
        ? o.conv2dFilterGrad(g, y, {
          stride: p.stride,
          padding: p.padding,
          kernel: [w.shape[2], w.shape[3]],
        })
        : null,
    ],
  },
  conv2dFilterGrad: {
    shape: ([x, gy], p) => {
      checkRank4("conv2dFilterGrad", "input", x.shape);
      checkRank4("conv2dFilterGrad", "output gradient", gy.shape);
      return {
        shape: [gy.shape[1], x.shape[1], p.kernel[0], p.kernel[1]],
        dtype: sameDType("conv2dFilterGrad", [x, gy]),
      };
    },
    vjp: (g, [x, gy], _y, p) => {
      const op: Pair = [
        x.shape[2] - ((gy.shape[2] - 1) * p.stride[0] - 2 * p.padding[0] + p.kernel[0]),
        x.shape[3] - ((gy.shape[3] - 1) * p.stride[1] - 2 * p.padding[1] + p.kernel[1]),
      ];
      return [
        o.convTranspose2d(gy, g, { stride: p.stride, padding: p.padding, outputPadding: op }),
        o.conv2d(x, g, { stride: p.stride, padding: p.padding }),
      ];
    },
  },
  avgPool2d: {
    shape: ([x], p) => {
      checkRank4("avgPool2d", "input", x.shape);
      const ho = convOut(x.shape[2], p.size[0], p.stride[0], p.padding[0]);
      const wo = convOut(x.shape[3], p.size[1], p.stride[1], p.padding[1]);
      if (ho < 1 || wo < 1) {
        throw new RangeError(`avgPool2d: window ${p.size} does not fit input ${fmt(x.shape)}`);
      }
      return { shape: [x.shape[0], x.shape[1], ho, wo], dtype: x.dtype };
    },
    vjp: (g, [x], _y, p) => [o.avgPool2dTranspose(g, { ...p, inSize: [x.shape[2], x.shape[3]] })],
  },
  avgPool2dTranspose: {
    shape: ([g], p) => ({
      shape: [g.shape[0], g.shape[1], p.inSize[0], p.inSize[1]],
      dtype: g.dtype,
    }),
    vjp: (
      g,
      _in,
      _y,
      p,
    ) => [
      o.avgPool2d(g, { size: p.size, stride: p.stride, padding: p.padding, divisor: p.divisor }),
    ],
  },
};

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

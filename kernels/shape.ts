/**
 * Shape arithmetic: sizes, strides, broadcasting, axis normalisation, and the geometry both
 * backends share (axis coalescing of strided operands, pooling windows). Pure functions over
 * number arrays; errors name the shapes and the axis involved.
 * @module
 */

/** Product of the dimensions (1 for a scalar). */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of `shape`. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Formats a shape as `[2, 3]`. */
export function fmt(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** True when the two shapes are equal. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Numpy broadcasting of several shapes; throws a TypeError naming the offending axis. */
export function broadcastShapes(...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (let i = 0; i < rank; i++) {
    for (const s of shapes) {
      const d = s[s.length - rank + i] ?? 1;
      if (d === 1) continue;
      if (out[i] !== 1 && out[i] !== d) {
        throw new TypeError(
          `Cannot broadcast shapes ${shapes.map(fmt).join(" and ")}: axis ${i} (from the right: ${
            rank - i
          }) has sizes ${out[i]} and ${d}`,
        );
      }
      out[i] = d;
    }
  }
  return out;
}

/** Strides of `shape` viewed as broadcast to `target` (0 on broadcast axes). */
export function broadcastStrides(shape: readonly number[], target: readonly number[]): number[] {
  const st = stridesOf(shape);
  const off = target.length - shape.length;
  const out = new Array<number>(target.length).fill(0);
  for (let i = 0; i < shape.length; i++) out[i + off] = shape[i] === 1 ? 0 : st[i];
  return out;
}

/** Normalises a possibly negative axis; throws a RangeError naming the op and the shape. */
export function normAxis(
  axis: number,
  rank: number,
  op: string,
  shape?: readonly number[],
): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new RangeError(
      `${op}: axis ${axis} is out of range for a tensor of rank ${rank}${
        shape ? ` (shape ${fmt(shape)})` : ""
      }; expected an integer in [${-rank}, ${rank - 1}]`,
    );
  }
  return axis < 0 ? axis + rank : axis;
}

/** Normalises an axis list (undefined = all axes), sorted and without repeats. */
export function normAxes(
  axes: number | readonly number[] | undefined,
  rank: number,
  op: string,
  shape?: readonly number[],
): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === "number" ? [axes] : axes;
  const out = [...new Set(list.map((a) => normAxis(a, rank, op, shape)))];
  if (out.length !== list.length) {
    throw new RangeError(`${op}: repeated axis in ${JSON.stringify(list)}`);
  }
  return out.sort((a, b) => a - b);
}

/** Throws a RangeError unless every entry is a non-negative integer. */
export function checkShape(shape: readonly number[], op: string): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new RangeError(
      `${op}: invalid shape ${JSON.stringify(shape)}; expected non-negative integers`,
    );
  }
  return [...shape];
}

/**
 * Merges adjacent axes that every operand walks contiguously (or broadcasts over entirely)
 * and drops size-1 axes, so index arithmetic runs on the smallest rank. `opStrides[k][d]` is
 * operand k's element stride along output axis d (0 when broadcast). The CPU's broadcast plans
 * and the WebGPU map kernels both start from this.
 *
 * @example
 * ```ts
 * import { coalesce } from "./shape.ts";
 * coalesce([2, 3, 4], [[12, 4, 1]]); // { shape: [24], strides: [[1]] }
 * ```
 */
export function coalesce(
  shape: readonly number[],
  opStrides: readonly (readonly number[])[],
): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = opStrides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    if (
      last >= 0 &&
      opStrides.every((st, k) => outStrides[k][last] === st[d] * shape[d])
    ) {
      outShape[last] *= shape[d];
      opStrides.forEach((st, k) => (outStrides[k][last] = st[d]));
    } else {
      outShape.push(shape[d]);
      opStrides.forEach((st, k) => outStrides[k].push(st[d]));
    }
  }
  return { shape: outShape, strides: outStrides };
}

/** Geometry of a 2-D pooling over NCHW planes: input [planes, h, w] → output [planes, ho, wo]. */
export interface PoolGeom {
  /** Batch × channels. */
  planes: number;
  /** Input height. */
  h: number;
  /** Input width. */
  w: number;
  /** Output height. */
  ho: number;
  /** Output width. */
  wo: number;
  /** Window [height, width]. */
  size: [number, number];
  /** Stride [height, width]. */
  stride: [number, number];
  /** Zero padding [height, width] (padding counts as zeros). */
  padding: [number, number];
  /** Each window sum is divided by this. */
  divisor: number;
}

/**
 * The pooling geometry from the input [B, C, H, W] and output [B, C, Ho, Wo] shapes of
 * avgPool2d (avgPool2dTranspose passes its output as `inShape`).
 *
 * @example
 * ```ts
 * import { poolGeom } from "./shape.ts";
 * poolGeom([2, 3, 8, 8], [2, 3, 2, 2], {
 *   size: [4, 4],
 *   stride: [4, 4],
 *   padding: [0, 0],
 *   divisor: 4,
 * }); // { planes: 6, h: 8, w: 8, ho: 2, wo: 2, … }
 * ```
 */
export function poolGeom(
  inShape: readonly number[],
  outShape: readonly number[],
  p: {
    size: [number, number];
    stride: [number, number];
    padding: [number, number];
    divisor: number;
  },
): PoolGeom {
  return {
    planes: inShape[0] * inShape[1],
    h: inShape[2],
    w: inShape[3],
    ho: outShape[2],
    wo: outShape[3],
    size: p.size,
    stride: p.stride,
    padding: p.padding,
    divisor: p.divisor,
  };
}

/**
 * Broadcast iteration plans for CPU elementwise kernels: output axes are collapsed wherever every
 * input is contiguous (or broadcast) across them, leaving rows of length `inner` in which each
 * input's stride is 0 or 1, and an outer odometer that yields each row's input offsets.
 * @module
 */
import { broadcastStrides, coalesce } from "../shape.ts";

/** A plan: `rows` rows of `inner` elements; `offsets(r)` fills each input's row start. */
export interface BroadcastPlan {
  rows: number;
  inner: number;
  /** Per-input stride (0 or 1) inside a row. */
  innerStrides: number[];
  /** Row start offset of every input, for rows 0..rows-1, as one array per input. */
  rowOffsets: Int32Array[];
}

/** Builds the plan for inputs of `shapes` broadcast to `out`. */
export function planBroadcast(
  shapes: readonly (readonly number[])[],
  out: readonly number[],
): BroadcastPlan {
  const strides = shapes.map((s) => broadcastStrides(s, out));
  // collapse axes (size-1 axes dropped), as every backend does
  const { shape: dims, strides: st } = coalesce(out, strides);
  if (dims.length === 0) {
    return {
      rows: 1,
      inner: 1,
      innerStrides: shapes.map(() => 0),
      rowOffsets: shapes.map(() => new Int32Array(1)),
    };
  }
  const last = dims.length - 1;
  let inner = dims[last];
  let innerStrides = st.map((s) => s[last]);
  let outerDims = dims.slice(0, last);
  let outerSt = st.map((s) => s.slice(0, last));
  if (innerStrides.some((s) => s !== 0 && s !== 1)) {
    // a strided innermost axis (cannot happen for pure broadcasting, kept for safety): rows of 1
    outerDims = dims;
    outerSt = st;
    inner = 1;
    innerStrides = shapes.map(() => 0);
  }
  const rows = outerDims.reduce((a, b) => a * b, 1);
  const rowOffsets = shapes.map(() => new Int32Array(rows));
  const counter = new Array<number>(outerDims.length).fill(0);
  const off = shapes.map(() => 0);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < shapes.length; i++) rowOffsets[i][r] = off[i];
    for (let d = outerDims.length - 1; d >= 0; d--) {
      counter[d]++;
      for (let i = 0; i < shapes.length; i++) off[i] += outerSt[i][d];
      if (counter[d] < outerDims[d]) break;
      for (let i = 0; i < shapes.length; i++) off[i] -= outerSt[i][d] * outerDims[d];
      counter[d] = 0;
    }
  }
  return { rows, inner, innerStrides, rowOffsets };
}

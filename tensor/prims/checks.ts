/**
 * Argument checks shared by the primitive families: tensor arguments, equal dtypes, float-only
 * inputs, stride/padding pairs, NCHW ranks and the output size of a sliding window. Each throws
 * a TypeError (shapes, dtypes) or RangeError (sizes) naming the op and the values.
 * @module
 */
import type { Pair } from "../../kernels/prims.ts";
import { fmt } from "../../kernels/shape.ts";
import type { Abstract } from "../engine.ts";
import { Tensor } from "../tensor.ts";

/** `x` as a Tensor, or a TypeError naming the op and what was passed. */
export function checkTensor(x: unknown, op: string, what = "argument"): Tensor {
  if (!(x instanceof Tensor)) {
    throw new TypeError(`${op}: ${what} must be a Tensor, got ${x === null ? "null" : typeof x}`);
  }
  return x;
}

/** The common dtype of `xs`, or a TypeError listing them. */
export function sameDType(op: string, xs: Abstract[]): Abstract["dtype"] {
  for (const x of xs) {
    if (x.dtype !== xs[0].dtype) {
      throw new TypeError(
        `${op}: dtypes differ (${xs.map((y) => y.dtype).join(" and ")}); cast() one of them first`,
      );
    }
  }
  return xs[0].dtype;
}

/** Throws unless `x` is a float tensor. */
export function floatOnly(op: string, x: Abstract): void {
  if (x.dtype === "int32") {
    throw new TypeError(`${op}: needs a float tensor, got int32 ${fmt(x.shape)}; cast() it first`);
  }
}

/** Throws unless `s` is 4-D (NCHW). */
export function checkRank4(op: string, what: string, s: readonly number[]): void {
  if (s.length !== 4) throw new TypeError(`${op}: ${what} must be 4-D (NCHW), got shape ${fmt(s)}`);
}

/** Output length of a window of size k, stride s, padding p over length h. */
export function windowOut(h: number, k: number, s: number, p: number): number {
  return Math.floor((h + 2 * p - k) / s) + 1;
}

/** A [height, width] pair from a number or a pair; paddings may be 0, the rest positive. */
export function pair(
  v: number | readonly number[] | undefined,
  dflt: number,
  op: string,
  what: string,
): Pair {
  const p: Pair = v === undefined ? [dflt, dflt] : typeof v === "number" ? [v, v] : [v[0], v[1]];
  if (
    !p.every((e) => Number.isInteger(e) && e >= 0) ||
    (what !== "padding" && what !== "outputPadding" && p.some((e) => e < 1))
  ) {
    throw new RangeError(
      `${op}: ${what} must be ${
        what.endsWith("adding") ? "non-negative" : "positive"
      } integers, got ${JSON.stringify(v)}`,
    );
  }
  return p;
}

/**
 * The pool family, NCHW: avgPool2d (window sums over a divisor, zero padding counted) and its
 * adjoint avgPool2dTranspose — shape rules, vjps (each is the other's) and public wrappers.
 * @module
 */
import type { Pair, PoolParams } from "../../kernels/prims.ts";
import { fmt } from "../../kernels/shape.ts";
import { binder, type RuleTable } from "../engine.ts";
import type { Tensor } from "../tensor.ts";
import { checkRank4, checkTensor, pair, windowOut } from "./checks.ts";

/** The pool rules. */
export const POOL_RULES: RuleTable<keyof PoolParams> = {
  avgPool2d: {
    shape: ([x], p) => {
      checkRank4("avgPool2d", "input", x.shape);
      const ho = windowOut(x.shape[2], p.size[0], p.stride[0], p.padding[0]);
      const wo = windowOut(x.shape[3], p.size[1], p.stride[1], p.padding[1]);
      if (ho < 1 || wo < 1) {
        throw new RangeError(`avgPool2d: window ${p.size} does not fit input ${fmt(x.shape)}`);
      }
      return { shape: [x.shape[0], x.shape[1], ho, wo], dtype: x.dtype };
    },
    vjp: (g, [x], _y, p) => [avgPool2dTranspose(g, { ...p, inSize: [x.shape[2], x.shape[3]] })],
  },
  avgPool2dTranspose: {
    shape: ([g], p) => ({
      shape: [g.shape[0], g.shape[1], p.inSize[0], p.inSize[1]],
      dtype: g.dtype,
    }),
    vjp: (g, _in, _y, p) => [
      avgPool2d(g, { size: p.size, stride: p.stride, padding: p.padding, divisor: p.divisor }),
    ],
  },
};

const bind = binder(POOL_RULES);

/** Options of avgPool2d. */
export interface PoolOptions {
  /** Window size. */
  size: number | readonly [number, number];
  /** Step (default: the window size). */
  stride?: number | readonly [number, number];
  /** Zero padding (default 0). */
  padding?: number | readonly [number, number];
  /** Divide window sums by this (default: the window area), as PyTorch's divisor_override. */
  divisor?: number;
}

/**
 * Average pooling over NCHW windows; `divisor` overrides the window area.
 *
 * @example
 * ```ts
 * import { avgPool2d, ones } from "@sll/sll";
 * const y = avgPool2d(ones([1, 1, 8, 8]), { size: 4, divisor: 4 }); // window sums / 4
 * ```
 */
export function avgPool2d(x: Tensor, options: PoolOptions): Tensor {
  const size = pair(options.size, 1, "avgPool2d", "size");
  const divisor = options.divisor ?? size[0] * size[1];
  if (!(divisor > 0)) throw new RangeError(`avgPool2d: divisor must be positive, got ${divisor}`);
  return bind("avgPool2d", [checkTensor(x, "avgPool2d")], {
    size,
    stride: options.stride === undefined ? size : pair(options.stride, 1, "avgPool2d", "stride"),
    padding: pair(options.padding, 0, "avgPool2d", "padding"),
    divisor,
  });
}

/** Adjoint of avgPool2d back to spatial size `inSize`. */
export function avgPool2dTranspose(
  g: Tensor,
  p: { size: Pair; stride: Pair; padding: Pair; divisor: number; inSize: Pair },
): Tensor {
  return bind("avgPool2dTranspose", [g], p);
}

/**
 * The conv family, NCHW: conv2d (cross-correlation), its adjoint convTranspose2d and its weight
 * gradient conv2dFilterGrad — shape rules, vjps (the three are each other's cotangents) and
 * public wrappers. One weight layout [O, C, kh, kw] throughout, as PyTorch.
 * @module
 */
import type { ConvParams, Pair } from "../../kernels/prims.ts";
import { fmt } from "../../kernels/shape.ts";
import { binder, type RuleTable } from "../engine.ts";
import type { Tensor } from "../tensor.ts";
import { checkRank4, checkTensor, pair, sameDType, windowOut } from "./checks.ts";

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
  const ho = windowOut(x[2], w[2], stride[0], padding[0]);
  const wo = windowOut(x[3], w[3], stride[1], padding[1]);
  if (ho < 1 || wo < 1) {
    throw new RangeError(
      `${op}: kernel ${w[2]}×${w[3]} with padding ${padding} does not fit input ${x[2]}×${x[3]}`,
    );
  }
  return [ho, wo];
}

/** The conv rules. */
export const CONV_RULES: RuleTable<keyof ConvParams> = {
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
          ? convTranspose2d(g, w, { stride: p.stride, padding: p.padding, outputPadding: op })
          : null,
        n[1]
          ? conv2dFilterGrad(x, g, {
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
      n[0] ? conv2d(g, w, { stride: p.stride, padding: p.padding }) : null,
      n[1]
        ? conv2dFilterGrad(g, y, {
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
        convTranspose2d(gy, g, { stride: p.stride, padding: p.padding, outputPadding: op }),
        conv2d(x, g, { stride: p.stride, padding: p.padding }),
      ];
    },
  },
};

const bind = binder(CONV_RULES);

/** Stride/padding options of the convolutions. */
export interface ConvOptions {
  /** Step between windows (default 1). */
  stride?: number | readonly [number, number];
  /** Zero padding on each side (default 0). */
  padding?: number | readonly [number, number];
}

/**
 * 2-D cross-correlation: x [B, C, H, W], w [O, C, kh, kw] → [B, O, Ho, Wo].
 *
 * @example
 * ```ts
 * import { conv2d, ones } from "@sll/sll";
 * const y = conv2d(ones([1, 1, 4, 4]), ones([2, 1, 3, 3]), { padding: 1 });
 * ```
 */
export function conv2d(x: Tensor, w: Tensor, options: ConvOptions = {}): Tensor {
  return bind("conv2d", [checkTensor(x, "conv2d"), checkTensor(w, "conv2d", "weight")], {
    stride: pair(options.stride, 1, "conv2d", "stride"),
    padding: pair(options.padding, 0, "conv2d", "padding"),
  });
}

/**
 * The adjoint of conv2d with the same weight w [O, C, kh, kw]: y [B, O, …] → [B, C, …]
 * (PyTorch's conv_transpose2d with that weight).
 *
 * @example
 * ```ts
 * import { convTranspose2d, ones } from "@sll/sll";
 * const x = convTranspose2d(ones([1, 2, 4, 4]), ones([2, 1, 3, 3]), { padding: 1 });
 * ```
 */
export function convTranspose2d(
  y: Tensor,
  w: Tensor,
  options: ConvOptions & { outputPadding?: number | readonly [number, number] } = {},
): Tensor {
  const stride = pair(options.stride, 1, "convTranspose2d", "stride");
  const outputPadding = pair(options.outputPadding, 0, "convTranspose2d", "outputPadding");
  if (outputPadding[0] >= stride[0] || outputPadding[1] >= stride[1]) {
    throw new RangeError(
      `convTranspose2d: outputPadding ${outputPadding} must be smaller than stride ${stride}`,
    );
  }
  return bind("convTranspose2d", [
    checkTensor(y, "convTranspose2d"),
    checkTensor(w, "convTranspose2d", "weight"),
  ], {
    stride,
    padding: pair(options.padding, 0, "convTranspose2d", "padding"),
    outputPadding,
  });
}

/** Weight gradient of conv2d: x [B,C,H,W], gy [B,O,Ho,Wo] → [O, C, kh, kw]. */
export function conv2dFilterGrad(
  x: Tensor,
  gy: Tensor,
  options: ConvOptions & { kernel: number | readonly [number, number] },
): Tensor {
  return bind("conv2dFilterGrad", [x, gy], {
    stride: pair(options.stride, 1, "conv2dFilterGrad", "stride"),
    padding: pair(options.padding, 0, "conv2dFilterGrad", "padding"),
    kernel: pair(options.kernel, 1, "conv2dFilterGrad", "kernel"),
  });
}

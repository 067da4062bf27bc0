/**
 * The parameter-free and simple 1-Lipschitz layers around SLL: channel padding, sum pooling,
 * flatten, pooling-linear, the row-normalised last layer, and the MaxMin/GroupSort activations
 * (Anil, Lucas, Grosse — "Sorting out Lipschitz function approximation", ICML 2019).
 * Each states its Lipschitz constant in its doc; all are ≤ 1 in the L2 norm.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import {
  add,
  avgPool2d,
  concat,
  div,
  matmul,
  max,
  maximum,
  mean,
  minimum,
  mul,
  norm,
  pad,
  reshape,
  slice,
  swapLast,
  transpose,
} from "../tensor/ops.ts";
import type { PRNGKey } from "../tensor/random.ts";
import { fanInUniform } from "./init.ts";
import { defineLayer, expectShape, type Layer, type LayerSetup } from "./layer.ts";

/** Parameters of a layer that has none. */
export type NoParams = Record<never, never>;

/** Configuration of {@linkcode paddingChannels}. */
export interface PaddingChannelsConfig {
  /** Output channels (≥ the input's; the extra ones are zero). */
  features: number;
}

/**
 * Zero-pads the channel axis from C to `features` (the reference's
 * `PaddingChannels(mode="zero")`): an isometry, Lipschitz constant 1. Input [B, C, H, W].
 *
 * @example
 * ```ts
 * import { paddingChannels, randomKey, zeros } from "@sll/sll";
 * const layer = paddingChannels({ features: 8 });
 * const { params } = layer.init(randomKey(0), [1, 4, 4]); // outShape [8, 4, 4]
 * const y = layer.apply(params, zeros([2, 1, 4, 4]));
 * ```
 */
export function paddingChannels(config: PaddingChannelsConfig): Layer<NoParams> {
  const out = config.features;
  const go = (c: number): number => {
    if (!(Number.isInteger(out) && out >= c)) {
      throw new RangeError(
        `paddingChannels: features must be an integer ≥ the ${c} input channels, got ${out}`,
      );
    }
    return out - c;
  };
  return defineLayer<NoParams>({
    setup(inShape: readonly number[]): LayerSetup<NoParams> {
      expectShape("paddingChannels", inShape, [null, null, null]);
      go(inShape[0]);
      return { outShape: [out, inShape[1], inShape[2]], params: {} };
    },
    apply(_params: NoParams, x: Tensor): Tensor {
      expectShape("paddingChannels", x.shape, [null, null, null, null], "input");
      return pad(x, [[0, 0], [0, go(x.shape[1])], [0, 0], [0, 0]]);
    },
  });
}

/**
 * Invertible downsampling (space-to-depth, as SOC's `einops` rearrange
 * `b c (h k1) (w k2) -> b (c k1 k2) h w`): [B, C, H, W] → [B, C·s², H/s, W/s]. A permutation of
 * the entries, hence an isometry.
 *
 * @example
 * ```ts
 * import { arange, reshape } from "@sll/sll";
 * const y = spaceToDepth(reshape(arange(16), [1, 1, 4, 4]), 2); // [1, 4, 2, 2]
 * ```
 */
export function spaceToDepth(x: Tensor, s: number): Tensor {
  if (s === 1) return x;
  const [b, c, h, w] = x.shape;
  if (x.rank !== 4 || h % s !== 0 || w % s !== 0) {
    throw new RangeError(
      `spaceToDepth: input [${x.shape}] must be [B, C, H, W] with H and W divisible by ${s}`,
    );
  }
  const y = transpose(reshape(x, [b, c, h / s, s, w / s, s]), [0, 1, 3, 5, 2, 4]);
  return reshape(y, [b, c * s * s, h / s, w / s]);
}

/**
 * The invertible downsampling {@linkcode spaceToDepth} as a layer: [C, H, W] → [C·s², H/s, W/s]
 * (PyTorch's `nn.PixelUnshuffle(s)`). A permutation of the entries, hence 1-Lipschitz exactly;
 * no parameters.
 *
 * @example
 * ```ts
 * import { spaceToDepthLayer, zeros } from "@sll/sll";
 * const y = spaceToDepthLayer({ factor: 2 }).apply({}, zeros([2, 1, 28, 28])); // [2, 4, 14, 14]
 * ```
 */
export function spaceToDepthLayer(config: { factor: number }): Layer<NoParams> {
  const s = config.factor;
  if (!(Number.isInteger(s) && s >= 1)) {
    throw new RangeError(`spaceToDepthLayer: factor must be a positive integer, got ${s}`);
  }
  return defineLayer<NoParams>({
    setup(inShape: readonly number[]): LayerSetup<NoParams> {
      expectShape("spaceToDepthLayer", inShape, [null, null, null]);
      const [c, h, w] = inShape;
      if (h % s !== 0 || w % s !== 0) {
        throw new RangeError(`spaceToDepthLayer: spatial size ${h}×${w} is not divisible by ${s}`);
      }
      return { outShape: [c * s * s, h / s, w / s], params: {} };
    },
    apply(_params: NoParams, x: Tensor): Tensor {
      return spaceToDepth(x, s);
    },
  });
}

/**
 * Window sums divided by `divisor` over non-overlapping `size`×`size` windows (the reference's
 * `AvgPool2d(4, divisor_override=4)`). Lipschitz constant size/divisor (1 for the default 4/4:
 * each output sums 16 inputs, ‖Σ‖ ≤ 4‖·‖). Input [B, C, H, W] with H, W divisible by size.
 *
 * @example
 * ```ts
 * import { ones, randomKey } from "@sll/sll";
 * const layer = sumPool();
 * const y = layer.apply({}, ones([1, 1, 8, 8])); // all 4
 * ```
 */
export function sumPool(config: { size?: number; divisor?: number } = {}): Layer<NoParams> {
  const size = config.size ?? 4;
  const divisor = config.divisor ?? 4;
  return defineLayer<NoParams>({
    setup(inShape: readonly number[]): LayerSetup<NoParams> {
      expectShape("sumPool", inShape, [null, null, null]);
      const [c, h, w] = inShape;
      if (h % size !== 0 || w % size !== 0) {
        throw new RangeError(`sumPool: spatial size ${h}×${w} is not divisible by ${size}`);
      }
      return { outShape: [c, h / size, w / size], params: {} };
    },
    apply(_params: NoParams, x: Tensor): Tensor {
      return avgPool2d(x, { size, divisor });
    },
  });
}

/**
 * Flattens every axis after the batch (C, H, W row-major, as `nn.Flatten`). An isometry.
 *
 * @example
 * ```ts
 * import { zeros } from "@sll/sll";
 * const y = flatten().apply({}, zeros([2, 3, 4, 4])); // [2, 48]
 * ```
 */
export function flatten(): Layer<NoParams> {
  return defineLayer<NoParams>({
    setup(inShape: readonly number[]): LayerSetup<NoParams> {
      return { outShape: [inShape.reduce((a, b) => a * b, 1)], params: {} };
    },
    apply(_params: NoParams, x: Tensor): Tensor {
      return reshape(x, [x.shape[0], -1]);
    },
  });
}

/** Configuration of {@linkcode poolingLinear}. */
export interface PoolingLinearConfig {
  /** Output features (the first features·⌊D/features⌋ inputs are used). */
  features: number;
  /** "mean" (√k·mean of groups of k, default), "max" (group max) or "trunc" (first cout). */
  agg?: "mean" | "max" | "trunc";
}

/**
 * The reference's `PoolingLinear`: reduces [B, D] to [B, features] by aggregating consecutive
 * groups of k = ⌊D/features⌋ inputs: √k·mean (= sum/√k), max, or truncation. Lipschitz constant 1
 * in every mode (Cauchy–Schwarz for the sum, max is 1-Lipschitz per group).
 *
 * @example
 * ```ts
 * import { ones, poolingLinear } from "@sll/sll";
 * const y = poolingLinear({ features: 2 }).apply({}, ones([1, 8])); // [[2, 2]]
 * ```
 */
export function poolingLinear(config: PoolingLinearConfig): Layer<NoParams> {
  const cout = config.features;
  const agg = config.agg ?? "mean";
  if (!["mean", "max", "trunc"].includes(agg)) {
    throw new RangeError(`poolingLinear: agg must be "mean", "max" or "trunc", got ${agg}`);
  }
  return defineLayer<NoParams>({
    setup(inShape: readonly number[]): LayerSetup<NoParams> {
      expectShape("poolingLinear", inShape, [null]);
      if (!(Number.isInteger(cout) && cout >= 1 && cout <= inShape[0])) {
        throw new RangeError(`poolingLinear: features must be in [1, ${inShape[0]}], got ${cout}`);
      }
      return { outShape: [cout], params: {} };
    },
    apply(_params: NoParams, x: Tensor): Tensor {
      const [b, d] = x.shape;
      if (agg === "trunc") return slice(x, [0, 0], [b, cout]);
      const k = Math.floor(d / cout);
      const g = reshape(slice(x, [0, 0], [b, cout * k]), [b, cout, k]);
      return agg === "mean" ? mul(mean(g, 2), Math.sqrt(k)) : max(g, 2);
    },
  });
}

/** Parameters of {@linkcode linearNormalized}: weight [out, in] (rows normalised at use), bias [out]. */
export type LinearParams = {
  /** W [out, in]. */
  weight: Tensor;
  /** b [out]. */
  bias: Tensor;
};

/**
 * Rows of W scaled to unit L2 norm: Ŵ = W / max(‖W_i‖, 1e-12) (as `F.normalize`).
 *
 * @example
 * ```ts
 * import { tensor } from "@sll/sll";
 * const w = normalizeRows(tensor([[3, 4]])); // [[0.6, 0.8]]
 * ```
 */
export function normalizeRows(w: Tensor): Tensor {
  // maximum keeps the gradient of the norm wherever it exceeds the clamp.
  return div(w, maximum(norm(w, 1, true), 1e-12));
}

/** Configuration of {@linkcode linearNormalized}. */
export interface LinearNormalizedConfig {
  /** Output features (classes). */
  features: number;
}

/**
 * The reference's last layer `LinearNormalized`: y = Ŵx + b with the rows of W L2-normalised at
 * use. Each logit is 1-Lipschitz and logit differences are ‖ŵ_i − ŵ_j‖-Lipschitz (≤ √2), which
 * the certificate uses, so the layer reports W as its `lastWeight`. Init as `nn.Linear`:
 * W, b ~ U(±1/√in). Input [B, in] → [B, features].
 *
 * @example
 * ```ts
 * import { linearNormalized, normal, randomKey } from "@sll/sll";
 * const layer = linearNormalized({ features: 10 });
 * const { params } = layer.init(randomKey(0), [64]);
 * const logits = layer.apply(params, normal(randomKey(1), [4, 64]));
 * ```
 */
export function linearNormalized(config: LinearNormalizedConfig): Layer<LinearParams> {
  const out = config.features;
  return defineLayer<LinearParams>({
    setup(inShape: readonly number[]): LayerSetup<LinearParams> {
      expectShape("linearNormalized", inShape, [null]);
      const fin = inShape[0];
      const init = (k: PRNGKey, s: readonly number[]): Tensor => fanInUniform(k, s, fin);
      return {
        outShape: [out],
        params: { weight: { shape: [out, fin], init }, bias: { shape: [out], init } },
      };
    },
    apply(params: LinearParams, x: Tensor): Tensor {
      return add(matmul(x, swapLast(normalizeRows(params.weight))), params.bias);
    },
    // Certificates normalise these rows themselves (margins over ‖ŵ_i − ŵ_j‖).
    lastWeight: (params: LinearParams): Tensor => params.weight,
  });
}

/**
 * MaxMin activation (Anil et al., 2019): splits the channels (axis 1) into halves a, b and
 * returns concat(max(a, b), min(a, b)). A permutation of each (a_i, b_i) pair: gradient-norm
 * preserving, Lipschitz constant 1. Axis 1 must be even.
 *
 * @example
 * ```ts
 * import { tensor } from "@sll/sll";
 * const y = maxMin().apply({}, tensor([[1, 5, 3, 2]])); // [[3, 5, 1, 2]]
 * ```
 */
export function maxMin(): Layer<NoParams> {
  return defineLayer<NoParams>({
    setup(inShape: readonly number[]): LayerSetup<NoParams> {
      if (inShape.length < 1 || inShape[0] % 2 !== 0) {
        throw new RangeError(`maxMin: the channel axis must be even, got [${inShape.join(", ")}]`);
      }
      return { outShape: [...inShape], params: {} };
    },
    apply(_params: NoParams, x: Tensor): Tensor {
      const c = x.shape[1];
      if (c % 2 !== 0) throw new RangeError(`maxMin: axis 1 must be even, got ${c}`);
      const begin = x.shape.map(() => 0);
      const size = [...x.shape];
      size[1] = c / 2;
      const a = slice(x, begin, size);
      const b = slice(x, begin.map((v, i) => (i === 1 ? c / 2 : v)), size);
      return concat([maximum(a, b), minimum(a, b)], 1);
    },
  });
}

/**
 * GroupSort activation (Anil et al., 2019): sorts each group of `groupSize` consecutive channels
 * (axis 1) in descending order, by an odd–even transposition network of max/min exchanges.
 * A permutation per input: Lipschitz constant 1. groupSize 2 sorts adjacent pairs.
 *
 * @example
 * ```ts
 * import { tensor } from "@sll/sll";
 * const y = groupSort({ groupSize: 4 }).apply({}, tensor([[1, 5, 3, 2]])); // [[5, 3, 2, 1]]
 * ```
 */
export function groupSort(config: { groupSize?: number } = {}): Layer<NoParams> {
  const g = config.groupSize ?? 2;
  if (!(Number.isInteger(g) && g >= 1)) {
    throw new RangeError(`groupSort: groupSize must be a positive integer, got ${g}`);
  }
  return defineLayer<NoParams>({
    setup(inShape: readonly number[]): LayerSetup<NoParams> {
      if (inShape.length < 1 || inShape[0] % g !== 0) {
        throw new RangeError(
          `groupSort: the channel axis of [${inShape.join(", ")}] is not divisible by ${g}`,
        );
      }
      return { outShape: [...inShape], params: {} };
    },
    apply(_params: NoParams, x: Tensor): Tensor {
      const [b, c, ...rest] = x.shape;
      if (c % g !== 0) throw new RangeError(`groupSort: axis 1 (${c}) is not divisible by ${g}`);
      const grouped = reshape(x, [b, c / g, g, ...rest]);
      const zero = grouped.shape.map(() => 0);
      const one = [...grouped.shape];
      one[2] = 1;
      let cols: Tensor[] = Array.from(
        { length: g },
        (_, i) => slice(grouped, zero.map((v, a) => (a === 2 ? i : v)), one),
      );
      for (let round = 0; round < g; round++) {
        const next = [...cols];
        for (let i = round % 2; i + 1 < g; i += 2) {
          next[i] = maximum(cols[i], cols[i + 1]);
          next[i + 1] = minimum(cols[i], cols[i + 1]);
        }
        cols = next;
      }
      return reshape(g === 1 ? grouped : concat(cols, 2), x.shape);
    },
  });
}

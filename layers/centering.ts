/**
 * Mean-centering layers of deel-torchlip (`LayerCentering`, `BatchCentering`), the 1-Lipschitz
 * replacements of normalisation layers: subtracting a mean and adding a bias never scales.
 * BatchCentering's running mean is EXPLICIT state in the parameter tree (as CPL's u): `apply` is
 * evaluation (running mean, a translation); `trainApply` centres by the batch mean and `update`
 * returns params with the running mean advanced, both pure.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { add, mean, mul, reshape, stopGradient, sub } from "../tensor/ops.ts";
import { zerosInit } from "./init.ts";
import { defineLayer, type Layer, type LayerSetup, type LayerShapes } from "./layer.ts";

/** Parameters of {@linkcode layerCentering}. */
export type LayerCenteringParams = {
  /** b [1, C, 1, 1] for images, [1, D] for vectors (zeros when `bias: false`, unused). */
  bias: Tensor;
};

/** Configuration of {@linkcode layerCentering} and {@linkcode batchCentering}. */
export interface CenteringConfig {
  /** Add a learned bias (default true, as deel-torchlip). */
  bias?: boolean;
}

function biasShape(name: string, inShape: readonly number[]): number[] {
  if (inShape.length === 3) return [1, inShape[0], 1, 1];
  if (inShape.length === 1) return [1, inShape[0]];
  throw new TypeError(`${name}: input shape must be [C, H, W] or [D], got [${inShape}]`);
}

function checkRank(name: string, x: Tensor, bias: Tensor): void {
  if (x.rank !== bias.rank || x.shape[1] !== bias.shape[1]) {
    throw new TypeError(
      `${name}: input [${x.shape}] must have rank ${bias.rank} and ${
        bias.shape[1]
      } channels on axis 1`,
    );
  }
}

/**
 * LayerCentering (deel-torchlip): y = x − mean_{H,W}(x) + b per example and channel (for vectors
 * [B, D], the mean over D). x − mean is an orthogonal projection, so the layer is 1-Lipschitz.
 * Defaults: bias on, b = 0. Input [B, C, H, W] or [B, D].
 *
 * @example
 * ```ts
 * import { layerCentering, normal, randomKey } from "@sll/sll";
 * const layer = layerCentering();
 * const { params } = layer.init(randomKey(0), [4, 8, 8]);
 * const y = layer.apply(params, normal(randomKey(1), [2, 4, 8, 8])); // zero spatial means
 * ```
 */
export function layerCentering(config: CenteringConfig = {}): Layer<LayerCenteringParams> {
  const useBias = config.bias ?? true;
  return defineLayer<LayerCenteringParams>({
    setup(inShape: readonly number[]): LayerSetup<LayerCenteringParams> {
      return {
        outShape: [...inShape],
        params: { bias: { shape: biasShape("layerCentering", inShape), init: zerosInit } },
      };
    },
    apply(params: LayerCenteringParams, x: Tensor): Tensor {
      checkRank("layerCentering", x, params.bias);
      const axes = x.rank === 4 ? [2, 3] : [1];
      const y = sub(x, mean(x, axes, true));
      return useBias ? add(y, params.bias) : y;
    },
  });
}

/** Parameters of {@linkcode batchCentering}. */
export type BatchCenteringParams = {
  /** b, shaped as the running mean (zeros when `bias: false`, unused). */
  bias: Tensor;
  /** Running mean per channel (state, not trained: its gradient is 0). */
  runningMean: Tensor;
};

/** Configuration of {@linkcode batchCentering}. */
export interface BatchCenteringConfig extends CenteringConfig {
  /** Weight of the new batch mean in the running mean (default 0.05, as deel-torchlip). */
  momentum?: number;
}

/** A BatchCentering layer: `apply` evaluates with the running mean; training is explicit. */
export interface BatchCenteringLayer extends Layer<BatchCenteringParams> {
  /**
   * Training forward: y = x − mean_{B,H,W}(x) + b (batch statistics; 1-Lipschitz as a map of the
   * whole batch, not per example).
   */
  trainApply(params: BatchCenteringParams, x: Tensor): Tensor;
  /**
   * Returns `{ ...params, runningMean }` with runningMean ← (1 − momentum)·runningMean +
   * momentum·mean_{B,H,W}(x), cut from the gradient (deel-torchlip's update).
   */
  update(params: BatchCenteringParams, x: Tensor): BatchCenteringParams;
}

/**
 * BatchCentering (deel-torchlip): during training y = x − μ_batch + b with μ the per-channel mean
 * over batch and space; in evaluation (`apply`) y = x − μ_running + b, a translation, so
 * 1-Lipschitz per example. Defaults: momentum 0.05, bias on, b = 0, running mean 0. Input
 * [B, C, H, W] or [B, D].
 *
 * @example
 * ```ts
 * import { batchCentering, normal, randomKey } from "@sll/sll";
 * const layer = batchCentering();
 * let { params } = layer.init(randomKey(0), [4, 8, 8]);
 * const x = normal(randomKey(1), [16, 4, 8, 8]);
 * const yTrain = layer.trainApply(params, x);
 * params = layer.update(params, x); // running mean moves 5% towards the batch mean
 * const yEval = layer.apply(params, x);
 * ```
 */
export function batchCentering(config: BatchCenteringConfig = {}): BatchCenteringLayer {
  const useBias = config.bias ?? true;
  const momentum = config.momentum ?? 0.05;
  if (!(momentum >= 0 && momentum <= 1)) {
    throw new RangeError(`batchCentering: momentum must be in [0, 1], got ${momentum}`);
  }
  const batchMean = (x: Tensor): Tensor => mean(x, x.rank === 4 ? [0, 2, 3] : [0], true);
  const base = defineLayer<BatchCenteringParams>({
    setup(inShape: readonly number[]): LayerSetup<BatchCenteringParams> {
      const shape = biasShape("batchCentering", inShape);
      return {
        outShape: [...inShape],
        params: { bias: { shape, init: zerosInit }, runningMean: { shape, init: zerosInit } },
      };
    },
    apply(params: BatchCenteringParams, x: Tensor): Tensor {
      checkRank("batchCentering", x, params.bias);
      const y = sub(x, stopGradient(params.runningMean));
      return useBias ? add(y, params.bias) : y;
    },
  });
  return {
    init: base.init,
    apply: base.apply,
    shapes: (inShape: readonly number[]): LayerShapes<BatchCenteringParams> =>
      base.shapes!(inShape),
    trainApply(params: BatchCenteringParams, x: Tensor): Tensor {
      checkRank("batchCentering", x, params.bias);
      const y = sub(x, batchMean(x));
      return useBias ? add(y, params.bias) : y;
    },
    update(params: BatchCenteringParams, x: Tensor): BatchCenteringParams {
      checkRank("batchCentering", x, params.bias);
      const mu = reshape(stopGradient(batchMean(x)), params.runningMean.shape);
      const next = add(mul(stopGradient(params.runningMean), 1 - momentum), mul(mu, momentum));
      return { ...params, runningMean: next };
    },
  };
}

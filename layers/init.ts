/**
 * Parameter initialisers matching PyTorch's (`xavier_normal_`, the default `nn.Linear` bias and
 * weight bounds), drawn from explicit keys so the same key gives the same parameters.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { mul, zeros } from "../tensor/ops.ts";
import { normal, type PRNGKey, uniform } from "../tensor/random.ts";

/**
 * fan_in and fan_out of a weight [out, in, ...receptive field], as PyTorch computes them.
 *
 * @example
 * ```ts
 * import { fans } from "@sll/sll";
 * fans([5, 8, 3, 3]); // [72, 45]
 * ```
 */
export function fans(shape: readonly number[]): [number, number] {
  const rf = shape.slice(2).reduce((a, b) => a * b, 1);
  return [shape[1] * rf, shape[0] * rf];
}

/**
 * Xavier (Glorot) normal: N(0, 2 / (fan_in + fan_out)), as `torch.nn.init.xavier_normal_`.
 *
 * @example
 * ```ts
 * import { randomKey } from "@sll/sll";
 * const w = xavierNormal(randomKey(0), [32, 64]);
 * ```
 */
export function xavierNormal(key: PRNGKey, shape: readonly number[]): Tensor {
  const [fi, fo] = fans(shape);
  return mul(normal(key, shape), Math.sqrt(2 / (fi + fo)));
}

/**
 * U(−1/√fan_in, 1/√fan_in): PyTorch's default bias (and `nn.Linear` weight) bound.
 *
 * @example
 * ```ts
 * import { randomKey } from "@sll/sll";
 * const b = fanInUniform(randomKey(0), [1, 32], 64);
 * ```
 */
export function fanInUniform(key: PRNGKey, shape: readonly number[], fanIn: number): Tensor {
  const b = 1 / Math.sqrt(fanIn);
  return uniform(key, shape, -b, b);
}

/**
 * Zeros of `shape` (the key is unused): the initialiser of biases that start at 0.
 *
 * @example
 * ```ts
 * import { randomKey, zerosInit } from "@sll/sll";
 * const b = zerosInit(randomKey(0), [4]);
 * ```
 */
export function zerosInit(_key: PRNGKey, shape: readonly number[]): Tensor {
  return zeros(shape);
}

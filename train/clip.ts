/**
 * Gradient clipping over whole gradient trees, as `torch.nn.utils.clip_grad_norm_` (global L2
 * norm, coefficient max/(norm + 1e-6) capped at 1) and `clip_grad_value_` (elementwise clamp).
 * Pure: returns new trees. Runs on the device (no host readback).
 * @module
 */
import { add, clip, div, minimum, mul, sqrt, sum, type Tensor } from "../tensor/mod.ts";
import { leaves, mapTree } from "../tensor/tree.ts";

/**
 * The global L2 norm of every leaf of a gradient tree, as a scalar tensor.
 *
 * @example
 * ```ts
 * import { globalNorm } from "@sll/sll";
 * import { tensor } from "@sll/sll";
 * globalNorm({ a: tensor([3]), b: tensor([4]) }); // 5
 * ```
 */
export function globalNorm(tree: unknown): Tensor {
  const parts = leaves(tree).map((g) => sum(mul(g, g)));
  if (parts.length === 0) throw new RangeError("globalNorm: the tree has no tensors");
  return sqrt(parts.reduce((a, b) => add(a, b)));
}

/**
 * Scales the whole tree by min(1, maxNorm / (‖g‖ + 1e-6)).
 *
 * @example
 * ```ts
 * import { clipByGlobalNorm } from "@sll/sll";
 * import { tensor } from "@sll/sll";
 * const g = clipByGlobalNorm({ w: tensor([3, 4]) }, 1); // ≈ [0.6, 0.8]
 * ```
 */
export function clipByGlobalNorm<T>(grads: T, maxNorm: number): T {
  if (!(maxNorm > 0)) throw new RangeError(`clipByGlobalNorm: maxNorm must be > 0, got ${maxNorm}`);
  const coef = minimum(div(maxNorm, add(globalNorm(grads), 1e-6)), 1);
  return mapTree(grads, (g) => mul(g, coef));
}

/**
 * Clamps every gradient element to [−value, value].
 *
 * @example
 * ```ts
 * import { clipByValue } from "@sll/sll";
 * import { tensor } from "@sll/sll";
 * const g = clipByValue({ w: tensor([-3, 0.5]) }, 1); // [-1, 0.5]
 * ```
 */
export function clipByValue<T>(grads: T, value: number): T {
  if (!(value > 0)) throw new RangeError(`clipByValue: value must be > 0, got ${value}`);
  return mapTree(grads, (g) => clip(g, -value, value));
}

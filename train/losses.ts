/**
 * The reference trainer's losses (araujoalexandre/Lipschitz-SLL-Networks, core/utils.py):
 * offset cross-entropy `xent`, multi-class hinge `margin`, their sum `xent+margin`, and
 * `margin_boosting`. All take logits [B, K] and int32 labels [B] and return a scalar mean.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import {
  add,
  crossEntropy,
  div,
  logSoftmax,
  mean,
  mul,
  neg,
  oneHot,
  relu,
  sub,
  sum,
} from "../tensor/ops.ts";

/** Options of {@linkcode offsetCrossEntropy}. */
export interface OffsetCrossEntropyOptions {
  /** Subtracted from the true-class logit (default √2·3/2, the reference's `--offset`). */
  offset?: number;
  /** Logits are divided by it and the loss multiplied by it (default 0.25). */
  temperature?: number;
}

/** Checks logits [B, K] against int32 labels [B] (one TypeError naming `name`); returns K. */
export function checkLogits(name: string, logits: Tensor, labels: Tensor): number {
  if (logits.rank !== 2) {
    throw new TypeError(`${name}: logits must be [B, K], got [${logits.shape}]`);
  }
  if (labels.dtype !== "int32" || labels.rank !== 1 || labels.shape[0] !== logits.shape[0]) {
    throw new TypeError(
      `${name}: labels must be int32 [${logits.shape[0]}], got ${labels.dtype} [${labels.shape}]`,
    );
  }
  return logits.shape[1];
}

/**
 * The reference `xent` loss: T·CE((logits − offset·onehot(y))/T, y), mean over the batch.
 * The offset asks for a margin on the true class, which certification turns into a radius.
 *
 * @example
 * ```ts
 * import { tensor } from "@sll/sll";
 * const loss = offsetCrossEntropy(tensor([[2, 0], [0, 2]]), tensor([0, 1], { dtype: "int32" }));
 * ```
 */
export function offsetCrossEntropy(
  logits: Tensor,
  labels: Tensor,
  options: OffsetCrossEntropyOptions = {},
): Tensor {
  const k = checkLogits("offsetCrossEntropy", logits, labels);
  const offset = options.offset ?? Math.SQRT2 * 3 / 2;
  const t = options.temperature ?? 0.25;
  const shifted = sub(logits, mul(oneHot(labels, k, logits.dtype), offset));
  return mul(crossEntropy(div(shifted, t), labels), t);
}

/**
 * The reference `margin` loss, PyTorch's `MultiMarginLoss(margin)`:
 * mean_b Σ_{j≠y} max(0, margin − f_y + f_j) / K.
 *
 * @example
 * ```ts
 * import { tensor } from "@sll/sll";
 * const loss = marginLoss(tensor([[2, 0]]), tensor([0], { dtype: "int32" }), { margin: 0.7 });
 * ```
 */
export function marginLoss(
  logits: Tensor,
  labels: Tensor,
  options: { margin?: number } = {},
): Tensor {
  const k = checkLogits("marginLoss", logits, labels);
  const m = options.margin ?? 0.7;
  const y = oneHot(labels, k, logits.dtype);
  const fy = sum(mul(logits, y), 1, true);
  const hinge = mul(relu(add(sub(logits, fy), m)), sub(1, y)); // j = y excluded
  return mean(div(sum(hinge, 1), k));
}

/**
 * The reference `xent+margin` loss: {@linkcode marginLoss} + {@linkcode offsetCrossEntropy}.
 *
 * @example
 * ```ts
 * import { tensor } from "@sll/sll";
 * const loss = xentMargin(tensor([[2, 0]]), tensor([0], { dtype: "int32" }));
 * ```
 */
export function xentMargin(
  logits: Tensor,
  labels: Tensor,
  options: OffsetCrossEntropyOptions & { margin?: number } = {},
): Tensor {
  return add(marginLoss(logits, labels, options), offsetCrossEntropy(logits, labels, options));
}

/**
 * The reference `margin_boosting` loss: CE(f, y) + mean_{b,j}(−logsoftmax(−f)_bj·[j≠y])/(K−1)
 * (the mean runs over all B·K entries, as the reference).
 *
 * @example
 * ```ts
 * import { tensor } from "@sll/sll";
 * const loss = marginBoosting(tensor([[2, 0, 1]]), tensor([0], { dtype: "int32" }));
 * ```
 */
export function marginBoosting(logits: Tensor, labels: Tensor): Tensor {
  const k = checkLogits("marginBoosting", logits, labels);
  const notY = sub(1, oneHot(labels, k, logits.dtype));
  const second = div(mean(mul(neg(logSoftmax(neg(logits), 1)), notY)), k - 1);
  return add(crossEntropy(logits, labels), second);
}

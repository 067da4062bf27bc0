/**
 * Picks the training loss named by the configuration (the reference's `get_loss`): `xent`
 * (offset cross-entropy), `margin` (multi-class hinge), `xent+margin`, `margin_boosting`.
 * @module
 */
import type { Tensor } from "../tensor/mod.ts";
import type { TrainConfig } from "./config.ts";
import { marginBoosting, marginLoss, offsetCrossEntropy, xentMargin } from "./losses.ts";
import { emmaLoss, hkrMulticlass, logitAnnealingLoss } from "./losses_lipschitz.ts";

/**
 * A loss: logits [B, K], int32 labels [B] and the network's last-layer weight (null: the generic
 * √2 bound; only emma and la read it) → scalar.
 */
export type LossFn = (logits: Tensor, labels: Tensor, lastWeight?: Tensor | null) => Tensor;

/**
 * The loss function for `config.loss` with its hyper-parameters (offset, temperature, margin).
 *
 * @example
 * ```ts
 * import { tensor } from "@sll/sll";
 * import { DEFAULT_CONFIG, makeLoss } from "@sll/sll/train";
 * const loss = makeLoss({ ...DEFAULT_CONFIG, loss: "xent" }, 2);
 * const l = loss(tensor([[2, 0]]), tensor([0], { dtype: "int32" })); // a scalar
 * ```
 */
export function makeLoss(
  config:
    & Pick<TrainConfig, "loss" | "offset" | "temperature" | "margin">
    & Partial<Pick<TrainConfig, "hkrAlpha" | "lossEps255" | "laGamma">>,
  _numClasses: number,
): LossFn {
  const { offset, temperature, margin } = config;
  const eps = (config.lossEps255 ?? 36) / 255;
  const alpha = config.hkrAlpha ?? 0.98, gamma = config.laGamma ?? 5;
  switch (config.loss) {
    case "xent":
      return (z, y) => offsetCrossEntropy(z, y, { offset, temperature });
    case "margin":
      return (z, y) => marginLoss(z, y, { margin });
    case "xent+margin":
      return (z, y) => xentMargin(z, y, { offset, temperature, margin });
    case "margin_boosting":
      return (z, y) => marginBoosting(z, y);
    case "hkr":
      return (z, y) => hkrMulticlass(z, y, { alpha, minMargin: margin });
    case "emma":
      return (z, y, w) => emmaLoss(z, y, { eps, lastWeight: w ?? null });
    case "la":
      return (z, y, w) =>
        logitAnnealingLoss(z, y, {
          eps,
          lastWeight: w ?? null,
          gamma,
          offset,
          temperature,
        });
    default:
      throw new RangeError(
        `unknown loss "${config.loss}", expected one of xent, margin, xent+margin, margin_boosting, hkr, emma, la`,
      );
  }
}

/**
 * Losses of the wider 1-Lipschitz literature, beside the reference's (train/losses.ts): the
 * multi-class HKR loss (hinge + Kantorovich–Rubinstein, Serrurier et al. 2021, as deel-torchlip's
 * HKRMulticlassLoss), EMMA (efficient margin maximisation, Hu et al. 2023, LiResNet) and logit
 * annealing (Lai et al. 2025, BRONet). All take logits [B, K] and int32 labels [B] and return a
 * scalar mean; EMMA and logit annealing also take the last layer's weight (the certificate's
 * per-pair Lipschitz constants ‖ŵ_y − ŵ_i‖, or √2 for an unnormalised last layer).
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import type { DType } from "../kernels/dtype.ts";
import {
  add,
  cast,
  clip,
  crossEntropy,
  div,
  equal,
  exp,
  log,
  logSoftmax,
  matmul,
  maximum,
  mean,
  mul,
  neg,
  oneHot,
  relu,
  sqrt,
  stopGradient,
  sub,
  sum,
  swapLast,
  where,
} from "../tensor/ops.ts";
import { normalizeRows } from "../layers/basic.ts";
import { checkLogits } from "./losses.ts";

/** Options of {@linkcode hkrMulticlass}. */
export interface HkrOptions {
  /** Weight of the hinge term in [0, 1]; the KR term gets 1 − alpha (default 0.98). */
  alpha?: number;
  /** Margin the hinge asks between the true logit and each other one (default 1). */
  minMargin?: number;
}

/**
 * Multi-class HKR (deel-torchlip's `HKRMulticlassLoss`): alpha·hinge − (1 − alpha)·KR, with
 * hinge = mean_b mean_k w_bk·relu(m/2 − s_bk·f_bk) (s = +1 on the true class, −1 elsewhere;
 * the true class weighted K − 1) and KR = mean_k (mean_{b: y_b = k} f_bk − mean_{b: y_b ≠ k} f_bk),
 * a class absent from the batch (or present in every row) contributing 0 to its side.
 *
 * @example
 * ```ts
 * import { hkrMulticlass, tensor } from "@sll/sll";
 * const l = hkrMulticlass(tensor([[2, 0], [0, 2]]), tensor([0, 1], { dtype: "int32" }), { alpha: 0.5 });
 * ```
 */
export function hkrMulticlass(logits: Tensor, labels: Tensor, options: HkrOptions = {}): Tensor {
  const k = checkLogits("hkrMulticlass", logits, labels);
  const alpha = options.alpha ?? 0.98;
  const m = options.minMargin ?? 1;
  if (!(alpha >= 0 && alpha <= 1)) {
    throw new RangeError(`hkrMulticlass: alpha must be in [0, 1], got ${alpha}`);
  }
  const y = oneHot(labels, k, logits.dtype);
  const sign = sub(mul(y, 2), 1);
  const weight = add(1, mul(y, k - 2)); // K − 1 on the true class, 1 elsewhere
  const hinge = mean(mul(weight, relu(sub(m / 2, mul(sign, logits)))));
  // KR: per class, the mean logit of its examples minus the mean logit of the others
  const nPos = sum(y, 0), nNeg = sub(logits.shape[0], nPos);
  const safeDiv = (s: Tensor, n: Tensor): Tensor =>
    where(equal(n, 0), 0, div(s, where(equal(n, 0), 1, n)));
  const pos = safeDiv(sum(mul(logits, y), 0), nPos);
  const negs = safeDiv(sum(mul(logits, sub(1, y)), 0), nNeg);
  const kr = mean(sub(pos, negs));
  return sub(mul(hinge, alpha), mul(kr, 1 - alpha));
}

/**
 * The Lipschitz constants K_bi of the logit differences f_{y_b} − f_i [B, K]: ‖ŵ_{y_b} − ŵ_i‖ for
 * a row-normalised last layer of weight `lastWeight` (rows normalised here), or √2 for i ≠ y_b
 * when `lastWeight` is null (any 1-Lipschitz network); 0 on the true class. `dtype` is the
 * result's (default the weight's, else float32).
 *
 * @example
 * ```ts
 * import { pairLipschitz, tensor } from "@sll/sll";
 * const k = pairLipschitz(tensor([0, 1], { dtype: "int32" }), 2, null); // [[0, √2], [√2, 0]]
 * ```
 */
export function pairLipschitz(
  labels: Tensor,
  numClasses: number,
  lastWeight: Tensor | null,
  dtype: DType = lastWeight?.dtype ?? "float32",
): Tensor {
  const y = oneHot(labels, numClasses, dtype);
  if (lastWeight === null) return mul(sub(1, y), Math.SQRT2);
  if (lastWeight.rank !== 2 || lastWeight.shape[0] !== numClasses) {
    throw new TypeError(
      `pairLipschitz: lastWeight must be [${numClasses}, F], got [${lastWeight.shape}]`,
    );
  }
  const w = normalizeRows(lastWeight);
  const gram = matmul(w, swapLast(w)); // [K, K] cosines
  // ‖ŵ_y − ŵ_i‖² = 2 − 2 ŵ_y·ŵ_i; the square root selected away from 0 (finite gradient)
  const d2 = maximum(sub(2, mul(matmul(y, gram), 2)), 0);
  const tiny = 1e-12;
  const isSmall = equal(maximum(d2, tiny), tiny);
  return where(isSmall, 0, sqrt(where(isSmall, 1, d2)));
}

/** Options of {@linkcode emmaLoss} and {@linkcode logitAnnealingLoss}. */
export interface EmmaOptions {
  /** The training radius ε in input units (default 36/255). */
  eps?: number;
  /** The last layer's weight (rows normalised for the certificate), or null (√2 bound). */
  lastWeight?: Tensor | null;
}

/**
 * EMMA logits: y_i − y_label + ε_bi·ε·K_bi, ε_bi = clip(−(y_i − y_label)/(ε·K_bi), 0.01, 1) with
 * its gradient stopped (LiResNet's `emma_loss`): each competing logit is raised by what an
 * ε-perturbation could add to it, but no more than needed to reach the true logit.
 */
function emmaLogits(name: string, logits: Tensor, labels: Tensor, options: EmmaOptions): Tensor {
  const k = checkLogits(name, logits, labels);
  const eps = options.eps ?? 36 / 255;
  if (!(eps > 0)) throw new RangeError(`${name}: eps must be positive, got ${eps}`);
  const y = oneHot(labels, k, logits.dtype);
  const shifted = sub(logits, sum(mul(logits, y), 1, true)); // 0 on the true class
  const w = options.lastWeight ?? null;
  const pair = pairLipschitz(labels, k, w === null ? null : cast(w, logits.dtype), logits.dtype);
  const margin = mul(pair, eps);
  const scale = stopGradient(clip(div(neg(shifted), maximum(margin, 1e-8)), 0.01, 1));
  return add(shifted, mul(scale, margin));
}

/**
 * EMMA (Hu et al., "Unlocking Deterministic Robustness Certification on ImageNet", NeurIPS 2023):
 * cross-entropy of the {@linkcode pairLipschitz}-adjusted logits (see `emmaLogits`), so training
 * widens the certified margin of each example towards ε.
 *
 * @example
 * ```ts
 * import { emmaLoss, tensor } from "@sll/sll";
 * const l = emmaLoss(tensor([[2, 0, 1]]), tensor([0], { dtype: "int32" }), { eps: 0.5 });
 * ```
 */
export function emmaLoss(logits: Tensor, labels: Tensor, options: EmmaOptions = {}): Tensor {
  return crossEntropy(emmaLogits("emmaLoss", logits, labels, options), labels);
}

/** Options of {@linkcode logitAnnealingLoss}. */
export interface LogitAnnealingOptions extends EmmaOptions {
  /** Focusing exponent γ of (1 − p)^γ (default 5). */
  gamma?: number;
  /** Offset of the true logit (default 2). */
  offset?: number;
  /** Temperature T (default 0.75). */
  temperature?: number;
}

/**
 * Logit annealing (Lai et al., "Enhancing Certified Robustness via Block Reflector Orthogonal
 * Layers and Logit Annealing Loss", ICLR 2025, BRONet): on the EMMA-adjusted logits z,
 * mean_b (1 − p_b)^γ · CE_b · T with CE_b = CE((z − offset·onehot)/T, y)_b and p_b = e^(−CE_b):
 * examples already classified with margin count less, so capacity goes to the others.
 *
 * @example
 * ```ts
 * import { logitAnnealingLoss, tensor } from "@sll/sll";
 * const l = logitAnnealingLoss(tensor([[2, 0, 1]]), tensor([0], { dtype: "int32" }));
 * ```
 */
export function logitAnnealingLoss(
  logits: Tensor,
  labels: Tensor,
  options: LogitAnnealingOptions = {},
): Tensor {
  const z = emmaLogits("logitAnnealingLoss", logits, labels, options);
  const k = logits.shape[1];
  const gamma = options.gamma ?? 5, offset = options.offset ?? 2, t = options.temperature ?? 0.75;
  if (!(t > 0) || !(gamma >= 0)) {
    throw new RangeError(
      `logitAnnealingLoss: need temperature > 0 and gamma ≥ 0, got ${t}, ${gamma}`,
    );
  }
  const y = oneHot(labels, k, logits.dtype);
  const scaled = div(sub(z, mul(y, offset)), t);
  const ce = neg(sum(mul(logSoftmax(scaled, 1), y), 1)); // per example
  const p = exp(neg(ce));
  return mul(mean(mul(power(sub(1, p), gamma), ce)), t);
}

/** x^γ for x ≥ 0: repeated products for integer γ, else exp(γ·log x) with x kept ≥ 1e-30. */
function power(x: Tensor, gamma: number): Tensor {
  if (Number.isInteger(gamma)) {
    let r: Tensor | number = 1;
    for (let i = 0; i < gamma; i++) r = r === 1 ? x : mul(r as Tensor, x);
    return r === 1 ? add(mul(x, 0), 1) : r as Tensor;
  }
  return exp(mul(log(maximum(x, 1e-30)), gamma));
}

/**
 * Certificates from margins (as the reference's `eval_certified`). For a 1-Lipschitz
 * feature map followed by logits f = Ŵh + b with unit rows ŵ, the difference f_top − f_j is
 * ‖ŵ_top − ŵ_j‖-Lipschitz, so no ‖δ‖ < m_j = (f_top − f_j)/‖ŵ_top − ŵ_j‖ can make j win. Without
 * that last layer, an L-Lipschitz f has √2·L-Lipschitz differences: m_j = (f_top − f_j)/(√2·L).
 * Computed on the host in float64 (evaluation only, no gradients).
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";

/** Per-example margins. */
export interface Margins {
  /** argmax class per example (first on ties); −1 when the row holds a non-finite logit. */
  pred: Int32Array;
  /** [B][K] margins m_j, +Infinity at j = pred (all 0 on a non-finite row). */
  margins: Float64Array[];
  /** min_j m_j per example: the certified L2 radius; 0 when any logit, margin or last-layer
   * weight is non-finite (NaN or ±Infinity certify nothing). */
  radius: Float64Array;
}

/** Options of {@linkcode margins} and {@linkcode certifiedAccuracy}. */
export interface MarginOptions {
  /**
   * A certified bound of the Lipschitz constant of the map up to the last layer (default 1, the
   * reference's lip_cst): `certifiedLipschitzBound(...).bound`. Must be finite and ≥ 1 (a
   * RangeError otherwise; a network with no finite bound certifies nothing).
   */
  lipschitz?: number;
}

async function hostRows(t: Tensor, what: string): Promise<[Float64Array, number, number]> {
  if (!(t instanceof Tensor) || t.rank !== 2) {
    throw new TypeError(
      `${what} must be a 2-D tensor, got ${t instanceof Tensor ? `[${t.shape}]` : typeof t}`,
    );
  }
  return [Float64Array.from(await t.data()), t.shape[0], t.shape[1]];
}

/**
 * ‖ŵ_a − ŵ_b‖ for every pair of classes, with ŵ the L2-normalised rows of `weight` [K, D]
 * (as F.normalize, eps 1e-12). Returns a K×K row-major array.
 *
 * @example
 * ```ts
 * import { tensor } from "@sll/sll";
 * const d = await classDistances(tensor([[1, 0], [0, 2]])); // [0, √2, √2, 0]
 * ```
 */
export async function classDistances(weight: Tensor): Promise<Float64Array> {
  const [w, k, d] = await hostRows(weight, "classDistances: weight");
  for (let a = 0; a < k; a++) {
    let n = 0;
    for (let i = 0; i < d; i++) n += w[a * d + i] ** 2;
    const s = 1 / Math.max(Math.sqrt(n), 1e-12);
    for (let i = 0; i < d; i++) w[a * d + i] *= s;
  }
  const out = new Float64Array(k * k);
  for (let a = 0; a < k; a++) {
    for (let b = a + 1; b < k; b++) {
      let n = 0;
      for (let i = 0; i < d; i++) n += (w[a * d + i] - w[b * d + i]) ** 2;
      out[a * k + b] = out[b * k + a] = Math.sqrt(n);
    }
  }
  return out;
}

/**
 * Margins m_j = (f_top − f_j)/‖ŵ_top − ŵ_j‖ over the normalised rows of `lastLayerWeight`
 * (divided further by `lipschitz`), or the generic (f_top − f_j)/(√2·L) when the weight is
 * null. The radius min_j m_j certifies the prediction in the L2 ball of that radius.
 * Soundness on bad arithmetic: a row with a NaN/±Infinity logit has no prediction (−1) and
 * radius 0, and a non-finite margin (e.g. from a non-finite weight) makes the radius 0.
 *
 * @example
 * ```ts
 * import { tensor } from "@sll/sll";
 * const { pred, radius } = await margins(tensor([[1, 0.2]]), null); // radius 0.8/√2
 * ```
 */
export async function margins(
  logits: Tensor,
  lastLayerWeight: Tensor | null,
  options: MarginOptions = {},
): Promise<Margins> {
  const [f, b, k] = await hostRows(logits, "margins: logits");
  const lip = options.lipschitz ?? 1;
  if (!(lip >= 1 && Number.isFinite(lip))) {
    throw new RangeError(
      `margins: lipschitz must be a certified bound, finite and ≥ 1 (certifiedLipschitzBound's), got ${lip}; a network without one certifies nothing`,
    );
  }
  let dist: Float64Array | null = null;
  if (lastLayerWeight) {
    if (lastLayerWeight.shape[0] !== k) {
      throw new TypeError(
        `margins: lastLayerWeight [${lastLayerWeight.shape}] has ${
          lastLayerWeight.shape[0]
        } rows but logits have ${k} classes`,
      );
    }
    dist = await classDistances(lastLayerWeight);
  }
  const pred = new Int32Array(b);
  const radius = new Float64Array(b);
  const all: Float64Array[] = [];
  for (let i = 0; i < b; i++) {
    const m = new Float64Array(k);
    let finite = true;
    for (let j = 0; j < k; j++) if (!Number.isFinite(f[i * k + j])) finite = false;
    if (!finite) {
      // argmax over NaN would pick class 0 and `m < r` is false for NaN: certify nothing.
      pred[i] = -1;
      all.push(m);
      radius[i] = 0;
      continue;
    }
    let top = 0;
    for (let j = 1; j < k; j++) if (f[i * k + j] > f[i * k + top]) top = j;
    pred[i] = top;
    let r = Infinity;
    for (let j = 0; j < k; j++) {
      if (j === top) {
        m[j] = Infinity;
        continue;
      }
      const scale = dist ? dist[top * k + j] : Math.SQRT2;
      m[j] = (f[i * k + top] - f[i * k + j]) / (scale * lip);
      if (!(m[j] >= r)) r = m[j]; // a NaN margin wins and is turned into 0 below
    }
    all.push(m);
    // k = 1 leaves r = Infinity: with one class there is nothing to certify against, but an
    // unbounded radius is never reported.
    radius[i] = Number.isFinite(r) && r > 0 ? r : 0;
  }
  return { pred, margins: all, radius };
}

/** What {@linkcode certifiedAccuracy} returns. */
export interface CertifiedAccuracy {
  /** Fraction of correct predictions. */
  accuracy: number;
  /** Fraction correct AND radius > ε, one entry per ε. */
  certified: number[];
  /** The ε values, as given. */
  eps: number[];
  /** Per example: prediction == label (0/1). */
  correct: Uint8Array;
  /** Per ε, per example: certified (0/1). */
  certifiedMask: Uint8Array[];
  /** Per-example margins (see {@linkcode margins}). */
  margins: Margins;
}

/**
 * Natural and certified accuracy as the reference's `eval_certified`: example i is certified at ε
 * when it is correct and min_j m_j > ε (strict). Pass `lastLayerWeight` = the network's
 * `linearNormalized` weight (unnormalised; it is normalised here), or null for the generic √2
 * bound. `labels`: int32 tensor or numbers.
 *
 * @example
 * ```ts
 * import { tensor } from "@sll/sll";
 * const r = await certifiedAccuracy(
 *   tensor([[1, 0]]), tensor([0], { dtype: "int32" }), tensor([[1, 0], [0, 1]]), [36 / 255],
 * );
 * console.log(r.accuracy, r.certified); // 1 [1]
 * ```
 */
export async function certifiedAccuracy(
  logits: Tensor,
  labels: Tensor | ArrayLike<number>,
  lastLayerWeight: Tensor | null,
  eps: readonly number[] = [36 / 255, 72 / 255, 108 / 255, 1],
  options: MarginOptions = {},
): Promise<CertifiedAccuracy> {
  const m = await margins(logits, lastLayerWeight, options);
  const lab = labels instanceof Tensor ? await labels.data() : labels;
  const b = m.pred.length;
  if (lab.length !== b) {
    throw new TypeError(`certifiedAccuracy: ${lab.length} labels for ${b} logits rows`);
  }
  const correct = new Uint8Array(b);
  for (let i = 0; i < b; i++) correct[i] = Number(lab[i]) === m.pred[i] ? 1 : 0;
  const certifiedMask = eps.map((e) => {
    const c = new Uint8Array(b);
    for (let i = 0; i < b; i++) c[i] = correct[i] && m.radius[i] > e ? 1 : 0;
    return c;
  });
  const frac = (a: Uint8Array): number => (b === 0 ? 0 : a.reduce((s, v) => s + v, 0) / b);
  return {
    accuracy: frac(correct),
    certified: certifiedMask.map(frac),
    eps: [...eps],
    correct,
    certifiedMask,
    margins: m,
  };
}

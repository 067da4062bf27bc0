/**
 * Evaluation of a 1-Lipschitz classifier on a host dataset: natural accuracy and certified
 * accuracy at several radii (certify/'s `certifiedAccuracy`, the reference's rule: correct and
 * min_j (f_c − f_j)/(L·‖ŵ_c − ŵ_j‖) > ε over the row-normalised last layer ŵ, L the network's
 * certified Lipschitz bound, computed once per call). Logits are computed batch by batch, each in
 * a scope, so memory stays flat.
 * @module
 */
import type { Dataset } from "../data/mod.ts";
import { batches } from "../data/mod.ts";
import { scope, type Tensor, tensor } from "../tensor/mod.ts";
import { certifiedAccuracy } from "../certify/margins.ts";
import {
  type BoundTarget,
  certifiedLipschitzBound,
  type LipschitzCertificate,
} from "../certify/bound.ts";
import type { EvalResult } from "./checkpoint.ts";
import type { World } from "../distributed/world.ts";
import type { PreparedForward } from "../layers/layer.ts";

/** A forward function: parameters and an input batch [B, C, H, W] in [0, 1] → logits [B, K]. */
export type Forward<P> = (params: P, x: Tensor) => Tensor;

/** Options of `evaluate`. Radii are given in one of two clearly named units. */
export interface EvaluateOptions<P = unknown> {
  /** Radii in input units, as everywhere in the API, e.g. `[36 / 255]`. Not with `eps255`. */
  eps?: readonly number[];
  /** Radii in units of 1/255, as the CLI's `--eps`, e.g. `[36, 72]`. Not with `eps`. */
  eps255?: readonly number[];
  /** Examples per forward pass (default 500). */
  batchSize?: number;
  /** The last layer's weight [K, F] (rows are normalised); null/omitted: the generic √2 bound. */
  lastWeight?: Tensor | null;
  /** Also report certified accuracy on this grid of radii in units of 1/255, as `curve`. */
  curve255?: readonly number[];
  /**
   * Parameter-only work done once before the batches (e.g. a network's `prepare`: the SLL
   * rescalings); its forward replaces `forward` and is disposed at the end.
   */
  prepare?: (params: P) => PreparedForward;
  /**
   * The network `forward` applies (a layer, or anything with `layers` over a parameter array):
   * its certified Lipschitz bound (certify's `certifiedLipschitzBound`) is computed once, before
   * the batches, and every certificate divides by it. Without it (and without `lipschitz`) the
   * forward is taken as 1-Lipschitz, the caller's claim, and the result says so.
   */
  network?: BoundTarget;
  /** A bound already computed for these parameters (instead of `network`). */
  lipschitz?: LipschitzCertificate;
  /** Called after each batch with (done, total). */
  onProgress?: (done: number, total: number) => void;
  /**
   * Processes sharing the work: batch i (of the one-process batching) goes to rank i mod N and
   * the counts are summed over ranks, so every rank returns what one process would.
   */
  world?: World;
}

/**
 * Natural and certified accuracy of `forward(params, ·)` on `ds`. `certified` is keyed by the
 * radius in units of 1/255 ("36" for ε = 36/255), whichever unit the radii were given in.
 *
 * @example
 * ```ts
 * import { flatten, linearNormalized, randomKey, serial } from "@sll/sll";
 * import { evaluate } from "@sll/sll/train";
 * const net = serial(flatten(), linearNormalized({ features: 2 }));
 * const params = net.init(randomKey(0), [1, 2, 2]).params;
 * const test = {
 *   name: "toy", images: new Float32Array(8).fill(0.5), labels: new Int32Array([0, 1]), n: 2,
 *   shape: [1, 2, 2] as [number, number, number], numClasses: 2,
 * };
 * const r = await evaluate(net.apply, params, test, {
 *   eps: [36 / 255, 72 / 255], lastWeight: net.lastWeight(params), network: net,
 * });
 * console.log(r.accuracy, r.certified["36"], r.certified["72"], r.lipschitz?.text);
 * ```
 */
export async function evaluate<P>(
  forward: Forward<P>,
  params: P,
  ds: Dataset,
  opts: EvaluateOptions<P> = {},
): Promise<EvalResult & { curve?: { eps255: number[]; certified: number[] } }> {
  if (opts.eps !== undefined && opts.eps255 !== undefined) {
    throw new TypeError(
      "evaluate: pass the radii once, as eps (input units, e.g. 36 / 255) or eps255 (e.g. 36)",
    );
  }
  const eps = opts.eps ? opts.eps.map((e) => e * 255) : [...(opts.eps255 ?? [36, 72, 108, 255])];
  const grid = [...(opts.curve255 ?? [])];
  const all = opts.eps
    ? [...opts.eps, ...grid.map((e) => e / 255)]
    : [...eps, ...grid].map((e) => e / 255);
  let correct = 0;
  const counts = new Array<number>(all.length).fill(0);
  let done = 0;
  const world = opts.world;
  const cert = opts.lipschitz ??
    (opts.network ? await certifiedLipschitzBound(opts.network, params, ds.shape) : undefined);
  // no finite bound: natural accuracy only, nothing certified (the result's text says why)
  const finite = cert === undefined || Number.isFinite(cert.bound);
  const prepared = opts.prepare?.(params);
  try {
    for (const batch of batches(ds, { batchSize: opts.batchSize ?? 500 })) {
      if (world && batch.index % world.size !== world.rank) continue;
      const x = (): Tensor => tensor(batch.x, { shape: batch.shape });
      const logits = scope(() => prepared ? prepared.apply(x()) : forward(params, x()));
      try {
        const r = await certifiedAccuracy(logits, batch.y, opts.lastWeight ?? null, all, {
          lipschitz: cert && finite ? cert.bound : 1,
        });
        if (!finite) r.certified.fill(0);
        correct += Math.round(r.accuracy * batch.size);
        r.certified.forEach((c, j) => (counts[j] += Math.round(c * batch.size)));
      } finally {
        logits.dispose();
      }
      done += batch.size;
      opts.onProgress?.(done, ds.n);
    }
  } finally {
    prepared?.dispose();
  }
  if (world && world.size > 1) {
    const summed = Float64Array.from([correct, ...counts]);
    world.allReduce(summed, "sum");
    correct = summed[0];
    summed.subarray(1).forEach((c, j) => (counts[j] = c));
  }
  const n = ds.n;
  const frac = (c: number): number => (n ? c / n : 0);
  return {
    n,
    accuracy: frac(correct),
    certified: Object.fromEntries(eps.map((e, j) => [label255(e), frac(counts[j])])),
    lipschitz: cert
      ? { bound: finite ? cert.bound : null, text: cert.text }
      : { bound: 1, text: "1 (the forward's own claim: no network given to bound)" },
    ...(grid.length
      ? { curve: { eps255: grid, certified: grid.map((_, j) => frac(counts[eps.length + j])) } }
      : {}),
  };
}

/** A radius ×255 as a short key: 36 → "36", 36/255·255 (rounding) → "36", 12.75 → "12.75". */
function label255(e255: number): string {
  return String(Number(e255.toFixed(6)));
}

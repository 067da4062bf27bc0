/**
 * The certified Lipschitz bound of a whole network, which every certificate divides its margins
 * by: the product over serial composition of per-layer bounds. A layer is 1 by construction
 * unless it declares a `lipschitzClaim` (layers/layer.ts) — the layers that are 1-Lipschitz only
 * once an iteration has converged (CPL's and LiResNet's power iterations, SOC's truncated series
 * outside its proven range); their claims are evaluated here with certified spectral-norm upper
 * bounds of the operators they actually apply (gram.ts), once per model.
 *
 * Float-rounding policy: a layer whose 1-Lipschitz proof holds in real arithmetic for every
 * parameter value and every iteration count (SLL, AOL, Cayley, LOT, BCOP, AOC, Björck, BRO,
 * Sandwich, Householder, centering, pooling, padding, the convnet's stages) is taken as 1; the
 * float32 rounding of its forward pass (relative ~1e-6 per layer) is not counted, as in every
 * published certificate. Parameters, the scales a layer divides by and the operators a claim
 * names are taken exactly as stored/computed; the Gram bounds include their own rounding. An
 * iteration that has not converged is never counted as rounding: it is a claim.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { type AnyLayer, type ClaimOperator, layerShapes } from "../layers/layer.ts";
import { convSpectralBound, denseSpectralBound, type GramOptions } from "./gram.ts";

/** One group of claiming layers in a {@linkcode LipschitzCertificate}. */
export interface ClaimSummary {
  /** The claim's reason, e.g. "cplConv power iteration". */
  reason: string;
  /** Layers with this reason. */
  layers: number;
  /** The product of their bounds (≥ 1). */
  factor: number;
}

/** What {@linkcode certifiedLipschitzBound} returns. */
export interface LipschitzCertificate {
  /**
   * A certified upper bound (≥ 1) of the network's Lipschitz constant, or Infinity when none
   * could be proved (then certification certifies nothing).
   */
  bound: number;
  /** The claiming layers, grouped by reason (empty: every layer is 1 by construction). */
  claims: ClaimSummary[];
  /** One line saying what the bound rests on, e.g. "1.0000 (by construction)". */
  text: string;
  /** Seconds spent computing it. */
  seconds: number;
}

/**
 * What {@linkcode certifiedLipschitzBound} bounds: a layer, or a network given by its `layers`
 * (entry i applied with `params[i]`, as `serial`, the ConvNet and the trainer's networks).
 */
export type BoundTarget = AnyLayer | { readonly layers: readonly AnyLayer[] };

/** Options of {@linkcode certifiedLipschitzBound}. */
export interface BoundOptions extends GramOptions {}

function collectLeaves(tree: unknown, into: Set<unknown>): Set<unknown> {
  if (Array.isArray(tree)) tree.forEach((t) => collectLeaves(t, into));
  else if (tree && typeof tree === "object" && !("shape" in tree)) {
    Object.values(tree).forEach((t) => collectLeaves(t, into));
  } else if (tree) into.add(tree);
  return into;
}

async function operatorNorm(op: ClaimOperator, options: GramOptions): Promise<number> {
  return op.kind === "conv"
    ? await convSpectralBound(op.weight, op.inSize, { ...options, padding: op.padding })
    : await denseSpectralBound(op.weight, options);
}

/**
 * A certified upper bound of the Lipschitz constant of `layer.apply(params, ·)` on inputs of
 * per-example shape `inShape`, for certificates (`certifiedAccuracy`'s `lipschitz`): the product
 * of the per-layer bounds over nested `serial`s (any layer exposing `layers` with a parameter
 * array), each layer's own `lipschitzClaim` evaluated with Gram-iteration bounds of the operators
 * it applies, 1 for the layers that are 1-Lipschitz by construction (see the module's rounding
 * policy). Compute it once per model (parameters), not per batch. Infinity when a claim cannot
 * be bounded (a non-finite weight, a zero scale).
 *
 * @example
 * ```ts
 * import { certifiedLipschitzBound, cplDense, maxMin, randomKey, serial } from "@sll/sll";
 * const net = serial(cplDense({}), maxMin(), cplDense({}));
 * const { params } = net.init(randomKey(0), [8]);
 * const cert = await certifiedLipschitzBound(net, params, [8]);
 * console.log(cert.text); // "1.0000 (cplDense power iteration ×1.0000 over 2 layers)"
 * ```
 */
export async function certifiedLipschitzBound(
  layer: BoundTarget,
  params: unknown,
  inShape: readonly number[],
  options: BoundOptions = {},
): Promise<LipschitzCertificate> {
  const t0 = performance.now();
  const groups = new Map<string, ClaimSummary>();
  const own = collectLeaves(params, new Set());
  // Gram iterations stop once they gain < 1e-9 relative: far below what a radius can show
  const gram: GramOptions = { ...options, tolerance: options.tolerance ?? 1e-9 };
  const walk = async (l: AnyLayer, p: unknown, shape: readonly number[]): Promise<number> => {
    if (typeof l.lipschitzClaim === "function") {
      const claim = l.lipschitzClaim(p, shape);
      try {
        const norms: number[] = [];
        for (const op of claim.operators) norms.push(await operatorNorm(op, gram));
        const scalars: number[] = [];
        for (const s of claim.scalars) {
          if (s.size !== 1) {
            throw new TypeError(
              `certifiedLipschitzBound: ${claim.reason}: a claim's scalar must have one element, got shape [${s.shape}]`,
            );
          }
          scalars.push((await s.data())[0]);
        }
        const b = claim.bound(norms, scalars);
        const factor = Number.isNaN(b) ? Infinity : Math.max(1, b);
        const g = groups.get(claim.reason) ?? { reason: claim.reason, layers: 0, factor: 1 };
        g.layers++;
        g.factor *= factor;
        groups.set(claim.reason, g);
        return factor;
      } finally {
        const mine: Tensor[] = [...claim.operators.map((o) => o.weight), ...claim.scalars];
        for (const t of new Set(mine)) if (!own.has(t)) t.dispose();
      }
    }
    const sub = (l as { layers?: readonly AnyLayer[] }).layers;
    if (Array.isArray(sub) && Array.isArray(p)) {
      let factor = 1, s = [...shape];
      for (let i = 0; i < sub.length; i++) {
        const f = await walk(sub[i], p[i], s);
        if (f !== 1) factor *= f * (1 + 2 ** -50); // the float64 product rounded up
        s = layerShapes(sub[i], s).outShape;
      }
      return factor;
    }
    return 1;
  };
  const raw = await walk(layer as AnyLayer, params, inShape);
  const bound = Number.isFinite(raw) ? Math.max(1, raw) : Infinity;
  const claims = [...groups.values()];
  return { bound, claims, text: describe(bound, claims), seconds: (performance.now() - t0) / 1000 };
}

function describe(bound: number, claims: readonly ClaimSummary[]): string {
  if (!Number.isFinite(bound)) {
    const bad = claims.filter((c) => !Number.isFinite(c.factor)).map((c) => c.reason);
    return `no finite bound (${bad.join(", ") || "a layer"}: non-finite weights or scale); ` +
      "certifies nothing";
  }
  const over = claims.filter((c) => c.factor > 1);
  const fmt = (c: ClaimSummary): string =>
    `${c.reason} ×${c.factor.toFixed(4)} over ${c.layers} layer${c.layers === 1 ? "" : "s"}`;
  const n = bound.toFixed(4);
  if (claims.length === 0) return `${n} (by construction)`;
  if (over.length === 0) {
    return `${n} (by construction; ${claims.map((c) => `${c.reason} certified ≤ 1`).join(", ")})`;
  }
  // above 1: a layer's scale (σ̂ of its power iteration) is below the certified norm of what it
  // applies, by the iteration's shortfall and the bound's own slack (small feature maps)
  return `${n} (${over.map(fmt).join(", ")})`;
}

/**
 * The bound as the reports print it: "Lipschitz bound 1.0000 (by construction)".
 *
 * @example
 * ```ts
 * import { certifiedLipschitzBound, describeLipschitzBound, flatten, randomKey } from "@sll/sll";
 * const net = flatten();
 * const cert = await certifiedLipschitzBound(net, {}, [1, 2, 2]);
 * describeLipschitzBound(cert); // "Lipschitz bound 1.0000 (by construction)"
 * ```
 */
export function describeLipschitzBound(cert: Pick<LipschitzCertificate, "text">): string {
  return `Lipschitz bound ${cert.text}`;
}

/**
 * The certified Lipschitz constant of a LiResNet block (layers/liresnet.ts): its power-iteration
 * σ approaches ‖A‖₂ from below, so the block's true constant ‖A‖₂/σ can exceed 1; this bounds it
 * from above with the Gram-iteration bound of ‖A‖₂ (gram.ts) and the σ the block divides by (the
 * block's `lipschitzClaim` says the same to bound.ts, which every certificate uses).
 * @module
 */
import type { LiresnetLayer, LiresnetParams } from "../layers/liresnet.ts";
import type { AnyLayer } from "../layers/layer.ts";
import { certifiedLipschitzBound } from "./bound.ts";
import { convSpectralBound, denseSpectralBound } from "./gram.ts";

/**
 * A certified upper bound of the Lipschitz constant of `layer.apply(params, ·)` on inputs of
 * per-example shape `inShape`: (certified bound of ‖A‖₂)/σ, rounded up. Multiply over a
 * network's blocks and pass the product as the certificate's `lipschitz` (MarginOptions).
 * Infinity (certifies nothing) when σ is not positive and finite.
 *
 * @example
 * ```ts
 * import { liresnetBlock, randomKey } from "@sll/sll";
 * const block = liresnetBlock();
 * const { params } = block.init(randomKey(0), [2, 4, 4]);
 * const lip = await liresnetLipschitz(block, params, [2, 4, 4]); // ≈ 1, ≥ the truth
 * ```
 */
export async function liresnetLipschitz(
  layer: LiresnetLayer,
  params: LiresnetParams,
  inShape: readonly number[],
): Promise<number> {
  const { kind, a, sigma } = layer.operator(params);
  try {
    const upper = kind === "conv"
      ? await convSpectralBound(a, [inShape[1], inShape[2]], {
        padding: [(a.shape[2] - 1) / 2, (a.shape[3] - 1) / 2], // "same" zero padding
      })
      : await denseSpectralBound(a);
    const used = (await sigma.data())[0];
    if (!(used > 0 && Number.isFinite(used) && Number.isFinite(upper))) return Infinity;
    // σ is read back exactly; round the float64 quotient up
    return (upper / used) * (1 + 4 * 2 ** -53);
  } finally {
    a.dispose();
    sigma.dispose();
  }
}

/**
 * The certified Lipschitz bound of a whole network (every declaring layer, LiResNet blocks and
 * CPL layers included): `certifiedLipschitzBound(layer, params, inShape).bound` (bound.ts), kept
 * under this name for existing callers. Pass it as `lipschitz` to `certifiedAccuracy`.
 *
 * @example
 * ```ts
 * import { certifiedLipschitzFactor, liresnetBlock, maxMin, randomKey, serial } from "@sll/sll";
 * const net = serial(liresnetBlock(), maxMin(), liresnetBlock());
 * const { params } = net.init(randomKey(0), [2, 4, 4]);
 * const lip = await certifiedLipschitzFactor(net, params, [2, 4, 4]); // ≥ 1, ≈ 1
 * ```
 */
export async function certifiedLipschitzFactor(
  layer: AnyLayer,
  params: unknown,
  inShape: readonly number[],
): Promise<number> {
  return (await certifiedLipschitzBound(layer, params, inShape)).bound;
}

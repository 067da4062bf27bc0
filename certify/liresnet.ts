/**
 * The certified Lipschitz constant of a LiResNet block (layers/liresnet.ts): its power-iteration
 * σ approaches ‖A‖₂ from below, so the block's true constant ‖A‖₂/σ can exceed 1; this bounds it
 * from above with the Gram-iteration bound of ‖A‖₂ (gram.ts) and the σ the block divides by, and
 * `certifiedLipschitzFactor` multiplies these over a whole network for its certificate.
 * @module
 */
import type { LiresnetLayer, LiresnetParams } from "../layers/liresnet.ts";
import { type AnyLayer, layerShapes } from "../layers/layer.ts";
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
      ? await convSpectralBound(a, [inShape[1], inShape[2]])
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
 * The product of the certified constants of every LiResNet block in `layer` (walking nested
 * `serial`s, shapes propagated from `inShape`); 1 when it has none. The other layers are taken
 * as 1-Lipschitz, as their constructions prove. Pass it as `lipschitz` to `certifiedAccuracy`
 * (MarginOptions) so a block whose power iteration fell short cannot inflate a certificate.
 *
 * @example
 * ```ts
 * import { liresnetBlock, maxMin, randomKey, serial } from "@sll/sll";
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
  const l = layer as AnyLayer & Partial<LiresnetLayer> & { layers?: readonly AnyLayer[] };
  if (typeof l.operator === "function") {
    return await liresnetLipschitz(l as LiresnetLayer, params as LiresnetParams, inShape);
  }
  if (Array.isArray(l.layers) && Array.isArray(params)) {
    let factor = 1, shape = [...inShape];
    for (let i = 0; i < l.layers.length; i++) {
      factor *= await certifiedLipschitzFactor(l.layers[i], params[i], shape);
      shape = layerShapes(l.layers[i], shape).outShape;
    }
    return factor;
  }
  return 1;
}

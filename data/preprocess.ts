/**
 * Per-channel mean shift (std 1) and the reference per-dataset channel means.
 * The reference networks normalise with these means and unit std, so the input map stays
 * 1-Lipschitz; `meanShift` never scales.
 * @module
 */

/**
 * Reference channel means (std 1) per dataset, as used by the SLL reference code.
 * Tiny-ImageNet has no entry: the reference publishes none, compute it from the data.
 *
 * @example
 * ```ts
 * import { DATASET_MEANS } from "@sll/sll/data";
 * DATASET_MEANS.cifar10; // [0.4913, 0.4821, 0.4465]
 * ```
 */
export const DATASET_MEANS: {
  readonly "fashion-mnist": readonly number[];
  readonly mnist: readonly number[];
  readonly cifar10: readonly number[];
  readonly cifar100: readonly number[];
} = Object.freeze({
  "fashion-mnist": Object.freeze([0.2860]),
  mnist: Object.freeze([0.1307]),
  cifar10: Object.freeze([0.4913, 0.4821, 0.4465]),
  cifar100: Object.freeze([0.5071, 0.4865, 0.4409]),
});

/**
 * Returns a new array with `mean[c]` subtracted from every value of channel `c`, for NCHW data.
 * `shape` is the per-example [C, H, W]; it may be omitted when there is a single channel.
 *
 * @example
 * ```ts
 * import { meanShift } from "@sll/sll/data";
 * meanShift(new Float32Array([0.5, 1]), [0.25]); // Float32Array [0.25, 0.75]
 * meanShift(new Float32Array([1, 1, 1, 1]), [0.5, 0.25], [2, 1, 2]); // [0.5, 0.5, 0.75, 0.75]
 * ```
 */
export function meanShift(
  images: Float32Array,
  mean: readonly number[],
  shape?: readonly [number, number, number],
): Float32Array {
  if (mean.length === 0) throw new RangeError("meanShift: mean must have at least one entry");
  const out = new Float32Array(images.length);
  if (mean.length === 1) {
    const m = mean[0];
    for (let i = 0; i < images.length; i++) out[i] = images[i] - m;
    return out;
  }
  if (shape === undefined) {
    throw new TypeError(
      `meanShift: ${mean.length} channel means given but no per-example shape [C, H, W]; ` +
        `pass ds.shape as the third argument`,
    );
  }
  const [c, h, w] = shape;
  if (c !== mean.length) {
    throw new RangeError(
      `meanShift: shape [${shape.join(", ")}] has ${c} channels but ${mean.length} means given`,
    );
  }
  const plane = h * w;
  if (images.length % (c * plane) !== 0) {
    throw new RangeError(
      `meanShift: ${images.length} values is not a multiple of C·H·W = ${c * plane}`,
    );
  }
  for (let base = 0; base < images.length; base += c * plane) {
    for (let ch = 0; ch < c; ch++) {
      const m = mean[ch];
      const o = base + ch * plane;
      for (let i = o; i < o + plane; i++) out[i] = images[i] - m;
    }
  }
  return out;
}

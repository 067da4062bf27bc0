/**
 * Data augmentation on one NCHW batch in host memory, driven by an explicit PRNG key: random
 * crop with padding, horizontal flip, colour jitter (torchvision ColorJitter semantics), and the
 * reference CIFAR recipe composing them. Pure: inputs are never modified; same key, same output.
 * Every function keeps values in [0, 1] when its input is in [0, 1].
 * @module
 */

import { type KeyData, splitKey, uniformHost } from "../tensor/prng.ts";

/** Batch shape [B, C, H, W]. */
export type BatchShape = readonly [number, number, number, number];

/**
 * An augmentation of a batch: returns a new array of the same length (and shape) as `x`.
 * The same key must give the same result.
 */
export type Augment = (x: Float32Array, shape: BatchShape, key: KeyData) => Float32Array;

function checkBatch(x: Float32Array, shape: BatchShape, fn: string): void {
  const [b, c, h, w] = shape;
  if (x.length !== b * c * h * w) {
    throw new RangeError(
      `${fn}: x has ${x.length} values but shape [${shape.join(", ")}] needs ${b * c * h * w}`,
    );
  }
}

/** Reflect index `i` into [0, n) without repeating the edge (numpy/torch "reflect"). */
function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let j = ((i % period) + period) % period;
  if (j >= n) j = period - j;
  return j;
}

/** Options of `randomCrop`. */
export interface CropOptions {
  /** Output height and width (default: the input's H and W, i.e. same-size crops). */
  size?: number;
  /** Padding added on every side before cropping (default 4). */
  padding?: number;
  /** How the padding is filled: "reflect" (default, the reference recipe) or "zeros". */
  padMode?: "reflect" | "zeros";
}

/**
 * Random crop: pads each image by `padding` on every side, then cuts a `size`×`size` window at a
 * uniformly random offset (as torchvision `RandomCrop(size, padding, padding_mode)`). Returns a
 * [B, C, size, size] batch ([B, C, H, W] when `size` is omitted).
 *
 * @example
 * ```ts
 * import { keyFromSeed, randomCrop } from "@sll/sll/data";
 * const x = new Float32Array(2 * 3 * 32 * 32).fill(0.5);
 * randomCrop(x, [2, 3, 32, 32], keyFromSeed(0), { padding: 4 }).length; // 6144
 * ```
 */
export function randomCrop(
  x: Float32Array,
  shape: BatchShape,
  key: KeyData,
  opts: CropOptions = {},
): Float32Array {
  checkBatch(x, shape, "randomCrop");
  const [b, c, h, w] = shape;
  const sh = opts.size ?? h;
  const sw = opts.size ?? w;
  const pad = opts.padding ?? 4;
  const zeros = (opts.padMode ?? "reflect") === "zeros";
  if (!zeros && (pad >= h || pad >= w)) {
    throw new RangeError(
      `randomCrop: reflect padding ${pad} must be smaller than the image size ${h}×${w}`,
    );
  }
  if (sh > h + 2 * pad || sw > w + 2 * pad) {
    throw new RangeError(
      `randomCrop: crop size ${sh}×${sw} exceeds the padded image ${h + 2 * pad}×${w + 2 * pad}`,
    );
  }
  const u = uniformHost(key, 2 * b);
  const out = new Float32Array(b * c * sh * sw);
  for (let n = 0; n < b; n++) {
    const top = Math.floor(u[2 * n] * (h + 2 * pad - sh + 1)) - pad;
    const left = Math.floor(u[2 * n + 1] * (w + 2 * pad - sw + 1)) - pad;
    for (let ch = 0; ch < c; ch++) {
      const src = (n * c + ch) * h * w;
      const dst = (n * c + ch) * sh * sw;
      for (let i = 0; i < sh; i++) {
        const yi = top + i;
        if (zeros && (yi < 0 || yi >= h)) continue;
        const row = src + reflect(yi, h) * w;
        for (let j = 0; j < sw; j++) {
          const xj = left + j;
          if (zeros && (xj < 0 || xj >= w)) continue;
          out[dst + i * sw + j] = x[row + reflect(xj, w)];
        }
      }
    }
  }
  return out;
}

/**
 * Flips each image left–right with probability `p` (default 0.5). The same key flips the same
 * images, so applying it twice with one key is the identity.
 *
 * @example
 * ```ts
 * import { keyFromSeed, randomHorizontalFlip } from "@sll/sll/data";
 * randomHorizontalFlip(new Float32Array([1, 2]), [1, 1, 1, 2], keyFromSeed(0), 1); // [2, 1]
 * ```
 */
export function randomHorizontalFlip(
  x: Float32Array,
  shape: BatchShape,
  key: KeyData,
  p = 0.5,
): Float32Array {
  checkBatch(x, shape, "randomHorizontalFlip");
  const [b, c, h, w] = shape;
  const u = uniformHost(key, b);
  const out = x.slice();
  for (let n = 0; n < b; n++) {
    if (!(u[n] < p)) continue;
    for (let r = (n * c) * h; r < (n + 1) * c * h; r++) {
      const o = r * w;
      for (let j = 0; j < w; j++) out[o + j] = x[o + w - 1 - j];
    }
  }
  return out;
}

/** A jitter strength: a number s means the range [max(0, 1 − s), 1 + s] (hue: [−s, s]). */
export type JitterRange = number | readonly [number, number];

/** Options of `colorJitter`, as torchvision `ColorJitter(brightness, contrast, saturation, hue)`. */
export interface JitterOptions {
  /** Brightness factor range (default 0: off). */
  brightness?: JitterRange;
  /** Contrast factor range (default 0: off). */
  contrast?: JitterRange;
  /** Saturation factor range (default 0: off). */
  saturation?: JitterRange;
  /** Hue shift range in turns, within [−0.5, 0.5] (default 0: off). */
  hue?: JitterRange;
  /** Apply the four adjustments in a random order per image, as torchvision (default true). */
  randomOrder?: boolean;
}

function factorRange(r: JitterRange | undefined, what: string, isHue: boolean): [number, number] {
  if (r === undefined) return isHue ? [0, 0] : [1, 1];
  if (typeof r === "number") {
    if (r < 0 || (isHue && r > 0.5)) {
      throw new RangeError(
        `colorJitter: ${what} is ${r}, expected a value in [0, ${isHue ? "0.5" : "∞"})`,
      );
    }
    return isHue ? [-r, r] : [Math.max(0, 1 - r), 1 + r];
  }
  const [lo, hi] = r;
  if (!(lo <= hi) || (isHue ? lo < -0.5 || hi > 0.5 : lo < 0)) {
    throw new RangeError(
      `colorJitter: ${what} range is [${lo}, ${hi}], expected lo <= hi within ` +
        (isHue ? "[-0.5, 0.5]" : "[0, ∞)"),
    );
  }
  return [lo, hi];
}

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

/** y = clamp(f·x + (1 − f)·other) over one image; `other` per pixel (plane-sized) or scalar. */
function blend(
  img: Float32Array,
  c: number,
  plane: number,
  f: number,
  other: Float64Array | number,
): void {
  for (let ch = 0; ch < c; ch++) {
    for (let p = 0; p < plane; p++) {
      const o = typeof other === "number" ? other : other[p];
      img[ch * plane + p] = clamp01(f * img[ch * plane + p] + (1 - f) * o);
    }
  }
}

/** ITU-R 601-2 luma, as torchvision rgb_to_grayscale. */
function grayscale(img: Float32Array, plane: number): Float64Array {
  const g = new Float64Array(plane);
  for (let p = 0; p < plane; p++) {
    g[p] = 0.299 * img[p] + 0.587 * img[plane + p] + 0.114 * img[2 * plane + p];
  }
  return g;
}

/** Rotates the hue of every pixel by `shift` turns (RGB → HSV → RGB as torchvision). */
function shiftHue(img: Float32Array, plane: number, shift: number): void {
  for (let p = 0; p < plane; p++) {
    const r = img[p], g = img[plane + p], b = img[2 * plane + p];
    const maxc = Math.max(r, g, b), minc = Math.min(r, g, b);
    const cr = maxc - minc;
    const s = cr === 0 ? 0 : cr / maxc;
    let hh = 0;
    if (cr !== 0) {
      const rc = (maxc - r) / cr, gc = (maxc - g) / cr, bc = (maxc - b) / cr;
      if (maxc === r) hh = bc - gc;
      else if (maxc === g) hh = 2 + rc - bc;
      else hh = 4 + gc - rc;
    }
    let hue = (hh / 6 + 1) % 1;
    hue = (((hue + shift) % 1) + 1) % 1;
    const v = maxc;
    const i6 = Math.floor(hue * 6);
    const f = hue * 6 - i6;
    const pp = clamp01(v * (1 - s)),
      q = clamp01(v * (1 - s * f)),
      t = clamp01(v * (1 - s * (1 - f)));
    let ro: number, go: number, bo: number;
    switch (i6 % 6) {
      case 0:
        ro = v, go = t, bo = pp;
        break;
      case 1:
        ro = q, go = v, bo = pp;
        break;
      case 2:
        ro = pp, go = v, bo = t;
        break;
      case 3:
        ro = pp, go = q, bo = v;
        break;
      case 4:
        ro = t, go = pp, bo = v;
        break;
      default:
        ro = v, go = pp, bo = q;
    }
    img[p] = clamp01(ro);
    img[plane + p] = clamp01(go);
    img[2 * plane + p] = clamp01(bo);
  }
}

/**
 * Colour jitter with torchvision `ColorJitter` semantics, per image: brightness y = f·x;
 * contrast y = f·x + (1 − f)·mean(gray(x)); saturation y = f·x + (1 − f)·gray(x); hue: rotate H
 * in HSV by f turns; each result clamped to [0, 1]. Factors are uniform in their ranges; a range
 * that is exactly [1, 1] (hue [0, 0]) is skipped, so zero strength is the identity. Saturation
 * and hue are skipped for one-channel images. With `randomOrder` the four steps run in a random
 * order per image.
 *
 * @example
 * ```ts
 * import { colorJitter, keyFromSeed } from "@sll/sll/data";
 * const x = new Float32Array(3 * 4 * 4).fill(0.5);
 * colorJitter(x, [1, 3, 4, 4], keyFromSeed(1), { brightness: 0.1, hue: 0.02 });
 * ```
 */
export function colorJitter(
  x: Float32Array,
  shape: BatchShape,
  key: KeyData,
  opts: JitterOptions = {},
): Float32Array {
  checkBatch(x, shape, "colorJitter");
  const [b, c, h, w] = shape;
  const plane = h * w;
  const ranges = [
    factorRange(opts.brightness, "brightness", false),
    factorRange(opts.contrast, "contrast", false),
    factorRange(opts.saturation, "saturation", false),
    factorRange(opts.hue, "hue", true),
  ];
  const active = ranges.map(([lo, hi], k) => !(lo === hi && hi === (k === 3 ? 0 : 1)));
  const randomOrder = opts.randomOrder ?? true;
  const u = uniformHost(key, 8 * b);
  const out = x.slice();
  for (let n = 0; n < b; n++) {
    const img = out.subarray(n * c * plane, (n + 1) * c * plane);
    const order = [0, 1, 2, 3];
    if (randomOrder) order.sort((i, j) => u[8 * n + 4 + i] - u[8 * n + 4 + j]);
    for (const k of order) {
      if (!active[k]) continue;
      const [lo, hi] = ranges[k];
      const f = lo + (hi - lo) * u[8 * n + k];
      if (k === 0) blend(img, c, plane, f, 0);
      else if (k === 1) {
        const g = c === 3 ? grayscale(img, plane) : img;
        let mean = 0;
        for (let p = 0; p < (c === 3 ? plane : img.length); p++) mean += g[p];
        blend(img, c, plane, f, mean / (c === 3 ? plane : img.length));
      } else if (c === 3 && k === 2) blend(img, c, plane, f, grayscale(img, plane));
      else if (c === 3 && k === 3) shiftHue(img, plane, f);
    }
  }
  return out;
}

/** Options of the reference CIFAR augmentation; see `cifarAugment`. */
export interface CifarAugmentOptions {
  /** Reflect padding of the random crop (default 4; 0 disables the crop). */
  padding?: number;
  /** Flip probability (default 0.5). */
  flip?: number;
  /** Colour jitter (default: the reference's); `false` disables it. */
  jitter?: JitterOptions | false;
}

/**
 * The reference jitter strengths: brightness 0.1, contrast (0.5, 2), saturation (0.3, 2),
 * hue 0.02, random order.
 *
 * @example
 * ```ts
 * import { REFERENCE_JITTER } from "@sll/sll/data";
 * REFERENCE_JITTER.contrast; // [0.5, 2]
 * ```
 */
export const REFERENCE_JITTER: Readonly<JitterOptions> = Object.freeze({
  brightness: 0.1,
  contrast: [0.5, 2] as const,
  saturation: [0.3, 2] as const,
  hue: 0.02,
  randomOrder: true,
});

/**
 * The reference CIFAR training augmentation as one `Augment`: for each image, in this order,
 * (1) random crop back to H×W after reflect padding 4, (2) horizontal flip with p 0.5,
 * (3) colour jitter with `REFERENCE_JITTER` (torchvision semantics, random order, clamped).
 * The key is split in three, one per step.
 *
 * @example
 * ```ts
 * import { cifarAugment, keyFromSeed } from "@sll/sll/data";
 * const aug = cifarAugment();
 * const y = aug(new Float32Array(3 * 32 * 32).fill(0.5), [1, 3, 32, 32], keyFromSeed(7));
 * ```
 */
export function cifarAugment(opts: CifarAugmentOptions = {}): Augment {
  const padding = opts.padding ?? 4;
  const flip = opts.flip ?? 0.5;
  const jitter = opts.jitter === undefined ? REFERENCE_JITTER : opts.jitter;
  return (x, shape, key) => {
    const [kCrop, kFlip, kJitter] = splitKey(key, 3);
    let y = padding > 0 ? randomCrop(x, shape, kCrop, { padding }) : x;
    if (flip > 0) y = randomHorizontalFlip(y, shape, kFlip, flip);
    if (jitter) y = colorJitter(y, shape, kJitter, jitter);
    return y === x ? x.slice() : y;
  };
}

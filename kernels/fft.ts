/**
 * Geometry and scaling shared by the fft family's rules and both backends' kernels: a real
 * [..., H, W] seen as [batch, H, W] with its ⌊W/2⌋+1 kept bins, and each norm's factors.
 * @module
 */
import type { FftNorm } from "./prims.ts";
import { sizeOf } from "./shape.ts";

/** A batched 2-D real transform: `batch` planes of h × w, `wh` = ⌊w/2⌋+1 kept bins. */
export interface FftGeom {
  batch: number;
  h: number;
  w: number;
  wh: number;
}

/**
 * The geometry of a real tensor of `shape` [..., H, W].
 *
 * @example
 * ```ts
 * import { fftGeom } from "./fft.ts";
 * fftGeom([3, 4, 6]); // { batch: 3, h: 4, w: 6, wh: 4 }
 * ```
 */
export function fftGeom(shape: readonly number[]): FftGeom {
  const r = shape.length, h = shape[r - 2], w = shape[r - 1];
  return { batch: sizeOf(shape.slice(0, r - 2)), h, w, wh: Math.floor(w / 2) + 1 };
}

/**
 * [forward, inverse] factors of a norm on an H·W transform, relative to the unnormalised sums.
 *
 * @example
 * ```ts
 * import { fftScales } from "./fft.ts";
 * fftScales("backward", 4); // [1, 0.25]
 * ```
 */
export function fftScales(norm: FftNorm, hw: number): [number, number] {
  return norm === "backward"
    ? [1, 1 / hw]
    : norm === "ortho"
    ? [1 / Math.sqrt(hw), 1 / Math.sqrt(hw)]
    : [1 / hw, 1];
}

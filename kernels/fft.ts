/**
 * Geometry and scaling shared by the fft family's rules and both backends' kernels: a real
 * [..., H, W] seen as [batch, H, W] with its ⌊W/2⌋+1 kept bins, each norm's factors, and the
 * factorisation both backends' mixed-radix FFTs plan from.
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

/**
 * Factors of n: 4s first (fewer passes), then 2, 3, 5 and the remaining primes ascending.
 *
 * @example
 * ```ts
 * import { factorize } from "./fft.ts";
 * factorize(96); // [4, 4, 2, 3]
 * ```
 */
export function factorize(n: number): number[] {
  const f: number[] = [];
  while (n % 4 === 0) (f.push(4), n /= 4);
  for (let p = 2; p * p <= n; p += p === 2 ? 1 : 2) {
    while (n % p === 0) (f.push(p), n /= p);
  }
  if (n > 1) f.push(n);
  return f;
}

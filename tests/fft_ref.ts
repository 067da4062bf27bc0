/**
 * Host references of the fft family for the shared case table and the fft suites: the direct
 * O(n²) 2-D DFT in float64 (angles reduced mod N so they stay exact), rfft2 and irfft2 with
 * numpy's conventions, and the draw of an fft case (sizes 1 … 33, batch axes, every norm).
 * @module
 */
import fc from "fast-check";
import type { FftNorm } from "../kernels/prims.ts";

/** The sizes every fft row draws from: powers of 2, 3, 5, 7, mixed and 33 = 3·11. */
export const FFT_SIZES: readonly number[] = [1, 2, 3, 5, 7, 8, 12, 28, 32, 33];

/** [forward, inverse] factors of a norm on an hw-point transform. */
function scales(norm: FftNorm, hw: number): [number, number] {
  if (norm === "ortho") return [1 / Math.sqrt(hw), 1 / Math.sqrt(hw)];
  return norm === "backward" ? [1, 1 / hw] : [1 / hw, 1];
}

/** exp(s·2πi·(k1·n1/h + k2·n2/w)) as [cos, sin], the phase reduced exactly first. */
function phase(s: number, k1: number, n1: number, h: number, k2: number, n2: number, w: number) {
  const a = s * 2 * Math.PI * (((k1 * n1) % h) / h + ((k2 * n2) % w) / w);
  return [Math.cos(a), Math.sin(a)];
}

/** rfft2 of x [batch, h, w] by the direct sum: [batch, h, ⌊w/2⌋+1, 2]. */
export function rfft2Ref(x: number[], h: number, w: number, norm: FftNorm): number[] {
  const wh = Math.floor(w / 2) + 1, batch = x.length / (h * w), sf = scales(norm, h * w)[0];
  const out: number[] = [];
  for (let b = 0; b < batch; b++) {
    for (let k1 = 0; k1 < h; k1++) {
      for (let k2 = 0; k2 < wh; k2++) {
        let re = 0, im = 0;
        for (let n1 = 0; n1 < h; n1++) {
          for (let n2 = 0; n2 < w; n2++) {
            const [c, s] = phase(-1, k1, n1, h, k2, n2, w), v = x[(b * h + n1) * w + n2];
            re += v * c;
            im += v * s;
          }
        }
        out.push(re * sf, im * sf);
      }
    }
  }
  return out;
}

/**
 * irfft2 of z [batch, h, ⌊w/2⌋+1, 2] by the direct sum x = s_i·Re Σ c_k2·Z·exp(+iθ), c = 1 on
 * the DC and Nyquist columns and 2 elsewhere (numpy's result for any z).
 */
export function irfft2Ref(z: number[], h: number, w: number, norm: FftNorm): number[] {
  const wh = Math.floor(w / 2) + 1, batch = z.length / (h * wh * 2), si = scales(norm, h * w)[1];
  const out: number[] = [];
  for (let b = 0; b < batch; b++) {
    for (let n1 = 0; n1 < h; n1++) {
      for (let n2 = 0; n2 < w; n2++) {
        let acc = 0;
        for (let k1 = 0; k1 < h; k1++) {
          for (let k2 = 0; k2 < wh; k2++) {
            const [c, s] = phase(1, k1, n1, h, k2, n2, w), j = ((b * h + k1) * wh + k2) * 2;
            const weight = k2 === 0 || 2 * k2 === w ? 1 : 2;
            acc += weight * (z[j] * c - z[j + 1] * s);
          }
        }
        out.push(acc * si);
      }
    }
  }
  return out;
}

/** A drawn fft case: batch axes, plane size and norm. */
export interface FftDraw {
  batch: number[];
  h: number;
  w: number;
  norm: FftNorm;
  seed: number;
}

/** Draws batch axes (0–2 axes of 1–2), H and W from FFT_SIZES, a norm and a seed. */
export function fftDraw(): fc.Arbitrary<FftDraw> {
  return fc.record({
    batch: fc.array(fc.integer({ min: 1, max: 2 }), { maxLength: 2 }),
    h: fc.constantFrom(...FFT_SIZES),
    w: fc.constantFrom(...FFT_SIZES),
    norm: fc.constantFrom<FftNorm>("backward", "ortho", "forward"),
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  });
}

/**
 * The fft family: rfft2 (real [..., H, W] → half spectrum [..., H, ⌊W/2⌋+1, 2], complex values
 * as a trailing (re, im) axis) and its inverse irfft2 — shape rules, vjps (each is the other's,
 * with the doubled bins weighted) and the public wrappers. Any H, W ≥ 1, batched over the
 * leading axes; norms as numpy ("backward", "ortho", "forward").
 * @module
 */
import type { FftNorm, FftParams } from "../../kernels/prims.ts";
import { fftScales } from "../../kernels/fft.ts";
import { fmt } from "../../kernels/shape.ts";
import { binder, type RuleTable } from "../engine.ts";
import type { Tensor } from "../tensor.ts";
import { checkTensor, floatOnly } from "./checks.ts";
import { mul } from "./elementwise.ts";
import { concat, slice } from "./layout.ts";

/**
 * z times `all`, and the bins of axis −2 that stand for two bins of the full spectrum (all but
 * DC and, for even W, Nyquist) times `f` more.
 */
function weightDoubled(z: Tensor, w: number, f: number, all: number): Tensor {
  const wh = Math.floor(w / 2) + 1, end = w % 2 === 0 ? wh - 1 : wh;
  if (end <= 1) return all === 1 ? z : mul(z, all);
  const r = z.rank,
    begin = z.shape.map(() => 0),
    part = (from: number, to: number): Tensor => {
      const b = [...begin], s = [...z.shape];
      b[r - 2] = from;
      s[r - 2] = to - from;
      return slice(z, b, s);
    };
  const times = (t: Tensor, k: number): Tensor => (k === 1 ? t : mul(t, k));
  const parts = [times(part(0, 1), all), times(part(1, end), f * all)];
  if (end < wh) parts.push(times(part(end, wh), all));
  return concat(parts, r - 2);
}

/** The fft rules. */
export const FFT_RULES: RuleTable<keyof FftParams> = {
  rfft2: {
    shape: ([x]) => {
      floatOnly("rfft2", x);
      if (x.shape.length < 2 || x.shape.slice(-2).some((d) => d < 1)) {
        throw new TypeError(
          `rfft2: needs a real input [..., H, W] with H, W ≥ 1, got ${
            fmt(x.shape)
          }; reshape a vector to [1, n]`,
        );
      }
      const r = x.shape.length;
      return {
        shape: [...x.shape.slice(0, r - 1), Math.floor(x.shape[r - 1] / 2) + 1, 2],
        dtype: x.dtype,
      };
    },
    // Z = s_f·Σ x·e^{−iθ} over the half spectrum, so gx = s_f·Re Σ_half G·e^{+iθ}, while
    // irfft2(Y) = s_i·Re Σ_half c·Y·e^{+iθ} with c = 2 on the doubled bins: gx = (s_f/s_i)·
    // irfft2(G/c). Written with ops, so it is differentiable again.
    vjp: (g, [x], _y, p) => {
      const [h, w] = x.shape.slice(-2), [sf, si] = fftScales(p.norm, h * w);
      return [irfft2(weightDoubled(g, w, 0.5, sf / si), [h, w], { norm: p.norm })];
    },
  },
  irfft2: {
    shape: ([z], p) => {
      floatOnly("irfft2", z);
      const [h, w] = p.size, r = z.shape.length;
      if (!(Number.isInteger(h) && Number.isInteger(w) && h >= 1 && w >= 1)) {
        throw new RangeError(`irfft2: size must be two integers ≥ 1, got [${p.size}]`);
      }
      const wh = Math.floor(w / 2) + 1;
      if (r < 3 || z.shape[r - 1] !== 2 || z.shape[r - 2] !== wh || z.shape[r - 3] !== h) {
        throw new TypeError(
          `irfft2: size [${h}, ${w}] needs a half spectrum [..., ${h}, ${wh}, 2] (⌊W/2⌋+1 = ${wh} bins, (re, im) last), got ${
            fmt(z.shape)
          }`,
        );
      }
      return { shape: [...z.shape.slice(0, r - 3), h, w], dtype: z.dtype };
    },
    // x = s_i·Re Σ_half c·Z·e^{+iθ}: gZ = s_i·c·Σ g·e^{−iθ} = (s_i/s_f)·c·rfft2(g)
    vjp: (g, _z, _y, p) => {
      const [h, w] = p.size, [sf, si] = fftScales(p.norm, h * w);
      return [weightDoubled(rfft2(g, { norm: p.norm }), w, 2, si / sf)];
    },
  },
};

const bind = binder(FFT_RULES);

/** Options of rfft2 and irfft2. */
export interface FftOptions {
  /**
   * "backward" (default: forward unscaled, inverse 1/(HW), as numpy and torch), "ortho"
   * (1/√(HW) both ways, so rfft2 and irfft2 preserve norms on Hermitian spectra) or "forward".
   */
  norm?: FftNorm;
}

function normOf(op: string, o: FftOptions | undefined): FftNorm {
  const n = o?.norm ?? "backward";
  if (n !== "backward" && n !== "ortho" && n !== "forward") {
    throw new RangeError(`${op}: norm must be "backward", "ortho" or "forward", got ${String(n)}`);
  }
  return n;
}

/**
 * The 2-D discrete Fourier transform of a real x [..., H, W] over its last two axes, batched
 * over the others: Z[k1, k2] = Σ x[n1, n2]·exp(−2πi(k1·n1/H + k2·n2/W)) for k2 ≤ ⌊W/2⌋ (the
 * other half is the conjugate mirror), as [..., H, ⌊W/2⌋+1, 2] with (re, im) last — numpy's
 * `rfft2`. Any sizes: on the CPU mixed radix with Bluestein for large prime factors,
 * O(HW·log HW); on WebGPU one dispatch per axis (Stockham for lines of 65–512 points, direct
 * sums otherwise, lines up to 16,384 points).
 *
 * @example
 * ```ts
 * import { rfft2, tensor } from "@sll/sll";
 * const z = rfft2(tensor([[1, 2, 3], [4, 5, 6]])); // [2, 2, 2]
 * console.log(Array.from(await z.data()).slice(0, 2)); // the DC term: [21, 0]
 * ```
 */
export function rfft2(x: Tensor, options?: FftOptions): Tensor {
  return bind("rfft2", [checkTensor(x, "rfft2")], { norm: normOf("rfft2", options) });
}

/**
 * The inverse of rfft2: a half spectrum z [..., H, ⌊W/2⌋+1, 2] back to a real [..., H, W] with
 * `size` = [H, W] (W cannot be read from the bins: W = 2k − 2 and 2k − 1 both give k bins) —
 * numpy's `irfft2`. The imaginary parts of the DC and Nyquist columns do not enter.
 *
 * @example
 * ```ts
 * import { irfft2, rfft2, tensor } from "@sll/sll";
 * const x = tensor([[1, 2, 3], [4, 5, 6]]);
 * const back = irfft2(rfft2(x), [2, 3]); // x again, to float32 rounding
 * ```
 */
export function irfft2(z: Tensor, size: readonly [number, number], options?: FftOptions): Tensor {
  checkTensor(z, "irfft2");
  if (!Array.isArray(size) || size.length !== 2) {
    throw new TypeError(`irfft2: size must be [H, W], got ${JSON.stringify(size)}`);
  }
  return bind("irfft2", [z], { size: [size[0], size[1]], norm: normOf("irfft2", options) });
}

/**
 * The fft family on WebGPU: rfft2 as a real-row pass then a complex pass along H, irfft2 as the
 * inverse complex pass along H then a real-row pass — one dispatch per axis pass, float32.
 * @module
 */
import { type FftGeom, fftGeom, fftScales } from "../fft.ts";
import { sizeOf } from "../shape.ts";
import { checkGrid, floatOnly, type GpuKernel, label } from "./context.ts";
import { type FftPass, fftPassKernel } from "./fft.wgsl.ts";
import { BYTES } from "./storage.ts";
import { LOOP_BUDGET } from "./wgsl.ts";

/** Throws a RangeError when a line is longer than one invocation's loop budget. */
function checkLines(prim: string, d: FftGeom): void {
  if (d.h > LOOP_BUDGET || d.w > LOOP_BUDGET) {
    throw new RangeError(
      `${prim}: planes of ${d.h}×${d.w} exceed the webgpu kernel's ${LOOP_BUDGET} terms per line (Mesa stops shader loops past 65,535 iterations); use the cpu backend for larger transforms`,
    );
  }
}

/** rfft2: real rows → half spectra, then the complex pass along H with the forward scale. */
export const rfft2Kernel: GpuKernel<"rfft2"> = (ctx, [x], p, out) => {
  floatOnly("rfft2", x);
  const d = fftGeom(x.shape), lbl = label("rfft2", [x]);
  checkLines("rfft2", d);
  const bytes = sizeOf(out.shape) * BYTES;
  const t = ctx.alloc(bytes), o = ctx.alloc(bytes);
  const pass = (kind: FftPass, sign: number, scale: number, src: typeof t, dst: typeof t) => {
    const k = fftPassKernel(kind, d, sign, scale);
    checkGrid(lbl, k);
    ctx.dispatch(`${lbl} (${kind})`, k, [src], dst);
  };
  pass("realRows", -1, 1, x.storage, t);
  pass("cols", -1, fftScales(p.norm, d.h * d.w)[0], t, o);
  ctx.release(t);
  return o;
};

/** irfft2: the inverse complex pass along H, then half spectra → real rows with the scale. */
export const irfft2Kernel: GpuKernel<"irfft2"> = (ctx, [z], p, out) => {
  floatOnly("irfft2", z);
  const d = fftGeom(out.shape), lbl = label("irfft2", [z]);
  checkLines("irfft2", d);
  const t = ctx.alloc(sizeOf(z.shape) * BYTES), o = ctx.alloc(sizeOf(out.shape) * BYTES);
  const k1 = fftPassKernel("cols", d, 1, 1);
  const k2 = fftPassKernel("realRowsInverse", d, 1, fftScales(p.norm, d.h * d.w)[1]);
  checkGrid(lbl, k1);
  checkGrid(lbl, k2);
  ctx.dispatch(`${lbl} (cols)`, k1, [z.storage], t);
  ctx.dispatch(`${lbl} (rows)`, k2, [t], o);
  ctx.release(t);
  return o;
};

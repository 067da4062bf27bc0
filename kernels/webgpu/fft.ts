/**
 * The fft family on WebGPU (float32): rfft2 as a real-row pass then a complex pass along H,
 * irfft2 as the inverse complex pass along H then a real-row pass — one dispatch per axis pass.
 * Lines of 65 … STOCKHAM_MAX points run the workgroup-memory Stockham FFT (O(n log n)); shorter
 * lines (faster so: see DIRECT_MAX) and longer ones (up to LOOP_BUDGET) a direct sum per output.
 * @module
 */
import { type FftGeom, fftGeom, fftScales } from "../fft.ts";
import { sizeOf } from "../shape.ts";
import { checkGrid, floatOnly, type GpuKernel, label } from "./context.ts";
import { type FftPass, fftPassKernel } from "./fft.wgsl.ts";
import { STOCKHAM_MAX, stockhamKernel } from "./fft_stockham.wgsl.ts";
import { BYTES, type GpuStorage } from "./storage.ts";
import { type KernelSource, LOOP_BUDGET } from "./wgsl.ts";

/** Throws a RangeError when a line is longer than one invocation's loop budget. */
function checkLines(prim: string, d: FftGeom): void {
  if (d.h > LOOP_BUDGET || d.w > LOOP_BUDGET) {
    throw new RangeError(
      `${prim}: planes of ${d.h}×${d.w} exceed the webgpu kernel's ${LOOP_BUDGET} points per line (Mesa stops shader loops past 65,535 iterations); use the cpu backend for larger transforms`,
    );
  }
}

/**
 * Lines this short take the direct sums (n terms per output, no barriers, no workgroup memory):
 * measured on llvmpipe at load ~14, 2^19 points per round trip, direct vs Stockham: n = 16
 * 1.3 vs 3.3 s, 32: 2.7 vs 5.0 s, 64: 4.1 vs 4.5 s, 128: 8.4 vs 5.5 s, 256: 15.3 vs 5.6 s.
 */
const DIRECT_MAX = 64;

/** The kernel of one axis pass: Stockham for 64 < n ≤ 512, the direct sums otherwise. */
function passKernel(pass: FftPass, d: FftGeom, sign: number, scale: number): KernelSource {
  const n = pass === "cols" ? d.h : d.w;
  if (n <= DIRECT_MAX || n > STOCKHAM_MAX) return fftPassKernel(pass, d, sign, scale);
  const lines = pass === "cols" ? d.batch * d.wh : d.batch * d.h;
  return stockhamKernel(pass, n, lines, d.wh, sign, scale);
}

/** Encodes one pass from `src` into `dst`. */
function run(
  ctx: Parameters<GpuKernel<"rfft2">>[0],
  lbl: string,
  k: KernelSource,
  src: GpuStorage,
  dst: GpuStorage,
): void {
  checkGrid(lbl, k);
  ctx.dispatch(lbl, k, [src], dst);
}

/** rfft2: real rows → half spectra, then the complex pass along H with the forward scale. */
export const rfft2Kernel: GpuKernel<"rfft2"> = (ctx, [x], p, out) => {
  floatOnly("rfft2", x);
  const d = fftGeom(x.shape), lbl = label("rfft2", [x]);
  checkLines("rfft2", d);
  const bytes = sizeOf(out.shape) * BYTES;
  const t = ctx.alloc(bytes), o = ctx.alloc(bytes);
  run(ctx, `${lbl} (rows)`, passKernel("realRows", d, -1, 1), x.storage, t);
  run(ctx, `${lbl} (cols)`, passKernel("cols", d, -1, fftScales(p.norm, d.h * d.w)[0]), t, o);
  ctx.release(t);
  return o;
};

/** irfft2: the inverse complex pass along H, then half spectra → real rows with the scale. */
export const irfft2Kernel: GpuKernel<"irfft2"> = (ctx, [z], p, out) => {
  floatOnly("irfft2", z);
  const d = fftGeom(out.shape), lbl = label("irfft2", [z]);
  checkLines("irfft2", d);
  const t = ctx.alloc(sizeOf(z.shape) * BYTES), o = ctx.alloc(sizeOf(out.shape) * BYTES);
  run(ctx, `${lbl} (cols)`, passKernel("cols", d, 1, 1), z.storage, t);
  const scale = fftScales(p.norm, d.h * d.w)[1];
  run(ctx, `${lbl} (rows)`, passKernel("realRowsInverse", d, 1, scale), t, o);
  ctx.release(t);
  return o;
};

/**
 * Reference CPU kernels for matmul, convolutions and pooling in plain TypeScript, generic over
 * dtype (float64 for gradient checks). The float32 hot paths are routed to the WebAssembly
 * kernels by the backend; these loops stay as the readable reference.
 * @module
 */
import type { DType, TypedArray } from "../dtype.ts";
import { allocArray, allocArrayForKernels, allocUninitForKernels } from "./host_pool.ts";
import { type PoolGeom, sizeOf } from "../shape.ts";
import { broadcastIndex } from "./elementwise.ts";
import { transpose } from "./layout.ts";
import type { ConvGeom } from "../prims.ts";

/** Offsets (in matrices) of each output batch item into a and b, for broadcast batch axes. */
export function batchOffsets(
  aBatch: readonly number[],
  bBatch: readonly number[],
  outBatch: readonly number[],
): { nb: number; ai: (i: number) => number; bi: (i: number) => number } {
  const nb = sizeOf(outBatch);
  const ia = broadcastIndex(aBatch, outBatch);
  const ib = broadcastIndex(bBatch, outBatch);
  const aOne = sizeOf(aBatch) === 1, bOne = sizeOf(bBatch) === 1;
  return {
    nb,
    ai: (i) => (aOne ? 0 : ia === null ? i : ia[i]),
    bi: (i) => (bOne ? 0 : ib === null ? i : ib[i]),
  };
}

/** c[z] = op(a[z]) · op(b[z]) over broadcast batch axes (op = transpose when the flag is set). */
export function matmul(
  a: TypedArray,
  aShape: readonly number[],
  b: TypedArray,
  bShape: readonly number[],
  outShape: readonly number[],
  dtype: DType,
  transA = false,
  transB = false,
): TypedArray {
  if (transB) {
    // the inner loop runs along rows of op(b): make them contiguous first
    const perm = bShape.map((_, i) => i);
    perm.splice(-2, 2, perm.length - 1, perm.length - 2);
    b = transpose(b, bShape, perm, dtype);
    bShape = perm.map((i) => bShape[i]);
    transB = false;
  }
  const r = outShape.length;
  const m = outShape[r - 2], n = outShape[r - 1];
  const k = transA ? aShape[aShape.length - 2] : aShape[aShape.length - 1];
  // element strides of op(a)[i, p] and op(b)[p, j]
  const aI = transA ? 1 : k, aP = transA ? m : 1;
  const bP = transB ? 1 : n, bJ = transB ? k : 1;
  const o = allocArray(dtype, sizeOf(outShape));
  const { nb, ai, bi } = batchOffsets(
    aShape.slice(0, -2),
    bShape.slice(0, -2),
    outShape.slice(0, r - 2),
  );
  const acc = new Float64Array(n);
  for (let z = 0; z < nb; z++) {
    const ao = ai(z) * m * k, bo = bi(z) * k * n, oo = z * m * n;
    for (let i = 0; i < m; i++) {
      acc.fill(0);
      for (let p = 0; p < k; p++) {
        const av = a[ao + i * aI + p * aP];
        if (av === 0) continue;
        const brow = bo + p * bP;
        for (let j = 0; j < n; j++) acc[j] += av * b[brow + j * bJ];
      }
      for (let j = 0; j < n; j++) o[oo + i * n + j] = acc[j];
    }
  }
  return o;
}

/**
 * Visits every tap of a convolution: for each image b, output channel o, input channel c,
 * kernel offset (i, j) and output position (oh, ow) whose input position oh·s−p+i, ow·s−p+j is
 * inside the image, calls `visit(x index, y index, w index)`. The three conv kernels below are
 * this walk with a different accumulation.
 */
function forEachTap(d: ConvGeom, visit: (xi: number, yi: number, wi: number) => void): void {
  const { b: B, c: C, h: H, w: W, o: O, kh, kw, ho: Ho, wo: Wo } = d;
  const [sh, sw] = d.stride, [ph, pw] = d.padding;
  for (let bb = 0; bb < B; bb++) {
    for (let oc = 0; oc < O; oc++) {
      const yo = (bb * O + oc) * Ho * Wo;
      for (let c = 0; c < C; c++) {
        const xo = (bb * C + c) * H * W;
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) {
            const wi = ((oc * C + c) * kh + i) * kw + j;
            for (let oh = 0; oh < Ho; oh++) {
              const ih = oh * sh - ph + i;
              if (ih < 0 || ih >= H) continue;
              for (let ow = 0; ow < Wo; ow++) {
                const iw = ow * sw - pw + j;
                if (iw < 0 || iw >= W) continue;
                visit(xo + ih * W + iw, yo + oh * Wo + ow, wi);
              }
            }
          }
        }
      }
    }
  }
}

function fromF64(v: Float64Array, dtype: DType): TypedArray {
  return dtype === "float64" ? v : Float32Array.from(v);
}

/** y[b,o,oh,ow] = Σ_{c,i,j} x[b,c,oh·s−p+i, ow·s−p+j] · w[o,c,i,j]. */
export function conv2d(x: TypedArray, w: TypedArray, d: ConvGeom, dtype: DType): TypedArray {
  const y = new Float64Array(d.b * d.o * d.ho * d.wo);
  forEachTap(d, (xi, yi, wi) => {
    y[yi] += w[wi] * x[xi];
  });
  return fromF64(y, dtype);
}

/** x[b,c,oh·s−p+i, ow·s−p+j] += y[b,o,oh,ow] · w[o,c,i,j]: the adjoint of conv2d. */
export function convTranspose2d(
  y: TypedArray,
  w: TypedArray,
  d: ConvGeom,
  dtype: DType,
): TypedArray {
  const x = new Float64Array(d.b * d.c * d.h * d.w);
  forEachTap(d, (xi, yi, wi) => {
    x[xi] += w[wi] * y[yi];
  });
  return fromF64(x, dtype);
}

/** dw[o,c,i,j] = Σ_{b,oh,ow} gy[b,o,oh,ow] · x[b,c,oh·s−p+i, ow·s−p+j]. */
export function conv2dFilterGrad(
  x: TypedArray,
  gy: TypedArray,
  d: ConvGeom,
  dtype: DType,
): TypedArray {
  const dw = new Float64Array(d.o * d.c * d.kh * d.kw);
  forEachTap(d, (xi, yi, wi) => {
    dw[wi] += gy[yi] * x[xi];
  });
  return fromF64(dw, dtype);
}

/** Copies the lower triangle of the n×n row-major matrix c onto its upper triangle. */
export function mirrorLower(c: TypedArray, n: number): void {
  // blocks of 64×64 keep both the read column and the written row in cache
  const B = 64;
  for (let i0 = 0; i0 < n; i0 += B) {
    for (let j0 = i0; j0 < n; j0 += B) {
      const i1 = Math.min(n, i0 + B), j1 = Math.min(n, j0 + B);
      for (let i = i0; i < i1; i++) {
        const row = i * n;
        for (let j = Math.max(j0, i + 1); j < j1; j++) c[row + j] = c[j * n + i];
      }
    }
  }
}

/** The pooling geometry (one definition, in kernels/shape.ts). */
export type PoolDims = PoolGeom;

/** Whether the windows tile the input without overlap or padding (window = stride, pad 0). */
function tiledPool(d: PoolDims): boolean {
  return d.size[0] === d.stride[0] && d.size[1] === d.stride[1] && d.padding[0] === 0 &&
    d.padding[1] === 0 && d.ho * d.size[0] <= d.h && d.wo * d.size[1] <= d.w;
}

/**
 * avgPool2d when the windows tile the input: no bounds tests, and the general loop's summation
 * order (i, then j) so the bits are the same. Output row oh of plane p reads input rows
 * p·H + oh·kh + i.
 */
function avgPoolTiled(
  x: TypedArray,
  y: TypedArray,
  planes: number,
  Ho: number,
  kh: number,
  kw: number,
  H: number,
  W: number,
  Wo: number,
  divisor: number,
): void {
  let o = 0;
  for (let p = 0; p < planes; p++) {
    for (let oh = 0; oh < Ho; oh++) {
      const row = (p * H + oh * kh) * W;
      for (let ow = 0; ow < Wo; ow++, o++) {
        let s = 0;
        for (let i = 0, r = row + ow * kw; i < kh; i++, r += W) {
          for (let j = 0; j < kw; j++) s += x[r + j];
        }
        y[o] = s / divisor;
      }
    }
  }
}

/**
 * avgPool2dTranspose when the windows tile the input: every input in a window gets that
 * window's g / divisor exactly once (inputs outside all windows stay 0).
 */
function avgPoolTiledTranspose(
  g: TypedArray,
  x: TypedArray,
  planes: number,
  Ho: number,
  kh: number,
  kw: number,
  H: number,
  W: number,
  Wo: number,
  divisor: number,
): void {
  let o = 0;
  for (let p = 0; p < planes; p++) {
    for (let oh = 0; oh < Ho; oh++) {
      const row = (p * H + oh * kh) * W;
      for (let ow = 0; ow < Wo; ow++, o++) {
        const v = g[o] / divisor;
        for (let i = 0, r = row + ow * kw; i < kh; i++, r += W) {
          for (let j = 0; j < kw; j++) x[r + j] = v;
        }
      }
    }
  }
}

/** y[p,oh,ow] = Σ_{i,j} x[p, oh·s−p+i, ow·s−p+j] / divisor (padding counts as zero). */
export function avgPool2d(x: TypedArray, d: PoolDims, dtype: DType): TypedArray {
  const {
    planes,
    h: H,
    w: W,
    ho: Ho,
    wo: Wo,
    size: [kh, kw],
    stride: [sh, sw],
    padding: [ph, pw],
    divisor,
  } = d;
  const y = allocArray(dtype, planes * Ho * Wo);
  if (tiledPool(d)) {
    avgPoolTiled(x, y, planes, Ho, kh, kw, H, W, Wo, divisor);
    return y;
  }
  for (let p = 0; p < planes; p++) {
    for (let oh = 0; oh < Ho; oh++) {
      for (let ow = 0; ow < Wo; ow++) {
        let s = 0;
        for (let i = 0; i < kh; i++) {
          const ih = oh * sh - ph + i;
          if (ih < 0 || ih >= H) continue;
          for (let j = 0; j < kw; j++) {
            const iw = ow * sw - pw + j;
            if (iw < 0 || iw >= W) continue;
            s += x[(p * H + ih) * W + iw];
          }
        }
        y[(p * Ho + oh) * Wo + ow] = s / divisor;
      }
    }
  }
  return y;
}

/** Adjoint of avgPool2d: each window's gradient / divisor is spread back over its inputs. */
export function avgPool2dTranspose(g: TypedArray, d: PoolDims, dtype: DType): TypedArray {
  const {
    planes,
    h: H,
    w: W,
    ho: Ho,
    wo: Wo,
    size: [kh, kw],
    stride: [sh, sw],
    padding: [ph, pw],
    divisor,
  } = d;
  // the gradient of an SLL network's pooling feeds its last convolution's: in the kernels' memory
  // (windows that cover the whole input write every element: no zeroing)
  const covers = tiledPool(d) && Ho * kh === H && Wo * kw === W;
  const x = covers
    ? allocUninitForKernels(dtype, planes * H * W)
    : allocArrayForKernels(dtype, planes * H * W);
  if (tiledPool(d)) {
    avgPoolTiledTranspose(g, x, planes, Ho, kh, kw, H, W, Wo, divisor);
    return x;
  }
  for (let p = 0; p < planes; p++) {
    for (let oh = 0; oh < Ho; oh++) {
      for (let ow = 0; ow < Wo; ow++) {
        const v = g[(p * Ho + oh) * Wo + ow] / divisor;
        for (let i = 0; i < kh; i++) {
          const ih = oh * sh - ph + i;
          if (ih < 0 || ih >= H) continue;
          for (let j = 0; j < kw; j++) {
            const iw = ow * sw - pw + j;
            if (iw < 0 || iw >= W) continue;
            x[(p * H + ih) * W + iw] += v;
          }
        }
      }
    }
  }
  return x;
}

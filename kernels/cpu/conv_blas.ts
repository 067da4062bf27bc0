/**
 * Stride-1 convolutions on a native BLAS sgemm (kernels/cpu/blas.ts), for layers with few
 * channels on one side, such as the SLL conv block of `small` (45 → 5 → 45 channels). The kh·kw
 * taps are unrolled on the side with fewer channels, so the 9× copy touches only that side and
 * the sgemm reduces over (or produces) the wide one:
 *   taps on the input  (C ≤ O): col[(c,i,j)][q] = x[c][q + (i,j) − p];  y = W[O][C·kh·kw] · col
 *   taps on the output (C > O): U[(o,i,j)][hw] = Σ_c W[o][c][i][j]·x[c][hw];  y[o][q] = Σ_ij U[(o,i,j)][q + (i,j) − p]
 * One image per sgemm (the filter gradient accumulates over images with β = 1, in image order).
 * Results equal the reference loops within float32 rounding (kernels/cpu/conv_blas_test.ts).
 * @module
 */
import { allocArray } from "./host_pool.ts";
import type { NativeBlas } from "./blas.ts";

/** Geometry of a stride-1 convolution, NCHW input [b, c, h, w], weights [o, c, kh, kw]. */
export interface ConvS1 {
  /** Images. */
  b: number;
  /** Input channels. */
  c: number;
  /** Input height. */
  h: number;
  /** Input width. */
  w: number;
  /** Output channels. */
  o: number;
  /** Kernel height. */
  kh: number;
  /** Kernel width. */
  kw: number;
  /** Zero padding of the rows (0 ≤ ph ≤ kh − 1 for the transposed convolution). */
  ph: number;
  /** Zero padding of the columns. */
  pw: number;
}

/** Output height and width of a stride-1 convolution. */
function outHW(g: ConvS1): [number, number] {
  return [g.h + 2 * g.ph - g.kh + 1, g.w + 2 * g.pw - g.kw + 1];
}

/**
 * Writes the taps of image `xb` (offset of its [C][H][W] block in x) into col[(c,i,j)][oh·Wo+ow]
 * = x[c][oh+i−ph][ow+j−pw]; positions outside the image are left alone (zero from the start,
 * the same for every image).
 */
function im2colS1(x: Float32Array, xb: number, col: Float32Array, g: ConvS1): void {
  const [ho, wo] = outHW(g), P = ho * wo;
  const { c: C, h: H, w: W, kh, kw, ph, pw } = g;
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < kh; i++) {
      const ohLo = Math.max(0, ph - i), ohHi = Math.min(ho, H + ph - i);
      for (let j = 0; j < kw; j++) {
        const owLo = Math.max(0, pw - j), owHi = Math.min(wo, W + pw - j);
        const r = ((c * kh + i) * kw + j) * P;
        for (let oh = ohLo; oh < ohHi; oh++) {
          const d = r + oh * wo, s = xb + (c * H + oh + i - ph) * W + j - pw;
          for (let ow = owLo; ow < owHi; ow++) col[d + ow] = x[s + ow];
        }
      }
    }
  }
}

/** Whether the taps go on the input side (fewer input than output channels). */
function tapsOnInput(g: ConvS1): boolean {
  return g.c <= g.o;
}

/**
 * y [B, O, Ho, Wo] = conv2d(x [B, C, H, W], w [O, C, kh, kw]) with stride 1 and padding
 * (ph, pw), one sgemm per image.
 */
export function blasConv2dS1(
  blas: NativeBlas,
  x: Float32Array,
  w: Float32Array,
  g: ConvS1,
): Float32Array {
  const [ho, wo] = outHW(g), P = ho * wo;
  const { b: B, c: C, h: H, w: W, o: O, kh, kw, ph, pw } = g;
  const K = kh * kw, HW = H * W;
  const y = allocArray("float32", B * O * P) as Float32Array;
  if (tapsOnInput(g)) {
    const col = new Float32Array(C * K * P);
    for (let b = 0; b < B; b++) {
      im2colS1(x, b * C * HW, col, g);
      blas.sgemm(w, col, y.subarray(b * O * P, (b + 1) * O * P), O, P, C * K, false, false);
    }
    return y;
  }
  // w2[(o,i,j)][c] = w[o][c][i][j]
  const w2 = new Float32Array(O * K * C);
  for (let o = 0; o < O; o++) {
    for (let c = 0; c < C; c++) {
      for (let t = 0; t < K; t++) w2[(o * K + t) * C + c] = w[(o * C + c) * K + t];
    }
  }
  const u = new Float32Array(O * K * HW);
  for (let b = 0; b < B; b++) {
    blas.sgemm(w2, x.subarray(b * C * HW, (b + 1) * C * HW), u, O * K, HW, C, false, false);
    // y[o][oh][ow] = Σ_ij U[(o,i,j)][(oh+i−ph)·W + ow+j−pw] over the taps inside the image
    for (let o = 0; o < O; o++) {
      const yo = (b * O + o) * P;
      for (let i = 0; i < kh; i++) {
        const ohLo = Math.max(0, ph - i), ohHi = Math.min(ho, H + ph - i);
        for (let j = 0; j < kw; j++) {
          const owLo = Math.max(0, pw - j), owHi = Math.min(wo, W + pw - j);
          const r = ((o * kh + i) * kw + j) * HW;
          for (let oh = ohLo; oh < ohHi; oh++) {
            const d = yo + oh * wo, s = r + (oh + i - ph) * W + j - pw;
            for (let ow = owLo; ow < owHi; ow++) y[d + ow] += u[s + ow];
          }
        }
      }
    }
  }
  return y;
}

/**
 * dx [B, C, H, W] = convTranspose2d(gy [B, O, Ho, Wo], w [O, C, kh, kw]) with stride 1 and
 * padding (ph, pw): the stride-1 convolution of gy with the flipped, transposed kernel
 * w'[c][o][i][j] = w[o][c][kh−1−i][kw−1−j] and padding (kh−1−ph, kw−1−pw). Null when the
 * padding exceeds kh−1 or kw−1 (not a plain convolution then).
 */
export function blasConvTranspose2dS1(
  blas: NativeBlas,
  gy: Float32Array,
  w: Float32Array,
  g: ConvS1,
): Float32Array | null {
  const { c: C, o: O, kh, kw } = g;
  if (g.ph > kh - 1 || g.pw > kw - 1) return null;
  const [ho, wo] = outHW(g), K = kh * kw;
  const wt = new Float32Array(C * O * K);
  for (let o = 0; o < O; o++) {
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          wt[((c * O + o) * kh + i) * kw + j] =
            w[((o * C + c) * kh + kh - 1 - i) * kw + kw - 1 - j];
        }
      }
    }
  }
  return blasConv2dS1(blas, gy, wt, {
    b: g.b,
    c: O,
    h: ho,
    w: wo,
    o: C,
    kh,
    kw,
    ph: kh - 1 - g.ph,
    pw: kw - 1 - g.pw,
  });
}

/**
 * dW [O, C, kh, kw] = Σ_b Σ_q gy_b[o][q]·x_b[c][q + (i,j) − p] (the filter gradient of a stride-1
 * conv2d), accumulated image by image in order with β = 1.
 */
export function blasConv2dFilterGradS1(
  blas: NativeBlas,
  x: Float32Array,
  gy: Float32Array,
  g: ConvS1,
): Float32Array {
  const [ho, wo] = outHW(g), P = ho * wo;
  const { b: B, c: C, h: H, w: W, o: O, kh, kw, ph, pw } = g;
  const K = kh * kw, HW = H * W;
  const dw = new Float32Array(O * C * K);
  if (B === 0) return dw;
  if (tapsOnInput(g)) {
    // dW[O][C·K] += gy_b[O][P] · col_bᵀ
    const col = new Float32Array(C * K * P);
    for (let b = 0; b < B; b++) {
      im2colS1(x, b * C * HW, col, g);
      blas.sgemm(
        gy.subarray(b * O * P, (b + 1) * O * P),
        col,
        dw,
        O,
        C * K,
        P,
        false,
        true,
        b > 0 ? 1 : 0,
      );
    }
    return dw;
  }
  // taps on gy: s[(o,i,j)][h·W + w] = gy_b[o][h−i+ph][w−j+pw]; dW2[(o,i,j)][c] += s · x_bᵀ
  const s = new Float32Array(O * K * HW), dw2 = new Float32Array(O * K * C);
  for (let b = 0; b < B; b++) {
    for (let o = 0; o < O; o++) {
      const go = (b * O + o) * P;
      for (let i = 0; i < kh; i++) {
        const hLo = Math.max(0, i - ph), hHi = Math.min(H, ho + i - ph);
        for (let j = 0; j < kw; j++) {
          const wLo = Math.max(0, j - pw), wHi = Math.min(W, wo + j - pw);
          const r = ((o * kh + i) * kw + j) * HW;
          for (let h = hLo; h < hHi; h++) {
            const d = r + h * W, src = go + (h - i + ph) * wo - j + pw;
            for (let ww = wLo; ww < wHi; ww++) s[d + ww] = gy[src + ww];
          }
        }
      }
    }
    blas.sgemm(
      s,
      x.subarray(b * C * HW, (b + 1) * C * HW),
      dw2,
      O * K,
      C,
      HW,
      false,
      true,
      b > 0 ? 1 : 0,
    );
  }
  for (let o = 0; o < O; o++) {
    for (let c = 0; c < C; c++) {
      for (let t = 0; t < K; t++) dw[(o * C + c) * K + t] = dw2[(o * K + t) * C + c];
    }
  }
  return dw;
}

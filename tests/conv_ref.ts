/**
 * Convolution references shared by the primitive case table (tests/prim_cases.ts) and the conv
 * family's tests (tensor/prims/conv_test.ts): a naive conv2d on host arrays and a fast-check
 * generator of conv geometries (shapes, strides, paddings and the output padding that makes
 * convTranspose2d return the input's size).
 * @module
 */
import fc from "fast-check";

const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });

/** Naive conv2d on host arrays (the independent reference for the conv rows). */
export function naiveConv2d(
  x: number[],
  xs: number[],
  w: number[],
  ws: number[],
  stride: [number, number],
  padding: [number, number],
): number[] {
  const [B, C, H, W] = xs, [O, , kh, kw] = ws;
  const Ho = Math.floor((H + 2 * padding[0] - kh) / stride[0]) + 1;
  const Wo = Math.floor((W + 2 * padding[1] - kw) / stride[1]) + 1;
  const y: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let oc = 0; oc < O; oc++) {
      for (let i = 0; i < Ho; i++) {
        for (let j = 0; j < Wo; j++) {
          let s = 0;
          for (let c = 0; c < C; c++) {
            for (let u = 0; u < kh; u++) {
              for (let v = 0; v < kw; v++) {
                const h = i * stride[0] - padding[0] + u, ww = j * stride[1] - padding[1] + v;
                if (h >= 0 && h < H && ww >= 0 && ww < W) {
                  s += x[((b * C + c) * H + h) * W + ww] * w[((oc * C + c) * kh + u) * kw + v];
                }
              }
            }
          }
          y.push(s);
        }
      }
    }
  }
  return y;
}

/** Random conv geometry: x [B,C,H,W], w [O,C,k,k], y shape, stride, padding, output padding. */
export function convArb(): fc.Arbitrary<{
  xs: number[];
  ws: number[];
  ys: number[];
  stride: [number, number];
  padding: [number, number];
  outputPadding: [number, number];
  seed: number;
}> {
  return fc.record({
    b: fc.integer({ min: 1, max: 2 }),
    c: fc.integer({ min: 1, max: 3 }),
    o: fc.integer({ min: 1, max: 3 }),
    h: fc.integer({ min: 1, max: 7 }),
    w: fc.integer({ min: 1, max: 7 }),
    kh: fc.integer({ min: 1, max: 3 }),
    kw: fc.integer({ min: 1, max: 3 }),
    sh: fc.integer({ min: 1, max: 3 }),
    sw: fc.integer({ min: 1, max: 2 }),
    ph: fc.integer({ min: 0, max: 2 }),
    pw: fc.integer({ min: 0, max: 2 }),
    seed: seedArb,
  }).map((r) => {
    const H = Math.max(r.h, r.kh - 2 * r.ph), W = Math.max(r.w, r.kw - 2 * r.pw);
    const ph = Math.min(r.ph, r.kh - 1), pw = Math.min(r.pw, r.kw - 1);
    const Ho = Math.floor((H + 2 * ph - r.kh) / r.sh) + 1,
      Wo = Math.floor((W + 2 * pw - r.kw) / r.sw) + 1;
    const op: [number, number] = [
      H - ((Ho - 1) * r.sh - 2 * ph + r.kh),
      W - ((Wo - 1) * r.sw - 2 * pw + r.kw),
    ];
    return {
      xs: [r.b, r.c, H, W],
      ws: [r.o, r.c, r.kh, r.kw],
      ys: [r.b, r.o, Ho, Wo],
      stride: [r.sh, r.sw] as [number, number],
      padding: [ph, pw] as [number, number],
      outputPadding: op,
      seed: r.seed,
    };
  });
}

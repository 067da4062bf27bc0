/**
 * WebAssembly SIMD kernels of the CPU FFT: one Stockham stage of radix 2, 4 or any odd p (3, 5,
 * 7, 11, 13 are emitted), vectorised across lines (f32x4 = 4 independent lines, element t of
 * line c at t·count + c, count a multiple of 4), and the pointwise complex product that
 * Bluestein's chirps and kernel use. Twiddles come precomputed from the host (fft_wasm.ts).
 * @module
 */

import { type FuncBuilder, type ModuleBuilder, Op, Simd, T } from "./emit.ts";

/** The odd radices emitted as unrolled butterflies; other primes go through Bluestein. */
export const FFT_ODD_RADICES = [3, 5, 7, 11, 13] as const;

/** Every radix with a stage kernel (`fft_r<p>`). */
export const FFT_RADICES: readonly number[] = [2, 4, ...FFT_ODD_RADICES];

const add = (f: FuncBuilder, a: number, b: number): FuncBuilder =>
  f.get(a).get(b).simd(Simd.f32x4_add);
const sub = (f: FuncBuilder, a: number, b: number): FuncBuilder =>
  f.get(a).get(b).simd(Simd.f32x4_sub);
const mul = (f: FuncBuilder, a: number, b: number): FuncBuilder =>
  f.get(a).get(b).simd(Simd.f32x4_mul);

/**
 * One decimation-in-frequency Stockham stage of radix p on sub-length l = p·m, stride s:
 * for j < m, t < p, q < s (4 at a time):
 *   y[q + s(p·j + t)] = W_l^{j·t}·Σ_r x[q + s(j + r·m)]·W_p^{r·t},  W_k = exp(sign·2πi/k).
 * Params: xr, xi, yr, yi (bytes), tw (bytes: per j, (cos, sign·sin) of 2π·j·t/l for t = 1…p−1),
 * m, s (elements, s a multiple of 4), sign (f32, −1 forward, +1 inverse).
 */
function emitStage(f: FuncBuilder, p: number): void {
  const [XR, XI, YR, YI, TW, M, S, SIGN] = [0, 1, 2, 3, 4, 5, 6, 7];
  const j = f.local(T.i32), q = f.local(T.i32);
  const inR = f.local(T.i32), inI = f.local(T.i32), outR = f.local(T.i32), outI = f.local(T.i32);
  const smB = f.local(T.i32), sB = f.local(T.i32), twp = f.local(T.i32);
  const sg = f.local(T.v128);
  const wr: number[] = [], wi: number[] = [], xr: number[] = [], xi: number[] = [];
  for (let t = 1; t < p; t++) (wr[t] = f.local(T.v128), wi[t] = f.local(T.v128));
  for (let r = 0; r < p; r++) (xr[r] = f.local(T.v128), xi[r] = f.local(T.v128));
  const ur = f.local(T.v128), ui = f.local(T.v128);
  const half = (p - 1) >> 1;
  const ar: number[] = [], ai: number[] = [], br: number[] = [], bi: number[] = [];
  if (p % 2 === 1) {
    for (let r = 1; r <= half; r++) {
      ar[r] = f.local(T.v128), ai[r] = f.local(T.v128);
      br[r] = f.local(T.v128), bi[r] = f.local(T.v128);
    }
  }
  const cA = f.local(T.v128), cB = f.local(T.v128), cC = f.local(T.v128), cD = f.local(T.v128);

  f.get(S).get(M).op(Op.i32_mul).i32(2).op(Op.i32_shl).set(smB);
  f.get(S).i32(2).op(Op.i32_shl).set(sB);
  f.get(SIGN).simd(Simd.f32x4_splat).set(sg);
  f.get(TW).set(twp);

  /** Stores u·w_t (or u when t = 0) at output t of the current position. */
  const store = (t: number, vr: () => void, vi: () => void): void => {
    const at = (base: number): void => {
      f.get(base);
      if (t > 0) f.get(sB).i32(t).op(Op.i32_mul).op(Op.i32_add);
    };
    vr();
    f.set(ur);
    vi();
    f.set(ui);
    if (t === 0) {
      at(outR);
      f.get(ur).simdMem(Simd.v128_store, 0, 2);
      at(outI);
      f.get(ui).simdMem(Simd.v128_store, 0, 2);
      return;
    }
    at(outR);
    mul(f, ur, wr[t]);
    mul(f, ui, wi[t]).simd(Simd.f32x4_sub).simdMem(Simd.v128_store, 0, 2);
    at(outI);
    mul(f, ur, wi[t]);
    mul(f, ui, wr[t]).simd(Simd.f32x4_add).simdMem(Simd.v128_store, 0, 2);
  };

  f.forRange(j, () => f.i32(0), M, 1, () => {
    for (let t = 1; t < p; t++) {
      f.get(twp).simdMem(Simd.v128_load32_splat, (t - 1) * 8, 2).set(wr[t]);
      f.get(twp).simdMem(Simd.v128_load32_splat, (t - 1) * 8 + 4, 2).set(wi[t]);
    }
    f.get(twp).i32((p - 1) * 8).op(Op.i32_add).set(twp);
    f.get(XR).get(j).get(sB).op(Op.i32_mul).op(Op.i32_add).set(inR);
    f.get(XI).get(j).get(sB).op(Op.i32_mul).op(Op.i32_add).set(inI);
    f.get(YR).get(j).get(sB).op(Op.i32_mul).i32(p).op(Op.i32_mul).op(Op.i32_add).set(outR);
    f.get(YI).get(j).get(sB).op(Op.i32_mul).i32(p).op(Op.i32_mul).op(Op.i32_add).set(outI);
    f.forRange(q, () => f.i32(0), S, 4, () => {
      for (let r = 0; r < p; r++) {
        for (const [base, dst] of [[inR, xr[r]], [inI, xi[r]]]) {
          f.get(base);
          if (r > 0) f.get(smB).i32(r).op(Op.i32_mul).op(Op.i32_add);
          f.simdMem(Simd.v128_load, 0, 2).set(dst);
        }
      }
      if (p === 2) {
        store(0, () => add(f, xr[0], xr[1]), () => add(f, xi[0], xi[1]));
        store(1, () => sub(f, xr[0], xr[1]), () => sub(f, xi[0], xi[1]));
      } else if (p === 4) {
        // a = x0 + x2, b = x0 − x2, c = x1 + x3, d = sign·(x1 − x3); W_4 = sign·i
        const [a_r, a_i, b_r, b_i] = [cA, cB, cC, cD];
        add(f, xr[0], xr[2]).set(a_r);
        add(f, xi[0], xi[2]).set(a_i);
        sub(f, xr[0], xr[2]).set(b_r);
        sub(f, xi[0], xi[2]).set(b_i);
        add(f, xr[1], xr[3]).set(xr[0]); // c
        add(f, xi[1], xi[3]).set(xi[0]);
        sub(f, xr[1], xr[3]).get(sg).simd(Simd.f32x4_mul).set(xr[2]); // d
        sub(f, xi[1], xi[3]).get(sg).simd(Simd.f32x4_mul).set(xi[2]);
        store(0, () => add(f, a_r, xr[0]), () => add(f, a_i, xi[0]));
        store(1, () => sub(f, b_r, xi[2]), () => add(f, b_i, xr[2]));
        store(2, () => sub(f, a_r, xr[0]), () => sub(f, a_i, xi[0]));
        store(3, () => add(f, b_r, xi[2]), () => sub(f, b_i, xr[2]));
      } else {
        // pairs r, p − r: a = x_r + x_{p−r}, b = sign·(x_r − x_{p−r});
        // X_t = x0 + Σ a·cos θ + i·Σ b·sin θ, θ = 2π·r·t/p, and X_{p−t} flips the sine sums
        for (let r = 1; r <= half; r++) {
          add(f, xr[r], xr[p - r]).set(ar[r]);
          add(f, xi[r], xi[p - r]).set(ai[r]);
          sub(f, xr[r], xr[p - r]).get(sg).simd(Simd.f32x4_mul).set(br[r]);
          sub(f, xi[r], xi[p - r]).get(sg).simd(Simd.f32x4_mul).set(bi[r]);
        }
        const sum = (terms: [number, number][], init: number | null): void => {
          let first = true;
          if (init !== null) (f.get(init), first = false);
          for (const [v, c] of terms) {
            f.get(v).f32x4Const(c).simd(Simd.f32x4_mul);
            if (!first) f.simd(Simd.f32x4_add);
            first = false;
          }
        };
        store(0, () => {
          f.get(xr[0]);
          for (let r = 1; r <= half; r++) f.get(ar[r]).simd(Simd.f32x4_add);
        }, () => {
          f.get(xi[0]);
          for (let r = 1; r <= half; r++) f.get(ai[r]).simd(Simd.f32x4_add);
        });
        for (let t = 1; t <= half; t++) {
          const cs: [number, number][] = [], sn: [number, number][] = [];
          for (let r = 1; r <= half; r++) {
            const th = (2 * Math.PI * ((r * t) % p)) / p;
            cs.push([0, Math.cos(th)]), sn.push([0, Math.sin(th)]);
          }
          // A = x0r + Σ ar·cos, B = Σ bi·sin, C = x0i + Σ ai·cos, D = Σ br·sin
          sum(cs.map(([, c], k) => [ar[k + 1], c]), xr[0]);
          f.set(cA);
          sum(sn.map(([, c], k) => [bi[k + 1], c]), null);
          f.set(cB);
          sum(cs.map(([, c], k) => [ai[k + 1], c]), xi[0]);
          f.set(cC);
          sum(sn.map(([, c], k) => [br[k + 1], c]), null);
          f.set(cD);
          store(t, () => sub(f, cA, cB), () => add(f, cC, cD));
          store(p - t, () => add(f, cA, cB), () => sub(f, cC, cD));
        }
      }
      for (const l of [inR, inI, outR, outI]) f.get(l).i32(16).op(Op.i32_add).set(l);
    });
  });
}

/**
 * y[k][c] = x[k][c]·w_k for k < n, c < count (4 at a time; x and y may be the same lines).
 * Params: xr, xi, yr, yi (bytes), w (bytes: (re, im) per k), n, count (a multiple of 4).
 */
function emitCmul(f: FuncBuilder): void {
  const [XR, XI, YR, YI, W, N, COUNT] = [0, 1, 2, 3, 4, 5, 6];
  const k = f.local(T.i32), c = f.local(T.i32), o = f.local(T.i32), rowB = f.local(T.i32);
  const wr = f.local(T.v128), wi = f.local(T.v128), vr = f.local(T.v128), vi = f.local(T.v128);
  f.get(COUNT).i32(2).op(Op.i32_shl).set(rowB);
  f.forRange(k, () => f.i32(0), N, 1, () => {
    f.get(W).get(k).i32(3).op(Op.i32_shl).op(Op.i32_add).simdMem(Simd.v128_load32_splat, 0, 2)
      .set(wr);
    f.get(W).get(k).i32(3).op(Op.i32_shl).op(Op.i32_add).simdMem(Simd.v128_load32_splat, 4, 2)
      .set(wi);
    f.forRange(c, () => f.i32(0), COUNT, 4, () => {
      f.get(k).get(rowB).op(Op.i32_mul).get(c).i32(2).op(Op.i32_shl).op(Op.i32_add).set(o);
      f.get(XR).get(o).op(Op.i32_add).simdMem(Simd.v128_load, 0, 2).set(vr);
      f.get(XI).get(o).op(Op.i32_add).simdMem(Simd.v128_load, 0, 2).set(vi);
      f.get(YR).get(o).op(Op.i32_add);
      mul(f, vr, wr);
      mul(f, vi, wi).simd(Simd.f32x4_sub).simdMem(Simd.v128_store, 0, 2);
      f.get(YI).get(o).op(Op.i32_add);
      mul(f, vr, wi);
      mul(f, vi, wr).simd(Simd.f32x4_add).simdMem(Simd.v128_store, 0, 2);
    });
  });
}

/** Adds the FFT kernels (`fft_r<p>` per radix, `fft_cmul`) to a kernel module. */
export function addFftKernels(m: ModuleBuilder): void {
  const i32 = T.i32;
  for (const p of FFT_RADICES) {
    m.func(`fft_r${p}`, [i32, i32, i32, i32, i32, i32, i32, T.f32], [], (f) => emitStage(f, p));
  }
  m.func("fft_cmul", [i32, i32, i32, i32, i32, i32, i32], [], emitCmul);
}

/**
 * WebAssembly kernels of the FFT's layout passes (fft_driver.ts calls them per chunk of planes):
 * real rows two at a time into complex lines [w][cnt] and back, the Hermitian split of those
 * lines' spectra into column lines [h][cols] and its inverse join, and the half spectrum
 * [plane][h][wh][2] to and from the column lines. Scalar loops: compiled code on every thread
 * from the first call (the JS versions ran slowly on a freshly started helper).
 * @module
 */

import { type FuncBuilder, type ModuleBuilder, Op, T } from "./emit.ts";

const F32_LOAD = Op.f32_load, F32_STORE = Op.f32_store;
const F32 = { sub: 0x93, neg: 0x8c } as const;

/** Pushes base + 4·(index pushed by `idx`). */
function at(f: FuncBuilder, base: number, idx: () => void): FuncBuilder {
  f.get(base);
  idx();
  return f.i32(2).op(Op.i32_shl).op(Op.i32_add);
}

/** (a·b) as i32 on the stack. */
function mul(f: FuncBuilder, a: number, b: number): FuncBuilder {
  return f.get(a).get(b).op(Op.i32_mul);
}

/**
 * Rows to lines (forward) or back (inverse, times `scale`): line pl·hp + r holds row 2r as its
 * real part and row 2r + 1 (0 past the last row) as its imaginary part, element j at j·cnt.
 * Params: x (plane 0 of the chunk), rowR, rowI (bytes), P, h, w, cnt, hp, scale (f32).
 */
function emitRows(f: FuncBuilder, inverse: boolean): void {
  const [X, RR, RI, P, H, W, CNT, HP, SCALE] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const pl = f.local(T.i32), r = f.local(T.i32), j = f.local(T.i32), line = f.local(T.i32);
  const src = f.local(T.i32), two = f.local(T.i32), o = f.local(T.i32);
  f.forRange(pl, () => f.i32(0), P, 1, () => {
    f.forRange(r, () => f.i32(0), HP, 1, () => {
      mul(f, pl, HP).get(r).op(Op.i32_add).set(line);
      f.get(r).i32(1).op(Op.i32_shl).i32(1).op(Op.i32_add).get(H).op(Op.i32_lt_s).set(two);
      // src = x + 4·((pl·h + 2r)·w)
      at(f, X, () => {
        mul(f, pl, H).get(r).i32(1).op(Op.i32_shl).op(Op.i32_add).get(W).op(Op.i32_mul);
      }).set(src);
      f.forRange(j, () => f.i32(0), W, 1, () => {
        mul(f, j, CNT).get(line).op(Op.i32_add).i32(2).op(Op.i32_shl).set(o);
        if (!inverse) {
          f.get(o).get(RR).op(Op.i32_add);
          at(f, src, () => f.get(j)).mem(F32_LOAD).mem(F32_STORE);
          // row 2r + 1, or 0 past the last row (the load stays inside the kernels' buffers)
          f.get(o).get(RI).op(Op.i32_add);
          at(f, src, () => f.get(j).get(W).op(Op.i32_add)).mem(F32_LOAD);
          f.f32(0).get(two).op(Op.select).mem(F32_STORE);
        } else {
          at(f, src, () => f.get(j));
          f.get(o).get(RR).op(Op.i32_add).mem(F32_LOAD).get(SCALE).op(Op.f32_mul).mem(F32_STORE);
          f.get(two);
          f.if(() => {
            at(f, src, () => f.get(j).get(W).op(Op.i32_add));
            f.get(o).get(RI).op(Op.i32_add).mem(F32_LOAD).get(SCALE).op(Op.f32_mul)
              .mem(F32_STORE);
          });
        }
      });
    });
  });
}

/**
 * Forward: A_k = (Z_k + conj Z_{−k})/2 into column row 2r, B_k = (Z_k − conj Z_{−k})/(2i) into
 * row 2r + 1, k < wh, column pl·wh + k. Params: rowR, rowI, specR, specI, P, h, w, cnt, cols, hp,
 * wh.
 */
function emitSplit(f: FuncBuilder): void {
  const [RR, RI, SR, SI, P, H, W, CNT, COLS, HP, WH] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const pl = f.local(T.i32), r = f.local(T.i32), k = f.local(T.i32), line = f.local(T.i32);
  const zi = f.local(T.i32), ni = f.local(T.i32), o = f.local(T.i32), two = f.local(T.i32);
  const zr = f.local(T.f32), zm = f.local(T.f32), nr = f.local(T.f32), nm = f.local(T.f32);
  f.forRange(pl, () => f.i32(0), P, 1, () => {
    f.forRange(r, () => f.i32(0), HP, 1, () => {
      mul(f, pl, HP).get(r).op(Op.i32_add).set(line);
      f.get(r).i32(1).op(Op.i32_shl).i32(1).op(Op.i32_add).get(H).op(Op.i32_lt_s).set(two);
      f.forRange(k, () => f.i32(0), WH, 1, () => {
        mul(f, k, CNT).get(line).op(Op.i32_add).i32(2).op(Op.i32_shl).set(zi);
        // ni = ((w − k) mod w)·cnt + line: k = 0 reads its own bin
        f.get(line);
        f.get(W).get(k).op(Op.i32_sub).get(CNT).op(Op.i32_mul).get(line).op(Op.i32_add);
        f.get(k).op(Op.i32_eqz).op(Op.select).i32(2).op(Op.i32_shl).set(ni);
        f.get(RR).get(zi).op(Op.i32_add).mem(F32_LOAD).set(zr);
        f.get(RI).get(zi).op(Op.i32_add).mem(F32_LOAD).set(zm);
        f.get(RR).get(ni).op(Op.i32_add).mem(F32_LOAD).set(nr);
        f.get(RI).get(ni).op(Op.i32_add).mem(F32_LOAD).set(nm);
        // o = 4·(2r·cols + pl·wh + k)
        f.get(r).i32(1).op(Op.i32_shl).get(COLS).op(Op.i32_mul);
        mul(f, pl, WH).op(Op.i32_add).get(k).op(Op.i32_add).i32(2).op(Op.i32_shl).set(o);
        const half = (a: number, b: number, minus: boolean): void => {
          f.get(a).get(b).op(minus ? F32.sub : Op.f32_add).f32(0.5).op(Op.f32_mul);
        };
        f.get(SR).get(o).op(Op.i32_add);
        half(zr, nr, false);
        f.mem(F32_STORE);
        f.get(SI).get(o).op(Op.i32_add);
        half(zm, nm, true);
        f.mem(F32_STORE);
        f.get(two);
        f.if(() => {
          f.get(o).get(COLS).i32(2).op(Op.i32_shl).op(Op.i32_add).set(o);
          f.get(SR).get(o).op(Op.i32_add);
          half(zm, nm, false);
          f.mem(F32_STORE);
          f.get(SI).get(o).op(Op.i32_add);
          half(nr, zr, true);
          f.mem(F32_STORE);
        });
      });
    });
  });
}

/**
 * Inverse of the split over the full Hermitian extension: for k < w, src = k (k < wh) or w − k
 * with conjugation, Z = A + i·B, the imaginary parts of the DC and Nyquist bins dropped; the
 * line's element k = (Re A − Im B, Im A + Re B). Params as emitSplit, plus nyq (w/2 or −1).
 */
function emitJoin(f: FuncBuilder): void {
  const [SR, SI, RR, RI, P, H, W, CNT, COLS, HP, WH, NYQ] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const pl = f.local(T.i32), r = f.local(T.i32), k = f.local(T.i32), line = f.local(T.i32);
  const s = f.local(T.i32), o = f.local(T.i32), two = f.local(T.i32), low = f.local(T.i32);
  const cj = f.local(T.f32), ar = f.local(T.f32), ai = f.local(T.f32);
  const br = f.local(T.f32), bi = f.local(T.f32), s2 = f.local(T.i32);
  f.forRange(pl, () => f.i32(0), P, 1, () => {
    f.forRange(r, () => f.i32(0), HP, 1, () => {
      mul(f, pl, HP).get(r).op(Op.i32_add).set(line);
      f.get(r).i32(1).op(Op.i32_shl).i32(1).op(Op.i32_add).get(H).op(Op.i32_lt_s).set(two);
      f.forRange(k, () => f.i32(0), W, 1, () => {
        f.get(k).get(WH).op(Op.i32_lt_s).set(low);
        // s = 4·(2r·cols + pl·wh + src), src = low ? k : w − k
        f.get(r).i32(1).op(Op.i32_shl).get(COLS).op(Op.i32_mul);
        mul(f, pl, WH).op(Op.i32_add);
        f.get(k).get(W).get(k).op(Op.i32_sub).get(low).op(Op.select);
        f.op(Op.i32_add).i32(2).op(Op.i32_shl).set(s);
        f.get(s).get(COLS).i32(2).op(Op.i32_shl).op(Op.i32_add).set(s2);
        // cj = 0 on the DC and Nyquist bins (imaginary parts dropped), else ±1
        f.f32(0);
        f.f32(1).f32(-1).get(low).op(Op.select);
        f.get(k).op(Op.i32_eqz).get(k).get(NYQ).op(Op.i32_eq).op(Op.i32_or).op(Op.select).set(cj);
        f.get(SR).get(s).op(Op.i32_add).mem(F32_LOAD).set(ar);
        f.get(cj).get(SI).get(s).op(Op.i32_add).mem(F32_LOAD).op(Op.f32_mul).set(ai);
        // the odd row's values only when there is one (the loads stay in the buffers)
        f.get(SR).get(s2).op(Op.i32_add).mem(F32_LOAD).f32(0).get(two).op(Op.select).set(br);
        f.get(cj).get(SI).get(s2).op(Op.i32_add).mem(F32_LOAD).op(Op.f32_mul).f32(0).get(two)
          .op(Op.select).set(bi);
        mul(f, k, CNT).get(line).op(Op.i32_add).i32(2).op(Op.i32_shl).set(o);
        f.get(RR).get(o).op(Op.i32_add).get(ar).get(bi).op(F32.sub).mem(F32_STORE);
        f.get(RI).get(o).op(Op.i32_add).get(ai).get(br).op(Op.f32_add).mem(F32_STORE);
      });
    });
  });
}

/**
 * Column lines to the half spectrum (forward, times `scale`) or back (inverse): element
 * (pl, r, k) as (re, im) at z + 8·((pl·h + r)·wh + k), lines at r·cols + pl·wh + k.
 * Params: z, specR, specI, P, h, wh, cols, scale (f32).
 */
function emitSpectrum(f: FuncBuilder, toSpectrum: boolean): void {
  const [Z, SR, SI, P, H, WH, COLS, SCALE] = [0, 1, 2, 3, 4, 5, 6, 7];
  const pl = f.local(T.i32), r = f.local(T.i32), k = f.local(T.i32);
  const s = f.local(T.i32), o = f.local(T.i32);
  f.forRange(pl, () => f.i32(0), P, 1, () => {
    f.forRange(r, () => f.i32(0), H, 1, () => {
      f.forRange(k, () => f.i32(0), WH, 1, () => {
        mul(f, r, COLS);
        mul(f, pl, WH).op(Op.i32_add).get(k).op(Op.i32_add).i32(2).op(Op.i32_shl).set(s);
        f.get(Z);
        mul(f, pl, H).get(r).op(Op.i32_add).get(WH).op(Op.i32_mul).get(k).op(Op.i32_add);
        f.i32(3).op(Op.i32_shl).op(Op.i32_add).set(o);
        if (toSpectrum) {
          f.get(o).get(SR).get(s).op(Op.i32_add).mem(F32_LOAD).get(SCALE).op(Op.f32_mul)
            .mem(F32_STORE);
          f.get(o).get(SI).get(s).op(Op.i32_add).mem(F32_LOAD).get(SCALE).op(Op.f32_mul)
            .mem(F32_STORE, 4);
        } else {
          f.get(SR).get(s).op(Op.i32_add).get(o).mem(F32_LOAD).mem(F32_STORE);
          f.get(SI).get(s).op(Op.i32_add).get(o).mem(F32_LOAD, 4).mem(F32_STORE);
        }
      });
    });
  });
}

/** Adds the layout kernels (`fft_rows_in/out`, `fft_split`, `fft_join`, `fft_spec_out/in`). */
export function addFftLayoutKernels(m: ModuleBuilder): void {
  const i = T.i32, f32 = T.f32;
  m.func("fft_rows_in", [i, i, i, i, i, i, i, i, f32], [], (f) => emitRows(f, false));
  m.func("fft_rows_out", [i, i, i, i, i, i, i, i, f32], [], (f) => emitRows(f, true));
  m.func("fft_split", [i, i, i, i, i, i, i, i, i, i, i], [], emitSplit);
  m.func("fft_join", [i, i, i, i, i, i, i, i, i, i, i, i], [], emitJoin);
  m.func("fft_spec_out", [i, i, i, i, i, i, i, f32], [], (f) => emitSpectrum(f, true));
  m.func("fft_spec_in", [i, i, i, i, i, i, i, f32], [], (f) => emitSpectrum(f, false));
}

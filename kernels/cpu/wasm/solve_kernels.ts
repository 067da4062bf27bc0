/**
 * WebAssembly SIMD batched solve: LU with partial pivoting (as LAPACK's getrf, row swaps) and
 * the substitutions for four independent systems at once, one per f32x4 lane (matrices
 * interleaved: element (i, j) of lane l at ((i·n + j)·4 + l)), each lane pivoting on its own by
 * lane selects (the per-thread driver is solve_driver.ts).
 * @module
 */

import { type FuncBuilder, type ModuleBuilder, Op, Simd, T } from "./emit.ts";

const V = {
  i32x4_splat: 0x11,
  i32x4_eq: 0x37,
  f32x4_eq: 0x41,
  f32x4_gt: 0x44,
  v128_and: 0x4e,
  v128_bitselect: 0x52,
  v128_any_true: 0x53,
  f32x4_abs: 0xe0,
  f32x4_div: 0xe7,
} as const;

/**
 * x = a⁻¹·b for four interleaved systems: a [n][n] and b [n][k] (v128 per element) are
 * overwritten (b by x). The lanes' first column without a nonzero pivot (−1 when none) is
 * stored as an i32x4 at `info`. Params: a, b, info (bytes), n, k.
 */
function emitLuSolve4(f: FuncBuilder): void {
  const [A, B, INFO, N, K] = [0, 1, 2, 3, 4];
  const c = f.local(T.i32), i = f.local(T.i32), o = f.local(T.i32), ii = f.local(T.i32);
  const nB = f.local(T.i32), kB = f.local(T.i32), rowC = f.local(T.i32), rowI = f.local(T.i32);
  const bC = f.local(T.i32), bI = f.local(T.i32), start = f.local(T.i32);
  const best = f.local(T.v128), piv = f.local(T.v128), v = f.local(T.v128), m = f.local(T.v128);
  const sing = f.local(T.v128), l = f.local(T.v128), x = f.local(T.v128), y = f.local(T.v128);
  const one = f.local(T.v128);
  const load = (addr: () => void): FuncBuilder => (addr(), f.simdMem(Simd.v128_load, 0, 4));
  f.get(N).i32(4).op(Op.i32_shl).set(nB);
  f.get(K).i32(4).op(Op.i32_shl).set(kB);
  f.i32(-1).simd(V.i32x4_splat).set(sing);
  f.f32x4Const(1).set(one);
  /** Swaps rows (base p, base q) over byte offsets [from, end) in the lanes of mask m. */
  const swapRows = (p: number, q: number, from: () => void, end: number): void => {
    f.forRange(o, from, end, 16, () => {
      load(() => f.get(p).get(o).op(Op.i32_add)).set(x);
      load(() => f.get(q).get(o).op(Op.i32_add)).set(y);
      f.get(p).get(o).op(Op.i32_add).get(y).get(x).get(m).simd(V.v128_bitselect)
        .simdMem(Simd.v128_store, 0, 4);
      f.get(q).get(o).op(Op.i32_add).get(x).get(y).get(m).simd(V.v128_bitselect)
        .simdMem(Simd.v128_store, 0, 4);
    });
  };
  /** row q[o] −= l·row p[o] over byte offsets [from, end). */
  const axpy = (p: number, q: number, from: () => void, end: number): void => {
    f.forRange(o, from, end, 16, () => {
      f.get(q).get(o).op(Op.i32_add);
      load(() => f.get(q).get(o).op(Op.i32_add));
      f.get(l);
      load(() => f.get(p).get(o).op(Op.i32_add));
      f.simd(Simd.f32x4_mul).simd(Simd.f32x4_sub).simdMem(Simd.v128_store, 0, 4);
    });
  };
  f.forRange(c, () => f.i32(0), N, 1, () => {
    f.get(A).get(c).get(nB).op(Op.i32_mul).op(Op.i32_add).set(rowC);
    f.get(B).get(c).get(kB).op(Op.i32_mul).op(Op.i32_add).set(bC);
    f.get(c).i32(4).op(Op.i32_shl).set(start); // byte offset of column c in a row
    // pivot search: per lane the largest |a[i][c]|, i ≥ c (the first on ties, as LAPACK)
    load(() => f.get(rowC).get(start).op(Op.i32_add)).simd(V.f32x4_abs).set(best);
    f.get(c).simd(V.i32x4_splat).set(piv);
    f.forRange(i, () => f.get(c).i32(1).op(Op.i32_add), N, 1, () => {
      load(() => f.get(A).get(i).get(nB).op(Op.i32_mul).op(Op.i32_add).get(start).op(Op.i32_add))
        .simd(V.f32x4_abs).tee(v).get(best).simd(V.f32x4_gt).set(m);
      f.get(v).get(best).get(m).simd(V.v128_bitselect).set(best);
      f.get(i).simd(V.i32x4_splat).get(piv).get(m).simd(V.v128_bitselect).set(piv);
    });
    // a zero pivot: remember the lane's first such column (the lane's result is not used)
    f.get(c).simd(V.i32x4_splat).get(sing);
    f.get(best).f32x4Const(0).simd(V.f32x4_eq);
    f.get(sing).i32(-1).simd(V.i32x4_splat).simd(V.i32x4_eq).simd(V.v128_and);
    f.simd(V.v128_bitselect).set(sing);
    // row swaps, lane by lane, for the rows some lane pivots on
    f.forRange(i, () => f.get(c).i32(1).op(Op.i32_add), N, 1, () => {
      f.get(piv).get(i).simd(V.i32x4_splat).simd(V.i32x4_eq).tee(m).simd(V.v128_any_true);
      f.if(() => {
        f.get(A).get(i).get(nB).op(Op.i32_mul).op(Op.i32_add).set(rowI);
        f.get(B).get(i).get(kB).op(Op.i32_mul).op(Op.i32_add).set(bI);
        swapRows(rowC, rowI, () => f.get(start), nB);
        swapRows(bC, bI, () => f.i32(0), kB);
      });
    });
    // elimination below the pivot, applied to b as it goes
    f.get(one);
    load(() => f.get(rowC).get(start).op(Op.i32_add));
    f.simd(V.f32x4_div).set(v); // 1 / pivot
    f.forRange(i, () => f.get(c).i32(1).op(Op.i32_add), N, 1, () => {
      f.get(A).get(i).get(nB).op(Op.i32_mul).op(Op.i32_add).set(rowI);
      f.get(B).get(i).get(kB).op(Op.i32_mul).op(Op.i32_add).set(bI);
      load(() => f.get(rowI).get(start).op(Op.i32_add)).get(v).simd(Simd.f32x4_mul).set(l);
      axpy(rowC, rowI, () => f.get(start).i32(16).op(Op.i32_add), nB);
      axpy(bC, bI, () => f.i32(0), kB);
    });
  });
  // back substitution, column by column from the last: x_i = b_i / u_ii; b_r −= u_ri·x_i, r < i
  f.forRange(ii, () => f.i32(0), N, 1, () => {
    f.get(N).i32(1).op(Op.i32_sub).get(ii).op(Op.i32_sub).set(c);
    f.get(c).i32(4).op(Op.i32_shl).set(start);
    f.get(B).get(c).get(kB).op(Op.i32_mul).op(Op.i32_add).set(bC);
    f.get(one);
    load(() => f.get(A).get(c).get(nB).op(Op.i32_mul).op(Op.i32_add).get(start).op(Op.i32_add));
    f.simd(V.f32x4_div).set(v);
    f.forRange(o, () => f.i32(0), kB, 16, () => {
      f.get(bC).get(o).op(Op.i32_add);
      load(() => f.get(bC).get(o).op(Op.i32_add)).get(v).simd(Simd.f32x4_mul);
      f.simdMem(Simd.v128_store, 0, 4);
    });
    f.forRange(i, () => f.i32(0), c, 1, () => {
      f.get(B).get(i).get(kB).op(Op.i32_mul).op(Op.i32_add).set(bI);
      load(() => f.get(A).get(i).get(nB).op(Op.i32_mul).op(Op.i32_add).get(start).op(Op.i32_add))
        .set(l);
      axpy(bC, bI, () => f.i32(0), kB);
    });
  });
  f.get(INFO).get(sing).simdMem(Simd.v128_store, 0, 4);
}

/** Adds `lu_solve4` to a kernel module. */
export function addSolveKernels(m: ModuleBuilder): void {
  const i32 = T.i32;
  m.func("lu_solve4", [i32, i32, i32, i32, i32], [], emitLuSolve4);
}

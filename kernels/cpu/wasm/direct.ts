/**
 * Direct 3×3 stride-1 convolution kernels (no im2col) for few-channel layers, where the 9×
 * column matrix makes im2col + GEMM memory-bound. They work on a zero-padded copy of one image,
 * flattened so that every output position q = oh·Wp + ow reads x at q + i·Wp + j: each kernel is
 * a 1-D correlation over rows of width Wp (= W + 2p), and the Wp − Wo columns per row past the
 * output are garbage that the copy-out drops. Byte addresses into the shared memory, f32. Also
 * the host-side packing of their weights (packDirect).
 * @module
 */

import { type FuncBuilder, Op, Simd, T } from "./emit.ts";

/** Register blocking of the direct kernels. */
export interface DirectConfig {
  /** Output channels per block (packed weight vector width of the splats). */
  ob: number;
  /** f32x4 vectors of consecutive output positions per block. */
  v: number;
  /** Output channels per block of the filter-gradient kernel. */
  obFilter: number;
  /** Use f32x4.relaxed_madd (fused) instead of mul + add. */
  relaxed: boolean;
}

/** Default blocking: 4 channels × 8 positions (forward), 4 channels × 3 taps (filter). */
export const DIRECT_TILE: Omit<DirectConfig, "relaxed"> = { ob: 4, v: 2, obFilter: 3 };

/** Kernel extent the direct kernels are unrolled for. */
export const DIRECT_K = 3;

function madd(f: FuncBuilder, relaxed: boolean, a: number, b: number, acc: number): void {
  if (relaxed) f.get(a).get(b).get(acc).simd(Simd.f32x4_relaxed_madd).set(acc);
  else f.get(acc).get(a).get(b).simd(Simd.f32x4_mul).simd(Simd.f32x4_add).set(acc);
}

/**
 * Forward direct convolution of one padded image:
 *   yf[o][q] = Σ_c Σ_{i,j<3} w[o][c][i][j] · xp[c][q + i·Wp + j]   for q < nq·4v
 * Work split: output channels in blocks of ob (weights packed wp[ob][c][i][j][ob], one splat
 * each), positions in chunks of 4v; a block keeps ob×v f32x4 accumulators in registers over the
 * whole c·9 reduction, loading v vectors of x and ob weight splats per tap.
 * Params: xp, wp, yf (bytes), C, Wp, planeX (elements per padded channel), nq (chunks), nob
 * (channel blocks), ldy (elements between yf rows).
 */
export function emitDirectConv(f: FuncBuilder, cfg: DirectConfig): void {
  const { ob: OB, v: V, relaxed } = cfg;
  const K = DIRECT_K;
  const [xp, wp, yf, C, Wp, planeX, nq, nob, ldy] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const b = f.local(T.i32), qc = f.local(T.i32), c = f.local(T.i32);
  const wob = f.local(T.i32), wq = f.local(T.i32), xc = f.local(T.i32), row = f.local(T.i32);
  const wp4 = f.local(T.i32), plane4 = f.local(T.i32), ldy4 = f.local(T.i32);
  const yrow = f.local(T.i32), wobStride = f.local(T.i32);
  const acc: number[] = [];
  for (let q = 0; q < OB * V; q++) acc.push(f.local(T.v128));
  const xv: number[] = [];
  for (let q = 0; q < V; q++) xv.push(f.local(T.v128));
  const s = f.local(T.v128);

  f.get(Wp).i32(2).op(Op.i32_shl).set(wp4);
  f.get(planeX).i32(2).op(Op.i32_shl).set(plane4);
  f.get(ldy).i32(2).op(Op.i32_shl).set(ldy4);
  f.get(C).i32(K * K * OB * 4).op(Op.i32_mul).set(wobStride);
  f.get(wp).set(wob);
  f.forRange(b, () => f.i32(0), nob, 1, () => {
    f.forRange(qc, () => f.i32(0), nq, 1, () => {
      for (const q of acc) f.f32x4Const(0).set(q);
      f.get(wob).set(wq);
      f.get(xp).get(qc).i32(16 * V).op(Op.i32_mul).op(Op.i32_add).set(xc);
      f.forRange(c, () => f.i32(0), C, 1, () => {
        f.get(xc).set(row);
        for (let i = 0; i < K; i++) {
          for (let j = 0; j < K; j++) {
            for (let v = 0; v < V; v++) {
              f.get(row).simdMem(Simd.v128_load, j * 4 + v * 16, 2).set(xv[v]);
            }
            for (let o = 0; o < OB; o++) {
              f.get(wq).simdMem(Simd.v128_load32_splat, ((i * K + j) * OB + o) * 4, 2).set(s);
              for (let v = 0; v < V; v++) madd(f, relaxed, s, xv[v], acc[o * V + v]);
            }
          }
          if (i + 1 < K) f.get(row).get(wp4).op(Op.i32_add).set(row);
        }
        f.get(wq).i32(K * K * OB * 4).op(Op.i32_add).set(wq);
        f.get(xc).get(plane4).op(Op.i32_add).set(xc);
      });
      // yf[b·ob + o][qc·4v + 4v'] = acc[o][v']
      f.get(yf).get(b).i32(OB).op(Op.i32_mul).get(ldy).op(Op.i32_mul).get(qc).i32(4 * V)
        .op(Op.i32_mul).op(Op.i32_add).i32(2).op(Op.i32_shl).op(Op.i32_add).set(yrow);
      for (let o = 0; o < OB; o++) {
        for (let v = 0; v < V; v++) {
          f.get(yrow).get(acc[o * V + v]).simdMem(Simd.v128_store, v * 16, 2);
        }
        if (o + 1 < OB) f.get(yrow).get(ldy4).op(Op.i32_add).set(yrow);
      }
    });
    f.get(wob).get(wobStride).op(Op.i32_add).set(wob);
  });
}

/**
 * Filter gradient of one padded image, accumulated into dw [nob·ob][C][3][3]:
 *   dw[o][c][i][j] += Σ_{q < 4·nv} gyf[o][q] · xp[c][q + i·Wp + j]
 * (gyf holds gy on the same Wp-wide rows with zeros in the garbage columns, so they add 0).
 * Work split: per (channel block, c, i), ob×3 f32x4 accumulators run along q; the 3 x vectors
 * of a step serve every o, each gy vector all 3 taps j; lanes are summed at the end.
 * Params: xp, gyf, dw (bytes), C, Wp, planeX (elements per padded channel), nv (f32x4 steps
 * along q), nob, ldg (elements between gyf rows).
 */
export function emitDirectFilter(f: FuncBuilder, cfg: DirectConfig): void {
  const { obFilter: OB, relaxed } = cfg;
  const K = DIRECT_K;
  const [xp, gyf, dw, C, Wp, planeX, nv, nob, ldg] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const b = f.local(T.i32), c = f.local(T.i32), t = f.local(T.i32);
  const row = f.local(T.i32), xrow = f.local(T.i32), gob = f.local(T.i32);
  const dwo = f.local(T.i32), wp4 = f.local(T.i32), ldg4 = f.local(T.i32);
  const oStride = f.local(T.i32);
  const g: number[] = [];
  for (let o = 0; o < OB; o++) g.push(f.local(T.i32));
  const acc: number[] = [];
  for (let q = 0; q < OB * K; q++) acc.push(f.local(T.v128));
  const xv: number[] = [];
  for (let j = 0; j < K; j++) xv.push(f.local(T.v128));
  const gv = f.local(T.v128);

  f.get(Wp).i32(2).op(Op.i32_shl).set(wp4);
  f.get(ldg).i32(2).op(Op.i32_shl).set(ldg4);
  f.get(C).i32(K * K * 4).op(Op.i32_mul).set(oStride);
  f.forRange(b, () => f.i32(0), nob, 1, () => {
    // gob = gyf + b·ob·ldg·4
    f.get(gyf).get(b).i32(OB).op(Op.i32_mul).get(ldg4).op(Op.i32_mul).op(Op.i32_add).set(gob);
    f.forRange(c, () => f.i32(0), C, 1, () => {
      // dwo = dw + (b·ob·C + c)·36
      f.get(dw).get(b).i32(OB).op(Op.i32_mul).get(C).op(Op.i32_mul).get(c).op(Op.i32_add)
        .i32(K * K * 4).op(Op.i32_mul).op(Op.i32_add).set(dwo);
      f.get(xp).get(c).get(planeX).op(Op.i32_mul).i32(2).op(Op.i32_shl).op(Op.i32_add).set(xrow);
      for (let i = 0; i < K; i++) {
        for (const q of acc) f.f32x4Const(0).set(q);
        f.get(xrow).set(row);
        for (let o = 0; o < OB; o++) {
          f.get(gob);
          if (o > 0) f.get(ldg4).i32(o).op(Op.i32_mul).op(Op.i32_add);
          f.set(g[o]);
        }
        f.forRange(t, () => f.i32(0), nv, 1, () => {
          for (let j = 0; j < K; j++) f.get(row).simdMem(Simd.v128_load, j * 4, 2).set(xv[j]);
          for (let o = 0; o < OB; o++) {
            f.get(g[o]).simdMem(Simd.v128_load, 0, 2).set(gv);
            for (let j = 0; j < K; j++) madd(f, relaxed, gv, xv[j], acc[o * K + j]);
            f.get(g[o]).i32(16).op(Op.i32_add).set(g[o]);
          }
          f.get(row).i32(16).op(Op.i32_add).set(row);
        });
        // dw[o][c][i][j] += lane sum of acc[o][j]
        for (let o = 0; o < OB; o++) {
          for (let j = 0; j < K; j++) {
            const at = (i * K + j) * 4;
            f.get(dwo);
            if (o > 0) f.get(oStride).i32(o).op(Op.i32_mul).op(Op.i32_add);
            f.set(g[0]); // reuse as a scratch address (the step loop is over)
            f.get(g[0]).get(g[0]).mem(Op.f32_load, at);
            for (let lane = 0; lane < 4; lane++) {
              f.get(acc[o * K + j]).op(0xfd, Simd.f32x4_extract_lane, lane);
              if (lane > 0) f.op(Op.f32_add);
            }
            f.op(Op.f32_add).mem(Op.f32_store, at);
          }
        }
        f.get(xrow).get(wp4).op(Op.i32_add).set(xrow);
      }
    });
  });
}

/**
 * Strided plane copy, used to embed an image into its padded rows and to drop the garbage
 * columns of a direct-kernel result:
 *   dst[pl·dps + r·drs + k] = src[pl·sps + r·srs + k]   for pl < planes, r < rows, k < n
 * Work split: row by row, f32x4 moves then a scalar tail. Params: dst, src (bytes), planes,
 * rows, n, drs, srs, dps, sps (elements).
 */
export function emitCopyPlanes(f: FuncBuilder): void {
  const [dst, src, planes, rows, n, drs, srs, dps, sps] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const pl = f.local(T.i32), r = f.local(T.i32), k = f.local(T.i32), n4 = f.local(T.i32);
  const d = f.local(T.i32), s = f.local(T.i32), dp = f.local(T.i32), sp = f.local(T.i32);
  f.get(n).i32(-4).op(Op.i32_and).set(n4);
  f.get(dst).set(dp);
  f.get(src).set(sp);
  f.forRange(pl, () => f.i32(0), planes, 1, () => {
    f.forRange(r, () => f.i32(0), rows, 1, () => {
      // d = dp + r·drs·4, s = sp + r·srs·4
      f.get(dp).get(r).get(drs).op(Op.i32_mul).i32(2).op(Op.i32_shl).op(Op.i32_add).set(d);
      f.get(sp).get(r).get(srs).op(Op.i32_mul).i32(2).op(Op.i32_shl).op(Op.i32_add).set(s);
      f.forRange(k, () => f.i32(0), n4, 4, () => {
        f.get(d).get(s).simdMem(Simd.v128_load, 0, 2).simdMem(Simd.v128_store, 0, 2);
        f.get(d).i32(16).op(Op.i32_add).set(d);
        f.get(s).i32(16).op(Op.i32_add).set(s);
      });
      f.forRange(k, () => f.get(n4), n, 1, () => {
        f.get(d).get(s).mem(Op.f32_load).mem(Op.f32_store);
        f.get(d).i32(4).op(Op.i32_add).set(d);
        f.get(s).i32(4).op(Op.i32_add).set(s);
      });
    });
    f.get(dp).get(dps).i32(2).op(Op.i32_shl).op(Op.i32_add).set(dp);
    f.get(sp).get(sps).i32(2).op(Op.i32_shl).op(Op.i32_add).set(sp);
  });
}

/**
 * next(addr) → old value of the i32 counter at addr, which is incremented: the work-stealing
 * ticket shared by the threads (atomic on shared memory, a plain read-modify-write otherwise).
 */
export function emitFetchAdd(f: FuncBuilder, shared: boolean): void {
  if (shared) {
    // i32.atomic.rmw.add addr, 1
    f.get(0).i32(1).op(0xfe, 0x1e, 2, 0);
    return;
  }
  const old = f.local(T.i32);
  f.get(0).get(0).mem(Op.i32_load).tee(old).i32(1).op(Op.i32_add).mem(Op.i32_store);
  f.get(old);
}

/**
 * Packs a kernel for direct_conv: wp[b][c][i][j][o'] = get(b·ob + o', c, i, j), zero for output
 * channels ≥ outC (the last block's padding).
 */
export function packDirect(
  outC: number,
  inC: number,
  get: (o: number, c: number, i: number, j: number) => number,
): Float32Array {
  const OB = DIRECT_TILE.ob, K = DIRECT_K, nob = Math.ceil(outC / OB);
  const wp = new Float32Array(nob * inC * K * K * OB);
  let at = 0;
  for (let b = 0; b < nob; b++) {
    for (let c = 0; c < inC; c++) {
      for (let i = 0; i < K; i++) {
        for (let j = 0; j < K; j++) {
          for (let o = 0; o < OB; o++, at++) {
            const oo = b * OB + o;
            if (oo < outC) wp[at] = get(oo, c, i, j);
          }
        }
      }
    }
  }
  return wp;
}

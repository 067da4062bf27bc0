/**
 * Winograd F(2×2, 3×3) kernels for 3×3 stride-1 convolutions with few channels (the SLL conv
 * blocks: 8–64 channels): each 2×2 output tile costs 16 multiply-adds per (input, output)
 * channel pair instead of 36, at the price of an input and an output transform per channel.
 *   V[ξ][c][t]  = (Bᵀ d_{c,t} B)_ξ        d the 4×4 input block of tile t (input transform)
 *   M[ξ][o][t]  = Σ_c U[ξ][o][c]·V[ξ][c][t] U = G g Gᵀ (the weight transform, on the host)
 *   y_{o,t}     = Aᵀ M_{o,t} A             (output transform)
 * with Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
 * Aᵀ = [1 1 1 0; 0 1 −1 −1] (Lavin & Gray, 2016). One image at a time on a zero-padded copy
 * (rows R, row width WP); tiles are vectorised four along a tile row. Byte addresses, f32.
 * @module
 */

import { type FuncBuilder, Op, Simd, T } from "./emit.ts";

/** Output channels per register block of the transformed-domain product. */
export const WINO_OB = 4;

/** f32x4 vectors of tiles per register block of the transformed-domain product. */
export const WINO_NV = 2;

const roundUp = (x: number, m: number): number => Math.ceil(x / m) * m;

/** Layout of one image for the Winograd kernels (elements unless said). */
export interface WinogradLayout {
  /** Output height and width. */
  ho: number;
  wo: number;
  /** Tile rows; tiles per row padded to a multiple of 4 (nTxv vectors of 4). */
  nTy: number;
  nTxP: number;
  nTxv: number;
  /** Rows and row width of the padded copy (the tiles read rows < 2·nTy + 2, cols < 2·nTxP + 2). */
  R: number;
  WP: number;
  /** Elements between the channel rows of V and M (the tiles nTy·nTxP, padded to 4·WINO_NV). */
  ldv: number;
  /** Output channel blocks of WINO_OB. */
  nob: number;
  /** Input channels padded to even (V's channel rows; the filter gradient takes them in pairs). */
  cPad: number;
  /** Bytes of per-thread scratch: padded image, V, M, the tile-shaped output. */
  scratchBytes: number;
  /** Byte offsets of V, M and the tile-shaped output inside the scratch. */
  vAt: number;
  mAt: number;
  yAt: number;
}

/** The Winograd layout for C input channels (H×W, padding p) and O output channels. */
export function winogradLayout(
  C: number,
  H: number,
  W: number,
  O: number,
  p: number,
): WinogradLayout {
  const ho = H + 2 * p - 2, wo = W + 2 * p - 2;
  const nTy = Math.ceil(ho / 2), nTxP = roundUp(Math.ceil(wo / 2), 4), nTxv = nTxP / 4;
  const R = 2 * nTy + 2, WP = 2 * nTxP + 4;
  const ldv = roundUp(nTy * nTxP, 4 * WINO_NV), nob = Math.ceil(O / WINO_OB), cPad = roundUp(C, 2);
  const xpBytes = roundUp(C * R * WP * 4, 64);
  const vBytes = roundUp(16 * cPad * ldv * 4, 64);
  const mBytes = roundUp(16 * nob * WINO_OB * ldv * 4, 64);
  const yBytes = roundUp(O * 2 * nTy * 2 * nTxP * 4, 64);
  return {
    ho,
    wo,
    nTy,
    nTxP,
    nTxv,
    R,
    WP,
    ldv,
    nob,
    cPad,
    vAt: xpBytes,
    mAt: xpBytes + vBytes,
    yAt: xpBytes + vBytes + mBytes,
    scratchBytes: xpBytes + vBytes + mBytes + yBytes,
  };
}

/**
 * The transformed kernel U = G g Gᵀ, packed for wino_gemm: up[ξ][b][c][o'] = U_ξ(b·4 + o', c)
 * for output channels below outC (zero above), g(o, c, i, j) the 3×3 kernel taps.
 * Computed in float64, rounded once.
 */
export function packWinograd(
  outC: number,
  inC: number,
  g: (o: number, c: number, i: number, j: number) => number,
): Float32Array {
  const OB = WINO_OB, nob = Math.ceil(outC / OB);
  const up = new Float32Array(16 * nob * inC * OB);
  const G = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]];
  const t = new Float64Array(12);
  for (let o = 0; o < outC; o++) {
    for (let c = 0; c < inC; c++) {
      // t = G·g (4×3), then U = t·Gᵀ (4×4)
      for (let a = 0; a < 4; a++) {
        for (let j = 0; j < 3; j++) {
          t[a * 3 + j] = G[a][0] * g(o, c, 0, j) + G[a][1] * g(o, c, 1, j) +
            G[a][2] * g(o, c, 2, j);
        }
      }
      const b = Math.floor(o / OB), ol = o % OB;
      for (let a = 0; a < 4; a++) {
        for (let e = 0; e < 4; e++) {
          const u = t[a * 3] * G[e][0] + t[a * 3 + 1] * G[e][1] + t[a * 3 + 2] * G[e][2];
          up[(((a * 4 + e) * nob + b) * inC + c) * OB + ol] = u;
        }
      }
    }
  }
  return up;
}

/** i8x16.shuffle picking f32 lanes (0–3 from the first operand, 4–7 from the second). */
function shuffle(f: FuncBuilder, lanes: readonly number[]): FuncBuilder {
  f.simd(Simd.i8x16_shuffle);
  for (const l of lanes) f.op(l * 4, l * 4 + 1, l * 4 + 2, l * 4 + 3);
  return f;
}

function binop(f: FuncBuilder, op: number, a: number, b: number, dst: number): void {
  f.get(a).get(b).simd(op).set(dst);
}

/**
 * Input transform of one padded image: V[ξ][c][ty·nTxP + 4tv + l] = (Bᵀ d B)_ξ for the tile
 * (ty, 4tv + l), d = xp[c][2ty .. 2ty+3][2(4tv+l) .. +3].
 * Work split: per (c, ty, tv) one f32x4 of 4 tiles; each of the 4 input rows is read as 4
 * vectors and de-interleaved by shuffles into the tiles' 4 columns.
 * Params: xp, v (bytes), C, nTy, nTxv, R, WP, ldv (elements), xiBytes (bytes between V's ξ).
 */
export function emitWinoInput(f: FuncBuilder): void {
  const [xp, v, C, nTy, nTxv, R, WP, ldv, xiBytes] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const c = f.local(T.i32), ty = f.local(T.i32), tv = f.local(T.i32);
  const row = f.local(T.i32), dst = f.local(T.i32), wp4 = f.local(T.i32);
  const d = [0, 1, 2, 3].map(() => f.local(T.v128));
  const lo = f.local(T.v128), hi = f.local(T.v128);
  const t: number[][] = [0, 1, 2, 3].map(() => [0, 1, 2, 3].map(() => f.local(T.v128)));
  const s = f.local(T.v128);
  const EVEN = [0, 2, 4, 6], ODD = [1, 3, 5, 7];
  f.get(WP).i32(2).op(Op.i32_shl).set(wp4);
  f.forRange(c, () => f.i32(0), C, 1, () => {
    f.forRange(ty, () => f.i32(0), nTy, 1, () => {
      f.forRange(tv, () => f.i32(0), nTxv, 1, () => {
        // row = xp + ((c·R + 2ty)·WP + 8tv)·4
        f.get(xp).get(c).get(R).op(Op.i32_mul).get(ty).i32(1).op(Op.i32_shl).op(Op.i32_add)
          .get(WP).op(Op.i32_mul).get(tv).i32(3).op(Op.i32_shl).op(Op.i32_add)
          .i32(2).op(Op.i32_shl).op(Op.i32_add).set(row);
        for (let r = 0; r < 4; r++) {
          // columns 0, 1 of the 4 tiles from cols 8tv..8tv+7; columns 2, 3 from 8tv+2..8tv+9
          f.get(row).simdMem(Simd.v128_load, 0, 2).set(lo);
          f.get(row).simdMem(Simd.v128_load, 16, 2).set(hi);
          shuffle(f.get(lo).get(hi), EVEN).set(d[0]);
          shuffle(f.get(lo).get(hi), ODD).set(d[1]);
          f.get(row).simdMem(Simd.v128_load, 8, 2).set(lo);
          f.get(row).simdMem(Simd.v128_load, 24, 2).set(hi);
          shuffle(f.get(lo).get(hi), EVEN).set(d[2]);
          shuffle(f.get(lo).get(hi), ODD).set(d[3]);
          // d·B along the row
          binop(f, Simd.f32x4_sub, d[0], d[2], t[r][0]);
          binop(f, Simd.f32x4_add, d[1], d[2], t[r][1]);
          binop(f, Simd.f32x4_sub, d[2], d[1], t[r][2]);
          binop(f, Simd.f32x4_sub, d[1], d[3], t[r][3]);
          if (r < 3) f.get(row).get(wp4).op(Op.i32_add).set(row);
        }
        // dst = v + (c·ldv + ty·4·nTxv + 4tv)·4; ξ = 4i + j at dst + ξ·xiBytes
        f.get(v).get(c).get(ldv).op(Op.i32_mul).get(ty).get(nTxv).op(Op.i32_mul).get(tv)
          .op(Op.i32_add).i32(2).op(Op.i32_shl).op(Op.i32_add).i32(2).op(Op.i32_shl)
          .op(Op.i32_add).set(dst);
        for (let i = 0; i < 4; i++) {
          for (let j = 0; j < 4; j++) {
            // Bᵀ·(dB) down the column j
            if (i === 0) binop(f, Simd.f32x4_sub, t[0][j], t[2][j], s);
            else if (i === 1) binop(f, Simd.f32x4_add, t[1][j], t[2][j], s);
            else if (i === 2) binop(f, Simd.f32x4_sub, t[2][j], t[1][j], s);
            else binop(f, Simd.f32x4_sub, t[1][j], t[3][j], s);
            f.get(dst).get(s).simdMem(Simd.v128_store, 0, 2);
            if (i * 4 + j < 15) f.get(dst).get(xiBytes).op(Op.i32_add).set(dst);
          }
        }
      });
    });
  });
}

/**
 * Transformed-domain product: M[ξ][o][t] = Σ_c U[ξ][o][c]·V[ξ][c][t] for the 16 ξ.
 * Work split: per ξ, output channels in blocks of 4 (packed U, one splat each), tiles in runs
 * of 4·WINO_NV; a block keeps 4×WINO_NV f32x4 accumulators over the C-long reduction.
 * Params: up, v, m (bytes), C, nob, ntp (runs of 4·WINO_NV tiles), ldv (elements), vXi, mXi (bytes
 * between V's and M's ξ).
 */
export function emitWinoGemm(f: FuncBuilder, relaxed: boolean): void {
  const OB = WINO_OB, NV = WINO_NV;
  const [up, v, m, C, nob, ntp, ldv, vXi, mXi] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const xi = f.local(T.i32), b = f.local(T.i32), tp = f.local(T.i32), c = f.local(T.i32);
  const ub = f.local(T.i32), uq = f.local(T.i32), vq = f.local(T.i32), mq = f.local(T.i32);
  const vx = f.local(T.i32), mx = f.local(T.i32), ld4 = f.local(T.i32), sixteen = f.local(T.i32);
  const acc: number[] = [];
  for (let q = 0; q < OB * NV; q++) acc.push(f.local(T.v128));
  const xv: number[] = [];
  for (let k = 0; k < NV; k++) xv.push(f.local(T.v128));
  const s = f.local(T.v128);
  f.get(ldv).i32(2).op(Op.i32_shl).set(ld4);
  f.i32(16).set(sixteen);
  f.get(up).set(ub);
  f.get(v).set(vx);
  f.get(m).set(mx);
  f.forRange(xi, () => f.i32(0), sixteen, 1, () => {
    f.forRange(b, () => f.i32(0), nob, 1, () => {
      f.forRange(tp, () => f.i32(0), ntp, 1, () => {
        for (const q of acc) f.f32x4Const(0).set(q);
        f.get(ub).set(uq);
        f.get(vx).get(tp).i32(16 * NV).op(Op.i32_mul).op(Op.i32_add).set(vq);
        f.forRange(c, () => f.i32(0), C, 1, () => {
          for (let k = 0; k < NV; k++) f.get(vq).simdMem(Simd.v128_load, k * 16, 2).set(xv[k]);
          for (let o = 0; o < OB; o++) {
            f.get(uq).simdMem(Simd.v128_load32_splat, o * 4, 2).set(s);
            for (let k = 0; k < NV; k++) {
              const a = acc[o * NV + k];
              if (relaxed) f.get(s).get(xv[k]).get(a).simd(Simd.f32x4_relaxed_madd).set(a);
              else f.get(a).get(s).get(xv[k]).simd(Simd.f32x4_mul).simd(Simd.f32x4_add).set(a);
            }
          }
          f.get(uq).i32(OB * 4).op(Op.i32_add).set(uq);
          f.get(vq).get(ld4).op(Op.i32_add).set(vq);
        });
        // M[ξ][b·4 + o][4·NV·tp ..] = acc[o]
        f.get(mx).get(b).i32(OB).op(Op.i32_mul).get(ldv).op(Op.i32_mul).get(tp).i32(4 * NV)
          .op(Op.i32_mul).op(Op.i32_add).i32(2).op(Op.i32_shl).op(Op.i32_add).set(mq);
        for (let o = 0; o < OB; o++) {
          for (let k = 0; k < NV; k++) {
            f.get(mq).get(acc[o * NV + k]).simdMem(Simd.v128_store, k * 16, 2);
          }
          if (o + 1 < OB) f.get(mq).get(ld4).op(Op.i32_add).set(mq);
        }
      });
      f.get(ub).get(C).i32(OB * 4).op(Op.i32_mul).op(Op.i32_add).set(ub);
    });
    f.get(vx).get(vXi).op(Op.i32_add).set(vx);
    f.get(mx).get(mXi).op(Op.i32_add).set(mx);
  });
}

/**
 * Output transform: y[o][2ty + a][2(4tv + l) + e] = (Aᵀ M_{o,t} A)_{a,e} for the tile
 * t = (ty, 4tv + l), into the tile-shaped buffer y [O][2·nTy][2·4·nTxv].
 * Work split: per (o, ty, tv) one f32x4 of 4 tiles; the two output columns of each row are
 * interleaved by shuffles into 8 consecutive values.
 * Params: m, y (bytes), O, nTy, nTxv, ldv (elements), mXi (bytes between M's ξ).
 */
export function emitWinoOutput(f: FuncBuilder): void {
  const [m, y, O, nTy, nTxv, ldv, mXi] = [0, 1, 2, 3, 4, 5, 6];
  const o = f.local(T.i32), ty = f.local(T.i32), tv = f.local(T.i32);
  const src = f.local(T.i32), dst = f.local(T.i32), rowBytes = f.local(T.i32);
  const mv: number[] = [];
  for (let q = 0; q < 16; q++) mv.push(f.local(T.v128));
  const sv: number[] = [];
  for (let q = 0; q < 8; q++) sv.push(f.local(T.v128));
  const y0 = f.local(T.v128), y1 = f.local(T.v128);
  // bytes per output row: 2·4·nTxv floats
  f.get(nTxv).i32(5).op(Op.i32_shl).set(rowBytes);
  f.forRange(o, () => f.i32(0), O, 1, () => {
    f.forRange(ty, () => f.i32(0), nTy, 1, () => {
      f.forRange(tv, () => f.i32(0), nTxv, 1, () => {
        // src = m + (o·ldv + ty·4·nTxv + 4tv)·4
        f.get(m).get(o).get(ldv).op(Op.i32_mul).get(ty).get(nTxv).op(Op.i32_mul).get(tv)
          .op(Op.i32_add).i32(2).op(Op.i32_shl).op(Op.i32_add).i32(2).op(Op.i32_shl)
          .op(Op.i32_add).set(src);
        for (let q = 0; q < 16; q++) {
          f.get(src).simdMem(Simd.v128_load, 0, 2).set(mv[q]);
          if (q < 15) f.get(src).get(mXi).op(Op.i32_add).set(src);
        }
        // along each row i: s[i][0] = m0 + m1 + m2, s[i][1] = m1 − m2 − m3
        for (let i = 0; i < 4; i++) {
          const [a, b, c, d] = [0, 1, 2, 3].map((j) => mv[i * 4 + j]);
          f.get(a).get(b).simd(Simd.f32x4_add).get(c).simd(Simd.f32x4_add).set(sv[i * 2]);
          f.get(b).get(c).simd(Simd.f32x4_sub).get(d).simd(Simd.f32x4_sub).set(sv[i * 2 + 1]);
        }
        // dst = y + ((o·2nTy + 2ty)·rowFloats + 8tv)·4
        f.get(y).get(o).get(nTy).op(Op.i32_mul).get(ty).op(Op.i32_add).i32(1).op(Op.i32_shl)
          .get(rowBytes).op(Op.i32_mul).op(Op.i32_add).get(tv).i32(5).op(Op.i32_shl)
          .op(Op.i32_add).set(dst);
        for (let a = 0; a < 2; a++) {
          for (let e = 0; e < 2; e++) {
            const [p, q, r, w] = [0, 1, 2, 3].map((i) => sv[i * 2 + e]);
            const out = e === 0 ? y0 : y1;
            if (a === 0) f.get(p).get(q).simd(Simd.f32x4_add).get(r).simd(Simd.f32x4_add);
            else f.get(q).get(r).simd(Simd.f32x4_sub).get(w).simd(Simd.f32x4_sub);
            f.set(out);
          }
          shuffle(f.get(dst).get(y0).get(y1), [0, 4, 1, 5]).simdMem(Simd.v128_store, 0, 2);
          shuffle(f.get(dst).get(y0).get(y1), [2, 6, 3, 7]).simdMem(Simd.v128_store, 16, 2);
          if (a === 0) f.get(dst).get(rowBytes).op(Op.i32_add).set(dst);
        }
      });
    });
  });
}

/**
 * Gradient transform, the adjoint of emitWinoOutput: GM[ξ][o][t] = (A·dY_{o,t}·Aᵀ)_ξ with dY the
 * 2×2 block of gy at tile t, read from the tile-shaped buffer gyt [O][2·nTy][2·4·nTxv] (zero
 * outside the output). A·(u0, u1) = (u0, u0 + u1, u0 − u1, −u1) along rows, then columns.
 * Work split: per (o, ty, tv) one f32x4 of 4 tiles; each gy row is de-interleaved by shuffles.
 * Params: gyt, gm (bytes), O, nTy, nTxv, ldv (elements), mXi (bytes between GM's ξ).
 */
export function emitWinoGradY(f: FuncBuilder): void {
  const [gyt, gm, O, nTy, nTxv, ldv, mXi] = [0, 1, 2, 3, 4, 5, 6];
  const o = f.local(T.i32), ty = f.local(T.i32), tv = f.local(T.i32);
  const src = f.local(T.i32), dst = f.local(T.i32), rowBytes = f.local(T.i32);
  const lo = f.local(T.v128), hi = f.local(T.v128), u0 = f.local(T.v128), u1 = f.local(T.v128);
  const r: number[][] = [0, 1].map(() => [0, 1, 2, 3].map(() => f.local(T.v128)));
  const s = f.local(T.v128);
  f.get(nTxv).i32(5).op(Op.i32_shl).set(rowBytes);
  f.forRange(o, () => f.i32(0), O, 1, () => {
    f.forRange(ty, () => f.i32(0), nTy, 1, () => {
      f.forRange(tv, () => f.i32(0), nTxv, 1, () => {
        // src = gyt + ((o·nTy + ty)·2·rowFloats + 8tv)·4
        f.get(gyt).get(o).get(nTy).op(Op.i32_mul).get(ty).op(Op.i32_add).i32(1).op(Op.i32_shl)
          .get(rowBytes).op(Op.i32_mul).op(Op.i32_add).get(tv).i32(5).op(Op.i32_shl)
          .op(Op.i32_add).set(src);
        for (let a = 0; a < 2; a++) {
          f.get(src).simdMem(Simd.v128_load, 0, 2).set(lo);
          f.get(src).simdMem(Simd.v128_load, 16, 2).set(hi);
          shuffle(f.get(lo).get(hi), [0, 2, 4, 6]).set(u0);
          shuffle(f.get(lo).get(hi), [1, 3, 5, 7]).set(u1);
          f.get(u0).set(r[a][0]);
          binop(f, Simd.f32x4_add, u0, u1, r[a][1]);
          binop(f, Simd.f32x4_sub, u0, u1, r[a][2]);
          f.f32x4Const(0).get(u1).simd(Simd.f32x4_sub).set(r[a][3]);
          if (a === 0) f.get(src).get(rowBytes).op(Op.i32_add).set(src);
        }
        // dst = gm + (o·ldv + ty·4·nTxv + 4tv)·4; ξ = 4i + j at dst + ξ·mXi
        f.get(gm).get(o).get(ldv).op(Op.i32_mul).get(ty).get(nTxv).op(Op.i32_mul).get(tv)
          .op(Op.i32_add).i32(2).op(Op.i32_shl).op(Op.i32_add).i32(2).op(Op.i32_shl)
          .op(Op.i32_add).set(dst);
        for (let i = 0; i < 4; i++) {
          for (let j = 0; j < 4; j++) {
            if (i === 0) f.get(r[0][j]).set(s);
            else if (i === 1) binop(f, Simd.f32x4_add, r[0][j], r[1][j], s);
            else if (i === 2) binop(f, Simd.f32x4_sub, r[0][j], r[1][j], s);
            else f.f32x4Const(0).get(r[1][j]).simd(Simd.f32x4_sub).set(s);
            f.get(dst).get(s).simdMem(Simd.v128_store, 0, 2);
            if (i * 4 + j < 15) f.get(dst).get(mXi).op(Op.i32_add).set(dst);
          }
        }
      });
    });
  });
}

/**
 * Transformed-domain filter gradient of one image, accumulated into the partial
 * dU[ξ][o][c] += Σ_t GM[ξ][o][t]·V[ξ][c][t] (dU [16][nob·4][cPad]).
 * Work split: per ξ, blocks of 4 output × 2 input channels keep 8 f32x4 accumulators along the
 * tiles (4 GM and 2 V loads per 8 multiply-adds); lanes are summed at the end of the block.
 * Params: gm, v, du (bytes), cPad, nob, ntv (f32x4 steps along t), ldv (elements), vXi, mXi
 * (bytes between V's and GM's ξ).
 */
export function emitWinoFilter(f: FuncBuilder, relaxed: boolean): void {
  const OB = WINO_OB, CB = 2;
  const [gm, v, du, cPad, nob, ntv, ldv, vXi, mXi] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const xi = f.local(T.i32), b = f.local(T.i32), c = f.local(T.i32), t = f.local(T.i32);
  const gq = f.local(T.i32), vq = f.local(T.i32), ld4 = f.local(T.i32), sixteen = f.local(T.i32);
  const vx = f.local(T.i32), mx = f.local(T.i32), out = f.local(T.i32), addr = f.local(T.i32);
  const acc: number[] = [];
  for (let q = 0; q < OB * CB; q++) acc.push(f.local(T.v128));
  const vv = [0, 1].map(() => f.local(T.v128));
  const g = f.local(T.v128);
  f.get(ldv).i32(2).op(Op.i32_shl).set(ld4);
  f.i32(16).set(sixteen);
  f.get(v).set(vx);
  f.get(gm).set(mx);
  f.get(du).set(out);
  f.forRange(xi, () => f.i32(0), sixteen, 1, () => {
    f.forRange(b, () => f.i32(0), nob, 1, () => {
      f.forRange(c, () => f.i32(0), cPad, CB, () => {
        for (const q of acc) f.f32x4Const(0).set(q);
        // gq = GM[ξ][4b][0], vq = V[ξ][c][0]
        f.get(mx).get(b).i32(OB).op(Op.i32_mul).get(ld4).op(Op.i32_mul).op(Op.i32_add).set(gq);
        f.get(vx).get(c).get(ld4).op(Op.i32_mul).op(Op.i32_add).set(vq);
        f.forRange(t, () => f.i32(0), ntv, 1, () => {
          for (let k = 0; k < CB; k++) {
            f.get(vq);
            if (k > 0) f.get(ld4).op(Op.i32_add);
            f.simdMem(Simd.v128_load, 0, 2).set(vv[k]);
          }
          for (let o = 0; o < OB; o++) {
            f.get(gq);
            if (o > 0) f.get(ld4).i32(o).op(Op.i32_mul).op(Op.i32_add);
            f.simdMem(Simd.v128_load, 0, 2).set(g);
            for (let k = 0; k < CB; k++) {
              const a = acc[o * CB + k];
              if (relaxed) f.get(g).get(vv[k]).get(a).simd(Simd.f32x4_relaxed_madd).set(a);
              else f.get(a).get(g).get(vv[k]).simd(Simd.f32x4_mul).simd(Simd.f32x4_add).set(a);
            }
          }
          f.get(gq).i32(16).op(Op.i32_add).set(gq);
          f.get(vq).i32(16).op(Op.i32_add).set(vq);
        });
        // dU[ξ][4b + o][c + k] += lane sum of acc[o][k]
        for (let o = 0; o < OB; o++) {
          for (let k = 0; k < CB; k++) {
            // addr = out + ((4b + o)·cPad + c + k)·4
            f.get(out).get(b).i32(OB).op(Op.i32_mul).i32(o).op(Op.i32_add).get(cPad)
              .op(Op.i32_mul).get(c).op(Op.i32_add).i32(2).op(Op.i32_shl).op(Op.i32_add)
              .tee(addr);
            f.get(addr).mem(Op.f32_load, k * 4);
            for (let lane = 0; lane < 4; lane++) {
              f.get(acc[o * CB + k]).op(0xfd, Simd.f32x4_extract_lane, lane);
              if (lane > 0) f.op(Op.f32_add);
            }
            f.op(Op.f32_add).mem(Op.f32_store, k * 4);
          }
        }
      });
    });
    f.get(vx).get(vXi).op(Op.i32_add).set(vx);
    f.get(mx).get(mXi).op(Op.i32_add).set(mx);
    // next ξ's partial: out += nob·4·cPad·4
    f.get(out).get(nob).i32(OB * 4).op(Op.i32_mul).get(cPad).op(Op.i32_mul).op(Op.i32_add)
      .set(out);
  });
}

/**
 * The filter gradient from the summed transformed-domain partial dU [16][nob·4][cPad]:
 * dW[o][c][i][j] = (Gᵀ·dU_{o,c}·G)_{ij} in float64, rounded once; dW [outC][inC][3][3].
 */
export function unpackWinogradFilter(du: Float32Array, outC: number, inC: number): Float32Array {
  const nob = Math.ceil(outC / WINO_OB), cPad = roundUp(inC, 2), oPad = nob * WINO_OB;
  const G = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]];
  const dw = new Float32Array(outC * inC * 9);
  const t = new Float64Array(12);
  for (let o = 0; o < outC; o++) {
    for (let c = 0; c < inC; c++) {
      const at = (xi: number): number => du[(xi * oPad + o) * cPad + c];
      // t = Gᵀ·dU (3×4), then dW = t·G (3×3)
      for (let i = 0; i < 3; i++) {
        for (let e = 0; e < 4; e++) {
          t[i * 4 + e] = G[0][i] * at(e) + G[1][i] * at(4 + e) + G[2][i] * at(8 + e) +
            G[3][i] * at(12 + e);
        }
      }
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 3; j++) {
          dw[(o * inC + c) * 9 + i * 3 + j] = t[i * 4] * G[0][j] + t[i * 4 + 1] * G[1][j] +
            t[i * 4 + 2] * G[2][j] + t[i * 4 + 3] * G[3][j];
        }
      }
    }
  }
  return dw;
}

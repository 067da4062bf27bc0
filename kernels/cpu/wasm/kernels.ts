/**
 * WebAssembly kernel builders for the CPU backend: the register-blocked GEMM macro-kernel, the
 * panel packers, the im2col/col2im transforms used by convolutions, and the direct 3×3
 * convolutions of direct.ts and the Winograd F(2×2, 3×3) ones of winograd.ts. All take byte addresses
 * into one imported (shared) memory; f32 row-major throughout. The module is emitted at startup
 * by `buildKernelModule` (same bytes on every thread).
 * @module
 */

import {
  DIRECT_TILE,
  type DirectConfig,
  emitCopyPlanes,
  emitDirectConv,
  emitDirectFilter,
  emitFetchAdd,
} from "./direct.ts";
import { type FuncBuilder, ModuleBuilder, Op, Simd, T } from "./emit.ts";
import { addFftKernels } from "./fft_kernels.ts";
import { addSolveKernels } from "./solve_kernels.ts";
import {
  emitWinoFilter,
  emitWinoGemm,
  emitWinoGradY,
  emitWinoInput,
  emitWinoOutput,
} from "./winograd.ts";

/** Micro-tile geometry shared by the packers and the macro-kernel. */
export interface TileConfig {
  /** Rows of C per micro-tile (A panel width). */
  mr: number;
  /** Columns of C per micro-tile (B panel width), a multiple of 4. */
  nr: number;
  /** k-loop unroll; packed panels are zero-padded to a multiple of it. */
  ku: number;
  /** Use f32x4.relaxed_madd (fused) instead of mul + add. */
  relaxed: boolean;
}

/**
 * Macro-kernel: C[i·mr.., j·nr..] += Apanel_i · Bpanel_j for all i < mp, j < np.
 * Equation: C[r][c] += Σ_k A[k][r]·B[k][c] over the packed panels (A panel k-major, mr values per
 * k; B panel k-major, nr values per k). Work split: the outer loop walks B panels (a kc×nr panel
 * stays in L1), the inner loop walks A panels (the mc×kc block stays in L2); each micro-tile keeps
 * mr×(nr/4) f32x4 accumulators in registers, loads nr/4 vectors of B and mr splats of A per k.
 * Params: pa, pb, pc (byte addresses), mp, np (panel counts), kc (multiple of ku), ldc (bytes).
 */
function emitGemmMacro(f: FuncBuilder, cfg: TileConfig): void {
  const { mr, nr, ku } = cfg;
  const nv = nr / 4;
  const [pa, pb, pc, mp, np, kc, ldc] = [0, 1, 2, 3, 4, 5, 6];
  const i = f.local(T.i32), j = f.local(T.i32);
  const a = f.local(T.i32), b = f.local(T.i32), bEnd = f.local(T.i32);
  const aPanel = f.local(T.i32), bPanel = f.local(T.i32), cRow = f.local(T.i32);
  const cTile = f.local(T.i32), aStride = f.local(T.i32), bStride = f.local(T.i32);
  const acc: number[] = [];
  for (let q = 0; q < mr * nv; q++) acc.push(f.local(T.v128));
  const bv: number[] = [];
  for (let q = 0; q < nv; q++) bv.push(f.local(T.v128));
  const x = f.local(T.v128);

  // Panel strides in bytes.
  f.get(kc).i32(mr * 4).op(Op.i32_mul).set(aStride);
  f.get(kc).i32(nr * 4).op(Op.i32_mul).set(bStride);
  f.get(pb).set(bPanel);
  f.forRange(j, () => f.i32(0), np, 1, () => {
    f.get(pa).set(aPanel);
    f.get(pc).get(j).i32(nr * 4).op(Op.i32_mul).op(Op.i32_add).set(cTile);
    f.forRange(i, () => f.i32(0), mp, 1, () => {
      for (const q of acc) f.f32x4Const(0).set(q);
      f.get(aPanel).set(a);
      f.get(bPanel).tee(b).get(bStride).op(Op.i32_add).set(bEnd);
      f.block(() => {
        f.get(kc).op(Op.i32_eqz).brIf(0);
        f.loop(() => {
          for (let u = 0; u < ku; u++) {
            for (let v = 0; v < nv; v++) {
              f.get(b).simdMem(Simd.v128_load, (u * nr + v * 4) * 4).set(bv[v]);
            }
            for (let r = 0; r < mr; r++) {
              f.get(a).simdMem(Simd.v128_load32_splat, (u * mr + r) * 4, 2).set(x);
              for (let v = 0; v < nv; v++) {
                const q = acc[r * nv + v];
                if (cfg.relaxed) {
                  f.get(x).get(bv[v]).get(q).simd(Simd.f32x4_relaxed_madd).set(q);
                } else {
                  f.get(q).get(x).get(bv[v]).simd(Simd.f32x4_mul).simd(Simd.f32x4_add).set(q);
                }
              }
            }
          }
          f.get(a).i32(ku * mr * 4).op(Op.i32_add).set(a);
          f.get(b).i32(ku * nr * 4).op(Op.i32_add).tee(b).get(bEnd).op(Op.i32_lt_u).brIf(0);
        });
      });
      // C tile += accumulators.
      f.get(cTile).set(cRow);
      for (let r = 0; r < mr; r++) {
        for (let v = 0; v < nv; v++) {
          f.get(cRow).get(cRow).simdMem(Simd.v128_load, v * 16, 2).get(acc[r * nv + v])
            .simd(Simd.f32x4_add).simdMem(Simd.v128_store, v * 16, 2);
        }
        if (r + 1 < mr) f.get(cRow).get(ldc).op(Op.i32_add).set(cRow);
      }
      f.get(aPanel).get(aStride).op(Op.i32_add).set(aPanel);
      f.get(cTile).get(ldc).i32(mr).op(Op.i32_mul).op(Op.i32_add).set(cTile);
    });
    f.get(bPanel).get(bStride).op(Op.i32_add).set(bPanel);
  });
}

/**
 * Panel packer: dst[p][k][t] = src[(p·w + t)·rs + k·cs] for t < w, zero where row p·w+t ≥ rows
 * or k ≥ kValid; k runs to kPad (a multiple of ku). One call packs all panels of a block.
 * Work split: panel by panel, k-major inside; the row index is clamped by a select so the inner
 * loop has no branch. Params: dst, src (bytes), rows, kValid, kPad, rs, cs (elements), w.
 */
function emitPack(f: FuncBuilder): void {
  const [dst, src, rows, kValid, kPad, rs, cs, w] = [0, 1, 2, 3, 4, 5, 6, 7];
  const p = f.local(T.i32), k = f.local(T.i32), t = f.local(T.i32);
  const nPanels = f.local(T.i32), row = f.local(T.i32), o = f.local(T.i32);
  const rowPtr = f.local(T.i32), kInRange = f.local(T.i32);
  // nPanels = ceil(rows / w)
  f.get(rows).get(w).op(Op.i32_add).i32(1).op(Op.i32_sub).get(w).op(Op.i32_div_s).set(nPanels);
  f.get(dst).set(o);
  f.forRange(p, () => f.i32(0), nPanels, 1, () => {
    f.forRange(k, () => f.i32(0), kPad, 1, () => {
      f.get(k).get(kValid).op(Op.i32_lt_s).set(kInRange);
      f.forRange(t, () => f.i32(0), w, 1, () => {
        f.get(p).get(w).op(Op.i32_mul).get(t).op(Op.i32_add).set(row);
        // value = (row < rows && k < kValid) ? src[row*rs + k*cs] : 0
        f.get(row).get(rows).op(Op.i32_lt_s).get(kInRange).op(Op.i32_and);
        f.if(() => {
          f.get(src).get(row).get(rs).op(Op.i32_mul).get(k).get(cs).op(Op.i32_mul)
            .op(Op.i32_add).i32(2).op(Op.i32_shl).op(Op.i32_add).set(rowPtr);
          f.get(o).get(rowPtr).mem(Op.f32_load).mem(Op.f32_store);
        }, () => {
          f.get(o).f32(0).mem(Op.f32_store);
        });
        f.get(o).i32(4).op(Op.i32_add).set(o);
      });
    });
  });
}

/**
 * im2col / col2im for one image (they are adjoint):
 *   col[(c·kh+i)·kw+j][oh·Wo+ow] = x[c][oh·s−p+i][ow·s−p+j]   (0 outside the image)
 *   dx[c][oh·s−p+i][ow·s−p+j]  += col[(c·kh+i)·kw+j][oh·Wo+ow] (outside terms dropped)
 * Work split: one col row per (c, i, j); per output row oh the input row is checked once, then
 * the ow loop tests the column with one unsigned compare. Params: col/dx, x/col (bytes), C, H, W,
 * kh, kw, stride, pad, Ho, Wo, ldcol (elements between col rows).
 */
function emitIm2col(f: FuncBuilder, adjoint: boolean): void {
  // im2col params: col, x; col2im params: dx, col (the image is always `img`, columns `cols`).
  const [p0, p1, C, H, W, KH, KW, S, PAD, HO, WO, LD] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const cols = adjoint ? p1 : p0, img = adjoint ? p0 : p1;
  const c = f.local(T.i32), i = f.local(T.i32), j = f.local(T.i32);
  const oh = f.local(T.i32), ow = f.local(T.i32), ih = f.local(T.i32), iw = f.local(T.i32);
  const colRow = f.local(T.i32), dst = f.local(T.i32), srcRow = f.local(T.i32);
  const addr = f.local(T.i32);
  f.get(cols).set(colRow);
  f.forRange(c, () => f.i32(0), C, 1, () => {
    f.forRange(i, () => f.i32(0), KH, 1, () => {
      f.forRange(j, () => f.i32(0), KW, 1, () => {
        f.get(colRow).set(dst);
        f.forRange(oh, () => f.i32(0), HO, 1, () => {
          f.get(oh).get(S).op(Op.i32_mul).get(PAD).op(Op.i32_sub).get(i).op(Op.i32_add).tee(ih);
          f.get(H).op(Op.i32_lt_u);
          f.if(() => {
            // srcRow = img + ((c·H + ih)·W)·4
            f.get(img).get(c).get(H).op(Op.i32_mul).get(ih).op(Op.i32_add).get(W).op(Op.i32_mul)
              .i32(2).op(Op.i32_shl).op(Op.i32_add).set(srcRow);
            f.get(j).get(PAD).op(Op.i32_sub).set(iw);
            f.forRange(ow, () => f.i32(0), WO, 1, () => {
              f.get(iw).get(W).op(Op.i32_lt_u);
              f.get(srcRow).get(iw).i32(2).op(Op.i32_shl).op(Op.i32_add).set(addr);
              if (adjoint) {
                f.if(() => {
                  f.get(addr).get(addr).mem(Op.f32_load).get(dst).mem(Op.f32_load)
                    .op(Op.f32_add).mem(Op.f32_store);
                });
              } else {
                f.if(() => {
                  f.get(dst).get(addr).mem(Op.f32_load).mem(Op.f32_store);
                }, () => {
                  f.get(dst).f32(0).mem(Op.f32_store);
                });
              }
              f.get(dst).i32(4).op(Op.i32_add).set(dst);
              f.get(iw).get(S).op(Op.i32_add).set(iw);
            });
          }, () => {
            if (!adjoint) {
              // Whole row outside the image: zeros.
              f.get(dst).i32(0).get(WO).i32(2).op(Op.i32_shl).op(0xfc, 0x0b, 0x00);
            }
            f.get(dst).get(WO).i32(2).op(Op.i32_shl).op(Op.i32_add).set(dst);
          });
        });
        f.get(colRow).get(LD).i32(2).op(Op.i32_shl).op(Op.i32_add).set(colRow);
      });
    });
  });
}

/**
 * Builds the kernel module for a tile configuration (and the direct kernels' blocking); the
 * memory is imported as env.memory.
 */
export function buildKernelModule(
  cfg: TileConfig,
  shared: boolean,
  direct: Omit<DirectConfig, "relaxed"> = DIRECT_TILE,
): Uint8Array<ArrayBuffer> {
  const m = new ModuleBuilder().importMemory({
    module: "env",
    name: "memory",
    min: 1,
    max: 65536,
    shared,
  });
  const i32 = T.i32;
  m.func("gemm_macro", [i32, i32, i32, i32, i32, i32, i32], [], (f) => emitGemmMacro(f, cfg));
  m.func("pack", [i32, i32, i32, i32, i32, i32, i32, i32], [], emitPack);
  const conv = [i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32];
  m.func("im2col", conv, [], (f) => emitIm2col(f, false));
  m.func("col2im", conv, [], (f) => emitIm2col(f, true));
  const dcfg: DirectConfig = { ...direct, relaxed: cfg.relaxed };
  const nine = [i32, i32, i32, i32, i32, i32, i32, i32, i32];
  m.func("direct_conv", nine, [], (f) => emitDirectConv(f, dcfg));
  m.func("direct_filter", nine, [], (f) => emitDirectFilter(f, dcfg));
  m.func("copy_planes", nine, [], emitCopyPlanes);
  m.func("wino_input", nine, [], emitWinoInput);
  m.func("wino_gemm", nine, [], (f) => emitWinoGemm(f, cfg.relaxed));
  m.func("wino_output", [i32, i32, i32, i32, i32, i32, i32], [], emitWinoOutput);
  m.func("wino_grad_y", [i32, i32, i32, i32, i32, i32, i32], [], emitWinoGradY);
  m.func("wino_filter", nine, [], (f) => emitWinoFilter(f, cfg.relaxed));
  m.func("next", [i32], [i32], (f) => emitFetchAdd(f, shared));
  // zero(dst, n): memory.fill(dst, 0, 4n)
  m.func("zero", [i32, i32], [], (f) => {
    f.get(0).i32(0).get(1).i32(2).op(Op.i32_shl).op(0xfc, 0x0b, 0x00);
  });
  addFftKernels(m.exportMemory("memory"));
  addSolveKernels(m);
  return m.build();
}

/**
 * The blocked GEMM/convolution drivers that run on every thread (main and worker). A job is a
 * flat Int32Array of byte addresses and sizes (see `J`); thread t of T computes its share by
 * calling the wasm kernels. Drivers never allocate: the main thread lays out inputs, padded
 * outputs and per-thread scratch in the shared memory before dispatching.
 * @module
 */

import { DIRECT_K, DIRECT_TILE } from "./direct.ts";
import { WINO_NV, WINO_OB, winogradLayout } from "./winograd.ts";
import { type FftKernels, runFft } from "./fft_driver.ts";
import { runSolve, type SolveKernels } from "./solve_driver.ts";

/** Tile and cache-block sizes shared by the planner (main thread) and the drivers. */
export const TILE = {
  /** Micro-tile rows (A panel width). */
  mr: 6,
  /** Micro-tile columns (B panel width). */
  nr: 8,
  /** k unroll of the micro-kernel. */
  ku: 2,
  /** k block: one packed A/B block spans kc (L1 holds a kc×nr B panel). */
  kc: 256,
  /** m block: the mc×kc packed A block stays in L2. */
  mc: 120,
  /** n block: the kc×nc packed B block. */
  nc: 4096,
} as const;

/** A Winograd tile pass between one tile-shaped array and the transformed domain (winograd.ts). */
type WinogradTilePass = (
  from: number,
  to: number,
  o: number,
  nTy: number,
  nTxv: number,
  ldv: number,
  mXi: number,
) => void;

/** Exports of the kernel module (all addresses in bytes). */
export interface Kernels {
  /** C[mp·mr × np·nr] += packedA · packedB; ldc in bytes. */
  gemm_macro(
    pa: number,
    pb: number,
    pc: number,
    mp: number,
    np: number,
    kc: number,
    ldc: number,
  ): void;
  /** Packs rows×k of src (strides rs, cs in elements) into w-wide panels, zero-padded. */
  pack(
    dst: number,
    src: number,
    rows: number,
    kValid: number,
    kPad: number,
    rs: number,
    cs: number,
    w: number,
  ): void;
  /** col[(c,i,j)][oh·Wo+ow] = x[c][oh·s−p+i][ow·s−p+j] for one image; ldcol in elements. */
  im2col(
    col: number,
    x: number,
    c: number,
    h: number,
    w: number,
    kh: number,
    kw: number,
    s: number,
    p: number,
    ho: number,
    wo: number,
    ldcol: number,
  ): void;
  /** dx[c][oh·s−p+i][ow·s−p+j] += col[(c,i,j)][oh·Wo+ow] for one image; the adjoint of im2col. */
  col2im(
    dx: number,
    col: number,
    c: number,
    h: number,
    w: number,
    kh: number,
    kw: number,
    s: number,
    p: number,
    ho: number,
    wo: number,
    ldcol: number,
  ): void;
  /** dst[i] = 0 for i < n (f32 elements). */
  zero(dst: number, n: number): void;
  /** yf[o][q] = Σ_c Σ_ij wp·xp[c][q + i·Wp + j] over nob blocks of channels (direct.ts). */
  direct_conv(
    xp: number,
    wp: number,
    yf: number,
    c: number,
    wpad: number,
    planeX: number,
    nq: number,
    nob: number,
    ldy: number,
  ): void;
  /** dw[o][c][i][j] += Σ_q gyf[o][q]·xp[c][q + i·Wp + j] (direct.ts). */
  direct_filter(
    xp: number,
    gyf: number,
    dw: number,
    c: number,
    wpad: number,
    planeX: number,
    nv: number,
    nob: number,
    ldg: number,
  ): void;
  /** dst[pl·dps + r·drs + k] = src[pl·sps + r·srs + k] (elements). */
  copy_planes(
    dst: number,
    src: number,
    planes: number,
    rows: number,
    n: number,
    drs: number,
    srs: number,
    dps: number,
    sps: number,
  ): void;
  /** V[ξ][c][t] = (Bᵀ d B)_ξ of one padded image (winograd.ts). */
  wino_input(
    xp: number,
    v: number,
    c: number,
    nTy: number,
    nTxv: number,
    r: number,
    wpad: number,
    ldv: number,
    xiBytes: number,
  ): void;
  /** M[ξ][o][t] = Σ_c U[ξ][o][c]·V[ξ][c][t] (winograd.ts). */
  wino_gemm(
    up: number,
    v: number,
    m: number,
    c: number,
    nob: number,
    ntp: number,
    ldv: number,
    vXi: number,
    mXi: number,
  ): void;
  /** y[o] tiles = Aᵀ M A (winograd.ts): (m, y, …). */
  wino_output: WinogradTilePass;
  /** GM[ξ][o][t] = (A dY Aᵀ)_ξ of one tile-shaped gy (winograd.ts): (gyt, gm, …). */
  wino_grad_y: WinogradTilePass;
  /** dU[ξ][o][c] += Σ_t GM[ξ][o][t]·V[ξ][c][t] (winograd.ts). */
  wino_filter(
    gm: number,
    v: number,
    du: number,
    cPad: number,
    nob: number,
    ntv: number,
    ldv: number,
    vXi: number,
    mXi: number,
  ): void;
  /** Returns the i32 at addr and increments it (atomically on shared memory). */
  next(addr: number): number;
}

/** Job kinds. */
export const JobKind = {
  gemm: 1,
  convForward: 2,
  convTranspose2d: 3,
  conv2dFilterGrad: 4,
  directForward: 5,
  directFilter: 6,
  winograd: 7,
  winogradFilter: 8,
  /** rfft2/irfft2 (fft_driver.ts; its own job words FJ) */
  fft: 20,
  /** batched solve, four systems per SIMD group (solve_kernels.ts; its job words SJ) */
  solve: 21,
} as const;

/** Field indices of a job record (Int32). Addresses are in bytes, strides in elements. */
export const J = {
  kind: 0,
  // gemm
  a: 1,
  b: 2,
  c: 3,
  m: 4,
  n: 5,
  k: 6,
  rsA: 7,
  csA: 8,
  rsB: 9,
  csB: 10,
  ldc: 11,
  batch: 12,
  strideA: 13,
  strideB: 14,
  strideC: 15,
  // conv: x/gy/w/out addresses reuse a/b/c; geometry below
  cb: 16,
  cc: 17,
  ch: 18,
  cw: 19,
  co: 20,
  ckh: 21,
  ckw: 22,
  cs: 23,
  cp: 24,
  cho: 25,
  cwo: 26,
  // per-thread scratch: base address and bytes per thread
  scratch: 27,
  scratchStride: 28,
  // byte address of the i32 work-stealing counter (images handed out so far), zeroed by the caller
  counter: 29,
  // filter gradients: images are split into this many fixed groups, one dW partial per group, so
  // the sum (and its rounding) does not depend on which thread took which group
  groups: 30,
  // bytes between the groups' dW partials
  groupStride: 31,
  // gemm: 1 = only the lower triangle (row ≥ column, at micro-tile granularity) of a square C,
  // as for a Gram matrix A·Aᵀ; batch must be 1
  lower: 32,
  size: 33,
} as const;

const roundUp = (x: number, m: number): number => Math.ceil(x / m) * m;

/** Bytes of packing scratch a thread needs (A block + B block). */
export function packScratchBytes(m: number, n: number): number {
  const kcPad = roundUp(TILE.kc, TILE.ku);
  const mc = Math.min(TILE.mc, roundUp(m, TILE.mr));
  const nc = Math.min(TILE.nc, roundUp(n, TILE.nr));
  return (mc + nc) * kcPad * 4 + 128;
}

/**
 * C[m0.., n0..n1) += op(A)·op(B) restricted to columns [n0, n1) (n0 a multiple of nr).
 * A(i, k) at a + (i·rsA + k·csA)·4, B(k, j) at b + (j·rsB + k·csB)·4, C row stride ldc elements;
 * C must be padded to whole micro-tiles (rows to mr, columns to nr).
 */
export function gemmBlocked(
  kx: Kernels,
  a: number,
  b: number,
  c: number,
  m: number,
  n0: number,
  n1: number,
  k: number,
  rsA: number,
  csA: number,
  rsB: number,
  csB: number,
  ldc: number,
  scratch: number,
  lower = false,
): void {
  const { mr, nr, ku, kc: KC, mc: MC, nc: NC } = TILE;
  const mcMax = Math.min(MC, roundUp(m, mr));
  const packA = scratch;
  const packB = scratch + roundUp(mcMax * roundUp(KC, ku) * 4, 64);
  for (let jc = n0; jc < n1; jc += NC) {
    const nc = Math.min(NC, n1 - jc);
    const np = Math.ceil(nc / nr);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = Math.min(KC, k - pc);
      const kcPad = roundUp(kc, ku);
      kx.pack(packB, b + (jc * rsB + pc * csB) * 4, nc, kc, kcPad, rsB, csB, nr);
      // lower: rows above this column block hold nothing wanted; a row block needs the
      // columns up to its last row only
      for (let ic = lower ? jc - (jc % mr) : 0; ic < m; ic += MC) {
        const mcur = Math.min(MC, m - ic);
        const npCur = lower ? Math.min(np, Math.ceil((ic + mcur - jc) / nr)) : np;
        kx.pack(packA, a + (ic * rsA + pc * csA) * 4, mcur, kc, kcPad, rsA, csA, mr);
        kx.gemm_macro(
          packA,
          packB,
          c + (ic * ldc + jc) * 4,
          Math.ceil(mcur / mr),
          npCur,
          kcPad,
          ldc * 4,
        );
      }
    }
  }
}

/** Runs thread t's share (of T) of the job; C/outputs must already be zeroed where needed. */
export function runJob(kx: Kernels, p: Int32Array, t: number, T: number): void {
  const scratch = p[J.scratch] + t * p[J.scratchStride];
  switch (p[J.kind]) {
    case JobKind.gemm: {
      // Units: (batch item, column chunk); a contiguous range of units per thread.
      const batch = p[J.batch], n = p[J.n], nr = TILE.nr;
      if (p[J.lower] === 1) {
        // lower triangle: column j costs n − j rows, so thread t takes columns up to
        // n·(1 − √(1 − t/T)), which gives each the same share of the triangle
        const edge = (u: number): number =>
          u >= T ? n : Math.min(n, roundUp(Math.round(n * (1 - Math.sqrt(1 - u / T))), nr));
        const n0 = edge(t), n1 = edge(t + 1);
        if (n0 < n1) {
          gemmBlocked(
            kx,
            p[J.a],
            p[J.b],
            p[J.c],
            p[J.m],
            n0,
            n1,
            p[J.k],
            p[J.rsA],
            p[J.csA],
            p[J.rsB],
            p[J.csB],
            p[J.ldc],
            scratch,
            true,
          );
        }
        return;
      }
      const split = batch % T === 0 ? 1 : T;
      const units = batch * split;
      const chunk = roundUp(Math.ceil(n / split), nr);
      for (let u = Math.floor((t * units) / T); u < Math.floor(((t + 1) * units) / T); u++) {
        const bi = Math.floor(u / split), s = u % split;
        const n0 = s * chunk, n1 = Math.min(n, n0 + chunk);
        if (n0 >= n1) continue;
        gemmBlocked(
          kx,
          p[J.a] + bi * p[J.strideA] * 4,
          p[J.b] + bi * p[J.strideB] * 4,
          p[J.c] + bi * p[J.strideC] * 4,
          p[J.m],
          n0,
          n1,
          p[J.k],
          p[J.rsA],
          p[J.csA],
          p[J.rsB],
          p[J.csB],
          p[J.ldc],
          scratch,
        );
      }
      return;
    }
    case JobKind.convForward:
    case JobKind.convTranspose2d:
    case JobKind.conv2dFilterGrad:
      runConv(kx, p, scratch);
      return;
    case JobKind.directForward:
    case JobKind.directFilter:
      runDirect(kx, p, scratch);
      return;
    case JobKind.winograd:
      runWinograd(kx, p, scratch);
      return;
    case JobKind.winogradFilter:
      runWinogradFilter(kx, p, scratch);
      return;
    case JobKind.fft:
      runFft(kx as unknown as FftKernels, p, t);
      return;
    case JobKind.solve:
      runSolve(kx as unknown as SolveKernels, p);
      return;
    default:
      throw new RangeError(`Unknown wasm job kind ${p[J.kind]}`);
  }
}

/** Layout of one image for the direct 3×3 kernels (elements; see direct.ts). */
export interface DirectLayout {
  /** Padded height and width. */
  hp: number;
  wp: number;
  /** Output height and width (stride 1). */
  ho: number;
  wo: number;
  /** Flattened output length ho·wp, rounded up to whole chunks (the yf/gyf row stride). */
  ld: number;
  /** Chunks of 4·v positions of the forward kernel. */
  nq: number;
  /** Elements of the padded image incl. the slack read past its end. */
  xpElems: number;
  /** Channel blocks of the forward output and of the filter gradient. */
  nob: number;
  nobFilter: number;
  /** Bytes of per-thread scratch: padded image, then yf or gyf. */
  scratchBytes: number;
}

/** The direct-kernel layout for C input channels (H×W, padding p) and O output channels. */
export function directLayout(C: number, H: number, W: number, O: number, p: number): DirectLayout {
  const { ob, v, obFilter } = DIRECT_TILE;
  const hp = H + 2 * p, wp = W + 2 * p, ho = hp - DIRECT_K + 1, wo = wp - DIRECT_K + 1;
  const L = ho * wp, nq = Math.ceil(L / (4 * v)), ld = nq * 4 * v;
  // The last chunk reads up to ld − 1 + (k−1)·(wp+1) + 3 past the last channel's start.
  const xpElems = roundUp(C * hp * wp + ld - L + 8, 16);
  const nob = Math.ceil(O / ob), nobFilter = Math.ceil(O / obFilter);
  const out = Math.max(nob * ob, nobFilter * obFilter) * ld;
  return {
    hp,
    wp,
    ho,
    wo,
    ld,
    nq,
    xpElems,
    nob,
    nobFilter,
    scratchBytes: roundUp(xpElems * 4, 64) + roundUp(out * 4, 64),
  };
}

/**
 * Direct 3×3 stride-1 convolutions, one image per ticket (work stealing through J.counter, so
 * a thread slowed by other load takes fewer images):
 *  forward: xp = pad(x_b); yf = direct_conv(xp, wp); y_b = yf without its garbage columns
 *           (the input gradient runs this with x = gy, padding k−1−p and the flipped kernel)
 *  filter:  xp = pad(x_b); gyf = gy_b on wp-wide rows; dW_t += direct_filter(xp, gyf)
 * a = x, b = packed weights (forward) or gy (filter), c = y or the per-thread dW partials.
 */
function runDirect(kx: Kernels, p: Int32Array, scratch: number): void {
  const C = p[J.cc], H = p[J.ch], W = p[J.cw], O = p[J.co], pad = p[J.cp];
  const L = directLayout(C, H, W, O, pad);
  const xp = scratch, buf = scratch + roundUp(L.xpElems * 4, 64);
  const plane = L.hp * L.wp, inner = xp + (pad * L.wp + pad) * 4;
  const forward = p[J.kind] === JobKind.directForward;
  const oFilter = L.nobFilter * DIRECT_TILE.obFilter;
  // zeroed once per job: each image overwrites the same interior positions, so the padding, the
  // garbage columns of gyf, its padded channels and the slack past them stay zero
  kx.zero(xp, L.xpElems);
  if (!forward) kx.zero(buf, oFilter * L.ld);
  forEachTicket(kx, p, !forward, (bi, group) => {
    kx.copy_planes(inner, p[J.a] + bi * C * H * W * 4, C, H, W, L.wp, W, plane, H * W);
    if (forward) {
      kx.direct_conv(xp, p[J.b], buf, C, L.wp, plane, L.nq, L.nob, L.ld);
      const y = p[J.c] + bi * O * L.ho * L.wo * 4;
      kx.copy_planes(y, buf, O, L.ho, L.wo, L.wo, L.wp, L.ho * L.wo, L.ld);
    } else {
      const P = L.ho * L.wo;
      kx.copy_planes(buf, p[J.b] + bi * O * P * 4, O, L.ho, L.wo, L.wp, L.wo, L.ld, P);
      const dw = p[J.c] + group * p[J.groupStride];
      kx.direct_filter(xp, buf, dw, C, L.wp, plane, L.ld / 4, L.nobFilter, L.ld);
    }
  });
}

/**
 * Winograd F(2×2, 3×3) forward (winograd.ts), one image per ticket: xp = pad(x_b) (its padding
 * stays zero from the first image on), V = input transform, M = U·V per ξ, y tiles = output
 * transform, y_b = the tiles without the padding rows/columns. a = x, b = packed U, c = y.
 */
function runWinograd(kx: Kernels, p: Int32Array, scratch: number): void {
  const C = p[J.cc], H = p[J.ch], W = p[J.cw], O = p[J.co], pad = p[J.cp];
  const L = winogradLayout(C, H, W, O, pad);
  const plane = L.R * L.WP, v = scratch + L.vAt, m = scratch + L.mAt, yt = scratch + L.yAt;
  const vXi = C * L.ldv * 4, mXi = L.nob * WINO_OB * L.ldv * 4, rowT = 2 * L.nTxP;
  kx.zero(scratch, C * plane);
  forEachTicket(kx, p, false, (bi) => {
    kx.copy_planes(
      scratch + (pad * L.WP + pad) * 4,
      p[J.a] + bi * C * H * W * 4,
      C,
      H,
      W,
      L.WP,
      W,
      plane,
      H * W,
    );
    kx.wino_input(scratch, v, C, L.nTy, L.nTxv, L.R, L.WP, L.ldv, vXi);
    kx.wino_gemm(p[J.b], v, m, C, L.nob, L.ldv / (4 * WINO_NV), L.ldv, vXi, mXi);
    kx.wino_output(m, yt, O, L.nTy, L.nTxv, L.ldv, mXi);
    const y = p[J.c] + bi * O * L.ho * L.wo * 4;
    kx.copy_planes(y, yt, O, L.ho, L.wo, L.wo, rowT, L.ho * L.wo, 2 * L.nTy * rowT);
  });
}

/**
 * Winograd F(2×2, 3×3) filter gradient, one of J.groups fixed image groups per ticket:
 * xp = pad(x_b), V = input transform; gy_b into the tile-shaped buffer, GM = its gradient
 * transform; dU_group += Σ_t GM·V per ξ (the caller sums the groups in order and applies Gᵀ·G).
 * Buffers are zeroed once per job: padding, slack tiles and padded channels then stay zero.
 * a = x, b = gy, c = the per-group dU partials.
 */
function runWinogradFilter(kx: Kernels, p: Int32Array, scratch: number): void {
  const C = p[J.cc], H = p[J.ch], W = p[J.cw], O = p[J.co], pad = p[J.cp];
  const L = winogradLayout(C, H, W, O, pad);
  const plane = L.R * L.WP, v = scratch + L.vAt, gm = scratch + L.mAt, gyt = scratch + L.yAt;
  const vXi = L.cPad * L.ldv * 4, mXi = L.nob * WINO_OB * L.ldv * 4, rowT = 2 * L.nTxP;
  kx.zero(scratch, L.scratchBytes / 4);
  const P = L.ho * L.wo;
  forEachTicket(kx, p, true, (bi, group) => {
    const x = p[J.a] + bi * C * H * W * 4;
    kx.copy_planes(scratch + (pad * L.WP + pad) * 4, x, C, H, W, L.WP, W, plane, H * W);
    kx.wino_input(scratch, v, C, L.nTy, L.nTxv, L.R, L.WP, L.ldv, vXi);
    const gy = p[J.b] + bi * O * P * 4;
    kx.copy_planes(gyt, gy, O, L.ho, L.wo, rowT, L.wo, 2 * L.nTy * rowT, P);
    kx.wino_grad_y(gyt, gm, O, L.nTy, L.nTxv, L.ldv, mXi);
    const du = p[J.c] + group * p[J.groupStride];
    kx.wino_filter(gm, v, du, L.cPad, L.nob, L.ldv / 4, L.ldv, vXi, mXi);
  });
}

/**
 * Hands out work by tickets from the shared counter until none is left: one image per ticket,
 * or, when `grouped` (filter gradients), one of J.groups fixed runs of images, passed with its
 * group index so each group accumulates into its own partial.
 */
function forEachTicket(
  kx: Kernels,
  p: Int32Array,
  grouped: boolean,
  body: (bi: number, group: number) => void,
): void {
  const B = p[J.cb], G = grouped ? p[J.groups] : B;
  for (let u = kx.next(p[J.counter]); u < G; u = kx.next(p[J.counter])) {
    if (!grouped) body(u, 0);
    else {for (let bi = Math.floor((u * B) / G); bi < Math.floor(((u + 1) * B) / G); bi++) {
        body(bi, u);
      }}
  }
}

/**
 * Convolutions by im2col blocks, one image per ticket (work stealing through J.counter).
 * K = C·kh·kw, P = Ho·Wo; the column buffer col[K][Ppad] lives in the thread's scratch.
 *  forward:  y_b[O][P]   = W[O][K] · col_b[K][P]
 *  bwd in:   dcol[K][P]  = Wᵀ[K][O] · gy_b[O][P];  dx_b = col2im(dcol)
 *  bwd filt: dW_g[O][K] += gy_b[O][P] · col_bᵀ[P][K]  (one dW_g per image group, summed by the
 *            caller in group order)
 */
function runConv(kx: Kernels, p: Int32Array, scratch: number): void {
  forEachTicket(kx, p, p[J.kind] === JobKind.conv2dFilterGrad, (bi, group) => {
    convImage(kx, p, bi, group, scratch);
  });
}

function convImage(kx: Kernels, p: Int32Array, bi: number, group: number, scratch: number): void {
  const C = p[J.cc], H = p[J.ch], W = p[J.cw], O = p[J.co];
  const kh = p[J.ckh], kw = p[J.ckw], s = p[J.cs], pad = p[J.cp], ho = p[J.cho], wo = p[J.cwo];
  const K = C * kh * kw, P = ho * wo;
  const { mr, nr } = TILE;
  const pPad = roundUp(P, nr), oPad = roundUp(O, mr), kPadR = roundUp(K, mr);
  const kPadC = roundUp(K, nr);
  const col = scratch;
  const packs = scratch + roundUp(kPadR * pPad * 4, 64);
  const kind = p[J.kind];
  if (kind === JobKind.convForward) {
    const x = p[J.a] + bi * C * H * W * 4, w = p[J.b], y = p[J.c] + bi * oPad * pPad * 4;
    kx.im2col(col, x, C, H, W, kh, kw, s, pad, ho, wo, pPad);
    gemmBlocked(kx, w, col, y, O, 0, P, K, K, 1, 1, pPad, pPad, packs);
  } else if (kind === JobKind.convTranspose2d) {
    const gy = p[J.a] + bi * O * P * 4, w = p[J.b], dx = p[J.c] + bi * C * H * W * 4;
    kx.zero(col, kPadR * pPad);
    // A = Wᵀ: A(i=kIdx, k=o) = W[o][kIdx] → rsA = 1, csA = K.
    gemmBlocked(kx, w, gy, col, K, 0, P, O, 1, K, 1, P, pPad, packs);
    kx.col2im(dx, col, C, H, W, kh, kw, s, pad, ho, wo, pPad);
  } else {
    const x = p[J.a] + bi * C * H * W * 4, gy = p[J.b] + bi * O * P * 4;
    const dW = p[J.c] + group * p[J.groupStride];
    kx.im2col(col, x, C, H, W, kh, kw, s, pad, ho, wo, pPad);
    // B(k=pIdx, j=kIdx) = col[kIdx][pIdx] → rsB = pPad, csB = 1.
    gemmBlocked(kx, gy, col, dW, O, 0, K, P, P, 1, pPad, 1, kPadC, packs);
  }
}

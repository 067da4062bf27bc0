/**
 * The blocked GEMM/convolution drivers that run on every thread (main and worker). A job is a
 * flat Int32Array of byte addresses and sizes (see `J`); thread t of T computes its share by
 * calling the wasm kernels. Drivers never allocate: the main thread lays out inputs, padded
 * outputs and per-thread scratch in the shared memory before dispatching.
 * @module
 */

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
}

/** Job kinds. */
export const JobKind = {
  gemm: 1,
  convForward: 2,
  convBackwardInput: 3,
  convBackwardFilter: 4,
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
  size: 32,
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
      for (let ic = 0; ic < m; ic += MC) {
        const mcur = Math.min(MC, m - ic);
        kx.pack(packA, a + (ic * rsA + pc * csA) * 4, mcur, kc, kcPad, rsA, csA, mr);
        kx.gemm_macro(
          packA,
          packB,
          c + (ic * ldc + jc) * 4,
          Math.ceil(mcur / mr),
          np,
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
    case JobKind.convBackwardInput:
    case JobKind.convBackwardFilter:
      runConv(kx, p, t, T, scratch);
      return;
    default:
      throw new RangeError(`Unknown wasm job kind ${p[J.kind]}`);
  }
}

/**
 * Convolutions by im2col blocks, one image at a time; thread t takes images [t·B/T, (t+1)·B/T).
 * K = C·kh·kw, P = Ho·Wo; the column buffer col[K][Ppad] lives in the thread's scratch.
 *  forward:  y_b[O][P]   = W[O][K] · col_b[K][P]
 *  bwd in:   dcol[K][P]  = Wᵀ[K][O] · gy_b[O][P];  dx_b = col2im(dcol)
 *  bwd filt: dW_t[O][K] += gy_b[O][P] · col_bᵀ[P][K]  (one dW_t per thread, summed by the caller)
 */
function runConv(kx: Kernels, p: Int32Array, t: number, T: number, scratch: number): void {
  const B = p[J.cb], C = p[J.cc], H = p[J.ch], W = p[J.cw], O = p[J.co];
  const kh = p[J.ckh], kw = p[J.ckw], s = p[J.cs], pad = p[J.cp], ho = p[J.cho], wo = p[J.cwo];
  const K = C * kh * kw, P = ho * wo;
  const { mr, nr } = TILE;
  const pPad = roundUp(P, nr),
    oPad = roundUp(O, mr),
    kPadR = roundUp(K, mr),
    kPadC = roundUp(K, nr);
  const col = scratch;
  const packs = scratch + roundUp(roundUp(K, mr) * pPad * 4, 64);
  const b0 = Math.floor((t * B) / T), b1 = Math.floor(((t + 1) * B) / T);
  const kind = p[J.kind];
  for (let bi = b0; bi < b1; bi++) {
    if (kind === JobKind.convForward) {
      const x = p[J.a] + bi * C * H * W * 4, w = p[J.b], y = p[J.c] + bi * oPad * pPad * 4;
      kx.im2col(col, x, C, H, W, kh, kw, s, pad, ho, wo, pPad);
      gemmBlocked(kx, w, col, y, O, 0, P, K, K, 1, 1, pPad, pPad, packs);
    } else if (kind === JobKind.convBackwardInput) {
      const gy = p[J.a] + bi * O * P * 4, w = p[J.b], dx = p[J.c] + bi * C * H * W * 4;
      kx.zero(col, kPadR * pPad);
      // A = Wᵀ: A(i=kIdx, k=o) = W[o][kIdx] → rsA = 1, csA = K.
      gemmBlocked(kx, w, gy, col, K, 0, P, O, 1, K, 1, P, pPad, packs);
      kx.col2im(dx, col, C, H, W, kh, kw, s, pad, ho, wo, pPad);
    } else {
      const x = p[J.a] + bi * C * H * W * 4, gy = p[J.b] + bi * O * P * 4;
      const dW = p[J.c] + t * oPad * kPadC * 4;
      kx.im2col(col, x, C, H, W, kh, kw, s, pad, ho, wo, pPad);
      // B(k=pIdx, j=kIdx) = col[kIdx][pIdx] → rsB = pPad, csB = 1.
      gemmBlocked(kx, gy, col, dW, O, 0, K, P, P, 1, pPad, 1, kPadC, packs);
    }
  }
}

/**
 * The contract between the tensor layer and every backend: primitive names with their static
 * parameters (one interface per family, each named after its tensor/prims/ file), and the
 * Backend executor interface. It sits here, below tensor/, because kernels may not import
 * upwards; the rules, vjps and wrappers of each family are in tensor/prims/<family>.ts.
 * Backends implement one kernel per name in a table typed over `PrimName`.
 * @module
 */
import type { DType, TypedArray } from "./dtype.ts";

/** [height, width] pair for strides and paddings. */
export type Pair = [number, number];

/** Parameters of the unary elementwise primitives (none). */
export interface UnaryParams {
  neg: Record<never, never>;
  exp: Record<never, never>;
  log: Record<never, never>;
  sqrt: Record<never, never>;
  abs: Record<never, never>;
  sign: Record<never, never>;
}

/** Parameters of the binary elementwise primitives, which broadcast (none). */
export interface BinaryParams {
  add: Record<never, never>;
  sub: Record<never, never>;
  mul: Record<never, never>;
  div: Record<never, never>;
  maximum: Record<never, never>;
  minimum: Record<never, never>;
}

/** Parameters of the elementwise family (tensor/prims/elementwise.ts). */
export interface ElementwiseParams extends UnaryParams, BinaryParams {
  /** 0/1 int32 result. */
  compare: { op: CompareOp };
  /** where(cond, a, b), broadcasting all three; cond is nonzero = true. */
  where: Record<never, never>;
  cast: { dtype: DType };
}

/** Parameters of the reduce family (tensor/prims/reduce.ts). */
export interface ReduceParams {
  sum: { axes: number[]; keepDims: boolean };
  max: { axes: number[]; keepDims: boolean };
  argmax: { axis: number; keepDims: boolean };
}

/** Parameters of the linalg family (tensor/prims/linalg.ts). */
export interface LinalgParams {
  /**
   * op(a) · op(b), batch axes broadcast; op transposes the last two axes when the flag is set
   * (a is [..., k, m] with transA, b is [..., n, k] with transB). Backward passes use the flags
   * instead of materialising transposed matrices.
   */
  matmul: { transA: boolean; transB: boolean };
}

/** Parameters of the layout family (tensor/prims/layout.ts). */
export interface LayoutParams {
  reshape: { shape: number[] };
  transpose: { perm: number[] };
  broadcastTo: { shape: number[] };
  slice: { begin: number[]; size: number[] };
  /** zero padding (constant `value`), `widths[i] = [before, after]`. */
  pad: { widths: Pair[]; value: number };
  concat: { axis: number };
}

/** Parameters of the index family (tensor/prims/index.ts). */
export interface IndexParams {
  /** out = x taken at int32 `indices` (1-D) along `axis`. */
  gather: { axis: number };
  /** out[.., indices[i], ..] += g[.., i, ..]; out has `size` entries along `axis`. */
  scatterAdd: { axis: number; size: number };
}

/** Parameters of the conv family (tensor/prims/conv.ts), NCHW. */
export interface ConvParams {
  /** x [B,C,H,W], w [O,C,kh,kw] → [B,O,Ho,Wo], cross-correlation with zero padding. */
  conv2d: { stride: Pair; padding: Pair };
  /** y [B,O,Ho,Wo], w [O,C,kh,kw] → [B,C,H,W]: adjoint of conv2d (PyTorch conv_transpose2d). */
  convTranspose2d: { stride: Pair; padding: Pair; outputPadding: Pair };
  /** x [B,C,H,W], gy [B,O,Ho,Wo] → dW [O,C,kh,kw]: the weight gradient of conv2d. */
  conv2dFilterGrad: { stride: Pair; padding: Pair; kernel: Pair };
}

/** Parameters of the pool family (tensor/prims/pool.ts), NCHW. */
export interface PoolParams {
  /** window sums divided by `divisor` (zero padding counts as zeros). */
  avgPool2d: { size: Pair; stride: Pair; padding: Pair; divisor: number };
  /** adjoint of avgPool2d back to an input of spatial size `inSize`. */
  avgPool2dTranspose: { size: Pair; stride: Pair; padding: Pair; divisor: number; inSize: Pair };
}

/**
 * Normalisation of the FFT pair: "backward" (forward unscaled, inverse 1/(HW), as numpy and
 * torch), "ortho" (1/√(HW) both ways) or "forward" (forward 1/(HW), inverse unscaled).
 */
export type FftNorm = "backward" | "ortho" | "forward";

/** Parameters of the fft family (tensor/prims/fft.ts); complex values carry a trailing axis 2. */
export interface FftParams {
  /** real [..., H, W] → [..., H, ⌊W/2⌋+1, 2]: the 2-D DFT of the last two axes, half spectrum. */
  rfft2: { norm: FftNorm };
  /** [..., H, ⌊W/2⌋+1, 2] → real [..., H, W] of `size` = [H, W]: the inverse of rfft2. */
  irfft2: { size: Pair; norm: FftNorm };
}

/** Parameters of the solve family (tensor/prims/solve.ts). */
export interface SolveParams {
  /**
   * x = op(a)⁻¹·b for a [..., n, n], b [..., n, k] with equal batch axes (the wrapper
   * broadcasts); op transposes a when `transA` (the vjp solves with aᵀ without a copy).
   */
  solve: { transA: boolean };
}

/** Static parameters of every primitive, by name: the union of the families. */
export interface PrimParams
  extends
    ElementwiseParams,
    ReduceParams,
    LinalgParams,
    LayoutParams,
    IndexParams,
    ConvParams,
    PoolParams,
    FftParams,
    SolveParams {}

/** Comparison operators of `compare`. */
export type CompareOp = "eq" | "ne" | "lt" | "le" | "gt" | "ge";

/** Name of a primitive. */
export type PrimName = keyof PrimParams;

/**
 * Primitives whose output shares its input's storage (their rule says `alias`): no backend
 * runs a kernel for them, so kernel tables leave them out.
 */
export type AliasName = "reshape";

/** Primitives a backend runs: its kernel table is typed over these. */
export type KernelName = Exclude<PrimName, AliasName>;

/** Unary elementwise primitives. */
export type UnaryName = keyof UnaryParams;
/** Binary elementwise primitives. */
export type BinaryName = keyof BinaryParams;

/** What a kernel sees of an input: the backend storage plus its shape and dtype. */
export interface KernelArg<S = unknown> {
  storage: S;
  shape: readonly number[];
  dtype: DType;
}

/** Output description computed by the primitive's shape rule. */
export interface OutInfo {
  shape: number[];
  dtype: DType;
}

/** A backend: a small executor (upload, run a primitive, read back, free). */
export interface Backend<S = unknown> {
  /** "cpu" or "webgpu". */
  readonly name: BackendName;
  /** Uploads host data into new storage. */
  upload(data: TypedArray, dtype: DType): S;
  /** Runs primitive `prim`, returning new storage for the output. */
  run<P extends KernelName>(
    prim: P,
    inputs: KernelArg<S>[],
    params: PrimParams[P],
    out: OutInfo,
  ): S;
  /** Reads storage back to the host (flushing pending work). */
  read(storage: S, dtype: DType, size: number): Promise<TypedArray>;
  /** Synchronous read, where the backend can (CPU only). */
  readSync?(storage: S, dtype: DType, size: number): TypedArray;
  /** Releases storage (it may be pooled). */
  free(storage: S): void;
  /**
   * Computes storage whose value is still pending (a backend that defers work, such as
   * WebGPU's elementwise fusion), because it lives on past the ops that made it (`keep`).
   */
  settle?(storage: S): void;
  /** Dtypes this backend stores. */
  readonly dtypes: readonly DType[];
}

/** Backend names. */
export type BackendName = "cpu" | "webgpu";

/** Geometry of a convolution x [b, c, h, w] ⋆ w [o, c, kh, kw] → y [b, o, ho, wo]. */
export interface ConvGeom {
  b: number;
  c: number;
  h: number;
  w: number;
  o: number;
  kh: number;
  kw: number;
  ho: number;
  wo: number;
  stride: Pair;
  padding: Pair;
}

/**
 * The geometry from the shapes of x [b, c, h, w], w [o, c, kh, kw] and y [b, o, ho, wo] (for
 * conv2d, its transpose and its filter gradient alike, each passes its own three shapes).
 */
export function convGeom(
  x: readonly number[],
  w: readonly number[],
  y: readonly number[],
  p: { stride: Pair; padding: Pair },
): ConvGeom {
  return {
    b: x[0],
    c: x[1],
    h: x[2],
    w: x[3],
    o: w[0],
    kh: w[2],
    kw: w[3],
    ho: y[2],
    wo: y[3],
    stride: p.stride,
    padding: p.padding,
  };
}

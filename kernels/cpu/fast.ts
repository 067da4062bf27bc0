/**
 * Routes the CPU backend's float32 matmul and convolutions to the WebAssembly SIMD kernels
 * (kernels/cpu/wasm) when they can run here, and large products to a native BLAS when one is
 * found (kernels/cpu/blas.ts); anything they do not cover (non-square strides or paddings,
 * broadcast batch patterns other than "one side shared") falls back to the reference.
 * `SLL_CPU_KERNELS=auto|wasm|blas|reference` picks the set (default auto: BLAS when found).
 * @module
 */
import type { TypedArray } from "../dtype.ts";
import { envVar } from "../env.ts";
import { loadNativeBlas, type NativeBlas } from "./blas.ts";
import {
  blasConv2dFilterGradS1,
  blasConv2dS1,
  blasConvTranspose2dS1,
  type ConvS1,
} from "./conv_blas.ts";
import type { ConvGeom, KernelArg, OutInfo, Pair } from "../prims.ts";
import { sizeOf } from "../shape.ts";
import type { FastCpuKernels } from "./backend.ts";
import { batchOffsets } from "./linalg.ts";
import { allocUninit } from "./host_pool.ts";
import * as W from "./wasm/mod.ts";
import { wasmRfft2 } from "./fft_wasm.ts";
import { wasmSolve } from "./solve_wasm.ts";

type Arg = KernelArg<TypedArray>;

function square(p: Pair): number | null {
  return p[0] === p[1] ? p[0] : null;
}

function convOpts(d: ConvGeom): W.Conv2dOptions | null {
  const stride = square(d.stride), padding = square(d.padding);
  if (stride === null || padding === null) return null;
  return { b: d.b, c: d.c, h: d.h, w: d.w, o: d.o, kh: d.kh, kw: d.kw, stride, padding };
}

/**
 * An outer product a·bᵀ (k = 1: a, b are vectors whatever the transpose flags), as the cotangents
 * of matrix–vector products make it: one multiply per element, the same float32 result as a
 * product kernel, without its packing.
 */
function outerProduct(a: Float32Array, b: Float32Array, m: number, n: number): Float32Array {
  const o = allocUninit("float32", m * n) as Float32Array;
  for (let i = 0; i < m; i++) {
    const ai = a[i], row = i * n;
    for (let j = 0; j < n; j++) o[row + j] = ai * b[j];
  }
  return o;
}

/** The wasm-backed kernels, or an empty set when WebAssembly SIMD is unavailable. */
export function wasmCpuKernels(): FastCpuKernels {
  if (!W.wasmAvailable()) return {};
  return {
    matmul(a: Arg, b: Arg, out: OutInfo, transA: boolean, transB: boolean): Float32Array | null {
      const r = out.shape.length;
      const m = out.shape[r - 2], n = out.shape[r - 1];
      const k = transA ? a.shape[a.shape.length - 2] : a.shape[a.shape.length - 1];
      const aB = a.shape.slice(0, -2), bB = b.shape.slice(0, -2), oB = out.shape.slice(0, -2);
      const nb = sizeOf(oB), na = sizeOf(aB), nbb = sizeOf(bB);
      const A = a.storage as Float32Array, B = b.storage as Float32Array;
      if (k === 1 && nb === 1) return outerProduct(A, B, m, n);
      // a Gram matrix A·Aᵀ (the same tensor on both sides) is symmetric: one triangle
      if (nb === 1 && A === B && !transA && transB) return W.gram(A, { n: m, k });
      if ((na === nb || na === 1) && (nbb === nb || nbb === 1)) {
        return W.sgemm(A, B, {
          m,
          n,
          k,
          batch: nb,
          transA,
          transB,
          strideA: na === 1 ? 0 : m * k,
          strideB: nbb === 1 ? 0 : k * n,
        });
      }
      // general broadcast of batch axes: one product per output batch item
      const o = new Float32Array(sizeOf(out.shape));
      const { ai, bi } = batchOffsets(aB, bB, oB);
      for (let z = 0; z < nb; z++) {
        const c = W.sgemm(
          A.subarray(ai(z) * m * k, (ai(z) + 1) * m * k),
          B.subarray(bi(z) * k * n, (bi(z) + 1) * k * n),
          { m, n, k, transA, transB },
        );
        o.set(c, z * m * n);
      }
      return o;
    },
    conv2d(x: Arg, w: Arg, d: ConvGeom): Float32Array | null {
      const opts = convOpts(d);
      return opts && W.conv2d(x.storage as Float32Array, w.storage as Float32Array, opts);
    },
    convTranspose2d(y: Arg, w: Arg, d: ConvGeom): Float32Array | null {
      const opts = convOpts(d);
      return opts &&
        W.convTranspose2d(y.storage as Float32Array, w.storage as Float32Array, opts);
    },
    conv2dFilterGrad(x: Arg, gy: Arg, d: ConvGeom): Float32Array | null {
      const opts = convOpts(d);
      return opts &&
        W.conv2dFilterGrad(x.storage as Float32Array, gy.storage as Float32Array, opts);
    },
    solve(a: Arg, b: Arg, transA: boolean): Float32Array | null {
      const r = b.shape.length;
      return wasmSolve(
        a.storage as Float32Array,
        b.storage as Float32Array,
        b.shape.slice(0, -2),
        b.shape[r - 2],
        b.shape[r - 1],
        transA,
      );
    },
    rfft2(x: Arg, batch: number, h: number, w: number, scale: number): Float32Array | null {
      return wasmRfft2(x.storage as Float32Array, batch, h, w, scale, false);
    },
    irfft2(z: Arg, batch: number, h: number, w: number, scale: number): Float32Array | null {
      return wasmRfft2(z.storage as Float32Array, batch, h, w, scale, true);
    },
  };
}

/**
 * Products with at least this many multiply-adds go to the native BLAS (below it the call and
 * thread wake-up cost more than the wasm kernels take).
 */
export const BLAS_MIN_MACS = 1 << 21;

/**
 * The geometry for the BLAS convolutions of conv_blas.ts, or null where the wasm kernels are
 * faster: stride 1 and few channels on one side against many on the other (≥ 32 and ≥ 4× as
 * many), as in the SLL conv blocks of the paper's presets (45…120 ↔ 5 channels), where one sgemm
 * per image runs ~2× faster than the wasm direct kernels here; equal channel counts (the xs and
 * fmnist networks) measured 1.5–3× slower that way and stay on wasm.
 *
 * @example
 * ```ts
 * import { blasConvFits } from "./fast.ts";
 * const g = { b: 2, c: 45, h: 32, w: 32, o: 5, kh: 3, kw: 3, ho: 32, wo: 32 };
 * blasConvFits({ ...g, stride: [1, 1], padding: [1, 1] }); // { …, ph: 1, pw: 1 }
 * ```
 */
export function blasConvFits(d: ConvGeom): ConvS1 | null {
  if (d.stride[0] !== 1 || d.stride[1] !== 1) return null;
  const lo = Math.min(d.c, d.o), hi = Math.max(d.c, d.o);
  if (hi < 32 || hi < 4 * lo) return null;
  const [ph, pw] = d.padding;
  if (d.h + 2 * ph - d.kh + 1 !== d.ho || d.w + 2 * pw - d.kw + 1 !== d.wo) return null;
  return { b: d.b, c: d.c, h: d.h, w: d.w, o: d.o, kh: d.kh, kw: d.kw, ph, pw };
}

/**
 * The wasm kernels with large float32 products sent to a native BLAS: sgemm, or ssyrk for a
 * Gram matrix A·Aᵀ (the same tensor on both sides, one triangle computed), and the stride-1
 * convolutions that {@linkcode blasConvFits} picks. Same results as the wasm path within
 * float32 rounding (kernels/cpu/fast_test.ts, kernels/cpu/conv_blas_test.ts).
 */
export function blasCpuKernels(blas: NativeBlas, wasm: FastCpuKernels): FastCpuKernels {
  const f32 = (a: Arg): Float32Array => a.storage as Float32Array;
  return {
    ...wasm,
    conv2d(x: Arg, w: Arg, d: ConvGeom): Float32Array | null {
      const g = blasConvFits(d);
      return g ? blasConv2dS1(blas, f32(x), f32(w), g) : wasm.conv2d?.(x, w, d) ?? null;
    },
    convTranspose2d(y: Arg, w: Arg, d: ConvGeom, outputPadding: Pair): Float32Array | null {
      const g = blasConvFits(d);
      return (g && blasConvTranspose2dS1(blas, f32(y), f32(w), g)) ??
        wasm.convTranspose2d?.(y, w, d, outputPadding) ?? null;
    },
    conv2dFilterGrad(x: Arg, gy: Arg, d: ConvGeom): Float32Array | null {
      const g = blasConvFits(d);
      return g
        ? blasConv2dFilterGradS1(blas, f32(x), f32(gy), g)
        : wasm.conv2dFilterGrad?.(x, gy, d) ?? null;
    },
    matmul(a: Arg, b: Arg, out: OutInfo, transA: boolean, transB: boolean): Float32Array | null {
      const r = out.shape.length;
      const m = out.shape[r - 2], n = out.shape[r - 1];
      const k = transA ? a.shape[a.shape.length - 2] : a.shape[a.shape.length - 1];
      const aB = a.shape.slice(0, -2), bB = b.shape.slice(0, -2), oB = out.shape.slice(0, -2);
      const nb = sizeOf(oB), na = sizeOf(aB), nbb = sizeOf(bB);
      const oneSide = (na === nb || na === 1) && (nbb === nb || nbb === 1);
      if (m * n * k < BLAS_MIN_MACS || !oneSide) {
        return wasm.matmul?.(a, b, out, transA, transB) ?? null;
      }
      const A = a.storage as Float32Array, B = b.storage as Float32Array;
      if (k === 1 && nb === 1) return outerProduct(A, B, m, n);
      // every element is written (sgemm and ssyrk with β = 0, the mirrored triangle): a pooled
      // array saves the page faults of a fresh one (24 MB per weight gradient of small)
      const o = allocUninit("float32", nb * m * n) as Float32Array;
      if (nb === 1 && A === B && !transA && transB) {
        blas.gram(A, o, m, k);
        return o;
      }
      for (let z = 0; z < nb; z++) {
        const ao = na === 1 ? 0 : z * m * k, bo = nbb === 1 ? 0 : z * k * n;
        blas.sgemm(
          nb === 1 ? A : A.subarray(ao, ao + m * k),
          nb === 1 ? B : B.subarray(bo, bo + k * n),
          nb === 1 ? o : o.subarray(z * m * n, (z + 1) * m * n),
          m,
          n,
          k,
          transA,
          transB,
        );
      }
      return o;
    },
  };
}

/** Which float32 kernels the CPU backend uses, and why. */
export interface CpuKernelSelection {
  /** The set in use: "blas" (native BLAS for large products, wasm for the rest), "wasm", "reference". */
  kind: "blas" | "wasm" | "reference";
  /** The kernels to register with `setFastCpuKernels`. */
  kernels: FastCpuKernels;
  /** One line: what was chosen (the library and its threads) or why BLAS was not used. */
  detail: string;
}

/** Accepted values of SLL_CPU_KERNELS. */
export const CPU_KERNEL_CHOICES = ["auto", "wasm", "blas", "reference"] as const;

/**
 * The CPU kernels for `choice` (default: `$SLL_CPU_KERNELS`, else "auto"): "auto" uses a native
 * BLAS when one loads and the wasm kernels otherwise; "blas" requires one (throws naming the
 * package to install); "wasm" never loads one; "reference" keeps the plain TypeScript loops.
 * Throws a RangeError for any other value.
 *
 * @example
 * ```ts
 * import { selectCpuKernels } from "./fast.ts";
 * console.log(selectCpuKernels("wasm").detail);
 * ```
 */
export function selectCpuKernels(
  choice: string = envVar("SLL_CPU_KERNELS") || "auto",
  candidates?: readonly string[],
): CpuKernelSelection {
  if (!(CPU_KERNEL_CHOICES as readonly string[]).includes(choice)) {
    throw new RangeError(
      `SLL_CPU_KERNELS=${choice}: expected one of ${CPU_KERNEL_CHOICES.join(", ")} (unset = auto)`,
    );
  }
  if (choice === "reference") {
    return { kind: "reference", kernels: {}, detail: "plain TypeScript loops" };
  }
  const wasm = wasmCpuKernels();
  const wasmDetail = W.wasmAvailable() ? "wasm SIMD kernels" : "no wasm SIMD: reference loops";
  if (choice === "wasm") return { kind: "wasm", kernels: wasm, detail: wasmDetail };
  const blas = loadNativeBlas(candidates);
  if ("error" in blas) {
    if (choice === "blas") throw new Error(`SLL_CPU_KERNELS=blas: ${blas.error}`);
    return { kind: "wasm", kernels: wasm, detail: `${wasmDetail} (native BLAS: ${blas.error})` };
  }
  return {
    kind: "blas",
    kernels: blasCpuKernels(blas, wasm),
    detail: `native BLAS ${blas.library} (${
      blas.threads ?? "its own number of"
    } threads) for products ≥ ${BLAS_MIN_MACS} multiply-adds and few-channel stride-1 convolutions, ${wasmDetail} for the rest`,
  };
}

let installed: Omit<CpuKernelSelection, "kernels"> | null = null;

/**
 * The selection for `$SLL_CPU_KERNELS`, remembered for {@linkcode cpuKernelsInUse} (the engine
 * calls this once when it loads).
 *
 * @example
 * ```ts
 * import { cpuKernelsFromEnv } from "./fast.ts";
 * const kernels = cpuKernelsFromEnv();
 * ```
 */
export function cpuKernelsFromEnv(): FastCpuKernels {
  const sel = selectCpuKernels();
  installed = { kind: sel.kind, detail: sel.detail };
  return sel.kernels;
}

/**
 * What the CPU backend's float32 kernels are (set when the engine loaded), e.g. for benchmarks.
 *
 * @example
 * ```ts
 * import { cpuKernelsInUse } from "./fast.ts";
 * console.log(cpuKernelsInUse()?.detail);
 * ```
 */
export function cpuKernelsInUse(): Omit<CpuKernelSelection, "kernels"> | null {
  return installed;
}

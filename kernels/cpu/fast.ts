/**
 * Routes the CPU backend's float32 matmul and convolutions to the WebAssembly SIMD kernels
 * (kernels/cpu/wasm) when they can run here; anything they do not cover (non-square strides or
 * paddings, broadcast batch patterns other than "one side shared") falls back to the reference.
 * @module
 */
import type { TypedArray } from "../dtype.ts";
import type { ConvGeom, KernelArg, OutInfo, Pair } from "../prims.ts";
import { sizeOf } from "../shape.ts";
import type { FastCpuKernels } from "./backend.ts";
import { batchOffsets } from "./linalg.ts";
import * as W from "./wasm/mod.ts";

type Arg = KernelArg<TypedArray>;

function square(p: Pair): number | null {
  return p[0] === p[1] ? p[0] : null;
}

function convOpts(d: ConvGeom): W.Conv2dOptions | null {
  const stride = square(d.stride), padding = square(d.padding);
  if (stride === null || padding === null) return null;
  return { b: d.b, c: d.c, h: d.h, w: d.w, o: d.o, kh: d.kh, kw: d.kw, stride, padding };
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
  };
}

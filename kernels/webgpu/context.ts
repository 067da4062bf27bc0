/**
 * What every WebGPU kernel runner gets (`Ctx`: allocation, release, dispatch, the adapter's
 * profile and tiles) and the small helpers the runners share: labels naming the op and its
 * inputs, plain map dispatches, casts, and the grid and dtype checks with their error messages.
 * @module
 */
import type { DType } from "../dtype.ts";
import type { KernelArg, OutInfo, PrimName, PrimParams } from "../prims.ts";
import { fmt, sizeOf, stridesOf } from "../shape.ts";
import { ELEMENTWISE } from "../elementwise.ts";
import type { KernelProfile } from "./adapter.ts";
import { mapKernel, type View } from "./map.wgsl.ts";
import type { MatmulTile } from "./matmul.wgsl.ts";
import type { GemmLimits } from "./gemm.wgsl.ts";
import { type KernelSource, MAX_GROUPS } from "./wgsl.ts";
import { BYTES, type GpuStorage } from "./storage.ts";

/** A kernel input: storage plus shape and dtype. */
export type Arg = KernelArg<GpuStorage>;

/** What a kernel gets: allocation, release of temporaries, dispatch, and the adapter's traits. */
export interface Ctx {
  /** A buffer of at least `bytes`. */
  alloc(bytes: number): GpuStorage;
  /** Releases a temporary. */
  release(s: GpuStorage): void;
  /** Encodes one dispatch. */
  dispatch(label: string, k: KernelSource, inputs: GpuStorage[], out: GpuStorage): void;
  /** Kernel family: "software" (CPU-backed adapters: large register tiles, im2col) or "gpu". */
  profile: KernelProfile;
  /** Register tile of the software profile's matmul. */
  tile: MatmulTile;
  /** The device's limits, which the gpu profile's GEMM tiles are chosen from. */
  limits: GemmLimits;
  /** Bytes of one im2col buffer at most (batch items are processed in chunks under it). */
  colsBytes: number;
}

/** A kernel of primitive P on the WebGPU backend. */
export type GpuKernel<P extends PrimName> = (
  ctx: Ctx,
  inputs: Arg[],
  params: PrimParams[P],
  out: OutInfo,
) => GpuStorage;

/**
 * A view reading a contiguous tensor of `shape` element by element.
 *
 * @example
 * ```ts
 * import { contiguous } from "./context.ts";
 * contiguous([2, 3], "float32"); // { offset: 0, strides: [3, 1], dtype: "float32" }
 * ```
 */
export function contiguous(shape: readonly number[], dtype: DType): View {
  return { offset: 0, strides: stridesOf(shape), dtype };
}

/**
 * The label of a dispatch: the primitive and its inputs' dtypes and shapes.
 *
 * @example
 * ```ts
 * import { label } from "./context.ts";
 * label("matmul", []); // "matmul "
 * ```
 */
export function label(prim: string, inputs: readonly Arg[]): string {
  return `${prim} ${inputs.map((x) => `${x.dtype}${fmt(x.shape)}`).join(", ")}`;
}

/** One map dispatch out[i] = expr(views(i)) into a new buffer of the output's size. */
export function mapOut(
  ctx: Ctx,
  prim: string,
  expr: string,
  inputs: Arg[],
  views: View[],
  out: OutInfo,
): GpuStorage {
  const o = ctx.alloc(sizeOf(out.shape) * BYTES);
  ctx.dispatch(
    label(prim, inputs),
    mapKernel(expr, views, out.shape, out.dtype),
    inputs.map((x) => x.storage),
    o,
  );
  return o;
}

/** x converted to `dtype` (the `ELEMENTWISE.cast` rule) in a new buffer. */
export function castTo(ctx: Ctx, lbl: string, x: Arg, dtype: DType): GpuStorage {
  const o = ctx.alloc(sizeOf(x.shape) * BYTES);
  ctx.dispatch(
    lbl,
    mapKernel(
      ELEMENTWISE.cast.wgsl(dtype, x.dtype),
      [contiguous(x.shape, x.dtype)],
      x.shape,
      dtype,
    ),
    [x.storage],
    o,
  );
  return o;
}

/** Throws a TypeError unless x is float32 (the convolution and pooling kernels' only dtype). */
export function floatOnly(prim: string, x: Arg): void {
  if (x.dtype !== "float32") {
    throw new TypeError(
      `${prim}: the webgpu backend runs ${prim} on float32 only, got ${x.dtype} ${
        fmt(x.shape)
      }; cast() to float32 first`,
    );
  }
}

/** Throws a RangeError when a kernel's grid exceeds WebGPU's workgroups per dimension. */
export function checkGrid(lbl: string, k: KernelSource): void {
  if (k.grid.some((g) => g > MAX_GROUPS)) {
    throw new RangeError(
      `${lbl}: needs a ${
        k.grid.join("×")
      } workgroup grid, over the ${MAX_GROUPS} per dimension WebGPU allows; split the batch`,
    );
  }
}

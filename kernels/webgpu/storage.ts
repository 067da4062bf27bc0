/**
 * What a tensor's storage is on the WebGPU backend: a pooled buffer, or — while the value is
 * the pending result of elementwise ops (fusion) — the expression that will compute it. Types
 * and one constructor only; the pool (pool.ts) and the fuser (fusion.ts) manage the lifecycle.
 * @module
 */
import type { DType } from "../dtype.ts";
import { sizeOf } from "../shape.ts";
import type { FusedConst, FusedNode, View } from "./map.wgsl.ts";

/** Bytes per element of every stored dtype (float32 and int32). */
export const BYTES = 4;

/**
 * A tensor's storage on the GPU: a pooled buffer and the batch that last used it — or, while
 * the value is the pending result of elementwise ops (fusion), the expression computing it and
 * no buffer yet.
 */
export interface GpuStorage {
  /** The buffer (its size is the size class, ≥ `bytes`); null while `expr` is pending. */
  buffer: GPUBuffer | null;
  /** Bytes the tensor uses. */
  bytes: number;
  /** Size class (the buffer's size). */
  cls: number;
  /** Id of the last batch that encoded work touching this buffer. */
  batch: number;
  /** True once released by its owner (double frees are ignored). */
  freed: boolean;
  /** The fused elementwise expression that will compute it, until it is materialised. */
  expr: Fused | null;
  /** Pending expressions reading this buffer: it is pooled only when they are done too. */
  readers: number;
}

/**
 * A pending fused elementwise computation: nodes over input views of real buffers (leaves),
 * evaluated by one `fusedKernel` dispatch when the value is needed.
 */
export interface Fused {
  /** Output shape. */
  shape: number[];
  /** Output dtype. */
  dtype: DType;
  /** Input buffers (each counts this expression among its `readers`). */
  leaves: GpuStorage[];
  /** How each leaf is read, per output element. */
  views: View[];
  /** Scalar constants (uploads of one element become constants, not buffers). */
  consts: FusedConst[];
  /** The operations, in evaluation order; the last is the value. */
  nodes: FusedNode[];
  /** Per node, the primitive and its inputs, for error messages. */
  ops: { prim: string; inputs: { dtype: DType; shape: readonly number[] }[] }[];
}

/**
 * A storage whose value `e` computes when it is needed.
 *
 * @example
 * ```ts
 * import { pendingStorage } from "./storage.ts";
 * const s = pendingStorage({ shape: [], dtype: "float32", leaves: [], views: [],
 *   consts: [{ value: 1, dtype: "float32" }], nodes: [{ expr: "a", args: [1 << 24] }], ops: [] });
 * ```
 */
export function pendingStorage(e: Fused): GpuStorage {
  return {
    buffer: null,
    bytes: sizeOf(e.shape) * BYTES,
    cls: 0,
    batch: 0,
    freed: false,
    expr: e,
    readers: 0,
  };
}

/**
 * The WebGPU backend, wired from its parts: the buffer pool (pool.ts), the command batcher
 * (batcher.ts: pipelines, bind groups, uniforms, submits, error scopes), elementwise fusion
 * (fusion.ts), and the kernel table (kernels.ts) with its runners beside their `*.wgsl.ts`
 * builders. Storage is a pooled GPUBuffer; reads flush pending work and surface device errors.
 * @module
 */
import { type DType, newArray, type TypedArray } from "../dtype.ts";
import type { Backend, KernelName, OutInfo, PrimParams } from "../prims.ts";
import { envVar } from "../env.ts";
import { type KernelProfile, kernelProfile } from "./adapter.ts";
import { CommandBatcher } from "./batcher.ts";
import type { Arg, Ctx, GpuKernel } from "./context.ts";
import { COLS_BYTES } from "./conv.ts";
import type { AdapterDescription } from "./device.ts";
import { elementwiseExpr, Fuser } from "./fusion.ts";
import { KERNELS } from "./kernels.ts";
import { CPU_TILE } from "./matmul.wgsl.ts";
import { type BatchState, BufferPool } from "./pool.ts";
import { BYTES, type GpuStorage } from "./storage.ts";

export type { Fused, GpuStorage } from "./storage.ts";
export { sizeClass } from "./pool.ts";

/** Pool and queue statistics of the WebGPU backend. */
export interface WebGpuStats {
  /** Buffers currently handed out (live storage and in-flight temporaries). */
  liveBuffers: number;
  /** Buffers parked in the pool for reuse. */
  pooledBuffers: number;
  /** Bytes parked in the pool. */
  pooledBytes: number;
  /** Bytes of every buffer created and not destroyed. */
  allocatedBytes: number;
  /** Compiled compute pipelines (cached by WGSL source). */
  pipelines: number;
  /** Dispatches encoded since the backend was created. */
  dispatches: number;
  /** Command buffers submitted since the backend was created. */
  submits: number;
  /** Elementwise ops recorded as pending values instead of dispatched on their own. */
  fused: number;
}

/** The WebGPU backend object: a `Backend` plus flush, statistics and the adapter. */
export interface WebGpuBackend extends Backend<GpuStorage> {
  /** The device every buffer lives on. */
  readonly device: GPUDevice;
  /** The adapter it came from, described. */
  readonly adapter: AdapterDescription;
  /** The kernel family it runs ("software" or "gpu"; see `kernelProfile`). */
  readonly profile: KernelProfile;
  /** Submits pending work now (reads do this themselves). */
  flush(): void;
  /** Waits until the queue is idle and rethrows any device error. */
  sync(): Promise<void>;
  /** Pool and queue statistics. */
  stats(): WebGpuStats;
  /** Destroys pooled buffers (live ones are kept). */
  trim(): void;
  /**
   * Elementwise fusion: consecutive elementwise ops (unary, binary, compare, where, cast,
   * broadcastTo) are recorded and run as one kernel when their result is needed (read, kept, or
   * used by any other op). On by default; `SLL_WEBGPU_FUSION=off` in the environment turns it off.
   */
  fusion: boolean;
  /** Computes a pending (fused) value now; called by `keep()` on values that live on. */
  settle(storage: GpuStorage): void;
}

/** Options of `createWebGpuBackend`. */
export interface CreateWebGpuOptions {
  /** Bytes of one im2col buffer at most (default 128 MiB, at most the binding limit). */
  colsBytes?: number;
  /** Elementwise fusion (default: on unless `SLL_WEBGPU_FUSION=off`). */
  fusion?: boolean;
  /** Kernel family (default: `kernelProfile(adapter)`, which `SLL_WEBGPU_PROFILE` overrides). */
  profile?: KernelProfile;
}

/** SLL_WEBGPU_FUSION=off|0|false|no turns elementwise fusion off (on when unset). */
function fusionFromEnv(): boolean {
  return !["off", "0", "false", "no"].includes((envVar("SLL_WEBGPU_FUSION") ?? "").toLowerCase());
}

/**
 * Creates the WebGPU backend on `device` (see `initWebGpu` for the public entry point).
 *
 * @example
 * ```ts
 * import { requestGpuDevice } from "./device.ts";
 * import { createWebGpuBackend } from "./backend.ts";
 * const { device, description } = await requestGpuDevice();
 * const gpu = createWebGpuBackend(device, description);
 * ```
 */
export function createWebGpuBackend(
  device: GPUDevice,
  adapter: AdapterDescription,
  options: CreateWebGpuOptions = {},
): WebGpuBackend {
  const batch: BatchState = { id: 1, open: false };
  const pool = new BufferPool(device, batch);
  const batcher = new CommandBatcher(device, pool, batch);
  const fuser = new Fuser(pool, batcher, device.limits.maxStorageBuffersPerShaderStage);
  let fusion = options.fusion ?? fusionFromEnv();
  const profile = options.profile ?? kernelProfile(adapter);
  const ctx: Ctx = {
    alloc: (bytes) => pool.alloc(bytes),
    release: (s) => pool.release(s),
    dispatch: (lbl, k, inputs, out) => batcher.dispatch(lbl, k, inputs, out),
    profile,
    tile: CPU_TILE,
    limits: device.limits,
    colsBytes: Math.min(options.colsBytes ?? COLS_BYTES, pool.maxBinding),
  };

  return {
    name: "webgpu",
    dtypes: ["float32", "int32"],
    device,
    adapter,
    profile,
    upload(data: TypedArray, dtype: DType): GpuStorage {
      batcher.checkAlive("upload");
      if (fusion && data.length === 1) return fuser.scalar(data[0], dtype);
      const s = pool.alloc(data.byteLength, true);
      if (data.byteLength) {
        device.queue.writeBuffer(
          s.buffer!,
          0,
          data.buffer as ArrayBuffer,
          data.byteOffset,
          data.byteLength,
        );
      }
      return s;
    },
    run<P extends KernelName>(
      prim: P,
      inputs: Arg[],
      params: PrimParams[P],
      out: OutInfo,
    ): GpuStorage {
      batcher.checkAlive(prim);
      if (fusion) {
        const expr = elementwiseExpr(prim, params, inputs, out.dtype);
        if (expr !== null) return fuser.fuse(prim, expr, inputs, out);
      }
      const kernel = KERNELS[prim] as GpuKernel<P>;
      for (const x of inputs) fuser.settle(x.storage);
      return kernel(ctx, inputs, params, out);
    },
    async read(storage: GpuStorage, dtype: DType, size: number): Promise<TypedArray> {
      batcher.checkAlive("read");
      fuser.settle(storage);
      const result = newArray(dtype, size);
      const bytes = size * BYTES;
      await batcher.readBytes(
        storage.buffer!,
        bytes,
        new Uint8Array(result.buffer, result.byteOffset, bytes),
      );
      return result;
    },
    free(storage: GpuStorage): void {
      pool.release(storage);
    },
    flush(): void {
      batcher.flush();
    },
    get fusion() {
      return fusion;
    },
    set fusion(on: boolean) {
      fusion = on;
    },
    settle(storage: GpuStorage): void {
      fuser.settle(storage);
    },
    async sync(): Promise<void> {
      batcher.flush();
      await device.queue.onSubmittedWorkDone();
      await batcher.settled("sync");
    },
    stats(): WebGpuStats {
      return {
        liveBuffers: pool.live,
        pooledBuffers: pool.pooledBuffers,
        pooledBytes: pool.pooledBytes,
        allocatedBytes: pool.allocatedBytes,
        pipelines: batcher.pipelines,
        dispatches: batcher.dispatches,
        submits: batcher.submits,
        fused: fuser.fusedOps,
      };
    },
    trim(): void {
      pool.trim();
      batcher.clearBindGroups();
    },
  };
}

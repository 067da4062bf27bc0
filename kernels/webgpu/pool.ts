/**
 * The WebGPU buffer pool: storage buffers by size class, handed out and taken back, plus the
 * read-back staging buffers. Invariant: a buffer that pending (unsubmitted) work touches is
 * not handed out for an upload before that submit — queue.writeBuffer would land before the
 * work that reads it — so such buffers wait in `deferred` until the batch is submitted; kernel
 * outputs may take them at once (the GPU orders dispatches within a batch).
 * @module
 */
import { BufferUsage } from "./flags.ts";
import type { GpuStorage } from "./storage.ts";

/**
 * Size class of a request: 256 B minimum, then quarter steps between powers of two.
 *
 * @example
 * ```ts
 * import { sizeClass } from "./pool.ts";
 * sizeClass(1000); // 1024
 * ```
 */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const p = 2 ** Math.floor(Math.log2(bytes));
  const q = p / 4;
  return Math.ceil(bytes / q) * q;
}

/** The batch being recorded, as the command batcher tells it: its id, and whether it is open. */
export interface BatchState {
  /** Id of the batch being recorded (or the next one when none is open). */
  id: number;
  /** True while a command encoder holds unsubmitted work. */
  open: boolean;
}

/** Buffers parked by size class, with their count and bytes. */
class Shelf {
  readonly lists = new Map<number, GpuStorage[]>();
  count = 0;
  bytes = 0;

  put(s: GpuStorage): void {
    let list = this.lists.get(s.cls);
    if (!list) this.lists.set(s.cls, list = []);
    list.push(s);
    this.count++;
    this.bytes += s.cls;
  }

  take(cls: number): GpuStorage | undefined {
    const s = this.lists.get(cls)?.pop();
    if (s) {
      this.count--;
      this.bytes -= cls;
    }
    return s;
  }

  clear(): void {
    this.lists.clear();
    this.count = 0;
    this.bytes = 0;
  }
}

/** Storage buffers by size class and staging buffers for reads, on one device. */
export class BufferPool {
  /** Buffers handed out (live storage and in-flight temporaries). */
  live = 0;
  /** Bytes of every storage buffer created and not destroyed. */
  allocatedBytes = 0;
  readonly #device: GPUDevice;
  readonly #batch: BatchState;
  readonly #maxBinding: number;
  readonly #pool = new Shelf();
  /** Freed while the open batch uses them: outputs may take them, uploads may not. */
  readonly #deferred = new Shelf();
  readonly #staging = new Map<number, GPUBuffer[]>();

  /** A pool on `device`; `batch` is the batcher's view of the batch being recorded. */
  constructor(device: GPUDevice, batch: BatchState) {
    this.#device = device;
    this.#batch = batch;
    this.#maxBinding = device.limits.maxStorageBufferBindingSize;
  }

  /** Largest buffer one binding may span on this device. */
  get maxBinding(): number {
    return this.#maxBinding;
  }

  /** Buffers parked for reuse (deferred ones included). */
  get pooledBuffers(): number {
    return this.#pool.count + this.#deferred.count;
  }

  /** Bytes parked for reuse (deferred ones included). */
  get pooledBytes(): number {
    return this.#pool.bytes + this.#deferred.bytes;
  }

  /** Throws a RangeError when `bytes` exceed what one binding may span. */
  checkBytes(bytes: number): void {
    if (bytes > this.#maxBinding) {
      throw new RangeError(
        `needs a ${bytes}-byte buffer, over this adapter's ${this.#maxBinding}-byte storage binding limit; use smaller batches`,
      );
    }
  }

  /** A buffer of at least `bytes`, reused when one of its class is free. */
  alloc(bytes: number, forUpload = false): GpuStorage {
    this.checkBytes(bytes);
    const cls = sizeClass(Math.max(bytes, 4));
    this.live++;
    const s = (forUpload ? undefined : this.#deferred.take(cls)) ?? this.#pool.take(cls);
    if (s) {
      s.bytes = bytes;
      s.freed = false;
      return s;
    }
    const buffer = this.#device.createBuffer({
      label: `sll tensor (${cls} B class)`,
      size: cls,
      usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST,
    });
    this.allocatedBytes += cls;
    return { buffer, bytes, cls, batch: 0, freed: false, expr: null, readers: 0 };
  }

  /**
   * Releases storage (double frees are ignored). A pending value never computed only lets go
   * of its inputs; a buffer still read by pending values is pooled by the last of them.
   */
  release(s: GpuStorage): void {
    if (s.freed) return;
    s.freed = true;
    if (s.expr) {
      this.dropReaders(s.expr.leaves);
      s.expr = null;
      return;
    }
    if (s.readers === 0) this.#recycle(s);
  }

  /** One pending reader of each leaf is done; leaves freed meanwhile go back to the pool. */
  dropReaders(leaves: readonly GpuStorage[]): void {
    for (const l of leaves) if (--l.readers === 0 && l.freed) this.#recycle(l);
  }

  /** The open batch was submitted: its deferred buffers may serve uploads again. */
  onSubmit(): void {
    for (const list of this.#deferred.lists.values()) for (const s of list) this.#pool.put(s);
    this.#deferred.clear();
  }

  /** A mappable read-back buffer of `cls` bytes (give it back with `returnStaging`). */
  staging(cls: number): GPUBuffer {
    return this.#staging.get(cls)?.pop() ?? this.#device.createBuffer({
      label: `sll read-back staging (${cls} B)`,
      size: cls,
      usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
    });
  }

  /** Parks an unmapped staging buffer of `cls` bytes for the next read. */
  returnStaging(cls: number, buffer: GPUBuffer): void {
    let list = this.#staging.get(cls);
    if (!list) this.#staging.set(cls, list = []);
    list.push(buffer);
  }

  /** Destroys the pooled buffers (live and deferred ones are kept). */
  trim(): void {
    for (const list of this.#pool.lists.values()) {
      for (const s of list) {
        s.buffer!.destroy();
        this.allocatedBytes -= s.cls;
      }
    }
    this.#pool.clear();
  }

  /** Hands a buffer nobody needs any more back (deferred while the open batch uses it). */
  #recycle(s: GpuStorage): void {
    this.live--;
    if (s.batch === this.#batch.id && this.#batch.open) this.#deferred.put(s);
    else this.#pool.put(s);
  }
}

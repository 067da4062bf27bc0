/**
 * The Tensor handle: an immutable view `{shape, dtype}` over reference-counted backend storage,
 * and the live-tensor/byte counters per backend that `memory()` reports. Aliasing ops (reshape,
 * stopGradient) share one storage record; it is freed when its last handle is disposed.
 * @module
 */
import type { DType, TypedArray } from "../kernels/dtype.ts";
import type { Backend, BackendName } from "../kernels/prims.ts";
import { fmt, sizeOf } from "../kernels/shape.ts";

/** @internal Backend storage shared by the handles that alias it. */
export interface StorageRef {
  /** The backend's storage object. */
  storage: unknown;
  /** Handles still pointing at it. */
  refs: number;
  /** Bytes it holds (counted once however many handles alias it). */
  bytes: number;
  /** The backend that owns it. */
  backend: Backend;
}

/** Live tensors and bytes on a backend. */
export interface MemoryInfo {
  /** Tensor handles not yet disposed. */
  tensors: number;
  /** Bytes of storage they hold (aliases counted once). */
  bytes: number;
}

const live = new Map<BackendName, MemoryInfo>();

/** @internal The high-water mark of live bytes per backend since its last reset. */
export const peakBytes = new Map<BackendName, number>();

/** @internal The live counters of backend `name` (created at zero). */
export function liveStats(name: BackendName): MemoryInfo {
  let s = live.get(name);
  if (!s) live.set(name, s = { tensors: 0, bytes: 0 });
  return s;
}

/** @internal A new storage record of `bytes` bytes on `backend`, counted as live. */
export function newStorage(backend: Backend, storage: unknown, bytes: number): StorageRef {
  const s = liveStats(backend.name);
  s.bytes += bytes;
  if (s.bytes > (peakBytes.get(backend.name) ?? 0)) peakBytes.set(backend.name, s.bytes);
  return { storage, refs: 1, bytes, backend };
}

/**
 * @internal The stack of open scopes (innermost last), each the set of tensors created in it.
 * Kept here, not in scope.ts, so that `dispose` can unlist a handle without an import cycle.
 */
export const scopeFrames: Set<Tensor>[] = [];

let nextId = 1;

/**
 * An immutable n-d array handle over backend storage. Create tensors with `tensor`, `zeros`,
 * ops, or random functions; read them with `await t.data()`.
 *
 * @example
 * ```ts
 * import { tensor } from "@sll/sll";
 * const t = tensor([[1, 2], [3, 4]]);
 * console.log(t.shape, await t.data()); // [2, 2] Float32Array [1, 2, 3, 4]
 * ```
 */
export class Tensor {
  /** Dimensions, outermost first. */
  readonly shape: readonly number[];
  /** Element type. */
  readonly dtype: DType;
  /** Unique id (for tracing and error messages). */
  readonly id: number;
  /** Name of the op that created this tensor. */
  readonly op: string;
  #ref: StorageRef | null;
  /** @internal kept tensors survive the scopes they were created in. */
  kept = false;

  /** @internal use `tensor(...)` or ops to create tensors. */
  constructor(ref: StorageRef, shape: readonly number[], dtype: DType, op: string) {
    this.#ref = ref;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.id = nextId++;
    this.op = op;
    liveStats(ref.backend.name).tensors++;
  }

  /** Number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }

  /** Number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }

  /** Name of the backend holding the storage. */
  get backend(): BackendName {
    return this.ref("backend").backend.name;
  }

  /** True once disposed. */
  get isDisposed(): boolean {
    return this.#ref === null;
  }

  /** @internal storage reference; throws a clear error after dispose. */
  ref(op: string): StorageRef {
    if (this.#ref === null) {
      throw new Error(
        `${op}: tensor #${this.id} (shape ${
          fmt(this.shape)
        }, ${this.dtype}, made by ${this.op}) was already disposed; keep() it or use it inside the scope that created it`,
      );
    }
    return this.#ref;
  }

  /** Reads the values to the host (flushing pending GPU work). */
  data(): Promise<TypedArray> {
    const r = this.ref("data");
    return r.backend.read(r.storage, this.dtype, this.size);
  }

  /** Synchronous read; CPU backend only. */
  dataSync(): TypedArray {
    const r = this.ref("dataSync");
    if (!r.backend.readSync) {
      throw new Error(
        `dataSync: the ${r.backend.name} backend reads asynchronously; use await t.data()`,
      );
    }
    return r.backend.readSync(r.storage, this.dtype, this.size);
  }

  /** Values as nested arrays (convenient in tests and printing). */
  async array(): Promise<unknown> {
    const d = Array.from(await this.data());
    const build = (axis: number, off: number): unknown => {
      if (axis === this.shape.length) return d[off];
      const n = this.shape[axis];
      const step = sizeOf(this.shape.slice(axis + 1));
      return Array.from({ length: n }, (_, i) => build(axis + 1, off + i * step));
    };
    return build(0, 0);
  }

  /** Releases the storage (idempotent). */
  dispose(): void {
    const r = this.#ref;
    if (r === null) return;
    this.#ref = null;
    const s = liveStats(r.backend.name);
    s.tensors--;
    for (const f of scopeFrames) f.delete(this);
    if (--r.refs === 0) {
      r.backend.free(r.storage);
      s.bytes -= r.bytes;
    }
  }

  /** A short description: `Tensor(float32, [2, 3])`. */
  toString(): string {
    return `Tensor(${this.dtype}, ${fmt(this.shape)})`;
  }
}

/** Visits every Tensor leaf of a tree (plain objects and arrays; other objects are leaves). */
export function forEachTensor(
  tree: unknown,
  f: (t: Tensor) => void,
  seen: Set<unknown> = new Set<unknown>(),
): void {
  if (tree instanceof Tensor) {
    f(tree);
    return;
  }
  if (tree === null || typeof tree !== "object" || seen.has(tree)) return;
  seen.add(tree);
  if (Array.isArray(tree)) { for (const v of tree) forEachTensor(v, f, seen); }
  else if (
    Object.getPrototypeOf(tree) === Object.prototype || Object.getPrototypeOf(tree) === null
  ) {
    for (const v of Object.values(tree)) forEachTensor(v, f, seen);
  }
}

/**
 * The eager engine: the Tensor handle, the backend registry, memory scopes and the dispatch of
 * primitives (`apply`). Every tensor is created here, registered in the innermost scope and, when
 * a trace is active and an input is traced, recorded for reverse-mode autodiff. Tensors are
 * immutable; storage is reference counted so aliasing ops (reshape, stopGradient) copy nothing.
 * @module
 */
import {
  checkDType,
  type DType,
  isFloat,
  itemSize,
  toArray,
  type TypedArray,
} from "../kernels/dtype.ts";
import type { Backend, BackendName, KernelArg, PrimName, PrimParams } from "../kernels/prims.ts";
import { fmt, sizeOf } from "../kernels/shape.ts";
import { createCpuBackend, setFastCpuKernels } from "../kernels/cpu/backend.ts";
import { cpuKernelsFromEnv } from "../kernels/cpu/fast.ts";
import type { AdapterDescription, WebGpuOptions } from "../kernels/webgpu/device.ts";
import { PRIMS } from "./primitives.ts";

interface StorageRef {
  storage: unknown;
  refs: number;
  bytes: number;
  backend: Backend;
}

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
    liveCount(ref.backend.name, +1);
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
    liveCount(r.backend.name, -1);
    for (const s of scopes) s.delete(this);
    if (--r.refs === 0) {
      r.backend.free(r.storage);
      bytesCount(r.backend.name, -r.bytes);
    }
  }

  /** A short description: `Tensor(float32, [2, 3])`. */
  toString(): string {
    return `Tensor(${this.dtype}, ${fmt(this.shape)})`;
  }
}

// ---------------------------------------------------------------------------------------------
// backends

const backends = new Map<BackendName, Backend>();
const factories = new Map<BackendName, () => Promise<Backend>>();
let current: Backend = createCpuBackend();
// SLL_CPU_KERNELS=auto|wasm|blas|reference (kernels/cpu/fast.ts); a bad value throws here
setFastCpuKernels(cpuKernelsFromEnv());
backends.set("cpu", current);

/** @internal Registers a lazily created backend (used by the WebGPU module). */
export function registerBackendFactory(name: BackendName, factory: () => Promise<Backend>): void {
  factories.set(name, factory);
}

// WebGPU is loaded on first use: CPU-only programs never touch navigator.gpu
registerBackendFactory(
  "webgpu",
  async () => (await import("../kernels/webgpu/mod.ts")).acquireWebGpu(),
);

/**
 * Acquires the WebGPU adapter and device (once per process) and makes "webgpu" available to
 * `setBackend`, without switching to it. Resolves to the adapter's description; rejects with a
 * message saying how to get an adapter (a GPU driver, or `apt-get install mesa-vulkan-drivers`)
 * when there is none.
 *
 * @example
 * ```ts
 * import { initWebGpu, setBackend } from "@sll/sll";
 * const adapter = await initWebGpu();
 * console.log(adapter.description, adapter.backend); // e.g. "llvmpipe (LLVM 15.0.6, 256 bits)" "gl"
 * await setBackend("webgpu");
 * ```
 */
export async function initWebGpu(options: WebGpuOptions = {}): Promise<AdapterDescription> {
  const b = await (await import("../kernels/webgpu/mod.ts")).acquireWebGpu(options);
  backends.set("webgpu", b);
  return b.adapter;
}

/**
 * Picks the best backend here, switches to it and says which, with the reason: WebGPU on a
 * hardware adapter; the CPU when there is no adapter, or when the only one is a software
 * rasterizer (llvmpipe, lavapipe, WARP), which trains several times slower than the CPU
 * backend's WebAssembly kernels on the same cores. `{ allowSoftware: true }` takes a software
 * adapter anyway. Used by the CLI's `--backend auto`.
 *
 * @example
 * ```ts
 * import { autoBackend } from "@sll/sll";
 * const { backend, adapter, reason } = await autoBackend();
 * console.log(backend, adapter?.description ?? "", reason ?? "");
 * ```
 */
export async function autoBackend(
  options: { allowSoftware?: boolean } = {},
): Promise<{ backend: BackendName; adapter?: AdapterDescription; reason?: string }> {
  let adapter: AdapterDescription;
  try {
    adapter = await initWebGpu();
  } catch (e) {
    await setBackend("cpu");
    return { backend: "cpu", reason: e instanceof Error ? e.message : String(e) };
  }
  if (isSoftwareAdapter(adapter) && !options.allowSoftware) {
    await setBackend("cpu");
    return {
      backend: "cpu",
      adapter,
      reason: `the only WebGPU adapter is a software one (${
        adapter.description || adapter.device
      }), slower than the CPU backend here; pass --backend webgpu to use it anyway`,
    };
  }
  await setBackend("webgpu");
  return { backend: "webgpu", adapter };
}

/** True for CPU-emulated adapters (Mesa llvmpipe/lavapipe, SwiftShader, WARP). */
export function isSoftwareAdapter(a: AdapterDescription): boolean {
  const text = `${a.vendor} ${a.architecture} ${a.device} ${a.description}`.toLowerCase();
  return a.isFallbackAdapter || /llvmpipe|lavapipe|softpipe|swiftshader|warp|software/.test(text);
}

/** @internal The backend instance by name, creating it if needed. */
export async function getOrCreateBackend(name: BackendName): Promise<Backend> {
  let b = backends.get(name);
  if (!b) {
    const f = factories.get(name);
    if (!f) {
      throw new Error(
        `setBackend: unknown backend ${
          JSON.stringify(name)
        }; expected "cpu" or "webgpu" (import the webgpu module or call initWebGpu() first)`,
      );
    }
    b = await f();
    backends.set(name, b);
  }
  return b;
}

/**
 * Selects the backend new tensors are created on. Resolves once it is ready.
 *
 * @example
 * ```ts
 * import { setBackend, getBackend } from "@sll/sll";
 * await setBackend("cpu");
 * console.log(getBackend()); // "cpu"
 * ```
 */
export async function setBackend(name: BackendName): Promise<void> {
  if (name !== "cpu" && name !== "webgpu") {
    throw new Error(
      `setBackend: unknown backend ${JSON.stringify(name)}; expected "cpu" or "webgpu"`,
    );
  }
  current = await getOrCreateBackend(name);
}

/**
 * Name of the current backend.
 *
 * @example
 * ```ts
 * import { getBackend } from "@sll/sll";
 * console.log(getBackend());
 * ```
 */
export function getBackend(): BackendName {
  return current.name;
}

/** @internal The current backend object. */
export function currentBackend(): Backend {
  return current;
}

// ---------------------------------------------------------------------------------------------
// memory accounting and scopes

const live = new Map<BackendName, { tensors: number; bytes: number }>();
function stats(name: BackendName): { tensors: number; bytes: number } {
  let s = live.get(name);
  if (!s) live.set(name, s = { tensors: 0, bytes: 0 });
  return s;
}
function liveCount(name: BackendName, d: number): void {
  stats(name).tensors += d;
}
function bytesCount(name: BackendName, d: number): void {
  stats(name).bytes += d;
}

/** Live tensors and bytes on a backend. */
export interface MemoryInfo {
  /** Tensor handles not yet disposed. */
  tensors: number;
  /** Bytes of storage they hold (aliases counted once). */
  bytes: number;
}

/**
 * Live tensors and bytes on the current backend (or the one named).
 *
 * @example
 * ```ts
 * import { memory, scope, tensor } from "@sll/sll";
 * const before = memory().tensors;
 * scope(() => tensor([1, 2, 3]));
 * console.log(memory().tensors === before); // true
 * ```
 */
export function memory(backend: BackendName = current.name): MemoryInfo {
  const s = stats(backend);
  return { tensors: s.tensors, bytes: s.bytes };
}

const scopes: Set<Tensor>[] = [];

/** Visits every Tensor leaf of a tree (objects, arrays, Maps are not traversed). */
export function forEachTensor(
  tree: unknown,
  f: (t: Tensor) => void,
  seen = new Set<unknown>(),
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

/**
 * Runs `fn` synchronously and disposes every tensor created inside except those reachable from
 * its result, which move to the enclosing scope. Throws if `fn` returns a Promise.
 *
 * @example
 * ```ts
 * import { add, scope, tensor } from "@sll/sll";
 * const y = scope(() => add(tensor([1, 2]), tensor([3, 4]))); // the inputs are freed
 * ```
 */
export function scope<T>(fn: () => T): T {
  const frame = new Set<Tensor>();
  scopes.push(frame);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of frame) if (!t.kept) t.dispose();
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) {
    for (const t of frame) if (!t.kept) t.dispose();
    throw new TypeError(
      "scope: fn returned a Promise; scope() only tracks synchronous work. Await outside, or use keep()/dispose() explicitly",
    );
  }
  const keepSet = new Set<Tensor>();
  forEachTensor(result, (t) => keepSet.add(t));
  const parent = scopes[scopes.length - 1];
  for (const t of frame) {
    // tensors an active trace recorded must outlive this scope: the pullback reads them
    if (keepSet.has(t) || t.kept || pinnedByTrace(t)) {
      if (parent && !t.kept) parent.add(t);
    } else {
      t.dispose();
    }
  }
  return result;
}

/**
 * Marks every tensor of a tree as kept: no scope will dispose it. Returns the tree.
 *
 * @example
 * ```ts
 * import { keep, scope, tensor } from "@sll/sll";
 * const params = scope(() => keep({ w: tensor([1, 2]) }));
 * ```
 */
export function keep<T>(tree: T): T {
  forEachTensor(tree, (t) => {
    const r = t.ref("keep");
    r.backend.settle?.(r.storage); // a long-lived value: compute it now, not at its next use
    t.kept = true;
    for (const s of scopes) s.delete(t);
  });
  return tree;
}

/**
 * Disposes every tensor of a tree. Returns the tree.
 *
 * @example
 * ```ts
 * import { dispose, tensor } from "@sll/sll";
 * dispose({ a: tensor([1]), b: [tensor([2])] });
 * ```
 */
export function dispose<T>(tree: T): T {
  forEachTensor(tree, (t) => t.dispose());
  return tree;
}

function register(t: Tensor): Tensor {
  const top = scopes[scopes.length - 1];
  if (top) top.add(t);
  return t;
}

// ---------------------------------------------------------------------------------------------
// creation and dispatch

const ARRAY_TYPES: Record<DType, unknown> = {
  float32: Float32Array,
  int32: Int32Array,
  float64: Float64Array,
};

/** @internal Wraps host data as a new tensor on the current backend. */
export function fromHost(
  data: TypedArray,
  shape: readonly number[],
  dtype: DType,
  op = "tensor",
): Tensor {
  const b = current;
  if (!b.dtypes.includes(dtype)) {
    throw new TypeError(
      `${op}: the ${b.name} backend has no ${dtype} tensors (it stores ${
        b.dtypes.join(", ")
      }); use float32, or the cpu backend for float64`,
    );
  }
  const arr = data.constructor === ARRAY_TYPES[dtype] ? data : toArray(dtype, data);
  const bytes = sizeOf(shape) * itemSize(dtype);
  const ref: StorageRef = { storage: b.upload(arr, dtype), refs: 1, bytes, backend: b };
  bytesCount(b.name, bytes);
  return register(new Tensor(ref, shape, dtype, op));
}

/** One recorded primitive application. */
export interface TapeNode {
  prim: PrimName;
  inputs: Tensor[];
  params: unknown;
  output: Tensor;
}

/** An active trace: which tensors depend on the traced inputs, and the nodes producing them. */
export interface Trace {
  tracked: Set<number>;
  nodes: TapeNode[];
  /** Inputs and outputs of recorded nodes: scopes must not free them while the trace lives. */
  pinned: Set<Tensor>;
}

function pinnedByTrace(t: Tensor): boolean {
  for (const tr of traces) if (tr.pinned.has(t)) return true;
  return false;
}

/** @internal The stack of active traces (autodiff pushes and pops). */
export const traces: Trace[] = [];
let tracingPaused = 0;

/** @internal True when some active trace depends on `t`. */
export function isTracked(t: Tensor): boolean {
  for (const tr of traces) if (tr.tracked.has(t.id)) return true;
  return false;
}

/** @internal Runs fn with recording switched off (used by stopGradient). */
export function untraced<T>(fn: () => T): T {
  tracingPaused++;
  try {
    return fn();
  } finally {
    tracingPaused--;
  }
}

/** Applies primitive `prim` to `inputs`: shape rule, kernel, scope registration, trace. */
export function apply<P extends PrimName>(
  prim: P,
  inputs: Tensor[],
  params: PrimParams[P],
): Tensor {
  const refs = inputs.map((x) => x.ref(prim));
  const b = refs.length ? refs[0].backend : current;
  for (let i = 1; i < refs.length; i++) {
    if (refs[i].backend !== b) {
      throw new Error(
        `${prim}: inputs live on different backends (${b.name} and ${
          refs[i].backend.name
        }); move them with toBackend()`,
      );
    }
  }
  const def = PRIMS[prim];
  const out = def.shape(inputs, params);
  let ref: StorageRef;
  if (def.alias) {
    ref = refs[0];
    ref.refs++;
  } else {
    const args: KernelArg[] = inputs.map((x, i) => ({
      storage: refs[i].storage,
      shape: x.shape,
      dtype: x.dtype,
    }));
    let storage: unknown;
    try {
      storage = b.run(prim, args, params, out);
    } catch (e) {
      if (e instanceof Error && !e.message.startsWith(prim)) {
        e.message = `${prim} on ${
          inputs.map((x) => `${x.dtype}${fmt(x.shape)}`).join(", ")
        }: ${e.message}`;
      }
      throw e;
    }
    const bytes = sizeOf(out.shape) * itemSize(out.dtype);
    ref = { storage, refs: 1, bytes, backend: b };
    bytesCount(b.name, bytes);
  }
  const t = register(new Tensor(ref, out.shape, out.dtype, prim));
  if (traces.length && !tracingPaused && def.vjp && isFloat(out.dtype)) {
    for (const tr of traces) {
      if (inputs.some((x) => tr.tracked.has(x.id))) {
        tr.nodes.push({ prim, inputs, params, output: t });
        tr.tracked.add(t.id);
        for (const x of inputs) tr.pinned.add(x);
        tr.pinned.add(t);
      }
    }
  }
  return t;
}

/**
 * Copies every tensor of a tree to backend `name` (reading back from the GPU when needed);
 * tensors already there are returned as they are. The originals are left alone.
 *
 * @example
 * ```ts
 * import { tensor, toBackend } from "@sll/sll";
 * const onCpu = await toBackend({ w: tensor([1, 2]) }, "cpu");
 * ```
 */
export async function toBackend<T>(tree: T, name: BackendName): Promise<T> {
  const target = await getOrCreateBackend(name);
  const moved = new Map<Tensor, Tensor>();
  const todo: Tensor[] = [];
  forEachTensor(tree, (t) => todo.push(t));
  for (const t of todo) {
    if (moved.has(t)) continue;
    const r = t.ref("toBackend");
    if (r.backend === target) {
      moved.set(t, t);
      continue;
    }
    if (!target.dtypes.includes(t.dtype)) {
      throw new TypeError(`toBackend: the ${name} backend has no ${t.dtype} tensors; cast() first`);
    }
    const data = await t.data();
    const bytes = t.size * itemSize(t.dtype);
    const ref: StorageRef = {
      storage: target.upload(data, t.dtype),
      refs: 1,
      bytes,
      backend: target,
    };
    bytesCount(target.name, bytes);
    moved.set(t, register(new Tensor(ref, t.shape, t.dtype, "toBackend")));
  }
  const rebuild = (v: unknown): unknown => {
    if (v instanceof Tensor) return moved.get(v);
    if (Array.isArray(v)) return v.map(rebuild);
    if (v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rebuild(x)]));
    }
    return v;
  };
  return rebuild(tree) as T;
}

/** @internal Validates a dtype argument. */
export function dtypeArg(d: unknown, op: string): DType {
  return checkDType(d, op);
}

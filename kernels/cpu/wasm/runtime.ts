/**
 * Runtime of the wasm kernels: one (shared when possible) WebAssembly.Memory holding a heap of
 * long-lived float32 arrays (shared memory only; host_pool.ts recycles them) and above it a bump
 * arena that is reset on every call, the compiled kernel module, and one helper web Worker
 * (`new Worker(url, { type: "module" })`, the same in Deno and in browsers).
 * Dispatch is synchronous: the main thread claims the idle helper through a control Int32Array,
 * posts a job, runs its own share, and blocks in Atomics.wait until the helper is done. The
 * helper is started eagerly and used only once it reports ready; until then (or without
 * SharedArrayBuffer, cross-origin isolation or workers, or on a page's main thread, where
 * Atomics.wait is not allowed) a job runs on one thread, with the same kernels and the same
 * results bit for bit. An idle helper closes itself so it never keeps a process alive.
 * @module
 */

import { J, type Kernels, runJob } from "./driver.ts";
import { buildKernelModule } from "./kernels.ts";
import { TILE } from "./driver.ts";

/** Control block layout (Int32 indices); the job record starts at CTL.job. */
export const CTL = {
  seq: 0,
  done: 1,
  state: 2,
  error: 3,
  stop: 4,
  initFailed: 5,
  job: 16,
} as const;

/** Helper states in `CTL.state`: starting, idle (claimable), claimed by a dispatch, closed. */
export const HELPER = { starting: 0, idle: 1, busy: 2, closed: 3 } as const;

interface Runtime {
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  kernels: Kernels;
  shared: boolean;
  relaxed: boolean;
}

let runtime: Runtime | null | undefined;

function simdModuleOk(relaxed: boolean, shared: boolean): Uint8Array<ArrayBuffer> | undefined {
  try {
    const bytes = buildKernelModule({ mr: TILE.mr, nr: TILE.nr, ku: TILE.ku, relaxed }, shared);
    return WebAssembly.validate(bytes) ? bytes : undefined;
  } catch {
    return undefined;
  }
}

function sharedMemoryOk(): boolean {
  try {
    if (typeof SharedArrayBuffer === "undefined") return false;
    const m = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true });
    return m.buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

/** The lazily created runtime, or null when WebAssembly SIMD is unavailable. */
export function getRuntime(): Runtime | null {
  if (runtime !== undefined) return runtime;
  runtime = null;
  if (typeof WebAssembly !== "object") return runtime;
  const shared = sharedMemoryOk();
  let relaxed = true;
  let bytes = simdModuleOk(true, shared);
  if (!bytes) {
    relaxed = false;
    bytes = simdModuleOk(false, shared);
  }
  if (!bytes) return runtime;
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536, shared });
  const module = new WebAssembly.Module(bytes);
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  runtime = { memory, module, kernels: instance.exports as unknown as Kernels, shared, relaxed };
  if (threadLimit > 1) startPool(runtime); // eagerly: a helper never starts while we block
  return runtime;
}

// ---- heap: long-lived float32 arrays in the kernels' memory ---------------------------------

/** Where the heap starts; the arena of each call starts at its top. */
const HEAP_BASE = 1024;
/** Most bytes the heap takes (past it, arrays are ordinary host arrays). */
const HEAP_MAX_BYTES = 1 << 30;
let heapTop = HEAP_BASE;
let heapOn = true;

/**
 * @internal Turns new heap arrays on or off (off: every array is an ordinary host array, as
 * before the heap; those already made stay valid); returns the previous setting. For A/B runs
 * and tests.
 */
export function setKernelHeap(on: boolean): boolean {
  const was = heapOn;
  heapOn = on;
  return was;
}

/** Whether new heap arrays are being made (see {@linkcode setKernelHeap}). */
export function kernelHeapOn(): boolean {
  return heapOn;
}

/** The SharedArrayBuffers (one per size the memory had) that heap arrays are views of. */
const heapBuffers = new WeakSet<ArrayBufferLike>();
/** The arrays {@linkcode heapArray} made (a view of one of them is not one of them). */
const heapArrays = new WeakSet<Float32Array>();

/**
 * A new float32 array of `n` elements (contents arbitrary) inside the kernels' shared memory, so
 * that kernels read and write it in place instead of copying it in and out; null where the
 * memory is not shared (growing it would detach the view), the kernels have not run yet (so
 * the loops of a process that never uses them start no runtime), or the heap is full. Bytes are
 * never given back: the caller (host_pool.ts) recycles the array. Each block has a vector of
 * slack past its end, which loops that read or write whole vectors may touch. Call it only
 * between kernel calls (the arena of a call starts at the heap's top).
 */
export function heapArray(n: number): Float32Array | null {
  const rt = runtime;
  if (!rt || !rt.shared || !heapOn) return null;
  const bytes = Math.ceil((n * 4 + 64) / 64) * 64;
  if (heapTop + bytes > HEAP_BASE + HEAP_MAX_BYTES) return null;
  const at = heapTop;
  heapTop += bytes;
  const need = Math.ceil(heapTop / 65536) - rt.memory.buffer.byteLength / 65536;
  if (need > 0) rt.memory.grow(need);
  const buf = rt.memory.buffer;
  heapBuffers.add(buf);
  const a = new Float32Array(buf, at, n);
  heapArrays.add(a);
  return a;
}

/** Whether `a` is an array {@linkcode heapArray} made (not a view into one). */
export function isHeapArray(a: ArrayBufferView): boolean {
  return heapArrays.has(a as Float32Array);
}

/**
 * The byte address of `a` in the kernels' memory when it is a view of it (a heap array or a
 * part of one), else null.
 */
export function heapAddress(a: ArrayBufferView): number | null {
  return heapBuffers.has(a.buffer) ? a.byteOffset : null;
}

/** An input of a kernel call: where the kernels read it, and what to copy there (none: in place). */
export interface PlacedInput {
  /** Byte address in the kernels' memory. */
  at: number;
  /** The elements to copy to `at` after `arena.commit`, or null for a heap array. */
  copy: Float32Array | null;
}

/**
 * Places the first `n` elements of `src` for a call (after `arena.reset`): a heap array is read
 * where it lives; anything else gets an arena slot, filled by {@linkcode fillInputs} once the
 * arena is committed.
 */
export function placeInput(src: Float32Array, n: number): PlacedInput {
  const at = heapAddress(src);
  if (at !== null) return { at, copy: null };
  return { at: arena.alloc(n * 4), copy: n === src.length ? src : src.subarray(0, n) };
}

/** Copies the placed inputs that are not in place into their arena slots. */
export function fillInputs(memory: WebAssembly.Memory, ...inputs: PlacedInput[]): void {
  for (const x of inputs) {
    if (x.copy) new Float32Array(memory.buffer, x.at, x.copy.length).set(x.copy);
  }
}

/** The runtime if the kernels have created it (never creates it), else null. */
export function startedRuntime(): Runtime | null {
  return runtime ?? null;
}

/** Bump allocator over the runtime memory; `reset` at the start of every public call. */
export class Arena {
  private top = HEAP_BASE;

  /** Forgets all allocations; the next starts at the heap's top. */
  reset(): void {
    this.top = heapTop;
  }

  /** Reserves `bytes` (64-byte aligned) and returns the byte address. */
  alloc(bytes: number): number {
    const at = this.top;
    this.top = Math.ceil((at + bytes) / 64) * 64;
    if (this.top > 0x7fff0000) {
      throw new RangeError(
        `wasm kernels need ${this.top} bytes of scratch (${heapTop} of them long-lived arrays), over the 2 GiB addressable by i32 offsets; split the call into smaller batches`,
      );
    }
    return at;
  }

  /** Grows the memory to cover every allocation so far. */
  commit(memory: WebAssembly.Memory): void {
    const need = Math.ceil(this.top / 65536);
    const have = memory.buffer.byteLength / 65536;
    if (need > have) memory.grow(need - have);
  }
}

/** The arena of the main thread (calls are synchronous, so one suffices). */
export const arena: Arena = new Arena();

// ---- thread pool --------------------------------------------------------------------------

interface Pool {
  worker: Worker;
  ctl: Int32Array;
  ready: Promise<boolean>;
}

let pool: Pool | null = null;
/** Set when a helper could not instantiate the kernels: no further helper is started. */
let helperBroken = false;
let helperJobs = 0;
let threadLimit = Math.min(2, (globalThis.navigator?.hardwareConcurrency ?? 1) || 1);

/**
 * Whether this thread may block in Atomics.wait: not a page's main thread (a Window with a
 * document), where the browser forbids it; Deno's main thread and any worker may.
 */
function mayBlock(): boolean {
  return typeof (globalThis as { document?: unknown }).document === "undefined";
}

/** Whether a helper can work here: shared memory, isolation (in a page), web Workers. */
function helperPossible(rt: Runtime): boolean {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  return rt.shared && isolated !== false && mayBlock() && typeof Worker === "function" &&
    !helperBroken;
}

/** Sets the number of threads the kernels use (1 or 2); returns the previous value. */
export function setThreads(n: number): number {
  const prev = threadLimit;
  threadLimit = Math.max(1, Math.min(2, Math.floor(n)));
  const rt = runtime;
  if (threadLimit > 1 && rt) startPool(rt);
  return prev;
}

/** Threads that a dispatch would use now (2 only where a helper can run). */
export function threadCount(): number {
  const rt = getRuntime();
  return rt && threadLimit > 1 && helperPossible(rt) ? threadLimit : 1;
}

/** Dispatches the helper has shared since the process started (tests check the path taken). */
export function helperDispatches(): number {
  return helperJobs;
}

/** Starts a helper unless one is starting or running; its promise says whether it came up. */
function startPool(rt: Runtime): Pool | null {
  if (pool && Atomics.load(pool.ctl, CTL.state) !== HELPER.closed) return pool;
  pool = null;
  if (!helperPossible(rt)) return null;
  try {
    const ctl = new Int32Array(new SharedArrayBuffer(4 * (CTL.job + J.size)));
    const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
    const p: Pool = {
      worker,
      ctl,
      ready: new Promise<boolean>((resolve) => {
        worker.onmessage = (e: MessageEvent<{ type: string }>) => {
          if (e.data.type === "ready") resolve(true);
          if (e.data.type === "failed") {
            helperBroken = true;
            resolve(false);
          }
        };
        worker.onerror = (e: Event) => {
          e.preventDefault();
          helperBroken = true;
          Atomics.store(ctl, CTL.state, HELPER.closed);
          resolve(false);
        };
      }),
    };
    worker.postMessage({ type: "init", module: rt.module, memory: rt.memory, ctl });
    pool = p;
    return p;
  } catch {
    helperBroken = true;
    return null;
  }
}

/**
 * Starts the helper if it is not running and resolves once it serves jobs: true when it does,
 * false where none can run here (no shared memory, a page's main thread, one thread asked).
 */
export function threadsReady(): Promise<boolean> {
  const rt = getRuntime();
  if (!rt || threadLimit < 2) return Promise.resolve(false);
  const p = startPool(rt);
  return p ? p.ready : Promise.resolve(false);
}

/** Stops the helper thread (the next runtime use or `threadsReady` starts a new one). */
export function shutdownThreads(): void {
  if (!pool) return;
  const p = pool;
  pool = null;
  Atomics.store(p.ctl, CTL.stop, 1);
  Atomics.store(p.ctl, CTL.state, HELPER.closed);
  Atomics.add(p.ctl, CTL.seq, 1);
  Atomics.notify(p.ctl, CTL.seq);
  p.worker.terminate();
}

/** The helper, claimed for one job, or null (then the job runs on this thread alone). */
function claimHelper(rt: Runtime): Pool | null {
  const p = startPool(rt);
  if (!p) return null;
  const was = Atomics.compareExchange(p.ctl, CTL.state, HELPER.idle, HELPER.busy);
  return was === HELPER.idle ? p : null; // starting, or just closed: one thread this time
}

/**
 * Runs a job on all threads and returns when every share is done. `job` is filled by the
 * caller (J fields); scratch addresses must already be allocated and committed.
 */
export function dispatch(rt: Runtime, job: Int32Array, threads: number): void {
  const p = threads > 1 && mayBlock() ? claimHelper(rt) : null;
  if (!p) {
    runJob(rt.kernels, job, 0, 1);
    return;
  }
  const ctl = p.ctl;
  ctl.set(job, CTL.job);
  const seq = Atomics.add(ctl, CTL.seq, 1) + 1;
  Atomics.notify(ctl, CTL.seq);
  helperJobs++;
  let err: unknown;
  try {
    runJob(rt.kernels, job, 0, 2);
  } catch (e) {
    err = e;
  }
  const t0 = performance.now();
  try {
    for (;;) {
      const done = Atomics.load(ctl, CTL.done);
      if (done === seq) break;
      Atomics.wait(ctl, CTL.done, done, 1000);
      if (Atomics.load(ctl, CTL.done) !== seq && performance.now() - t0 > 60_000) {
        helperBroken = true;
        shutdownThreads();
        throw new Error(
          "wasm helper thread did not answer within 60 s; the kernels now run on one thread",
        );
      }
    }
  } finally {
    if (pool === p) Atomics.store(ctl, CTL.state, HELPER.idle);
  }
  if (err) throw err;
  if (Atomics.load(ctl, CTL.error) !== 0) {
    Atomics.store(ctl, CTL.error, 0);
    throw new Error("wasm helper thread failed while running a kernel job");
  }
}

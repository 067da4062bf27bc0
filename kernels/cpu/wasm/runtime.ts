/**
 * Runtime of the wasm kernels: one (shared when possible) WebAssembly.Memory used as a bump
 * arena that is reset on every call, the compiled kernel module, and a lazy pool of one helper
 * thread (node:worker_threads, unref'd so an idle pool never keeps the process alive).
 * Dispatch is synchronous: the main thread posts a job through a control Int32Array, runs its
 * own share, and blocks in Atomics.wait until the helper is done. Falls back to one thread when
 * SharedArrayBuffer or workers are unavailable.
 * @module
 */

import { Worker as NodeWorker } from "node:worker_threads";
import { J, type Kernels, runJob } from "./driver.ts";
import { buildKernelModule } from "./kernels.ts";
import { TILE } from "./driver.ts";

/** Control block layout (Int32 indices); the job record starts at CTL.job. */
export const CTL = { seq: 0, done: 1, mode: 2, error: 3, stop: 4, initFailed: 5, job: 16 } as const;

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
  return runtime;
}

/** Bump allocator over the runtime memory; `reset` at the start of every public call. */
export class Arena {
  private top = 1024;

  /** Forgets all allocations. */
  reset(): void {
    this.top = 1024;
  }

  /** Reserves `bytes` (64-byte aligned) and returns the byte address. */
  alloc(bytes: number): number {
    const at = this.top;
    this.top = Math.ceil((at + bytes) / 64) * 64;
    if (this.top > 0x7fff0000) {
      throw new RangeError(
        `wasm kernels need ${this.top} bytes of scratch, over the 2 GiB addressable by i32 offsets; split the call into smaller batches`,
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
  worker: NodeWorker;
  ctl: Int32Array;
  failed: boolean;
}

let pool: Pool | null = null;
let threadLimit = Math.min(2, (globalThis.navigator?.hardwareConcurrency ?? 1) || 1);

/** Sets the number of threads the kernels use (1 or 2); returns the previous value. */
export function setThreads(n: number): number {
  const prev = threadLimit;
  threadLimit = Math.max(1, Math.min(2, Math.floor(n)));
  return prev;
}

/** Threads that a dispatch would use now. */
export function threadCount(): number {
  const rt = getRuntime();
  return rt && rt.shared && threadLimit > 1 ? threadLimit : 1;
}

function getPool(rt: Runtime): Pool | null {
  if (pool) return pool.failed ? null : pool;
  try {
    const ctl = new Int32Array(new SharedArrayBuffer(4 * (CTL.job + J.size)));
    const worker = new NodeWorker(new URL("./worker.ts", import.meta.url));
    worker.unref();
    worker.postMessage({ type: "init", module: rt.module, memory: rt.memory, ctl });
    pool = { worker, ctl, failed: false };
    return pool;
  } catch {
    pool = { worker: undefined as unknown as NodeWorker, ctl: new Int32Array(1), failed: true };
    return null;
  }
}

/** Stops the helper thread (it restarts lazily on the next multi-threaded call). */
export function shutdownThreads(): void {
  if (!pool) return;
  const p = pool;
  pool = null;
  if (p.failed) return;
  Atomics.store(p.ctl, CTL.stop, 1);
  Atomics.add(p.ctl, CTL.seq, 1);
  Atomics.notify(p.ctl, CTL.seq);
  void p.worker.terminate();
}

/**
 * Runs a job on all threads and returns when every share is done. `job` is filled by the
 * caller (J fields); scratch addresses must already be allocated and committed.
 */
export function dispatch(rt: Runtime, job: Int32Array, threads: number): void {
  const p = threads > 1 ? getPool(rt) : null;
  if (!p) {
    runJob(rt.kernels, job, 0, 1);
    return;
  }
  const ctl = p.ctl;
  ctl.set(job, CTL.job);
  const seq = Atomics.add(ctl, CTL.seq, 1) + 1;
  Atomics.notify(ctl, CTL.seq);
  if (Atomics.load(ctl, CTL.mode) === 0) p.worker.postMessage({ type: "wake" });
  let err: unknown;
  try {
    runJob(rt.kernels, job, 0, 2);
  } catch (e) {
    err = e;
  }
  // Wait for the helper; a helper that never answers (failed to start) is abandoned.
  const t0 = performance.now();
  for (;;) {
    const done = Atomics.load(ctl, CTL.done);
    if (done === seq) break;
    if (Atomics.load(ctl, CTL.initFailed) !== 0) {
      // The helper could not instantiate the kernels: do its share here, stop using it.
      p.failed = true;
      void p.worker.terminate();
      runJob(rt.kernels, job, 1, 2);
      break;
    }
    Atomics.wait(ctl, CTL.done, done, 1000);
    if (Atomics.load(ctl, CTL.done) !== seq && performance.now() - t0 > 60_000) {
      p.failed = true;
      void p.worker.terminate();
      throw new Error("wasm helper thread did not answer within 60 s; falling back to one thread");
    }
  }
  if (err) throw err;
  if (Atomics.load(ctl, CTL.error) !== 0) {
    Atomics.store(ctl, CTL.error, 0);
    throw new Error("wasm helper thread failed while running a kernel job");
  }
}

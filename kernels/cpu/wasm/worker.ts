/**
 * Helper thread of the wasm kernels, a module web Worker (Deno and browsers). It instantiates
 * the kernel module on the shared memory, reports "ready", then serves jobs posted through the
 * control block, sleeping in Atomics.wait between them; after a quiet spell it closes itself
 * (unless a dispatch has claimed it), so an idle helper never keeps a process alive.
 * @module
 */

import { J, type Kernels, runJob } from "./driver.ts";

// Same layout as runtime.ts (not imported: the worker's module graph stays this small).
const CTL = { seq: 0, done: 1, state: 2, error: 3, stop: 4, initFailed: 5, job: 16 } as const;
const HELPER = { starting: 0, idle: 1, busy: 2, closed: 3 } as const;
/** Quiet time after which an unclaimed helper closes (the next dispatch starts another). */
const IDLE_CLOSE_MS = 1000;

interface WorkerScope {
  onmessage: ((e: MessageEvent<InitMessage>) => void) | null;
  postMessage(message: unknown): void;
  close(): void;
}

interface InitMessage {
  type: string;
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  ctl: Int32Array;
}

const scope = globalThis as unknown as WorkerScope;

function serve(kernels: Kernels, ctl: Int32Array, firstSeq: number): void {
  let lastSeq = firstSeq;
  for (;;) {
    if (Atomics.load(ctl, CTL.stop) !== 0) return;
    const seq = Atomics.load(ctl, CTL.seq);
    if (seq !== lastSeq) {
      lastSeq = seq;
      if (Atomics.load(ctl, CTL.stop) !== 0) return;
      try {
        runJob(kernels, ctl.subarray(CTL.job, CTL.job + J.size), 1, 2);
      } catch (e) {
        console.error("wasm helper thread:", e);
        Atomics.store(ctl, CTL.error, 1);
      }
      Atomics.store(ctl, CTL.done, seq);
      Atomics.notify(ctl, CTL.done);
      continue;
    }
    if (Atomics.wait(ctl, CTL.seq, seq, IDLE_CLOSE_MS) === "timed-out") {
      // Close only if no dispatch holds us; a claimed helper keeps serving.
      const was = Atomics.compareExchange(ctl, CTL.state, HELPER.idle, HELPER.closed);
      if (was === HELPER.idle || was === HELPER.closed) return;
    }
  }
}

scope.onmessage = (e: MessageEvent<InitMessage>): void => {
  if (e.data.type !== "init") return;
  const { ctl } = e.data;
  let kernels: Kernels;
  try {
    const instance = new WebAssembly.Instance(e.data.module, { env: { memory: e.data.memory } });
    kernels = instance.exports as unknown as Kernels;
  } catch (err) {
    // The main thread stops starting helpers and runs every job on one thread.
    console.error("wasm helper thread could not start:", err);
    Atomics.store(ctl, CTL.initFailed, 1);
    Atomics.store(ctl, CTL.state, HELPER.closed);
    scope.postMessage({ type: "failed" });
    scope.close();
    return;
  }
  scope.onmessage = null;
  // Read the sequence before announcing "idle": from then on a dispatch may post a job.
  const seq = Atomics.load(ctl, CTL.seq);
  Atomics.store(ctl, CTL.done, seq);
  Atomics.store(ctl, CTL.state, HELPER.idle);
  scope.postMessage({ type: "ready" });
  serve(kernels, ctl, seq);
  Atomics.store(ctl, CTL.state, HELPER.closed);
  scope.close();
};

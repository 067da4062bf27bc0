/**
 * Helper thread of the wasm kernels. It instantiates the kernel module on the shared memory,
 * then serves jobs posted through the control block: it sleeps in Atomics.wait while jobs keep
 * coming and returns to its (unref'd) event loop after a quiet spell, to be woken by a message.
 * @module
 */

import { parentPort } from "node:worker_threads";
import { J, type Kernels, runJob } from "./driver.ts";

const CTL = { seq: 0, done: 1, mode: 2, error: 3, stop: 4, initFailed: 5, job: 16 } as const;
/** How long the helper sleeps on the control word before going back to its event loop. */
const IDLE_MS = 50;

let kernels: Kernels | undefined;
let ctl: Int32Array | undefined;
let lastSeq = 0;

function serve(): void {
  if (!kernels || !ctl) return;
  Atomics.store(ctl, CTL.mode, 1);
  for (;;) {
    const seq = Atomics.load(ctl, CTL.seq);
    if (Atomics.load(ctl, CTL.stop) !== 0) return;
    if (seq !== lastSeq) {
      lastSeq = seq;
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
    if (Atomics.wait(ctl, CTL.seq, seq, IDLE_MS) === "timed-out") {
      // Announce the event-loop sleep, then re-check: a job posted meanwhile is still served.
      Atomics.store(ctl, CTL.mode, 0);
      if (Atomics.load(ctl, CTL.seq) === lastSeq) return;
      Atomics.store(ctl, CTL.mode, 1);
    }
  }
}

parentPort?.on(
  "message",
  (
    msg: {
      type: string;
      module?: WebAssembly.Module;
      memory?: WebAssembly.Memory;
      ctl?: Int32Array;
    },
  ) => {
    if (msg.type === "init") {
      ctl = msg.ctl!;
      lastSeq = 0;
      try {
        const instance = new WebAssembly.Instance(msg.module!, { env: { memory: msg.memory! } });
        kernels = instance.exports as unknown as Kernels;
      } catch (e) {
        // The main thread sees the flag, runs this thread's share itself and stops using the pool.
        console.error("wasm helper thread could not start:", e);
        Atomics.store(ctl, CTL.initFailed, 1);
        Atomics.notify(ctl, CTL.done);
        return;
      }
    }
    serve();
  },
);

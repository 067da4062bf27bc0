/**
 * WebGPU memory and queue behaviour: live tensors and bytes return to baseline, 500 SGD steps of
 * a small MLP keep `memory("webgpu").bytes` and the buffer pool flat, a buffer freed while
 * unsubmitted work still reads it is not handed to an upload (queue.writeBuffer would run first),
 * and device errors surface as exceptions naming the op.
 */
import assert from "node:assert/strict";
import { dispose, keep, memory, scope } from "../tensor/scope.ts";
import { initWebGpu, setBackend } from "../tensor/backend.ts";
import type { Tensor } from "../tensor/tensor.ts";
import * as o from "../tensor/ops.ts";
import { normal, randomKey, split } from "../tensor/random.ts";
import { valueAndGrad } from "../autodiff/autodiff.ts";
import { acquireWebGpu } from "../kernels/webgpu/mod.ts";
import type { GpuStorage } from "../kernels/webgpu/backend.ts";
import { assertClose, leakFreeTest } from "./helpers.ts";

await initWebGpu(); // throws (fails the file) without an adapter
const gpu = await acquireWebGpu();

/** Runs `fn` on WebGPU, then back on the CPU; live tensors and bytes must return. */
function onGpu(name: string, fn: () => void | Promise<void>): void {
  leakFreeTest(name, async () => {
    await setBackend("webgpu");
    try {
      await fn();
    } finally {
      await setBackend("cpu");
    }
  });
}

onGpu("webgpu memory: scopes free everything, buffers return to the pool", async () => {
  const live0 = gpu.stats().liveBuffers;
  const y = scope(() => {
    const a = o.tensor([[1, 2, 3], [4, 5, 6]]);
    return o.sum(o.mul(o.exp(a), 2), 1);
  });
  assertClose(await y.data(), [
    2 * (Math.E + Math.E ** 2 + Math.E ** 3),
    2 * (Math.E ** 4 + Math.E ** 5 + Math.E ** 6),
  ], { rtol: 1e-5 });
  y.dispose();
  await gpu.sync();
  if (gpu.stats().liveBuffers !== live0) {
    assert.fail(`live buffers ${gpu.stats().liveBuffers} ≠ ${live0} after dispose`);
  }
});

onGpu("webgpu memory: 500 SGD steps of an MLP keep bytes and the pool flat", async () => {
  const [k1, k2, k3, k4] = split(randomKey(3), 4);
  let params = scope(() =>
    keep({
      w1: o.mul(normal(k1, [16, 32]), 0.25),
      b1: o.zeros([32]),
      w2: o.mul(normal(k2, [32, 4]), 0.25),
      b2: o.zeros([4]),
    })
  );
  const x = keep(normal(k3, [64, 16]));
  const labels = scope(() => keep(o.cast(o.sum(o.greater(normal(k4, [64, 2]), 0), 1), "int32")));
  type P = typeof params;
  const loss = (p: P, xb: Tensor, yb: Tensor) =>
    o.crossEntropy(o.add(o.matmul(o.relu(o.add(o.matmul(xb, p.w1), p.b1)), p.w2), p.b2), yb);
  const step = valueAndGrad(loss);
  const lr = 0.1;
  let first = NaN, last = NaN;
  // The pool's high-water mark may still rise while the batch boundary (every 512 dispatches)
  // visits each position within a step (~30 dispatches each, fused); a leak grows without end.
  // So sample once that has happened and require no growth over the last 200 steps.
  const SAMPLE = 300;
  let bytesAtSample = 0, statsAtSample = gpu.stats();
  for (let i = 0; i < 500; i++) {
    const [next, l] = scope(() => {
      const [value, g] = step(params, x, labels);
      const upd = {
        w1: o.sub(params.w1, o.mul(g.w1, lr)),
        b1: o.sub(params.b1, o.mul(g.b1, lr)),
        w2: o.sub(params.w2, o.mul(g.w2, lr)),
        b2: o.sub(params.b2, o.mul(g.b2, lr)),
      };
      return [upd, value] as const;
    });
    dispose(params);
    params = keep(next);
    // read where the stats are sampled too, so both samples did the same work: an unread loss
    // is never computed (fusion), a read one needs a buffer
    if (i === 0 || i === SAMPLE || i === 499) {
      const v = (await l.data())[0];
      if (i === 0) first = v;
      else last = v;
    }
    l.dispose();
    if (i === SAMPLE) {
      await gpu.sync();
      bytesAtSample = memory("webgpu").bytes;
      statsAtSample = gpu.stats();
    }
  }
  await gpu.sync();
  const s = gpu.stats();
  if (memory("webgpu").bytes !== bytesAtSample) {
    assert.fail(
      `webgpu bytes grew from ${bytesAtSample} to ${memory("webgpu").bytes} over 200 steps`,
    );
  }
  if (s.allocatedBytes !== statsAtSample.allocatedBytes) {
    assert.fail(
      `allocated GPU bytes grew from ${statsAtSample.allocatedBytes} to ${s.allocatedBytes}`,
    );
  }
  if (s.pooledBuffers + s.liveBuffers !== statsAtSample.pooledBuffers + statsAtSample.liveBuffers) {
    assert.fail(`buffer count changed: ${JSON.stringify(statsAtSample)} → ${JSON.stringify(s)}`);
  }
  if (!(last < first * 0.5)) assert.fail(`training did not progress: loss ${first} → ${last}`);
  dispose([params, x, labels]);
});

onGpu("webgpu memory: a buffer freed under pending work is not reused by an upload", async () => {
  const n = 4096;
  // fusion off, so mul is encoded at once (the fused case is in webgpu_fusion_test.ts)
  gpu.fusion = false;
  const a = o.full([n], 1);
  const b = o.mul(a, 3); // encoded, not submitted: reads a's buffer
  a.dispose(); // a's buffer must wait for that submit
  const c = o.full([n], 7); // an upload of the same size class
  gpu.fusion = true;
  const bd = await b.data();
  const cd = await c.data();
  if (bd.some((v) => v !== 3)) assert.fail(`pending work read an overwritten buffer: ${bd[0]}`);
  if (cd.some((v) => v !== 7)) assert.fail(`upload lost: ${cd[0]}`);
  dispose([b, c]);
});

onGpu("webgpu errors: a device validation error names the op and shapes", async () => {
  const a = o.full([8, 3], 1);
  const storage = (a as unknown as { ref(op: string): { storage: GpuStorage } }).ref("test")
    .storage;
  storage.buffer!.destroy(); // simulate a backend bug: the next dispatch uses a destroyed buffer
  const y = o.add(a, 1);
  let msg = "";
  try {
    await y.data();
  } catch (e) {
    msg = (e as Error).message;
  }
  // recreate the pooled buffer's replacement so later tests see a healthy pool
  storage.buffer = gpu.device.createBuffer({
    label: "replacement",
    size: storage.cls,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  dispose([a, y]);
  if (!/add float32\[8, 3\]/.test(msg)) {
    assert.fail(`expected an error naming "add float32[8, 3]", got: ${msg}`);
  }
});

onGpu(
  "webgpu errors: a tensor over the binding limit fails at the op, with a clear message",
  () => {
    const limit = gpu.device.limits.maxStorageBufferBindingSize;
    const n = Math.floor(limit / 4) + 1024;
    const s = o.tensor(1);
    let msg = "";
    try {
      scope(() => o.broadcastTo(s, [n]));
    } catch (e) {
      msg = (e as Error).message;
    }
    s.dispose();
    if (!/broadcastTo/.test(msg) || !/limit/.test(msg)) {
      assert.fail(`expected a broadcastTo error about the binding limit, got: ${msg}`);
    }
  },
);

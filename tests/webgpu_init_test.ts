/**
 * initWebGpu / autoBackend / setBackend("webgpu"): the adapter is described (with the wgpu
 * backend, gl or vulkan), "webgpu" becomes available, and autoBackend picks it when an adapter
 * exists. Without an adapter these tests fail (never skip) with the message initWebGpu gives.
 */
import { AssertionError } from "node:assert/strict";
import { autoBackend, getBackend, initWebGpu, setBackend } from "../tensor/engine.ts";
import { add, tensor } from "../tensor/ops.ts";

Deno.test("initWebGpu describes the adapter and makes webgpu available", async () => {
  const a = await initWebGpu();
  for (const k of ["vendor", "architecture", "device", "description", "backend"] as const) {
    if (typeof a[k] !== "string") throw new AssertionError({ message: `adapter.${k} missing` });
  }
  if (!["gl", "vulkan", "metal", "dx12", "unknown"].includes(a.backend)) {
    throw new AssertionError({ message: `unexpected backend ${a.backend}` });
  }
  await setBackend("webgpu");
  const y = add(tensor([1, 2]), tensor([3, 4]));
  const d = Array.from(await y.data());
  y.dispose();
  await setBackend("cpu");
  if (d.join() !== "4,6") throw new AssertionError({ message: `add gave ${d}` });
});

Deno.test("autoBackend picks webgpu when an adapter exists and says which", async () => {
  const r = await autoBackend();
  try {
    if (r.backend !== "webgpu" || getBackend() !== "webgpu" || !r.adapter?.description) {
      throw new AssertionError({ message: `autoBackend gave ${JSON.stringify(r)}` });
    }
  } finally {
    await setBackend("cpu");
  }
});

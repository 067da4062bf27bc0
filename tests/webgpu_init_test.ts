/**
 * initWebGpu / autoBackend / setBackend("webgpu"): the adapter is described (with the wgpu
 * backend, gl or vulkan), "webgpu" becomes available, and autoBackend picks it when an adapter
 * exists. Without an adapter these tests fail (never skip) with the message initWebGpu gives.
 */
import { AssertionError } from "node:assert/strict";
import {
  autoBackend,
  getBackend,
  initWebGpu,
  isSoftwareAdapter,
  setBackend,
} from "../tensor/backend.ts";
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

Deno.test("autoBackend: a hardware adapter wins; a software one yields to the CPU and says why", async () => {
  try {
    const r = await autoBackend();
    const software = r.adapter !== undefined && isSoftwareAdapter(r.adapter);
    if (!r.adapter?.description) {
      throw new AssertionError({ message: `autoBackend named no adapter: ${JSON.stringify(r)}` });
    }
    if (software) {
      // CI's llvmpipe: the CPU backend is faster, and the reason names the adapter and the way out
      if (
        r.backend !== "cpu" || getBackend() !== "cpu" ||
        !/software.*--backend webgpu/.test(r.reason ?? "")
      ) {
        throw new AssertionError({ message: `autoBackend gave ${JSON.stringify(r)}` });
      }
      const forced = await autoBackend({ allowSoftware: true });
      if (forced.backend !== "webgpu" || getBackend() !== "webgpu") {
        throw new AssertionError({ message: `allowSoftware gave ${JSON.stringify(forced)}` });
      }
    } else if (r.backend !== "webgpu" || getBackend() !== "webgpu") {
      throw new AssertionError({ message: `autoBackend gave ${JSON.stringify(r)}` });
    }
  } finally {
    await setBackend("cpu");
  }
});

/**
 * initWebGpu / autoBackend / setBackend("webgpu"): the adapter is described (with the wgpu
 * backend, gl or vulkan), "webgpu" becomes available, and autoBackend picks it when an adapter
 * exists. Without an adapter these tests fail (never skip) with the message initWebGpu gives.
 */
import assert from "node:assert/strict";
import { autoBackend, getBackend, initWebGpu, isSoftwareAdapter, setBackend } from "./backend.ts";
import { add, tensor } from "./ops.ts";

Deno.test("initWebGpu describes the adapter and makes webgpu available", async () => {
  const a = await initWebGpu();
  for (const k of ["vendor", "architecture", "device", "description", "backend"] as const) {
    assert.equal(typeof a[k], "string", `adapter.${k} missing`);
  }
  assert.ok(
    ["gl", "vulkan", "metal", "dx12", "unknown"].includes(a.backend),
    `unexpected backend ${a.backend}`,
  );
  await setBackend("webgpu");
  const y = add(tensor([1, 2]), tensor([3, 4]));
  const d = Array.from(await y.data());
  y.dispose();
  await setBackend("cpu");
  assert.deepEqual(d, [4, 6], `add gave ${d}`);
});

Deno.test("autoBackend: a hardware adapter wins; a software one yields to the CPU and says why", async () => {
  try {
    const r = await autoBackend();
    const software = r.adapter !== undefined && isSoftwareAdapter(r.adapter);
    assert.ok(r.adapter?.description, `autoBackend named no adapter: ${JSON.stringify(r)}`);
    if (software) {
      // CI's llvmpipe: the CPU backend is faster, and the reason names the adapter and the way out
      assert.equal(r.backend, "cpu", `autoBackend gave ${JSON.stringify(r)}`);
      assert.equal(getBackend(), "cpu");
      assert.match(r.reason ?? "", /software.*--backend webgpu/);
      const forced = await autoBackend({ allowSoftware: true });
      assert.equal(forced.backend, "webgpu", `allowSoftware gave ${JSON.stringify(forced)}`);
      assert.equal(getBackend(), "webgpu");
    } else {
      assert.equal(r.backend, "webgpu", `autoBackend gave ${JSON.stringify(r)}`);
      assert.equal(getBackend(), "webgpu");
    }
  } finally {
    await setBackend("cpu");
  }
});

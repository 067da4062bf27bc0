// Tests that the native BLAS stays loaded for the process life (native_pin.ts): in a child
// process, a Web Worker loads it and runs one sgemm, then ends (which drops the worker's FFI
// handles: without the pin this unmaps OpenBLAS, as every ending test worker did); the library
// must still be mapped afterwards (/proc/self/maps, so Linux only) and report itself resident.
// Without a native BLAS, or off Linux, the test says so loudly and is ignored.
import assert from "node:assert/strict";
import { loadNativeBlas } from "./blas.ts";

const probe = loadNativeBlas();
const why = "error" in probe
  ? probe.error
  : Deno.build.os !== "linux"
  ? `/proc/self/maps is Linux-only (this is ${Deno.build.os})`
  : null;
if (why) console.warn(`\n*** native_pin_test: the residency test IGNORED: ${why} ***\n`);

Deno.test({
  name: "native BLAS: still mapped after the worker that loaded it ends, and reports resident",
  ignore: why !== null,
  async fn() {
    assert.equal("error" in probe ? probe.error : probe.resident, true);
    const dir = await Deno.makeTempDir({ prefix: "sll_native_pin_" });
    try {
      const blasUrl = new URL("./blas.ts", import.meta.url).href;
      await Deno.writeTextFile(
        `${dir}/worker.ts`,
        `import { loadNativeBlas } from ${JSON.stringify(blasUrl)};
const b = loadNativeBlas();
if ("error" in b) throw new Error(b.error);
const n = 96, a = new Float32Array(n * n).fill(1), c = new Float32Array(n * n);
b.sgemm(a, a, c, n, n, n, false, false);
self.postMessage({ c0: c[0], resident: b.resident });
`,
      );
      // the mapped file of the library (its real name: libopenblas.so.0 links to another)
      await Deno.writeTextFile(
        `${dir}/main.ts`,
        `const mapped = () => Deno.readTextFileSync("/proc/self/maps").split("\\n")
  .filter((l) => /\\.so/.test(l) && /blas|mkl/i.test(l)).length;
const before = mapped();
const w = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
const r = await new Promise((ok, fail) => {
  w.onmessage = (e) => ok(e.data);
  w.onerror = (e) => { e.preventDefault(); fail(new Error(e.message)); };
});
const during = mapped();
w.terminate();
await new Promise((ok) => setTimeout(ok, 300));
console.log(JSON.stringify({ ...r, before, during, after: mapped() }));
`,
      );
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${dir}/main.ts`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 0, `child failed: ${new TextDecoder().decode(out.stderr)}`);
      const r = JSON.parse(text.trim().split("\n").at(-1)!);
      assert.equal(r.c0, 96);
      assert.equal(r.resident, true);
      assert.equal(r.before, 0, "the child had a BLAS mapped before loading one");
      assert.ok(r.during > 0, `the loaded BLAS is not in /proc/self/maps: ${text}`);
      assert.equal(r.after, r.during, `the BLAS was unmapped when its worker ended: ${text}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

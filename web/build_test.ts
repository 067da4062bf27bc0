/**
 * The page's static build: the three bundles, the page and the assets; the compute worker
 * starts the bundled helper (wasm_helper.js, not the source's worker.ts); nothing in a bundle
 * imports `node:` or touches a bare `Deno`; the assets are copied byte for byte.
 * @module
 */
import assert from "node:assert/strict";
import { build } from "./build.ts";

Deno.test("build:web writes the page, its three bundles and the assets", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sll_web_build_" });
  const out = new URL(`file://${dir}/dist/`);
  try {
    const { files } = await build(out);
    // browser-test's conformance page is built beside it when its files are there
    const names = Object.keys(files).filter((f) => !f.startsWith("conformance.")).sort();
    assert.deepEqual(names, [
      "app.js",
      "assets/fmnist_test_200.bin",
      "assets/fmnist_tiny.json",
      "assets/fmnist_tiny.safetensors",
      "assets/fmnist_train_1000.bin.gz",
      "compute.js",
      "index.html",
      "style.css",
      "wasm_helper.js",
    ]);
    const read = (f: string) => Deno.readTextFile(new URL(f, out));
    const html = await read("index.html");
    assert.match(html, /<script type="module" src="app.js"><\/script>/);
    const app = await read("app.js");
    assert.match(
      app,
      /new URL\("\.\/compute\.js", import\.meta\.url\)/,
      "the page starts compute.js",
    );
    assert.match(app, /sllApp/);
    const compute = await read("compute.js");
    assert.match(compute, /new URL\("\.\/wasm_helper\.js", import\.meta\.url\)/);
    assert.doesNotMatch(
      compute,
      /new URL\("\.\/worker\.ts"/,
      "compute.js still starts the source helper",
    );
    const helper = await read("wasm_helper.js");
    assert.match(helper, /Atomics\.wait/, "the helper serves jobs");
    for (const f of ["app.js", "compute.js", "wasm_helper.js"]) {
      const js = await read(f);
      assert.deepEqual(js.match(/.{0,60}node:.{0,40}/g) ?? [], [], `${f}: node: reference`);
      assert.deepEqual(js.match(/.{0,60}(?<![\w.$])Deno\b.{0,40}/g) ?? [], [], `${f}: bare Deno`);
      assert.doesNotMatch(js, /^import\s/m, `${f}: a bundle imports nothing`);
    }
    assert.ok(
      files["app.js"] < 100_000,
      `app.js is ${files["app.js"]} bytes: the library leaked into it`,
    );
    for (const f of names.filter((n) => n.startsWith("assets/"))) {
      const a = await Deno.readFile(new URL(f, out));
      const b = await Deno.readFile(new URL(f.replace("assets/", "./assets/"), import.meta.url));
      assert.deepEqual(a, b, `${f} copied as is`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

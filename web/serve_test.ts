/**
 * The page's server: cross-origin isolation headers on every response, MIME types by extension
 * (.wasm, .js, .json, …), index.html for folders, 404 outside the root, HEAD, any free port.
 * @module
 */
import assert from "node:assert/strict";
import { ISOLATION_HEADERS, parsePort, startServer } from "./serve.ts";

const FILES: Record<string, [string, string]> = {
  "index.html": ["<!doctype html><p>hi", "text/html; charset=utf-8"],
  "app.js": ["export {};", "text/javascript; charset=utf-8"],
  "k.wasm": ["\0asm", "application/wasm"],
  "assets/m.json": ['{"a":1}', "application/json"],
  "style.css": ["p{}", "text/css; charset=utf-8"],
  "assets/m.safetensors": ["xx", "application/octet-stream"],
};

Deno.test("serve: isolation headers and MIME types, on a free port", async () => {
  const root = await Deno.makeTempDir({ prefix: "sll_serve_" });
  await Deno.mkdir(`${root}/assets`);
  for (const [f, [body]] of Object.entries(FILES)) await Deno.writeTextFile(`${root}/${f}`, body);
  const server = startServer({ port: 0, root });
  try {
    assert.ok(server.port > 0, `port ${server.port}`);
    assert.equal(server.url, `http://127.0.0.1:${server.port}/`);
    for (const [f, [body, type]] of Object.entries(FILES)) {
      const r = await fetch(server.url + f);
      assert.equal(r.status, 200, f);
      assert.equal(r.headers.get("content-type"), type, f);
      for (const [h, v] of Object.entries(ISOLATION_HEADERS)) {
        assert.equal(r.headers.get(h), v, `${f} ${h}`);
      }
      assert.equal(await r.text(), body, f);
    }
    const index = await fetch(server.url);
    assert.equal(await index.text(), FILES["index.html"][0], "/ serves index.html");
    assert.equal(index.headers.get("cross-origin-embedder-policy"), "require-corp");
    assert.equal(index.headers.get("cross-origin-opener-policy"), "same-origin");
    const head = await fetch(server.url + "app.js", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(FILES["app.js"][0].length));
    await head.body?.cancel();
    for (const bad of ["missing.js", "%2e%2e/%2e%2e/etc/passwd", "assets/..%2f..%2fx", "assets"]) {
      const r = await fetch(server.url + bad);
      assert.equal(r.status, 404, bad);
      assert.equal(
        r.headers.get("cross-origin-opener-policy"),
        "same-origin",
        `${bad}: headers on errors too`,
      );
      await r.body?.cancel();
    }
    const post = await fetch(server.url, { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    await post.body?.cancel();
  } finally {
    await server.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("serve: --port parsing", () => {
  assert.equal(parsePort([]), 8000);
  assert.equal(parsePort(["--port", "0"]), 0);
  assert.equal(parsePort(["--port=8123"]), 8123);
  assert.throws(() => parsePort(["--port", "x"]), /--port must be an integer in 0…65535/);
  assert.throws(() => parsePort(["--port", "70000"]), /--port must be an integer/);
  assert.throws(() => parsePort(["--verbose"]), /unknown argument "--verbose"/);
});

/**
 * `deno task bench:browser`: the page (web/) in headless Chromium, measured through its `sllApp`
 * API: time to the first certified sample (cold: a new browser with a fresh profile; warm: a
 * reload), certification throughput in the page on the CPU with 1 and 2 threads and on WebGPU
 * (Chromium's SwiftShader here: a software adapter), and the bundle sizes (raw and gzip) of the
 * built page and of the core ("." bundled for the browser). Prints markdown for BENCHMARKS.md.
 * Flags: --repeats N (default 3), --limit N (images per certification; default the whole sample).
 * Its own task, not `bench --only`: it drives a browser, which the kernel benchmarks never need.
 * @module
 */
import { parseArgs } from "node:util";
import type { Page } from "puppeteer-core";
import { build } from "../web/build.ts";
import { startServer } from "../web/serve.ts";
import { type BrowserHarness, launchBrowser } from "../tests/browser_helpers.ts";

const ROOT = new URL("../", import.meta.url);

/** What `sllApp.certifySample` returns (web/README.md), the part used here. */
interface Certified {
  n: number;
  natural: number;
  ms: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Bytes of `data` gzipped (level as CompressionStream's default, like a web server's). */
async function gzipSize(data: Uint8Array): Promise<number> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

/** Every file under `dir` (recursively), relative path → bytes. */
async function filesUnder(dir: string, prefix = ""): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) {
      for (const [k, v] of await filesUnder(path, `${prefix}${e.name}/`)) out.set(k, v);
    } else if (e.isFile) out.set(prefix + e.name, await Deno.readFile(path));
  }
  return out;
}

async function run(cmd: string[]): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: cmd,
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`deno ${cmd.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

/**
 * Bundle sizes: the built page (`build:web`'s output: each file; the page's code; with its assets)
 * and the core. The conformance page (a test page) is listed but counted in neither total.
 */
async function bundleSizes(tmp: string, site: URL): Promise<string[]> {
  const rows: string[] = ["| bundle | raw | gzip |", "| --- | --- | --- |"];
  const code = { raw: 0, gz: 0 }, all = { raw: 0, gz: 0 };
  for (const [name, bytes] of [...await filesUnder(decodeURIComponent(site.pathname))].sort()) {
    if (name === ".stamp") continue;
    const g = await gzipSize(bytes);
    const test = name.startsWith("conformance.");
    rows.push(
      `| page: ${name}${test ? " (test page, not in the totals)" : ""} | ${kb(bytes.length)} | ${
        kb(g)
      } |`,
    );
    if (test) continue;
    all.raw += bytes.length;
    all.gz += g;
    if (!name.startsWith("assets/")) {
      code.raw += bytes.length;
      code.gz += g;
    }
  }
  rows.push(
    `| page code: html, css, js (\`deno task build:web\`) | ${kb(code.raw)} | ${kb(code.gz)} |`,
  );
  rows.push(
    `| page code and its assets (checkpoint, sample, training subset) | ${kb(all.raw)} | ${
      kb(all.gz)
    } |`,
  );
  for (const minify of [false, true]) {
    const file = `${tmp}/core${minify ? ".min" : ""}.js`;
    await run([
      "bundle",
      "--platform",
      "browser",
      ...(minify ? ["--minify"] : []),
      "-o",
      file,
      "mod.ts",
    ]);
    const bytes = await Deno.readFile(file);
    rows.push(
      `| core: \`deno bundle --platform browser${minify ? " --minify" : ""} mod.ts\` | ${
        kb(bytes.length)
      } | ${kb(await gzipSize(bytes))} |`,
    );
  }
  return rows;
}

/** Milliseconds from navigation start to `sllApp.ready` (first certification shown). */
function untilReady(page: Page): Promise<number> {
  return page.evaluate(async () => {
    // deno-lint-ignore no-explicit-any
    await (globalThis as any).sllApp.ready;
    return performance.now();
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: { repeats: { type: "string", default: "3" }, limit: { type: "string" } },
    strict: true,
  });
  const repeats = Number(values.repeats);
  if (!Number.isInteger(repeats) || repeats < 1) {
    throw new RangeError(`--repeats ${values.repeats}: expected a positive integer`);
  }
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) {
    throw new RangeError(`--limit ${values.limit}: expected a positive integer`);
  }
  const load = Deno.loadavg().map((x) => x.toFixed(2));
  const tmp = await Deno.makeTempDir({ prefix: "sll_bench_browser_" });
  const site = new URL(`file://${tmp}/site/`);
  await build(site);
  const server = startServer({ port: 0, root: site });
  const url = new URL("index.html", server.url).href;
  let b: BrowserHarness | undefined;
  const lines: string[] = [];
  try {
    // cold: a new browser on a fresh profile each time (no HTTP cache, no compiled code)
    const cold: number[] = [];
    let version = "";
    for (let i = 0; i < repeats; i++) {
      await b?.close();
      const profile = await Deno.makeTempDir({ dir: tmp, prefix: "profile_" });
      b = await launchBrowser({ userDataDir: profile });
      version = await b.browser.version();
      cold.push(await untilReady(await b.open(url)));
    }
    const page = (await b!.browser.pages()).at(-1)!;
    // warm: reloads of the same page (HTTP cache and code cache filled)
    const warm: number[] = [];
    for (let i = 0; i < repeats; i++) {
      await page.reload({ waitUntil: "load" });
      warm.push(await untilReady(page));
    }
    const call = <T>(m: string, ...a: unknown[]): Promise<T> =>
      page.evaluate(
        // deno-lint-ignore no-explicit-any
        (m: string, a: unknown[]) => (globalThis as any).sllApp[m](...a),
        m,
        a,
      ) as Promise<T>;
    const through: string[] = [];
    for (
      const [label, name, opts] of [
        ["CPU, 1 thread", "cpu", { threads: 1 }],
        ["CPU, 2 threads", "cpu", { threads: 2 }],
        ["WebGPU", "webgpu", undefined],
      ] as const
    ) {
      await call("setBackend", name, opts);
      const info = await call<{ threads: number; adapter?: string }>("backend");
      await call("certifySample", { limit }); // warm-up: kernels compiled, pipelines cached
      const ms: number[] = [];
      let n = 0;
      for (let i = 0; i < repeats; i++) {
        const r = await call<Certified>("certifySample", { limit });
        ms.push(r.ms);
        n = r.n;
      }
      const m = median(ms);
      const software = /swiftshader/i.test(info.adapter ?? "")
        ? ": Chromium's software adapter"
        : "";
      const what = name === "webgpu"
        ? `${label} (${info.adapter ?? "adapter not named"}${software})`
        : `${label} (${info.threads} running)`;
      through.push(`| ${what} | ${n} | ${m.toFixed(0)} | ${(n / (m / 1000)).toFixed(0)} |`);
    }
    if (b!.errors.length) {
      throw new Error(`the page reported problems:\n  ${b!.errors.join("\n  ")}`);
    }
    lines.push(
      `Date ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, load average ${
        load.join(" ")
      } (machine shared with other sessions), ${version}, ${repeats} repeats (median).`,
      "",
      "| time to first certified sample (`sllApp.ready`, from navigation start) | median ms | runs |",
      "| --- | --- | --- |",
      `| cold (new browser, fresh profile) | ${median(cold).toFixed(0)} | ${
        cold.map((x) => x.toFixed(0)).join(", ")
      } |`,
      `| warm (reload) | ${median(warm).toFixed(0)} | ${
        warm.map((x) => x.toFixed(0)).join(", ")
      } |`,
      "",
      "| certification in the page | images | median ms | images/s |",
      "| --- | --- | --- | --- |",
      ...through,
      "",
      ...await bundleSizes(tmp, site),
    );
  } finally {
    await b?.close();
    await server.close();
    await Deno.remove(tmp, { recursive: true });
  }
  console.log(lines.join("\n"));
}

if (import.meta.main) await main();

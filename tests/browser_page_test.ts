/**
 * The page in a real browser (#14 item 4): headless Debian Chromium (tests/browser_helpers.ts)
 * opens the page served by web/serve.ts and, through its `globalThis.sllApp` API (web/README.md),
 * certifies the shipped sample on the CPU with 1 and 2 threads (cross-origin isolated, the helper
 * thread seen working) and on WebGPU (SwiftShader), each with exactly the counts that
 * `deno task certify --json` prints for the same checkpoint and images; runs PGD inside and
 * beyond a certified radius; certifies a dropped checkpoint as the CLI does; writes a screenshot
 * to test-output/browser_page.png; and runs the core's conformance cases in web/conformance.html,
 * compared with the same cases in Deno. One browser for the file; no console error allowed.
 * @module
 */
import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { memory } from "../tensor/scope.ts";
import { setBackend } from "../tensor/backend.ts";
import { setWasmThreads } from "../kernels/cpu/wasm/mod.ts";
import { type BackendRun, runConformance } from "../web/conformance.ts";
import { build } from "../web/build.ts";
import { startServer } from "../web/serve.ts";
import { assertNoPageErrors, type BrowserHarness, launchBrowser } from "./browser_helpers.ts";
import { assertClose } from "./helpers.ts";
import { TINY_NET } from "./cli_helpers.ts";

const ROOT = new URL("../", import.meta.url);
/** Where the screenshot goes (gitignored). */
const OUT = new URL("../test-output/", import.meta.url);
/** The checkpoint shipped with the page (its .json beside it), relative to the repository root. */
const SHIPPED_CHECKPOINT = "web/assets/fmnist_tiny.safetensors";
/** The page's sample: the first N Fashion-MNIST test images ("SLLS", then n as a big-endian u32). */
const SAMPLE_FILE = new URL("../web/assets/fmnist_test_200.bin", import.meta.url);
/** The radii the CLI and the page report, in units of 1/255. */
const RADII = [36, 72, 108, 255];

/** What `certifySample` returns (web/README.md). */
interface PageCounts {
  n: number;
  natural: number;
  certified: { radius255: number; count: number }[];
  predictions: number[];
  radii: number[];
  ms: number;
}

/** Counts in the page's terms. */
interface Counts {
  n: number;
  natural: number;
  certified: Record<number, number>;
}

/** Runs `deno task <args>` at the repository root; its stdout, or an error with its stderr. */
async function denoTask(args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(`deno task ${args.join(" ")} failed (${out.code}): ${dec.decode(out.stderr)}`);
  }
  return dec.decode(out.stdout);
}

/** `deno task certify … --limit-test n --json` as counts (the CLI prints fractions of n). */
async function cliCounts(checkpointArgs: string[], n: number): Promise<Counts> {
  const stdout = await denoTask([
    "certify",
    ...checkpointArgs,
    "--limit-test",
    String(n),
    "--json",
    "--backend",
    "cpu",
  ]);
  const line = stdout.trim().split("\n").at(-1)!;
  const r = JSON.parse(line) as { n: number; accuracy: number; certified: Record<string, number> };
  assert.equal(r.n, n, `the CLI certified ${r.n} images, asked ${n}: ${line}`);
  const certified: Record<number, number> = {};
  for (const e of RADII) certified[e] = Math.round(r.certified[String(e)] * n);
  return { n, natural: Math.round(r.accuracy * n), certified };
}

function pageCounts(r: PageCounts): Counts {
  const certified: Record<number, number> = {};
  for (const c of r.certified) certified[c.radius255] = c.count;
  return { n: r.n, natural: r.natural, certified };
}

/** A tiny network trained by the CLI, exported as the reference's .pth, and its CLI counts. */
async function tinyCheckpoint(dir: string, n: number): Promise<{ pth: Uint8Array; cli: Counts }> {
  const run = `${dir}/run`;
  await denoTask([
    "train",
    "--train-dir",
    run,
    "--q-mode",
    "reference",
    ...TINY_NET,
    "--epochs",
    "1",
    "--limit-train",
    "512",
    "--batch-size",
    "128",
    "--limit-test",
    "100",
    "--backend",
    "cpu",
    "--quiet",
    "--json",
  ]);
  const [, cli] = await Promise.all([
    denoTask(["export", "--checkpoint", run, "--to", `${dir}/tiny.pth`]),
    cliCounts(["--checkpoint", run], n),
  ]);
  return { pth: await Deno.readFile(`${dir}/tiny.pth`), cli };
}

/** Calls a method of the page's `sllApp` with JSON arguments and returns its JSON result. */
function app<T>(page: Page, method: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(
    (m: string, a: unknown[]) =>
      // deno-lint-ignore no-explicit-any
      (globalThis as any).sllApp[m](...a),
    method,
    args,
  ) as Promise<T>;
}

Deno.test("browser: the page and the core's conformance cases in headless Chromium", async (t) => {
  const baseline = memory("cpu");
  const tmp = await Deno.makeTempDir({ prefix: "sll_browser_" });
  const header = new DataView((await Deno.readFile(SAMPLE_FILE)).buffer);
  const SAMPLE_SIZE = header.getUint32(4);
  // the CLI's counts are computed while the browser works
  const shippedCli = cliCounts(["--checkpoint", SHIPPED_CHECKPOINT], SAMPLE_SIZE);
  const tiny = tinyCheckpoint(tmp, SAMPLE_SIZE);
  shippedCli.catch(() => {});
  tiny.catch(() => {});
  // our own build folder: web/build_test.ts builds too, and web/dist/ may be someone's dev server
  const site = new URL(`file://${tmp}/site/`);
  await build(site);
  const server = startServer({ port: 0, root: site });
  let b: BrowserHarness | undefined;
  try {
    b = await launchBrowser();
    const page = await b.open(new URL("index.html", server.url).href);
    const errors = b.errors;

    await t.step("loads cross-origin isolated, WebGPU adapter present, ready", async () => {
      const env = await page.evaluate(async () => {
        // deno-lint-ignore no-explicit-any
        const gpu = (navigator as any).gpu;
        const adapter = gpu ? await gpu.requestAdapter() : null;
        // deno-lint-ignore no-explicit-any
        await (globalThis as any).sllApp.ready;
        return {
          isolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated,
          adapter: adapter ? `${adapter.info.vendor} ${adapter.info.architecture}` : null,
        };
      });
      assert.equal(env.isolated, true, "the page is not cross-origin isolated (COOP/COEP headers)");
      assert.ok(env.adapter, "navigator.gpu.requestAdapter() gave no adapter in Chromium");
      assertNoPageErrors(errors, "loading the page");
    });

    const runs: Record<string, PageCounts> = {};
    const want = await shippedCli;
    for (
      const [label, name, threads] of [
        ["cpu, 1 thread", "cpu", 1],
        ["cpu, 2 threads", "cpu", 2],
        ["webgpu (SwiftShader)", "webgpu", undefined],
      ] as const
    ) {
      await t.step(`${label}: certifies the sample with the CLI's counts`, async () => {
        await app(page, "setBackend", name, threads === undefined ? undefined : { threads });
        const before = await app<{ name: string; threads: number; helperDispatches?: number }>(
          page,
          "backend",
        );
        const r = await app<PageCounts>(page, "certifySample");
        const after = await app<
          { name: string; threads: number; adapter?: string; helperDispatches?: number }
        >(
          page,
          "backend",
        );
        assert.equal(after.name, name);
        if (threads !== undefined) {
          assert.equal(
            after.threads,
            threads,
            `asked ${threads} thread(s), the page runs ${after.threads}`,
          );
          const helped = (after.helperDispatches ?? 0) - (before.helperDispatches ?? 0);
          if (threads === 2) {
            assert.ok(helped > 0, "2 threads asked, the helper thread did no work");
          } else assert.equal(helped, 0, "1 thread asked, yet the helper thread worked");
        } else {
          assert.match(after.adapter ?? "", /swiftshader/i, `adapter ${after.adapter}`);
        }
        assert.deepEqual(pageCounts(r), want, `${label}: the page's counts differ from the CLI's`);
        runs[label] = r;
        assertNoPageErrors(errors, label);
      });
    }

    await t.step("1 and 2 threads give the same radii bit for bit", () => {
      const one = runs["cpu, 1 thread"], two = runs["cpu, 2 threads"];
      assert.ok(one && two, "an earlier step failed");
      assert.deepEqual(two.predictions, one.predictions);
      assert.deepEqual(two.radii, one.radii);
    });

    await t.step("screenshot of the page to test-output/browser_page.png", async () => {
      await Deno.mkdir(OUT, { recursive: true });
      await page.screenshot({ path: new URL("browser_page.png", OUT).pathname, fullPage: true });
    });

    await t.step("PGD fails inside the certified radius and succeeds beyond it", async () => {
      const r = runs["cpu, 1 thread"];
      assert.ok(r, "an earlier step failed");
      await app(page, "setBackend", "cpu", { threads: 2 });
      // the certified image with the smallest radius: the hardest one for "fails inside" (which
      // the certificate proves, whatever the steps); 50 steps of 2·radius/50 reach far enough
      const STEPS = 50;
      let best = -1;
      r.radii.forEach((rad, i) => {
        if (rad > 0 && (best < 0 || rad < r.radii[best])) best = i;
      });
      assert.ok(best >= 0, "no image has a positive certified radius");
      const radius = r.radii[best];
      const inside = await app<{ success: boolean; norm: number; label: number }>(
        page,
        "attack",
        best,
        0.99 * radius,
        { steps: STEPS },
      );
      assert.equal(inside.success, false, `PGD at 0.99·${radius} changed image ${best}'s class`);
      assert.ok(inside.norm <= 0.99 * radius * (1 + 1e-5), `perturbation ${inside.norm} > radius`);
      assert.equal(inside.label, r.predictions[best]);
      const beyond = await app<{ success: boolean; norm: number }>(page, "attack", best, 3, {
        steps: STEPS,
      });
      assert.equal(beyond.success, true, `PGD at radius 3 did not change image ${best}'s class`);
      assertNoPageErrors(errors, "attack");
    });

    await t.step("a dropped checkpoint (.pth) certifies with the CLI's counts", async () => {
      const { pth, cli } = await tiny;
      await page.evaluate(async (bytes: number[]) => {
        // deno-lint-ignore no-explicit-any
        await (globalThis as any).sllApp.loadCheckpoint(new Uint8Array(bytes), "tiny.pth");
      }, Array.from(pth));
      const r = await app<PageCounts>(page, "certifySample");
      assert.deepEqual(pageCounts(r), cli, "the dropped checkpoint's counts differ from the CLI's");
      assertNoPageErrors(errors, "dropping a checkpoint");
    });

    await t.step("the core's conformance cases in the page match Deno's", async () => {
      // the page and Deno compute at the same time
      const inPage = b!.open(new URL("conformance.html", server.url).href).then(async (conf) => {
        const done = await conf.evaluate(() =>
          // deno-lint-ignore no-explicit-any
          (globalThis as any).sllConformance.done
        ) as { cpu: BackendRun; webgpu: BackendRun; adapter: string };
        await conf.close();
        return done;
      });
      inPage.catch(() => {}); // awaited below; this only keeps a rejection from going unhandled
      await setBackend("cpu");
      const before = memory("cpu");
      // one thread: these tiny cases need no helper worker (whose start type-checks its module);
      // not set back, which would start one (nothing in this file computes afterwards)
      setWasmThreads(1);
      const want = await runConformance("float64");
      assert.deepEqual(memory("cpu"), before, "the Deno run of the cases leaked");
      const got = await inPage;
      for (const run of [got.cpu, got.webgpu]) {
        assert.equal(run.leakedTensors, 0, `${run.backend}: ${run.leakedTensors} tensors leaked`);
        assert.deepEqual(run.results.map((r) => r.describe), want.map((r) => r.describe));
        run.results.forEach((r, i) => {
          assert.equal(r.outputs.length, want[i].outputs.length, `${r.name}: outputs`);
          r.outputs.forEach((o, j) => {
            const scale = want[i].outputs[j].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
            assertClose(o, want[i].outputs[j], {
              rtol: 1e-4,
              atol: 1e-4 * (1 + scale),
              what: `${run.backend} in the page (${got.adapter}), ${r.name} ${
                j === 0 ? "forward" : `cotangent of input ${j - 1}`
              }`,
            });
          });
        });
      }
      assertNoPageErrors(errors, "conformance page");
    });
  } finally {
    await b?.close();
    await server.close();
    await Promise.allSettled([shippedCli, tiny]);
    await Deno.remove(tmp, { recursive: true });
  }
  assert.deepEqual(memory("cpu"), baseline, "live CPU tensors did not return to baseline");
});

Deno.test("browser: without Chromium the tests fail and say how to install it", async () => {
  await assert.rejects(
    () => launchBrowser({ executablePath: "/nonexistent/chromium" }),
    /no Chromium at \/nonexistent\/chromium\. Install Debian's package \(apt-get install chromium/,
  );
});

// The "." entry point is the browser-clean core: bundled for the browser (`deno bundle
// --platform browser`) it holds no `node:` import and no `Deno` global (the one door,
// kernels/host.ts, reads `globalThis.Deno` and pages take the path where it is absent), and the
// bundle runs a network, a gradient, a safetensors round trip and a certificate in a host
// without Deno (Node), matching this process. The examples import only public entry points.
import assert from "node:assert/strict";
import {
  certifiedAccuracy,
  grad,
  mean,
  randomKey,
  readSafetensors,
  scope,
  serial,
  sllDense,
  split,
  square,
  type Tensor,
  tensor,
  writeSafetensors,
} from "../mod.ts";

const root = new URL("../", import.meta.url);
const denoBin = Deno.execPath();

async function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  const p = await new Deno.Command(cmd, { args, cwd: root, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: p.code, out: dec.decode(p.stdout) + dec.decode(p.stderr) };
}

/** What both hosts compute: an SLL network's logits and gradient, safetensors, a certificate. */
const PROBE = `
const [k1, k2] = split(randomKey(7));
const net = serial(sllDense({ inner: 8 }), sllDense({ inner: 8 }));
const params = net.init(k1, [6]).params;
const x = tensor(Array.from({ length: 24 }, (_, i) => Math.sin(i + 1)), { shape: [4, 6] });
const logits = scope(() => net.apply(params, x));
const g = scope(() => grad((p) => mean(square(net.apply(p, x))))(params));
const bytes = writeSafetensors({ x: { dtype: "float32", shape: [4, 6], data: await x.data() } });
const back = readSafetensors(bytes);
const cert = await certifiedAccuracy(logits, [0, 1, 2, 3], null, [0.01, 0.1]);
const probe = {
  logits: Array.from(await logits.data()),
  grad: Array.from(await g[0].weight.data()),
  safetensors: Array.from(back.tensors.x.data),
  certified: cert,
  k2: k2.shape,
};
`;

function assertClose(got: unknown, want: unknown, path: string): void {
  if (typeof want === "number" && typeof got === "number") {
    if (Number.isInteger(want)) {
      assert.equal(got, want, `${path}: ${got} without Deno, ${want} here`);
    } else {
      assert.ok(
        Math.abs(got - want) <= 1e-6 * (1 + Math.abs(want)),
        `${path}: ${got} without Deno, ${want} here`,
      );
    }
  } else if (want !== null && typeof want === "object") {
    assert.equal(typeof got, "object", `${path}: ${JSON.stringify(got)}`);
    const w = want as Record<string, unknown>, g = got as Record<string, unknown>;
    assert.deepEqual(Object.keys(g).sort(), Object.keys(w).sort(), `${path}: keys differ`);
    for (const k of Object.keys(w)) assertClose(g[k], w[k], `${path}.${k}`);
  } else assert.deepEqual(got, want, path);
}

/** Node has no WebGPU: a stand-in adapter and device that accept every call. */
const FAKE_GPU = `
const any = () => new Proxy(function () {}, {
  get: (t, k) => (k === "then" ? undefined : k === Symbol.toPrimitive ? () => 0 : any()),
  apply: () => any(),
});
const limits = new Proxy({}, { get: () => 1 << 28 });
const base = { lost: new Promise(() => {}), limits, features: new Set(), queue: any() };
const device = new Proxy(base, { get: (t, k) => (k in t ? t[k] : k === "then" ? undefined : any()) });
const info = { vendor: "stand-in", architecture: "", device: "", description: "stand-in adapter" };
const adapter = { limits, info, features: new Set(), requestDevice: async () => device };
Object.defineProperty(globalThis, "navigator", {
  value: { gpu: { requestAdapter: async () => adapter } },
  configurable: true,
});
console.log(JSON.stringify(await initWebGpu()));
`;

async function probeHere(): Promise<unknown> {
  // The same statements as PROBE, run in this process (Deno, CPU backend).
  const fn = new Function(
    "deps",
    `return (async () => { const { ${DEPS} } = deps; ${PROBE} return probe; })();`,
  );
  return await fn({
    certifiedAccuracy,
    grad,
    mean,
    randomKey,
    readSafetensors,
    scope,
    serial,
    sllDense,
    split,
    square,
    tensor,
    writeSafetensors,
  });
}
const DEPS =
  "certifiedAccuracy, grad, mean, randomKey, readSafetensors, scope, serial, sllDense, split, square, tensor, writeSafetensors";

Deno.test("browser core: the bundle of '.' has no node: import and no Deno global", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sll_bundle_" });
  try {
    const out = `${dir}/core.mjs`;
    const b = await run(denoBin, ["bundle", "--platform", "browser", "-o", out, "mod.ts"]);
    assert.equal(b.code, 0, `deno bundle --platform browser mod.ts failed:\n${b.out}`);
    const js = await Deno.readTextFile(out);
    assert.ok(js.length > 50_000, `the bundle is only ${js.length} bytes`);
    const nodeRefs = js.match(/.{0,60}node:.{0,40}/g) ?? [];
    assert.deepEqual(nodeRefs, [], "node: references in the browser bundle");
    // A bare `Deno` (a global reference) anywhere is a defect; reading `globalThis.Deno` is the
    // host door, allowed once.
    const bare = js.match(/.{0,60}(?<![\w.$])Deno\b.{0,40}/g) ?? [];
    assert.deepEqual(bare, [], "bare Deno references in the browser bundle");
    assert.equal(
      js.match(/globalThis\.Deno\b/g)?.length ?? 0,
      1,
      "globalThis.Deno read more than once",
    );
    assert.doesNotMatch(js, /\brequire\(/, "CommonJS require() in the browser bundle");

    // Run it where there is no Deno at all: Node, with no web Worker (so one thread).
    const script = `${dir}/probe.mjs`;
    await Deno.writeTextFile(
      script,
      `import { ${DEPS}, initWebGpu } from "./core.mjs";\n` +
        `if (typeof globalThis.Deno !== "undefined") throw new Error("Deno present");\n` +
        PROBE + `\nconsole.log(JSON.stringify(probe));\n` + FAKE_GPU,
    );
    const node = await run("node", [script]);
    assert.equal(node.code, 0, `the bundle failed without Deno (node ${script}):\n${node.out}`);
    const lines = node.out.trim().split("\n");
    const there = JSON.parse(lines.at(-2)!);
    // WebGPU initialises without Deno (on a stand-in adapter: Node has none): the backend
    // guess no longer reads Deno.build.os, and a page reports the browser's API.
    assert.deepEqual(JSON.parse(lines.at(-1)!), {
      vendor: "stand-in",
      architecture: "",
      device: "",
      description: "stand-in adapter",
      backend: "browser",
      isFallbackAdapter: false,
    });
    const here = JSON.parse(JSON.stringify(await probeHere()));
    // Counts equal exactly; floats agree to float32 rounding (the hosts' Math may differ).
    assertClose(there, here, "probe");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("browser core: examples import only the public entry points", async () => {
  const allowed = new Set([
    "../mod.ts",
    "../train/mod.ts",
    "../data/mod.ts",
    "../io/mod.ts",
    "../testing.ts",
  ]);
  let files = 0;
  for await (const e of Deno.readDir(new URL("examples/", root))) {
    if (!e.name.endsWith(".ts")) continue;
    files++;
    const src = await Deno.readTextFile(new URL(`examples/${e.name}`, root));
    for (const m of src.matchAll(/(?:from|import)\s*\(?\s*"([^"]+)"/g)) {
      assert.ok(allowed.has(m[1]), `examples/${e.name} imports ${m[1]}, not a public entry point`);
    }
  }
  assert.ok(files >= 3, `only ${files} examples found`);
});

Deno.test("browser core: deno.json exports '.', './train', './data', './io', './testing'", async () => {
  const cfg = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  assert.deepEqual(cfg.exports, {
    ".": "./mod.ts",
    "./train": "./train/mod.ts",
    "./data": "./data/mod.ts",
    "./io": "./io/mod.ts",
    "./testing": "./testing.ts",
  });
  assert.match(cfg.tasks.check, /deno check --config browser\.json mod\.ts/);
});

// Type-only use keeps the import list honest for the PROBE's Tensor values.
export type { Tensor };

/**
 * The shape of the tree: walks `deno info --json` from every entry point (mod.ts, testing.ts,
 * cli/main.ts, bench/main.ts) and fails on any import cycle (type-only and dynamic imports
 * count) and on any import against the layer order (a folder imports only itself and the
 * folders below it); and no source file is over 600 lines unless its header says why.
 * @module
 */
import assert from "node:assert/strict";

/**
 * Entry points whose import graphs together cover the library, the CLI, the benchmarks and the
 * page (web/conformance.ts is a test page: it imports tests/' case table, as the tests do).
 */
const ENTRY_POINTS = [
  "mod.ts",
  "testing.ts",
  "cli/main.ts",
  "bench/main.ts",
  "web/app.ts",
  "web/compute_worker.ts",
  "web/serve.ts",
  "web/build.ts",
  "web/make_assets.ts",
];

/**
 * The layers, top first (README's Layout): a module may import its own layer and the layers
 * after it, never one before. "." is the root files (mod.ts, testing.ts): the public API, which
 * the command line, the benchmarks and the page (web/) may use and no library folder may.
 */
const LAYERS = [
  "bench",
  "cli",
  "web",
  ".",
  "train",
  "distributed",
  "certify",
  "data",
  "io",
  "layers",
  "autodiff",
  "tensor",
  "kernels",
];

/** A file over this many lines must state in its header why it is not split. */
const MAX_LINES = 600;
/** The phrase a long file's header uses to give its reason. */
const LONG_FILE_MARK = "Longer than 600 lines because";

const ROOT = new URL("../", import.meta.url);

/** Local module → the local modules it imports (code, type-only and dynamic alike). */
type Graph = Map<string, Set<string>>;

/** The import graph of the repository's modules reachable from `entries`, paths relative. */
async function importGraph(entries: readonly string[]): Promise<Graph> {
  const graph: Graph = new Map();
  const rel = (spec: string): string | null =>
    spec.startsWith(ROOT.href) ? decodeURIComponent(spec.slice(ROOT.href.length)) : null;
  for (const entry of entries) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(
      out.success,
      `deno info --json ${entry} failed: ${new TextDecoder().decode(out.stderr)}`,
    );
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      modules: {
        specifier: string;
        dependencies?: { code?: { specifier?: string }; type?: { specifier?: string } }[];
      }[];
    };
    for (const m of info.modules) {
      const from = rel(m.specifier);
      if (from === null || from.startsWith("node_modules/")) continue;
      const deps = graph.get(from) ?? new Set<string>();
      graph.set(from, deps);
      for (const d of m.dependencies ?? []) {
        for (const s of [d.code?.specifier, d.type?.specifier]) {
          const to = s === undefined ? null : rel(s);
          if (to !== null && !to.startsWith("node_modules/")) deps.add(to);
        }
      }
    }
  }
  return graph;
}

/** Every import cycle's modules, one list per strongly connected component (Tarjan). */
export function findCycles(graph: Graph): string[][] {
  const index = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], onStack = new Set<string>(), cycles: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)?.has(v)) cycles.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return cycles;
}

/** The layer of a module path: its top folder, or "." for a file at the root. */
function layerOf(path: string): string {
  return path.includes("/") ? path.slice(0, path.indexOf("/")) : ".";
}

/** Imports that go up the layer order, and modules outside every layer. */
export function layerViolations(graph: Graph, layers: readonly string[]): string[] {
  const bad: string[] = [];
  for (const [from, deps] of graph) {
    const a = layers.indexOf(layerOf(from));
    if (a < 0) {
      bad.push(`${from} is in no layer; add its folder to LAYERS (and README's Layout)`);
      continue;
    }
    for (const to of deps) {
      const b = layers.indexOf(layerOf(to));
      if (b >= 0 && b < a) {
        bad.push(`${from} imports ${to}: ${layerOf(from)}/ is below ${layerOf(to)}/`);
      }
    }
  }
  return bad.sort();
}

Deno.test("architecture: the checks catch a cycle and an upward import", () => {
  const g: Graph = new Map([
    ["tensor/a.ts", new Set(["tensor/b.ts", "kernels/k.ts"])],
    ["tensor/b.ts", new Set(["tensor/c.ts"])],
    ["tensor/c.ts", new Set(["tensor/a.ts"])],
    ["kernels/k.ts", new Set(["autodiff/x.ts"])],
    ["autodiff/x.ts", new Set<string>()],
  ]);
  assert.deepEqual(findCycles(g), [["tensor/a.ts", "tensor/b.ts", "tensor/c.ts"]]);
  assert.deepEqual(layerViolations(g, LAYERS), [
    "kernels/k.ts imports autodiff/x.ts: kernels/ is below autodiff/",
  ]);
  g.get("autodiff/x.ts")!.add("autodiff/x.ts");
  assert.equal(findCycles(g).length, 2, "a module importing itself is a cycle");
});

Deno.test("architecture: no import cycle, and imports only go down the layers", async () => {
  const graph = await importGraph(ENTRY_POINTS);
  assert.ok(graph.size > 100, `the walk found only ${graph.size} modules`);
  for (const want of ["kernels/cpu/backend.ts", "autodiff/autodiff.ts", "train/loop.ts"]) {
    assert.ok(graph.has(want), `the walk did not reach ${want}`);
  }
  const cycles = findCycles(graph);
  assert.deepEqual(
    cycles,
    [],
    `import cycles (break each by moving what both sides need below them):\n${
      cycles.map((c) => "  " + c.join(" ↔ ")).join("\n")
    }`,
  );
  const bad = layerViolations(graph, LAYERS);
  assert.deepEqual(bad, [], `imports against the layer order ${LAYERS.join(" > ")}`);
});

/** Every .ts file of the repository outside node_modules and test fixtures. */
async function sourceFiles(dir = ROOT, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const path = prefix + e.name;
    if (e.isDirectory) {
      if (e.name === "node_modules" || e.name.startsWith(".") || path === "tests/fixtures") {
        continue;
      }
      out.push(...await sourceFiles(new URL(e.name + "/", dir), path + "/"));
    } else if (e.isFile && e.name.endsWith(".ts")) {
      out.push(path);
    }
  }
  return out;
}

Deno.test(`architecture: no source file over ${MAX_LINES} lines without a reason`, async () => {
  const files = await sourceFiles();
  assert.ok(files.length > 100, `found only ${files.length} .ts files`);
  const long: string[] = [];
  for (const f of files) {
    const text = await Deno.readTextFile(new URL(f, ROOT));
    const lines = text.split("\n").length;
    const header = text.slice(0, text.indexOf("*/") + 2);
    if (lines > MAX_LINES && !header.includes(LONG_FILE_MARK)) long.push(`${f} (${lines} lines)`);
  }
  assert.deepEqual(
    long,
    [],
    `split these files, or say in the header "${LONG_FILE_MARK} …"`,
  );
});

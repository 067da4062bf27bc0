/**
 * Guard on the JSDoc examples of the public modules (the folders behind the `@sll/sll*` entry
 * points): every example imports from a public entry point, never by a relative path; one marked
 * `ignore` says why in a `// not run: …` line and still type-checks; and `deno task test:doc`
 * covers every public folder.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** Folders whose modules the public entry points re-export (tensor/ holds tensor/prims/). */
const PUBLIC_DIRS = ["autodiff", "certify", "data", "io", "layers", "tensor", "train"];
const PUBLIC_FILES = ["mod.ts", "testing.ts"];

/** One fenced example in a JSDoc comment. */
interface Example {
  file: string;
  line: number;
  attrs: string;
  code: string[];
}

/** The fenced code blocks of the JSDoc comments of `text` (lines of ` * `-prefixed comments). */
function examplesOf(text: string, file: string): Example[] {
  const out: Example[] = [];
  let open: Example | undefined;
  text.split("\n").forEach((raw, i) => {
    const m = raw.match(/^\s*\* ?(.*)$/);
    if (!m) return;
    const body = m[1];
    const fence = body.match(/^```(.*)$/);
    if (fence && !open) {
      open = { file, line: i + 1, attrs: fence[1].trim(), code: [] };
    } else if (fence && open) {
      out.push(open);
      open = undefined;
    } else if (open) open.code.push(body);
  });
  return out;
}

/** What is wrong with one example, as lines naming file:line; [] when nothing is. */
function problemsOf(ex: Example): string[] {
  const at = `${ex.file}:${ex.line}`;
  const out: string[] = [];
  for (const l of ex.code) {
    const rel = l.match(/from\s+["'](\.\.?\/[^"']*)["']/) ??
      l.match(/import\(\s*["'](\.\.?\/[^"']*)/);
    if (rel) {
      out.push(`${at}: imports "${rel[1]}" by a relative path; import from @sll/sll or a subpath`);
    }
  }
  const attrs = ex.attrs.split(/\s+/);
  if (attrs.includes("ignore") && !ex.code.some((l) => /^\/\/ not run: \S/.test(l.trim()))) {
    out.push(`${at}: marked ignore without a "// not run: <why>" line`);
  }
  return out;
}

async function publicSources(): Promise<string[]> {
  const files = [...PUBLIC_FILES];
  const walk = async (dir: string): Promise<void> => {
    for await (const e of Deno.readDir(join(ROOT, dir))) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(rel);
      else if (e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) files.push(rel);
    }
  };
  for (const d of PUBLIC_DIRS) await walk(d);
  return files.sort();
}

Deno.test("doc examples guard: catches a relative import and a silent ignore", () => {
  const bad = [
    "/**",
    " * @example",
    " * ```ts",
    ' * import { x } from "./x.ts";',
    " * ```",
    " * ```ts ignore",
    ' * import { y } from "@sll/sll";',
    " * ```",
    " * ```ts ignore",
    " * // not run: needs the network",
    " * ```",
    " */",
  ].join("\n");
  const exs = examplesOf(bad, "bad.ts");
  assert.equal(exs.length, 3);
  assert.match(problemsOf(exs[0]).join(), /bad\.ts:3: imports "\.\/x\.ts" by a relative path/);
  assert.match(problemsOf(exs[1]).join(), /bad\.ts:6: marked ignore without/);
  assert.deepEqual(problemsOf(exs[2]), []);
});

Deno.test("doc examples: public modules import from entry points; ignore says why", async () => {
  const problems: string[] = [];
  let n = 0;
  for (const f of await publicSources()) {
    const exs = examplesOf(await Deno.readTextFile(join(ROOT, f)), f);
    n += exs.length;
    for (const ex of exs) problems.push(...problemsOf(ex));
  }
  assert.ok(n > 100, `found only ${n} examples: is the comment parser broken?`);
  assert.deepEqual(problems, []);
});

Deno.test("doc examples: test:doc covers every public folder", async () => {
  const cfg = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  const task: string = cfg.tasks["test:doc"];
  const covered = (f: string): boolean => {
    const dir = f.includes("/") ? f.slice(0, f.lastIndexOf("/")) : "";
    return dir ? task.includes(`'${dir}/*.ts'`) : task.includes(` ${f}`);
  };
  const missing = (await publicSources()).filter((f) => !covered(f));
  assert.deepEqual([...new Set(missing)], [], "add these files' folders to deno.json test:doc");
});

Deno.test("doc examples: those marked ignore still type-check", async () => {
  const blocks: Example[] = [];
  for (const f of await publicSources()) {
    const exs = examplesOf(await Deno.readTextFile(join(ROOT, f)), f);
    blocks.push(...exs.filter((e) => e.attrs.split(/\s+/).includes("ignore")));
  }
  if (blocks.length === 0) return;
  const dir = await Deno.makeTempDir({ dir: ROOT, prefix: ".doc_ignore_" });
  try {
    const paths: string[] = [];
    for (const [i, b] of blocks.entries()) {
      const p = join(dir, `ex${i}.ts`);
      // top-level await is fine in a module; `export {}` makes it one
      await Deno.writeTextFile(p, `${b.code.join("\n")}\nexport {};\n`);
      paths.push(p);
    }
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", "--config", join(ROOT, "deno.json"), ...paths],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(r.stderr);
    const where = blocks.map((b, i) => `ex${i}.ts = ${b.file}:${b.line}`).join("; ");
    assert.equal(r.code, 0, `an ignored example does not type-check (${where}):\n${err}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

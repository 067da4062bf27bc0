/**
 * The page's static build (`deno task build:web`): `deno bundle --platform browser` of the page
 * (app.js), its compute worker (compute.js) and the wasm kernels' helper worker
 * (wasm_helper.js, which compute.js starts by that name), plus index.html, style.css and the
 * assets, into web/dist/ (gitignored). Any static web server can host the folder.
 * @module
 */

const ROOT = new URL("../", import.meta.url);
/** Where the build goes. */
export const DIST: URL = new URL("web/dist/", ROOT);

/** Static files copied as they are (relative to web/). */
const STATIC = ["index.html", "style.css"];
/** Assets copied into dist/assets/. */
const ASSET_DIR = new URL("web/assets/", ROOT);

/** The bundles: output name → entry module (relative to the repository root). */
const BUNDLES: Record<string, string> = {
  "app.js": "web/app.ts",
  "compute.js": "web/compute_worker.ts",
  "wasm_helper.js": "kernels/cpu/wasm/worker.ts",
};

/** The in-page conformance page (browser-test's), built beside the page when its files exist. */
const OPTIONAL: { bundles: Record<string, string>; statics: string[] } = {
  bundles: { "conformance.js": "web/conformance.ts" },
  statics: ["conformance.html"],
};

/** How the core starts its helper worker; the build points it at the bundled helper. */
const HELPER_URL_IN_SOURCE = 'new URL("./worker.ts", import.meta.url)';
const HELPER_URL_IN_BUILD = 'new URL("./wasm_helper.js", import.meta.url)';

/** Source folders whose changes make the build stale. */
const SOURCE_DIRS = [
  "web",
  "tensor",
  "kernels",
  "autodiff",
  "layers",
  "certify",
  "io",
  "train",
  "tests",
];

async function newestMtime(dir: URL, skip: URL): Promise<number> {
  let newest = 0;
  for await (const e of Deno.readDir(dir)) {
    const u = new URL(e.name + (e.isDirectory ? "/" : ""), dir);
    if (u.href.startsWith(skip.href)) continue;
    if (e.isDirectory) newest = Math.max(newest, await newestMtime(u, skip));
    else if (e.isFile) newest = Math.max(newest, (await Deno.stat(u)).mtime?.getTime() ?? 0);
  }
  return newest;
}

/** Whether web/dist/ is missing or older than any source it is built from. */
export async function isStale(): Promise<boolean> {
  let built: number;
  try {
    built = (await Deno.stat(new URL(".stamp", DIST))).mtime?.getTime() ?? 0;
  } catch {
    return true;
  }
  let newest = (await Deno.stat(new URL("mod.ts", ROOT))).mtime?.getTime() ?? 0;
  for (const d of SOURCE_DIRS) {
    newest = Math.max(newest, await newestMtime(new URL(d + "/", ROOT), DIST));
  }
  return newest > built;
}

async function bundle(entry: string, out: URL): Promise<void> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--platform",
      "browser",
      "--quiet",
      "-o",
      decodeURIComponent(out.pathname),
      entry,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!r.success) {
    throw new Error(
      `deno bundle ${entry} failed:\n${new TextDecoder().decode(r.stderr).trim()}`,
    );
  }
}

/** What {@linkcode build} wrote: file names (relative to dist/) and sizes in bytes. */
export interface BuildResult {
  /** Output folder. */
  dir: URL;
  /** Each file written and its size. */
  files: Record<string, number>;
}

/**
 * Builds the page into `outDir` (default web/dist/; replacing what was there). Throws naming the
 * step that failed.
 *
 * @example
 * ```ts ignore
 * import { build } from "./build.ts";
 * const { files } = await build(); // { "app.js": …, "compute.js": …, … }
 * ```
 */
export async function build(outDir: URL = DIST): Promise<BuildResult> {
  const dir = new URL(outDir.href.endsWith("/") ? outDir.href : outDir.href + "/");
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(new URL("assets/", dir), { recursive: true });
  const exists = (f: string) => Deno.stat(new URL(f, ROOT)).then(() => true, () => false);
  const bundles = { ...BUNDLES };
  const statics = [...STATIC];
  for (const [name, entry] of Object.entries(OPTIONAL.bundles)) {
    if (await exists(entry)) bundles[name] = entry;
  }
  for (const f of OPTIONAL.statics) if (await exists(`web/${f}`)) statics.push(f);
  await Promise.all(
    Object.entries(bundles).map(([name, entry]) => bundle(entry, new URL(name, dir))),
  );
  const computeUrl = new URL("compute.js", dir);
  const compute = await Deno.readTextFile(computeUrl);
  const uses = compute.split(HELPER_URL_IN_SOURCE).length - 1;
  if (uses !== 1) {
    throw new Error(
      `build: expected the core to start its helper once as ${HELPER_URL_IN_SOURCE}, found ${uses} ` +
        `occurrences in compute.js; update web/build.ts to how kernels/cpu/wasm/runtime.ts starts it`,
    );
  }
  await Deno.writeTextFile(computeUrl, compute.replace(HELPER_URL_IN_SOURCE, HELPER_URL_IN_BUILD));
  for (const f of statics) await Deno.copyFile(new URL(f, new URL("web/", ROOT)), new URL(f, dir));
  for await (const e of Deno.readDir(ASSET_DIR)) {
    if (e.isFile) await Deno.copyFile(new URL(e.name, ASSET_DIR), new URL(`assets/${e.name}`, dir));
  }
  await Deno.writeTextFile(new URL(".stamp", dir), new Date().toISOString() + "\n");
  const files: Record<string, number> = {};
  const walk = async (dir: URL, prefix: string): Promise<void> => {
    for await (const e of Deno.readDir(dir)) {
      if (e.name === ".stamp") continue;
      if (e.isDirectory) await walk(new URL(e.name + "/", dir), `${prefix}${e.name}/`);
      else files[prefix + e.name] = (await Deno.stat(new URL(e.name, dir))).size;
    }
  };
  await walk(dir, "");
  return { dir, files };
}

/** Builds unless web/dist/ is up to date; returns whether it built. */
export async function ensureBuilt(): Promise<boolean> {
  if (!(await isStale())) return false;
  await build();
  return true;
}

if (import.meta.main) {
  const t0 = performance.now();
  const { files } = await build();
  for (const [f, n] of Object.entries(files).sort()) {
    console.log(`${f.padEnd(36)} ${(n / 1024).toFixed(1).padStart(8)} KiB`);
  }
  console.log(`built web/dist/ in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

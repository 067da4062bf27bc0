/**
 * The page's static server (`deno task serve [--port N]`): serves web/dist/ (built first when
 * stale) with `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy:
 * require-corp`, so the page is cross-origin isolated (shared memory: 2 CPU threads), and with
 * the right MIME types. `startServer` is the same server for tests.
 * @module
 */
import { DIST, ensureBuilt } from "./build.ts";

/** Content types by file extension. */
export const MIME: Readonly<Record<string, string>> = Object.freeze({
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json",
});

/** Headers every response carries: cross-origin isolation and no caching of stale builds. */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
});

/** A running server. */
export interface RunningServer {
  /** Its base URL, e.g. "http://127.0.0.1:8000/". */
  url: string;
  /** The port it listens on. */
  port: number;
  /** Stops it; resolves once it is closed. */
  close(): Promise<void>;
}

/** Options of {@linkcode startServer}. */
export interface ServerOptions {
  /** Port (0: any free port; default 8000). */
  port?: number;
  /** Folder served (default web/dist/); a path or a file URL. */
  root?: string | URL;
  /** Host name to listen on (default 127.0.0.1). */
  hostname?: string;
}

function contentType(path: string): string {
  const dot = path.lastIndexOf(".");
  return (dot >= 0 && MIME[path.slice(dot).toLowerCase()]) || "application/octet-stream";
}

async function respond(req: Request, root: URL): Promise<Response> {
  const headers = new Headers({ ...ISOLATION_HEADERS, "Cache-Control": "no-cache" });
  if (req.method !== "GET" && req.method !== "HEAD") {
    headers.set("Allow", "GET, HEAD");
    return new Response("method not allowed\n", { status: 405, headers });
  }
  let path: string;
  try {
    path = decodeURIComponent(new URL(req.url).pathname);
  } catch {
    return new Response("bad path\n", { status: 400, headers });
  }
  if (path.endsWith("/")) path += "index.html";
  const parts = path.split("/").filter((p) => p !== "");
  if (parts.some((p) => p === ".." || p === "." || p.includes("\\") || p.includes("\0"))) {
    return new Response("not found\n", { status: 404, headers });
  }
  const file = new URL(parts.map(encodeURIComponent).join("/"), root);
  try {
    const info = await Deno.stat(file);
    if (!info.isFile) throw new Error("not a file");
    headers.set("Content-Type", contentType(path));
    headers.set("Content-Length", String(info.size));
    if (req.method === "HEAD") return new Response(null, { headers });
    return new Response(await Deno.readFile(file), { headers });
  } catch {
    headers.set("Content-Type", "text/plain; charset=utf-8");
    return new Response(`not found: ${path}\n`, { status: 404, headers });
  }
}

/**
 * Serves `root` over HTTP with the isolation headers. The page must be built first (see
 * `ensureBuilt` in web/build.ts; `deno task serve` does it).
 *
 * @example
 * ```ts ignore
 * import { startServer } from "./serve.ts";
 * const server = startServer({ port: 0 });
 * console.log(server.url); // http://127.0.0.1:<port>/
 * await server.close();
 * ```
 */
export function startServer(options: ServerOptions = {}): RunningServer {
  const r = options.root ?? DIST;
  const root = typeof r === "string"
    ? new URL(r.endsWith("/") ? r : r + "/", `file://${Deno.cwd()}/`)
    : new URL(r.href.endsWith("/") ? r.href : r.href + "/");
  const hostname = options.hostname ?? "127.0.0.1";
  const server = Deno.serve(
    { port: options.port ?? 8000, hostname, onListen: () => {} },
    (req) => respond(req, root),
  );
  const port = server.addr.port;
  return {
    url: `http://${hostname}:${port}/`,
    port,
    close: () => server.shutdown(),
  };
}

/** The port of `deno task serve [--port N]` (default 8000; 0: any free port). */
export function parsePort(args: string[]): number {
  let v: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--port") v = args[++i] ?? "";
    else if (args[i].startsWith("--port=")) v = args[i].slice(7);
    else {
      throw new RangeError(
        `serve: unknown argument "${args[i]}"; usage: deno task serve [--port N]`,
      );
    }
  }
  if (v === undefined) return 8000;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) {
    throw new RangeError(
      `serve: --port must be an integer in 0…65535 (0: any free port), got "${v}"`,
    );
  }
  return n;
}

if (import.meta.main) {
  try {
    const port = parsePort(Deno.args);
    if (await ensureBuilt()) console.error("built web/dist/");
    const s = startServer({ port });
    console.log(`serving web/dist/ at ${s.url} (cross-origin isolated; Ctrl-C stops)`);
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}

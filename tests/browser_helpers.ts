/**
 * Real-browser harness for the page's tests and bench/browser.ts: headless Debian Chromium driven
 * by puppeteer-core, WebGPU on its SwiftShader adapter (`--enable-unsafe-webgpu`), every console
 * error, page error, failed request and worker error collected (a test asserts there are none),
 * and the browser always closed, its process killed if closing hangs. A missing Chromium fails
 * with how to install it; it never skips.
 * @module
 */
import puppeteer, { type Browser, type Page } from "puppeteer-core";

/** Where Chromium is looked for: $SLL_CHROMIUM, else Debian's package. */
export function chromiumPath(): string {
  return Deno.env.get("SLL_CHROMIUM") ?? "/usr/bin/chromium";
}

/**
 * The flags: WebGPU in headless Chromium (on SwiftShader, its software adapter, when there is no
 * GPU); no sandbox, which Chromium refuses to run without as root in a container.
 */
export const CHROMIUM_ARGS: readonly string[] = ["--enable-unsafe-webgpu", "--no-sandbox"];

/** A launched browser, the problems its pages reported, and how to close it. */
export interface BrowserHarness {
  /** The puppeteer browser. */
  browser: Browser;
  /** Console errors, page errors, failed requests and worker errors, each one line. */
  errors: string[];
  /** Opens a page on `url` with problem collection on; waits for the load event. */
  open(url: string): Promise<Page>;
  /** Closes the browser (kills it if it does not close within 5 s). Safe to call twice. */
  close(): Promise<void>;
}

/** Attaches the problem collectors to a page (and to the workers it starts). */
export function collectErrors(page: Page, errors: string[]): void {
  const where = () => {
    try {
      return new URL(page.url()).pathname;
    } catch {
      return page.url();
    }
  };
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "assert") {
      const loc = m.location();
      errors.push(
        `console.${m.type()} on ${where()}: ${m.text()}${loc.url ? ` (${loc.url})` : ""}`,
      );
    }
  });
  page.on("pageerror", (e) => {
    errors.push(`page error on ${where()}: ${e instanceof Error ? e.stack ?? e.message : e}`);
  });
  page.on("requestfailed", (r) => {
    errors.push(`request failed on ${where()}: ${r.url()} (${r.failure()?.errorText})`);
  });
  page.on("response", (r) => {
    if (r.status() >= 400) errors.push(`HTTP ${r.status()} on ${where()}: ${r.url()}`);
  });
  page.on("workercreated", (w) => {
    w.on("console", (m) => {
      if (m.type() === "error") errors.push(`worker console.error (${w.url()}): ${m.text()}`);
    });
  });
}

/**
 * Launches headless Chromium ({@linkcode chromiumPath} unless `executablePath` says another).
 * `userDataDir` gives a profile folder (a fresh one per launch when omitted: puppeteer makes and
 * removes a temporary one).
 *
 * @example
 * ```ts ignore
 * // not run: needs Chromium and a network; tests/browser_page_test.ts and bench/browser.ts use it
 * import { launchBrowser } from "./browser_helpers.ts";
 * const b = await launchBrowser();
 * try {
 *   const page = await b.open("https://example.org/");
 *   console.log(await page.title(), b.errors);
 * } finally {
 *   await b.close();
 * }
 * ```
 */
export async function launchBrowser(
  opts: { userDataDir?: string; executablePath?: string } = {},
): Promise<BrowserHarness> {
  const exe = opts.executablePath ?? chromiumPath();
  try {
    await Deno.stat(exe);
  } catch {
    throw new Error(
      `browser tests: no Chromium at ${exe}. Install Debian's package (apt-get install chromium, ` +
        `as .ci/run does) or set SLL_CHROMIUM to a Chromium binary; these tests fail rather than skip.`,
    );
  }
  const browser = await puppeteer.launch({
    executablePath: exe,
    headless: true,
    args: [...CHROMIUM_ARGS],
    userDataDir: opts.userDataDir,
    // our own shutdown below; puppeteer's signal handlers would outlive the test
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  const errors: string[] = [];
  let closed = false;
  return {
    browser,
    errors,
    async open(url: string): Promise<Page> {
      const page = await browser.newPage();
      collectErrors(page, errors);
      await page.goto(url, { waitUntil: "load" });
      return page;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      const proc = browser.process();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), 5000)));
      const done = await Promise.race([browser.close().then(() => "closed" as const), timeout])
        .catch(() => "failed" as const);
      clearTimeout(timer);
      if (done !== "closed" && proc && proc.exitCode === null) proc.kill("SIGKILL");
      // the browser's own children (GPU, renderers) exit with it: wait for that, not longer
      for (let i = 0; i < 50 && proc && proc.exitCode === null && proc.signalCode === null; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

/** Runs `fn` with a launched browser and closes it afterwards, whatever happens. */
export async function withBrowser<T>(
  fn: (b: BrowserHarness) => Promise<T>,
  opts: { userDataDir?: string; executablePath?: string } = {},
): Promise<T> {
  const b = await launchBrowser(opts);
  try {
    return await fn(b);
  } finally {
    await b.close();
  }
}

/**
 * Fails with every problem the pages reported since the last call (none expected), and empties
 * the list so that the next check reports only its own.
 */
export function assertNoPageErrors(errors: string[], when: string): void {
  const found = errors.splice(0);
  if (found.length > 0) {
    throw new Error(
      `${when}: the page reported ${found.length} problem(s):\n  ${found.join("\n  ")}`,
    );
  }
}

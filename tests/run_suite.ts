/**
 * Runs `deno test <args>` for `deno task test:unit` / `test:doc`, passing its output through.
 * One case is handled, loudly: the test runner printing its final summary with 0 failed and then
 * dying by a signal while the process tears down (seen as glibc's "corrupted size vs. prev_size"
 * abort after every test passed, in runs that load Mesa's llvmpipe Vulkan driver in several test
 * workers). The tests' verdict is then unknown, not a pass, so the whole run is repeated once and
 * that second run's exit status is the result. Any failing test, or a crash before the summary,
 * fails at once. Not part of the library.
 *
 * The cause is not proven. OpenBLAS, once opened and closed again by every test worker, is now
 * loaded once per process (kernels/cpu/native_pin.ts), yet a synthetic repro (16 files that each
 * run a BLAS matmul, a WebGPU matmul and the wasm kernels; DENO_JOBS=4, glibc malloc checks)
 * still died by a signal after "0 failed" in 2 of 46 runs with that pin, as in 1 of 48 without
 * it: keep this rerun until the teardown crash is found (WebGPU/Mesa and the wasm workers remain).
 *
 * A likely part of it: by default Deno's WebGPU opens every backend wgpu knows, so on Linux it
 * loads Mesa's EGL/GL driver beside Vulkan even though the adapter used is Vulkan's llvmpipe; the
 * kernel log of this machine shows general-protection faults inside libEGL in tokio threads
 * (process teardown). On Linux with a Vulkan driver installed, the suite therefore runs with
 * `DENO_WEBGPU_BACKEND=vulkan` unless the caller set that variable: libEGL is then never loaded
 * (checked in /proc/self/maps) and the same llvmpipe adapter is used.
 * @module
 */

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");
const SUMMARY_OK = /\bok \| \d+ passed(?: \(\d+ steps?\))? \| 0 failed\b/;

async function runOnce(
  args: string[],
): Promise<{ code: number; signal: string | null; summaryOk: boolean }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", ...args],
    env: webgpuEnv(),
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const decoder = new TextDecoder();
  let tail = "";
  let summaryOk = false;
  for await (const chunk of child.stdout) {
    await Deno.stdout.write(chunk);
    // colour codes sit between the words of the summary: drop them before matching
    tail = (tail + decoder.decode(chunk, { stream: true })).slice(-4096);
    if (SUMMARY_OK.test(tail.replace(ANSI, ""))) summaryOk = true;
  }
  const status = await child.status;
  return { code: status.code, signal: status.signal, summaryOk };
}

/** `DENO_WEBGPU_BACKEND=vulkan` on Linux where a Vulkan driver is installed and the caller set none. */
function webgpuEnv(): Record<string, string> {
  if (Deno.build.os !== "linux" || Deno.env.get("DENO_WEBGPU_BACKEND") !== undefined) return {};
  const icdDirs = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d"];
  const hasIcd = icdDirs.some((d) => {
    try {
      return [...Deno.readDirSync(d)].some((e) => e.name.endsWith(".json"));
    } catch {
      return false;
    }
  });
  return hasIcd ? { DENO_WEBGPU_BACKEND: "vulkan" } : {};
}

const args = [...Deno.args];
let result = await runOnce(args);
if (result.code !== 0 && result.summaryOk && result.signal !== null) {
  console.error(
    `\nrun_suite: every test passed, then the test process died by ${result.signal} while ` +
      `shutting down (exit ${result.code}); its verdict is not trusted: running the suite again`,
  );
  result = await runOnce(args);
}
Deno.exit(result.code);

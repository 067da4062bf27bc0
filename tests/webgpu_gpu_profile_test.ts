/**
 * The WebGPU "gpu" kernel profile (workgroup-memory tiled matmul, implicit-GEMM convolutions)
 * on whatever adapter is here — in CI, Mesa's llvmpipe, which would otherwise run the
 * "software" profile: the backend conformance suite and the loop-limit cases (k = 70,000) run
 * again in a child `deno test` with SLL_WEBGPU_PROFILE=gpu, with a probe that the child's
 * backend really took that profile. Run with SLL_WEBGPU_PROFILE=gpu set, this file is the probe.
 */
import { AssertionError } from "node:assert/strict";
import { envVar } from "../kernels/env.ts";
import { acquireWebGpu } from "../kernels/webgpu/mod.ts";

const SUITES = ["tests/backend_conformance_test.ts", "tests/webgpu_limits_test.ts"];
const PROBE = "webgpu gpu profile probe: the process-wide backend runs the gpu kernels";

if (envVar("SLL_WEBGPU_PROFILE") === "gpu") {
  Deno.test(PROBE, async () => {
    const gpu = await acquireWebGpu();
    if (gpu.profile !== "gpu") {
      throw new AssertionError({ message: `the backend took the ${gpu.profile} profile` });
    }
  });
} else {
  Deno.test("webgpu gpu profile: conformance and loop-limit suites pass under SLL_WEBGPU_PROFILE=gpu", async () => {
    await acquireWebGpu(); // fails (never skips) without an adapter
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["test", "-A", "--unstable-webgpu", "tests/webgpu_gpu_profile_test.ts", ...SUITES],
      cwd: new URL("..", import.meta.url),
      env: { SLL_WEBGPU_PROFILE: "gpu", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    if (!out.success) {
      throw new AssertionError({
        message: `under SLL_WEBGPU_PROFILE=gpu, ${SUITES.join(" and ")} failed:\n${
          text.slice(-4000)
        }`,
      });
    }
    if (!text.includes(`${PROBE} ... ok`)) {
      throw new AssertionError({ message: `the child run shows no probe:\n${text.slice(-2000)}` });
    }
  });
}

/**
 * Data-parallel training and evaluation under a real MPI launch (2 ranks on localhost, the
 * deno binary started by `mpiexec`): equivalence with one process of twice the batch,
 * bit-identical parameters across ranks, certify/attack output identical with 1 and 2 ranks,
 * a failing rank ending the job, SIGKILL/SIGINT then `--resume`. Without mpiexec or an MPI
 * library every test here is reported as ignored, and the reason is printed — never silent.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { listCheckpoints } from "../train/checkpoint.ts";
import { TINY_NET } from "./cli_helpers.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const MAIN = join(ROOT, "cli/main.ts");
const WORKER = join(ROOT, "tests/distributed_worker.ts");
const DENO = Deno.execPath();
const dec = new TextDecoder();

/** Why the MPI tests cannot run here, or undefined when they can. */
async function unavailable(): Promise<string | undefined> {
  try {
    const v = await new Deno.Command("mpiexec", { args: ["--version"], stdout: "piped" }).output();
    if (!v.success) return "`mpiexec --version` failed";
  } catch {
    return "no mpiexec on PATH (Debian/Ubuntu: apt-get install mpich; CI's .ci/run installs it)";
  }
  const probe = await new Deno.Command(DENO, {
    args: [
      "eval",
      `import { probeMpiLibrary } from "${join(ROOT, "distributed/mpi.ts")}";` +
      "console.log(JSON.stringify(probeMpiLibrary()));",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!probe.success) return dec.decode(probe.stderr).trim().split("\n").at(-1);
  return undefined;
}

const reason = await unavailable();
if (reason) {
  console.warn(`\n*** SKIPPING the MPI tests (tests/distributed_test.ts): ${reason} ***\n`);
}

/** Registers an MPI test, or an ignored one whose name carries the reason. */
function mpiTest(name: string, fn: () => Promise<void>): void {
  if (reason) Deno.test({ name: `${name} [SKIPPED: ${reason}]`, ignore: true, fn });
  else Deno.test({ name, fn, sanitizeResources: false, sanitizeOps: false });
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** `mpiexec -n <n> deno run -A <script> …` (n = 0: the deno command alone). */
async function launch(n: number, script: string, args: string[], env = {}): Promise<Run> {
  const deno = [DENO, "run", "-A", "--unstable-webgpu", script, ...args];
  const [cmd, ...rest] = n > 0 ? ["mpiexec", "-n", String(n), ...deno] : deno;
  const t0 = performance.now();
  const out = await new Deno.Command(cmd, {
    args: rest,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000), // a hang fails the test instead of stalling CI
  }).output();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    seconds: (performance.now() - t0) / 1000,
  };
}

async function params(dir: string, rank: number): Promise<Float32Array> {
  return new Float32Array((await Deno.readFile(join(dir, `params-rank${rank}.bin`))).buffer);
}

mpiTest(
  "mpi: 2 ranks × batch 8 = 1 process × batch 16 over 16 Adam steps; ranks bit-identical",
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const two = join(dir, "two"), one = join(dir, "one");
      await Deno.mkdir(two);
      await Deno.mkdir(one);
      // 200 examples: 13 steps per epoch either way, so the 16 steps cross an epoch boundary
      const [r2, r1] = await Promise.all([
        launch(2, WORKER, [two, "8", "16", "adam", "auto"]),
        launch(0, WORKER, [one, "16", "16", "adam", "off"]),
      ]);
      assert.equal(r2.code, 0, r2.stderr);
      assert.equal(r1.code, 0, r1.stderr);
      const [p0, p1, ref] = [await params(two, 0), await params(two, 1), await params(one, 0)];
      assert.equal(p0.length, ref.length);
      assert.ok(p0.length > 100, `only ${p0.length} parameters`);
      assert.deepEqual(new Uint8Array(p0.buffer), new Uint8Array(p1.buffer), "ranks differ");
      let moved = 0;
      for (let i = 0; i < ref.length; i++) {
        const tol = 1e-6 + 1e-5 * Math.abs(ref[i]);
        assert.ok(
          Math.abs(p0[i] - ref[i]) <= tol,
          `parameter ${i}: 2 ranks ${p0[i]}, 1 process ${ref[i]} (tolerance ${tol})`,
        );
        if (p0[i] !== 0) moved++;
      }
      assert.ok(moved > 0);
      // rank 0 alone writes: one metrics line for step 1 and one for the finished epoch
      const lines = (await Deno.readTextFile(join(two, "metrics.jsonl"))).trim().split("\n");
      assert.deepEqual(lines.map((l) => JSON.parse(l).type), ["step", "epoch"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

const TINY = [
  ...TINY_NET,
  "--backend",
  "cpu",
  "--offline",
  "--quiet",
];
const SMALL_RUN = [...TINY, "--limit-train", "128", "--limit-test", "32", "--batch-size", "16"];

/** A tiny Fashion-MNIST checkpoint for the evaluation tests (undefined: no dataset here). */
async function tinyCheckpoint(dir: string): Promise<string | undefined> {
  const r = await launch(0, MAIN, ["train", "--train-dir", dir, ...SMALL_RUN, "--epochs", "1"]);
  if (r.code !== 0 && /not found|no such|download/i.test(r.stderr)) return undefined;
  assert.equal(r.code, 0, r.stderr);
  return dir;
}

mpiTest("mpi: certify and attack print exactly the same with 1 and 2 ranks", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ck = await tinyCheckpoint(join(dir, "run"));
    if (!ck) {
      console.warn(
        "*** SKIPPING the certify/attack comparison: Fashion-MNIST is not installed ***",
      );
      return;
    }
    // 5 batches each, so the ranks get 3 and 2
    const certify = ["certify", "--checkpoint", ck, "--limit-test", "200", "--batch-size", "40"];
    const attack = ["attack", "--checkpoint", ck, "--limit-test", "80", "--batch-size", "16"];
    const runs = [certify, [...attack, "--steps", "2", "--eps", "36,108", "--quiet"]].map(
      (args) => [...args, "--backend", "cpu", "--offline", "--json"],
    );
    // the four launches run at once: they mostly wait on process start-up
    const [c1, c2, a1, a2] = await Promise.all(
      runs.flatMap((args) => [launch(0, MAIN, args), launch(2, MAIN, args)]),
    );
    for (const [name, one, two] of [["certify", c1, c2], ["attack", a1, a2]] as const) {
      assert.equal(one.code, 0, one.stderr);
      assert.equal(two.code, 0, two.stderr);
      const strip = (s: string): string => s.replace(/"seconds":[0-9.]+/g, "");
      assert.equal(strip(two.stdout), strip(one.stdout), `${name}: --json differs`);
      assert.equal(two.stdout.trim().split("\n").length, 1, "one result line from rank 0 only");
      assert.equal(two.stderr, one.stderr, `${name}: the printed tables differ`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

mpiTest("mpi: an exception on one rank ends the job non-zero within seconds", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // rank 1 throws at step 2 while rank 0 waits in the gradient all-reduce
    const r = await launch(2, WORKER, [dir, "8", "16", "adam", "auto"], {
      SLL_TEST_THROW_RANK: "1",
    });
    assert.notEqual(r.code, 0, "the job must fail");
    assert.match(r.stderr, /\[rank 1 of 2\] error: injected failure on rank 1 at step 2/);
    assert.ok(r.seconds < 20, `took ${r.seconds.toFixed(1)} s`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

mpiTest("mpi: a NaN on one rank stops every rank at the same step", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await launch(2, WORKER, [dir, "8", "16", "adam", "auto"], {
      SLL_TEST_NAN_ON_RANK1_BATCH3: "1",
    });
    assert.equal(r.code, 0, r.stderr);
    for (const rank of [0, 1]) {
      const step = await Deno.readTextFile(join(dir, `diverged-rank${rank}.txt`));
      assert.equal(step, "3", `rank ${rank} stopped at step ${step}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Pids of this test's ranks: processes whose command line names `dir`, by PMI_RANK. */
async function rankPids(dir: string): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = await Deno.readTextFile(`/proc/${e.name}/cmdline`);
      if (!cmd.startsWith(DENO) || !cmd.includes(dir)) continue;
      const env = await Deno.readTextFile(`/proc/${e.name}/environ`);
      const m = /(?:^|\0)PMI_RANK=(\d+)/.exec(env);
      if (m) out.set(Number(m[1]), Number(e.name));
    } catch { /* gone */ }
  }
  return out;
}

/** Starts a 2-rank training run and returns the child once its first checkpoint exists. */
async function startUntilCheckpoint(dir: string, args: string[]): Promise<Deno.ChildProcess> {
  const child = new Deno.Command("mpiexec", {
    args: ["-n", "2", DENO, "run", "-A", "--unstable-webgpu", MAIN, "train", ...args],
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const t0 = performance.now();
  while ((await listCheckpoints(dir).catch(() => [])).length === 0) {
    if (performance.now() - t0 > 30_000) throw new Error("no checkpoint after 30 s");
    await new Promise((r) => setTimeout(r, 20));
  }
  return child;
}

mpiTest(
  "mpi: SIGKILL of a rank or Ctrl-C ends every rank; --resume ends on the same bytes",
  async () => {
    if (Deno.build.os !== "linux") return; // finds the ranks through /proc
    const dir = await Deno.makeTempDir();
    try {
      const run = [...SMALL_RUN, "--epochs", "5"];
      const ref = join(dir, "ref");
      const hows = ["SIGKILL rank 1", "SIGINT to mpiexec"] as const;
      const dirs = hows.map((h) => join(dir, h.split(" ")[0]));
      // the uninterrupted run and the two interrupted ones run at once
      const refRun = launch(2, MAIN, ["train", "--train-dir", ref, ...run]);
      const interrupted = hows.map(async (how, i) => {
        const d = dirs[i];
        const child = await startUntilCheckpoint(d, ["--train-dir", d, ...run]);
        const t0 = performance.now();
        if (how.startsWith("SIGKILL")) {
          const pids = await rankPids(d);
          assert.ok(pids.has(1), `rank 1 not found among ${[...pids]}`);
          Deno.kill(pids.get(1)!, "SIGKILL");
        } else {
          child.kill("SIGINT"); // Hydra forwards it to every rank
        }
        const out = await child.output();
        const seconds = (performance.now() - t0) / 1000;
        const stderr = dec.decode(out.stderr);
        assert.ok(seconds < 20, `${how}: the job took ${seconds.toFixed(1)} s to end`);
        assert.equal((await rankPids(d)).size, 0, `${how}: a rank outlived the job`);
        const latest = (await listCheckpoints(d)).at(-1)!;
        const meta = JSON.parse(await Deno.readTextFile(latest.replace(/\.safetensors$/, ".json")));
        assert.ok(meta.step < 20, `${how}: the run was not interrupted`);
        if (how.startsWith("SIGKILL")) {
          assert.notEqual(out.code, 0, `${how}: the job must end non-zero; ${stderr}`);
        } else {
          // rank 0 saved after the step every rank stopped at (Hydra's own exit status after a
          // forwarded Ctrl-C is 130 or, at times, 0: not asserted)
          assert.equal(meta.reason, "interrupt", `${how}: ${stderr}`);
        }
      });
      const [r] = await Promise.all([refRun, ...interrupted]);
      assert.equal(r.code, 0, r.stderr);
      const refLast = (await listCheckpoints(ref)).at(-1)!;
      const resumed = await Promise.all(dirs.map((d) =>
        launch(2, MAIN, [
          "train",
          "--train-dir",
          d,
          "--resume",
          "--backend",
          "cpu",
          "--offline",
          "--quiet",
        ])
      ));
      for (let i = 0; i < hows.length; i++) {
        assert.equal(resumed[i].code, 0, `${hows[i]}: resume failed: ${resumed[i].stderr}`);
        const last = (await listCheckpoints(dirs[i])).at(-1)!;
        assert.equal(last.split("/").at(-1), refLast.split("/").at(-1));
        assert.deepEqual(
          await Deno.readFile(last),
          await Deno.readFile(refLast),
          `${hows[i]}: the resumed run differs from the uninterrupted one`,
        );
      }
      // resuming a finished run: every rank agrees only the last evaluation is left
      const again = await launch(2, MAIN, ["train", "--train-dir", ref, "--resume", ...TINY]);
      assert.equal(again.code, 0, again.stderr);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

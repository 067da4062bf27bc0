/**
 * Stopping and sharing a training run, as a user does it: a second `train --resume` on a running
 * train dir is refused naming the holder's pid; SIGTERM (what `kill` sends) stops like Ctrl-C,
 * with a checkpoint after the current step; Ctrl-C while the data still loads is not lost: the
 * run exits 130 without a checkpoint and says so.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { listCheckpoints } from "../train/checkpoint.ts";
import { sll } from "./cli_helpers.ts";

const MAIN = new URL("../cli/main.ts", import.meta.url).pathname;

const TINY = [
  "--n-conv",
  "1",
  "--n-dense",
  "1",
  "--w",
  "2",
  "--space-to-depth",
  "1",
  "--conv-inner-dim",
  "2",
  "--dense-inner-dim",
  "8",
  "--limit-train",
  "64",
  "--limit-test",
  "16",
  "--batch-size",
  "32",
  "--eval-batch-size",
  "16",
  "--backend",
  "cpu",
  "--offline",
];

/** A `sll train` child whose stderr is collected as it comes. */
function spawnTrain(args: string[]): {
  child: Deno.ChildProcess;
  stderr: () => string;
  waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<void>;
  done: Promise<{ code: number; stderr: string }>;
} {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-webgpu", MAIN, "train", ...args],
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  const reading = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of child.stderr) text += dec.decode(chunk, { stream: true });
  })();
  const waitFor = async (pattern: RegExp, timeoutMs = 60_000): Promise<void> => {
    const t0 = performance.now();
    while (!pattern.test(text)) {
      if (performance.now() - t0 > timeoutMs) {
        throw new Error(`timed out waiting for ${pattern}; stderr:\n${text}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const done = (async () => {
    const s = await child.status;
    await reading;
    return { code: s.code, stderr: text };
  })();
  return { child, stderr: () => text, waitFor, done };
}

Deno.test("train: a running train dir is locked; SIGTERM stops it after a step with a checkpoint", async () => {
  const root = await Deno.makeTempDir();
  const dir = join(root, "run");
  const a = spawnTrain(["--train-dir", dir, ...TINY, "--epochs", "100000", "--log-every", "1"]);
  try {
    await a.waitFor(/checkpoint .*model\.ckpt-\d+/);
    const b = await sll(["train", "--train-dir", dir, "--resume", "--backend", "cpu", "--offline"]);
    assert.notEqual(b.code, 0, b.stderr);
    const errs = b.stderr.split("\n").filter((l) => l.startsWith("error:"));
    assert.equal(errs.length, 1, b.stderr);
    assert.match(errs[0], new RegExp(`in use by process ${a.child.pid}\\b.*kill ${a.child.pid}`));
    const before = (await Deno.readTextFile(join(dir, "metrics.jsonl"))).split("\n").length;
    assert.ok(before > 1);

    a.child.kill("SIGTERM");
    const r = await a.done;
    assert.equal(r.code, 143, r.stderr);
    assert.match(r.stderr, /SIGTERM: stopping after the current step/);
    const m = /stopped at step (\d+); checkpoint (\S+);/.exec(r.stderr);
    assert.ok(m, r.stderr);
    assert.equal((await listCheckpoints(dir)).at(-1), m[2]);
    assert.match(m[2], new RegExp(`model\\.ckpt-${m[1]}\\.safetensors$`));
    // the lock is gone: the run can be resumed (one more epoch, here via a conflict-free flag)
    assert.throws(() => Deno.statSync(join(dir, "train.lock")), Deno.errors.NotFound);
  } finally {
    try {
      a.child.kill("SIGKILL");
    } catch { /* already ended */ }
    await a.done;
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("train: Ctrl-C before the first step is not lost: exit 130, no checkpoint, says so", async () => {
  const root = await Deno.makeTempDir();
  const dir = join(root, "run");
  // the whole Fashion-MNIST training set is decoded before the first step: the signal lands then
  const a = spawnTrain([
    "--train-dir",
    dir,
    ...TINY.filter((x, i, all) => x !== "--limit-train" && all[i - 1] !== "--limit-train"),
  ]);
  try {
    await a.waitFor(/^backend: /m);
    a.child.kill("SIGINT");
    const r = await a.done;
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /SIGINT before the first step: exiting without a checkpoint/);
    assert.deepEqual(await listCheckpoints(dir), []);
  } finally {
    try {
      a.child.kill("SIGKILL");
    } catch { /* already ended */ }
    await a.done;
    await Deno.remove(root, { recursive: true });
  }
});

/**
 * End to end on a real Fashion-MNIST subset (Debian's dataset-fashion-mnist): train a tiny
 * model with checkpoints, resume a copy of its first checkpoint (same final bytes as the
 * uninterrupted run), certify (--json contract), attack (robust ≥ certified), lipschitz, plot
 * and reproduce. Every command keeps results on stdout and progress/messages on stderr, and says
 * on stderr which files it read. Kept small so it runs in well under two minutes on 2 cores.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { listCheckpoints } from "../train/checkpoint.ts";
import { sll, TINY_NET } from "./cli_helpers.ts";

const TINY = [
  ...TINY_NET,
  "--limit-train",
  "512",
  "--limit-test",
  "200",
  "--batch-size",
  "64",
  "--epochs",
  "2",
  "--save-every",
  "1",
  "--backend",
  "cpu",
  "--offline",
  "--quiet",
];

/**
 * Results on stdout, progress on stderr: stdout holds no progress or file messages, stderr names
 * each of `read` (files the command read).
 */
function streams(r: { stdout: string; stderr: string }, read: string[]): void {
  for (const noise of [/^backend: /m, /^read /m, /\bimg\/s\b/, /^checkpoint /m, /^evaluated /m]) {
    assert.doesNotMatch(r.stdout, noise, `progress on stdout:\n${r.stdout}`);
  }
  const said = r.stderr.split("\n").filter((l) => l.startsWith("read ")).join(", ");
  for (const f of read) {
    assert.ok(said.includes(f), `stderr does not say it read ${f}:\n${r.stderr}`);
  }
}

const FMNIST_FILES = ["train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

Deno.test("e2e: train, resume, certify, attack, lipschitz, plot, reproduce on Fashion-MNIST", async () => {
  const root = await Deno.makeTempDir();
  try {
    const a = join(root, "runs", "a");
    const t = await sll(["train", "--train-dir", a, ...TINY, "--json"]);
    assert.equal(t.code, 0, t.stderr);
    streams(t, FMNIST_FILES);
    assert.equal(t.stdout.trim().split("\n").length, 1, `--json: one stdout line:\n${t.stdout}`);
    const res = lastJson(t.stdout);
    assert.deepEqual(Object.keys(res).sort(), [
      "accuracy",
      "certified",
      "lipschitz",
      "n",
      "seconds",
    ]);
    // the SLL network is 1-Lipschitz by construction: certificates divide by exactly 1
    assert.deepEqual(res.lipschitz, { bound: 1, text: "1.0000 (by construction)" });
    assert.deepEqual(Object.keys(res.certified as object), ["36", "72", "108", "255"]);
    assert.equal(res.n, 200);
    assert.ok((res.accuracy as number) > 0.3, `accuracy ${res.accuracy}`);
    const ckA = await listCheckpoints(a);
    assert.equal(ckA.length, 2);

    // resume: a run holding only the first checkpoint continues to the same final bytes
    const b = join(root, "runs", "b");
    await Deno.mkdir(join(b, "checkpoints"), { recursive: true });
    for (const ext of [".safetensors", ".json"]) {
      const src = ckA[0].replace(/\.safetensors$/, ext);
      await Deno.copyFile(src, join(b, "checkpoints", src.split("/").at(-1)!));
    }
    const r = await sll([
      "train",
      "--train-dir",
      b,
      "--resume",
      "--backend",
      "cpu",
      "--offline",
      "--quiet",
    ]);
    assert.equal(r.code, 0, r.stderr);
    streams(r, ["model.ckpt-8.safetensors", ...FMNIST_FILES]);
    assert.match(r.stdout, /\| natural \|/); // the table is the result
    const ckB = await listCheckpoints(b);
    assert.equal(ckB.at(-1)!.split("/").at(-1), ckA.at(-1)!.split("/").at(-1));
    assert.deepEqual(await Deno.readFile(ckB.at(-1)!), await Deno.readFile(ckA.at(-1)!));

    const c = await sll([
      "certify",
      "--checkpoint",
      a,
      "--limit-test",
      "200",
      "--backend",
      "cpu",
      "--offline",
      "--json",
    ]);
    assert.equal(c.code, 0, c.stderr);
    streams(c, [ckA.at(-1)!, ...FMNIST_FILES]);
    assert.equal(c.stdout.trim().split("\n").length, 1, `--json: one stdout line:\n${c.stdout}`);
    const cert = lastJson(c.stdout);
    assert.equal(cert.accuracy, res.accuracy);
    assert.deepEqual(cert.certified, res.certified);

    const at = await sll([
      "attack",
      "--checkpoint",
      a,
      "--limit-test",
      "64",
      "--eps",
      "36,108",
      "--steps",
      "10",
      "--backend",
      "cpu",
      "--offline",
      "--json",
      "--quiet",
    ]);
    assert.equal(at.code, 0, at.stderr);
    streams(at, [ckA.at(-1)!, ...FMNIST_FILES]);
    const atk = lastJson(at.stdout) as {
      results: { robust: number; certified: number; accuracy: number }[];
    };
    for (const x of atk.results) {
      assert.ok(x.robust >= x.certified, `robust ${x.robust} < certified ${x.certified}`);
      assert.ok(x.robust <= x.accuracy);
    }

    const l = await sll([
      "lipschitz",
      "--checkpoint",
      a,
      "--iterations",
      "20",
      "--backend",
      "cpu",
      "--json",
    ]);
    assert.equal(l.code, 0, l.stderr);
    streams(l, [ckA.at(-1)!]);
    const lip = lastJson(l.stdout) as { layers: { estimate: number; search: number }[] };
    // every module: space-to-depth (the default preset's), padding, SLL conv, sum pool, flatten,
    // SLL dense, last layer
    assert.equal(lip.layers.length, 7);
    // all but the last layer are 1-Lipschitz maps (the last one per logit only)
    for (const row of lip.layers.slice(0, -1)) {
      assert.ok(row.estimate <= 1 + 1e-4 && row.search <= 1 + 1e-4, JSON.stringify(row));
    }

    const p = await sll(["plot", a]);
    assert.equal(p.code, 0, p.stderr);
    streams(p, [join(a, "metrics.jsonl")]);
    assert.equal(p.stdout.trim().split("\n").length, 3, p.stdout);
    for (const f of ["loss.svg", "accuracy.svg", "certified_vs_eps.svg"]) {
      assert.match(await Deno.readTextFile(join(a, f)), /^<svg[^>]*xmlns/);
    }

    const rep = await sll([
      "reproduce",
      join(root, "runs"),
      "--limit-test",
      "200",
      "--backend",
      "cpu",
      "--offline",
    ]);
    assert.equal(rep.code, 0, rep.stderr);
    streams(rep, [ckA.at(-1)!, ckB.at(-1)!, ...FMNIST_FILES]);
    assert.match(rep.stdout, /-- Evaluation on fashion-mnist --/);
    assert.match(rep.stdout, /\|\s+Nat\s+\|\s+36\s+\|\s+72\s+\|\s+108\s+\|\s+255 \|/);
    assert.match(rep.stdout, /custom \(2 ckpt\)/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

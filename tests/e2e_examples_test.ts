/**
 * Runs every example in examples/ with tiny sizes, as CI does, so they keep working.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sll, TINY_NET } from "./cli_helpers.ts";

async function example(name: string, args: string[] = []): Promise<string> {
  const path = new URL(`../examples/${name}`, import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", path, ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, `${name} failed:\n${text}\n${new TextDecoder().decode(out.stderr)}`);
  return text;
}

Deno.test("examples: custom training loop", async () => {
  assert.match(
    await example("custom_training_loop.ts", ["512", "1"]),
    /natural \d+\.\d%, certified@36/,
  );
});

Deno.test("examples: a new layer checked with isOneLipschitz", async () => {
  const out = await example("new_layer.ts");
  assert.match(out, /householder: 1-Lipschitz/);
  assert.match(out, /unnormalised variant rejected as expected/);
});

Deno.test("examples: certifying a model from code", async () => {
  const root = await Deno.makeTempDir();
  try {
    const dir = join(root, "run");
    const t = await sll([
      "train",
      "--train-dir",
      dir,
      ...TINY_NET,
      "--limit-train",
      "256",
      "--limit-test",
      "64",
      "--batch-size",
      "64",
      "--epochs",
      "1",
      "--backend",
      "cpu",
      "--offline",
      "--quiet",
    ]);
    assert.equal(t.code, 0, t.stderr);
    assert.match(
      await example("certify_from_code.ts", [dir, "64"]),
      /every certified image kept its prediction/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/**
 * `sll reproduce` (issue #9, defect 10): unrelated and corrupt `.pth` files and checkpoints under
 * the folder are skipped and listed with the reason, and an unfinished run is listed as partial
 * instead of being averaged with the finished ones.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sll } from "./cli_helpers.ts";
import { makeCheckpoint, rewriteCheckpoint } from "./trust_helpers.ts";

const FIX = new URL("./fixtures/", import.meta.url).pathname;

Deno.test("reproduce: skips unrelated or corrupt files and leaves partial runs out, saying so", async () => {
  const root = await Deno.makeTempDir();
  try {
    await makeCheckpoint(join(root, "done"));
    const partial = await makeCheckpoint(join(root, "half"), undefined, 1);
    await rewriteCheckpoint(partial, (_, meta) => {
      (meta as { epoch: number }).epoch = 0.5;
    });
    const corrupt = await makeCheckpoint(join(root, "flipped"), undefined, 2);
    const bytes = await Deno.readFile(corrupt);
    bytes[bytes.length - 1] ^= 0x10;
    await Deno.writeFile(corrupt, bytes);
    await Deno.writeFile(join(root, "unrelated.pth"), new TextEncoder().encode("not a model"));
    await Deno.mkdir(join(root, "fashion-mnist", "small"), { recursive: true });
    // The fixture is a tiny network, not the "small" preset: its shapes do not match.
    await Deno.copyFile(
      join(FIX, "tiny_c1_28.ckpt.pth"),
      join(root, "fashion-mnist", "small", "model.pth"),
    );
    const r = await sll([
      "reproduce",
      root,
      "--limit-test",
      "20",
      "--backend",
      "cpu",
      "--offline",
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    assert.deepEqual(
      out.groups.map((g: { size: string; checkpoints: number }) => [g.size, g.checkpoints]),
      [["custom", 1]],
    );
    const reasons = Object.fromEntries(
      out.skipped.map((s: { path: string; reason: string }) => [s.path, s.reason]),
    );
    assert.match(
      reasons[join(root, "unrelated.pth")],
      /put it under <dir>\/<dataset>\/<size>\/ with size one of small/,
    );
    assert.match(reasons[join(root, "fashion-mnist", "small", "model.pth")], /does not match/);
    assert.match(reasons[corrupt], /checksum mismatch/);
    assert.equal(out.partial.length, 1);
    assert.equal(out.partial[0].path, join(root, "half"));
    assert.match(out.partial[0].reason, /unfinished: epoch 0\.5 of \d+/);
    for (const line of [/^skipped: .*unrelated\.pth/m, /^skipped: .*model\.pth/m, /^partial: /m]) {
      assert.match(r.stderr, line);
    }
    // Without --json: the table counts one checkpoint and the skips are on stderr.
    const t = await sll(["reproduce", root, "--limit-test", "20", "--backend", "cpu", "--offline"]);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /custom \(1 ckpt\)/);
    assert.match(t.stderr, /skipped: .*checksum mismatch/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/**
 * Issue #9, defects 1, 3 and 5 on our checkpoints and `.pth` files: a non-finite parameter is
 * refused on load naming it (and certify/attack/lipschitz exit 1 with one line), a tensor file
 * whose SHA-256 differs from its metadata is refused naming the file, and crafted metadata
 * (huge or mismatched sizes) fails in milliseconds, before any tensor is made.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { memory } from "../tensor/mod.ts";
import { loadCheckpoint } from "../train/checkpoint.ts";
import { loadModelFile } from "../train/load_model.ts";
import { readPth } from "../io/pth.ts";
import { writePth } from "../io/pth_write.ts";
import { type CliRun, errorLines, sll } from "./cli_helpers.ts";
import { FIXTURE_MODEL_SPEC, leakFreeTest } from "./helpers.ts";
import { makeCheckpoint, rewriteCheckpoint } from "./trust_helpers.ts";

const FIX = new URL("./fixtures/", import.meta.url).pathname;

function oneError(r: CliRun, pattern: RegExp): void {
  assert.equal(r.code, 1, `exit code: ${r.code}\n${r.stderr}`);
  const errs = errorLines(r);
  assert.equal(errs.length, 1, `expected one error line, got:\n${r.stderr}`);
  assert.match(errs[0], pattern);
  assert.doesNotMatch(r.stdout + r.stderr, /NaN \(|certified [1-9]|at Object\.| {4}at /);
}

leakFreeTest(
  "defect 1: a NaN parameter is refused on load, naming it (ours and .pth)",
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const path = await makeCheckpoint(dir);
      await rewriteCheckpoint(path, (t) => {
        (t["param.1.kernel"].data as Float32Array)[3] = NaN;
      });
      await assert.rejects(
        () => loadCheckpoint(path),
        /parameter "1\.kernel" \(layer 1\) holds NaN at element 3 of \[4, 4, 3, 3\]/,
      );
      for (const cmd of ["certify", "attack", "lipschitz"]) {
        const args = [cmd, "--checkpoint", dir, "--backend", "cpu"];
        if (cmd !== "lipschitz") args.push("--limit-test", "4", "--offline");
        oneError(await sll(args), /parameter "1\.kernel" \(layer 1\) holds NaN/);
      }
      // A .pth that passes every CRC but holds +Infinity in a dense weight.
      const { stateDict } = readPth(await Deno.readFile(join(FIX, "tiny_c1_28.ckpt.pth")));
      (stateDict["module.model.model.5.weight"].data as Float32Array)[7] = Infinity;
      const pth = join(dir, "inf.pth");
      await Deno.writeFile(pth, writePth(stateDict));
      const spec = FIXTURE_MODEL_SPEC;
      await assert.rejects(
        () => loadModelFile(pth, spec),
        /parameter "module\.model\.model\.5\.weight" \(layer 5\) holds Infinity at element 7/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

leakFreeTest(
  "defect 3: a tensor file whose SHA-256 differs from its .json is refused",
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const path = await makeCheckpoint(dir);
      const bytes = await Deno.readFile(path);
      const flipped = bytes.slice();
      flipped[flipped.length - 5] ^= 0x01; // a low mantissa bit of the last tensor: still valid data
      await Deno.writeFile(path, flipped);
      await assert.rejects(
        () => loadCheckpoint(path),
        (e: Error) =>
          e.message.startsWith(`${path}: checksum mismatch`) &&
          /records \d+ bytes/.test(e.message) &&
          !e.message.includes("\n"),
      );
      oneError(
        await sll(["certify", "--checkpoint", path, "--backend", "cpu", "--offline"]),
        /model\.ckpt-10\.safetensors: checksum mismatch/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

leakFreeTest("defect 5: crafted metadata fails in milliseconds, before any tensor", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = await makeCheckpoint(dir);
    const jsonPath = path.replace(/\.safetensors$/, ".json");
    const good = await Deno.readTextFile(jsonPath);
    // deno-lint-ignore no-explicit-any
    const edits: [(m: any) => void, RegExp][] = [
      [(m) => (m.model.arch.width = 100000), /model\.arch\.width: .*4096/],
      [(m) => (m.model.arch.nConv = 1000000), /model\.arch\.nConv: .*1000/],
      [(m) => (m.config.arch.nConv = 1000000), /config\.arch\.nConv: .*1000/],
      [(m) => (m.model.inputShape = [1, 100000, 28]), /model\.inputShape\.1/],
      [(m) => (m.model.arch.width = 5), /does not match the architecture.*"1\.kernel" is \[4, 4/],
      [(m) => (m.model.arch.nConv = 3), /does not match the architecture.*missing keys/],
    ];
    for (const [edit, pattern] of edits) {
      const m = JSON.parse(good);
      edit(m);
      await Deno.writeTextFile(jsonPath, JSON.stringify(m));
      const before = memory().tensors;
      const t0 = performance.now();
      await assert.rejects(() => loadModelFile(path), (e: Error) => {
        assert.match(e.message, pattern);
        assert.ok(!e.message.includes("\n"), e.message);
        return true;
      });
      const ms = performance.now() - t0;
      assert.ok(ms < 500, `took ${ms.toFixed(0)} ms`);
      assert.equal(memory().tensors, before, "no tensor was made");
    }
    const m = JSON.parse(good);
    m.model.arch.width = 100000;
    await Deno.writeTextFile(jsonPath, JSON.stringify(m));
    oneError(
      await sll(["certify", "--checkpoint", dir, "--backend", "cpu", "--offline"]),
      /invalid checkpoint metadata: model\.arch\.width/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

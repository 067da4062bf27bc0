/**
 * Bad input to the CLI: each mistake gives exactly one `error:` line naming the problem and the
 * fix, a non-zero exit code, and leaves existing files untouched.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type CliRun, errorLines, sll } from "./cli_helpers.ts";

const FIX = new URL("./fixtures/", import.meta.url).pathname;
const FMNIST = "/usr/share/datasets/fashion-mnist";

function oneError(r: CliRun, pattern: RegExp): void {
  assert.notEqual(r.code, 0, `exit code: ${r.code}\n${r.stderr}`);
  const errs = errorLines(r);
  assert.equal(errs.length, 1, `expected one error line, got:\n${r.stderr}`);
  assert.match(errs[0], pattern);
}

Deno.test("cli: unknown flag names the flag and the allowed ones", async () => {
  const r = await sll(["train", "--bogus", "1"]);
  oneError(r, /unknown flag --bogus .*allowed: .*--epochs/);
  assert.equal(r.code, 2);
  oneError(await sll(["certify", "--epochs", "3"]), /unknown flag --epochs .*--checkpoint/);
  oneError(await sll(["frobnicate"]), /unknown command "frobnicate"; allowed: train, certify/);
});

Deno.test("cli: invalid values name the flag and what it accepts", async () => {
  oneError(
    await sll(["train", "--optimizer", "rmsprop"]),
    /--optimizer: "rmsprop" \(expected one of adam, adamw, sgd\)/,
  );
  oneError(
    await sll(["train", "--epochs", "two"]),
    /--epochs: "two" \(expected a positive integer\)/,
  );
  oneError(await sll(["train", "--lr"]), /missing value for --lr/);
  oneError(
    await sll(["train", "--backend", "tpu"]),
    /--backend: "tpu" \(expected one of cpu, webgpu, auto\)/,
  );
  oneError(
    await sll(["train", "--model-name", "huge"]),
    /--model-name: "huge" \(expected one of small, medium/,
  );
  oneError(await sll(["certify", "--eps", "36,abc"]), /--eps: "36,abc"/);
  oneError(await sll(["train", "--beta1", "1.5"]), /--beta1/);
});

Deno.test("cli: missing and truncated data files say where to put which files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await sll([
      "train",
      "--dataset",
      "mnist",
      "--data-dir",
      dir,
      "--offline",
      "--train-dir",
      join(dir, "run"),
      "--backend",
      "cpu",
    ]);
    oneError(r, /Dataset "mnist" not found\./);
    // the explanation follows on short indented lines, after the one error line
    assert.match(r.stderr, /\n {4}train-images-idx3-ubyte\(\.gz\)\n/);
    for (const l of r.stderr.split("\n")) assert.ok(l.length <= 100, `long line: ${l}`);
    assert.doesNotMatch(r.stderr, /--download/);
    // a truncated copy of Fashion-MNIST in --data-dir is found first and refused
    for (const f of Deno.readDirSync(FMNIST)) {
      await Deno.copyFile(join(FMNIST, f.name), join(dir, f.name));
    }
    const labels = join(dir, "t10k-labels-idx1-ubyte.gz");
    const bytes = await Deno.readFile(labels);
    await Deno.writeFile(labels, bytes.subarray(0, bytes.length >> 1));
    const t = await sll([
      "train",
      "--data-dir",
      dir,
      "--offline",
      "--train-dir",
      join(dir, "run2"),
      "--backend",
      "cpu",
    ]);
    oneError(t, /t10k-labels-idx1-ubyte/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: a checkpoint of another architecture lists the differences", async () => {
  const r = await sll([
    "certify",
    "--checkpoint",
    join(FIX, "tiny_c1_28.ckpt.pth"),
    "--dataset",
    "fashion-mnist",
    "--n-conv",
    "3",
    "--n-dense",
    "2",
    "--w",
    "8",
    "--conv-inner-dim",
    "5",
    "--dense-inner-dim",
    "32",
    "--backend",
    "cpu",
    "--limit-test",
    "10",
  ]);
  oneError(r, /does not match the architecture.*(missing|unexpected) keys/);
  const pth = await sll([
    "certify",
    "--checkpoint",
    join(FIX, "tiny_c1_28.ckpt.pth"),
    "--backend",
    "cpu",
  ]);
  oneError(pth, /PyTorch checkpoint without architecture metadata: pass --model-name/);
});

Deno.test("cli: corrupt checkpoints are refused, naming the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pth = join(dir, "broken.pth");
    const bytes = await Deno.readFile(join(FIX, "tiny_c1_28.ckpt.pth"));
    await Deno.writeFile(pth, bytes.subarray(0, 700));
    oneError(
      await sll(["certify", "--checkpoint", pth, "--model-name", "tiny", "--backend", "cpu"]),
      /broken\.pth: corrupt PyTorch checkpoint/,
    );
    const ck = join(dir, "checkpoints");
    await Deno.mkdir(ck);
    await Deno.writeFile(join(ck, "model.ckpt-5.safetensors"), new Uint8Array([1, 2, 3]));
    await Deno.writeTextFile(join(ck, "model.ckpt-5.json"), '{"format": "sll-checkpoint"');
    oneError(
      await sll(["certify", "--checkpoint", dir, "--backend", "cpu"]),
      /model\.ckpt-5\.json: corrupt checkpoint metadata/,
    );
    oneError(
      await sll(["certify", "--checkpoint", join(dir, "nothing-here"), "--backend", "cpu"]),
      /nothing-here: no such file or directory/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: an unwritable or already used train dir is refused and left as it was", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "a-file");
    await Deno.writeTextFile(file, "keep me");
    oneError(
      await sll(["train", "--train-dir", join(file, "run"), "--backend", "cpu", "--offline"]),
      /cannot write to --train-dir .*a-file\/run.*choose a writable directory/,
    );
    assert.equal(await Deno.readTextFile(file), "keep me");
    const used = join(dir, "used");
    await Deno.mkdir(join(used, "checkpoints"), { recursive: true });
    await Deno.writeTextFile(join(used, "checkpoints", "model.ckpt-7.json"), "{}");
    await Deno.writeTextFile(join(used, "checkpoints", "model.ckpt-7.safetensors"), "x");
    oneError(
      await sll(["train", "--train-dir", used, "--backend", "cpu", "--offline"]),
      /already holds checkpoints; pass --resume/,
    );
    assert.equal(await Deno.readTextFile(join(used, "checkpoints", "model.ckpt-7.json")), "{}");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: reproduce's error on a .pth of unknown size names its layout, not flags it rejects", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, "fashion-mnist", "odd"), { recursive: true });
    await Deno.copyFile(
      join(FIX, "tiny_c1_28.ckpt.pth"),
      join(dir, "fashion-mnist", "odd", "model.pth"),
    );
    const r = await sll(["reproduce", dir, "--backend", "cpu", "--offline", "--limit-test", "8"]);
    assert.match(r.stderr, /put it under <dir>\/<dataset>\/<size>\/ with size one of small/);
    assert.doesNotMatch(r.stderr, /--model-name|--n-conv/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

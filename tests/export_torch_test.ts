/**
 * `sll export` → PyTorch (issue #9, export): one of our small checkpoints, exported as `.pth`
 * by our own zip + pickle writer, loads with `torch.load` + `load_state_dict(strict=True)` into
 * the reference network written from the paper's equations (tests/torch/sll_reference.py), gives
 * logits within 3e-6 of ours and exactly our certified counts — for both q modes. Needs
 * /usr/bin/python3 with torch; without it the test is skipped with the reason printed.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadDataset } from "../data/mod.ts";
import { readSafetensors } from "../io/safetensors.ts";
import { dispose, scope, tensor } from "../tensor/mod.ts";
import { loadCheckpoint } from "../train/checkpoint.ts";
import { loadModelFile } from "../train/load_model.ts";
import { sll } from "./cli_helpers.ts";
import { leakFreeTest } from "./helpers.ts";
import { makeCheckpoint, SMALL_ARCH } from "./trust_helpers.ts";

const PYTHON = "/usr/bin/python3";
const SCRIPT = new URL("./torch/sll_reference.py", import.meta.url).pathname;
const ENV = { LD_LIBRARY_PATH: "/usr/lib/x86_64-linux-gnu/openblas-pthread", OMP_NUM_THREADS: "1" };
const N = 200;
const EPS = [0, 1, 4, 16];

async function torchMissing(): Promise<string | null> {
  try {
    const r = await new Deno.Command(PYTHON, {
      args: ["-c", "import torch"],
      env: ENV,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (r.code === 0) return null;
    return `${PYTHON} -c "import torch" failed: ${
      new TextDecoder().decode(r.stderr).trim().split("\n").at(-1)
    }`;
  } catch (e) {
    return `cannot run ${PYTHON}: ${(e as Error).message}`;
  }
}

const missing = await torchMissing();
const NAME = "export: our checkpoint as .pth loads in PyTorch (strict) with the same logits and " +
  "certified counts";
if (missing) {
  console.error(`\n!!! SKIPPED "${NAME}": ${missing}\n`);
  Deno.test({ name: `${NAME} — SKIPPED: ${missing}`, ignore: true, fn() {} });
} else {
  leakFreeTest(NAME, async () => {
    const root = await Deno.makeTempDir();
    try {
      const { test } = await loadDataset("fashion-mnist", {
        limitTest: N,
        limitTrain: 1,
        download: false,
      });
      const inputs = join(root, "inputs.f32"), labels = join(root, "labels.i32");
      await Deno.writeFile(inputs, new Uint8Array(test.images.buffer, 0, test.n * 784 * 4));
      await Deno.writeFile(labels, new Uint8Array(Int32Array.from(test.labels).buffer));
      const cases = [
        { name: "paper", arch: { ...SMALL_ARCH, qMode: "paper" as const } },
        { name: "reference", arch: { ...SMALL_ARCH, qMode: "reference" as const } },
        // the default preset's invertible downsampling: nn.PixelUnshuffle(2) as module 0
        {
          name: "space-to-depth 2",
          arch: { ...SMALL_ARCH, qMode: "paper" as const, spaceToDepth: 2 },
        },
      ];
      for (const { name, arch } of cases) {
        const dir = join(root, name.replaceAll(" ", "-"));
        const path = await makeCheckpoint(dir, arch, 3);
        const pth = join(dir, "model.pth");
        const exp = await sll(["export", "--checkpoint", dir, "--to", pth]);
        assert.equal(exp.code, 0, exp.stderr);
        assert.match(exp.stdout, /wrote .*model\.pth \(8 tensors/);
        const st = join(dir, "model.safetensors");
        assert.equal((await sll(["export", "--checkpoint", path, "--to", st])).code, 0);
        const ck = await loadCheckpoint(path);
        const { tensors } = readSafetensors(await Deno.readFile(st));
        for (const [k, h] of Object.entries(ck.params)) {
          assert.deepEqual(tensors[`module.model.model.${k}`].data, h.data, k);
        }

        const specPath = join(dir, "spec.json");
        await Deno.writeTextFile(specPath, JSON.stringify(ck.meta.model));
        const py = await new Deno.Command(PYTHON, {
          args: [SCRIPT, pth, specPath, inputs, labels, EPS.join(",")],
          env: ENV,
          stdout: "piped",
          stderr: "piped",
        }).output();
        const dec = new TextDecoder();
        assert.equal(py.code, 0, dec.decode(py.stderr));
        const ref = JSON.parse(dec.decode(py.stdout));

        const m = await loadModelFile(path);
        const x = tensor(test.images, { shape: [test.n, 1, 28, 28] });
        const logits = scope(() => m.network.apply(m.params, x));
        const ours = await logits.data();
        dispose([x, logits, m.params]);
        assert.equal(ref.logits.length, ours.length);
        let worst = 0;
        for (let i = 0; i < ours.length; i++) {
          worst = Math.max(worst, Math.abs(ours[i] - ref.logits[i]));
        }
        assert.ok(worst <= 3e-6, `${name}: max |logit difference| ${worst} > 3e-6`);

        const cert = await sll([
          "certify",
          "--checkpoint",
          dir,
          "--limit-test",
          String(N),
          "--eps",
          EPS.join(","),
          "--backend",
          "cpu",
          "--offline",
          "--json",
        ]);
        assert.equal(cert.code, 0, cert.stderr);
        const r = JSON.parse(cert.stdout.trim().split("\n").at(-1)!);
        assert.equal(Math.round(r.accuracy * N), ref.correct, `${name}: correct`);
        const counts = EPS.map((e) => Math.round(r.certified[String(e)] * N));
        assert.deepEqual(counts, ref.certified, `${name}: certified counts`);
        console.error(
          `export ${name}: torch ${ref.torch}, max |Δlogit| ${worst.toExponential(2)}, ` +
            `correct ${ref.correct}/${N}, certified ${counts.join("/")} at ε ${EPS}/255`,
        );
      }
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
}

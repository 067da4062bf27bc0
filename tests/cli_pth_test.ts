/**
 * `certify` on the reference trainer's `.pth` checkpoint (tests/fixtures, written by torch.save):
 * the CLI's numbers equal a library computation on the same images — readPth → fromStateDict
 * → apply → certifiedAccuracy with the normalised last layer.
 * @module
 */
import { FIXTURE_NETWORK } from "./helpers.ts";
import assert from "node:assert/strict";
import { readPth } from "../io/pth.ts";
import { toFloat32 } from "../io/host_tensor.ts";
import { loadDataset } from "../data/mod.ts";
import { lipschitzNetwork } from "../layers/mod.ts";
import { certifiedAccuracy } from "../certify/mod.ts";
import { scope, tensor } from "../mod.ts";
import { sll } from "./cli_helpers.ts";

const PTH = new URL("./fixtures/tiny_c1_28.ckpt.pth", import.meta.url).pathname;

Deno.test("certify --checkpoint model.pth matches the library on the same weights and images", async () => {
  const n = 200;
  const run = await sll([
    "certify",
    "--checkpoint",
    PTH,
    "--dataset",
    "fashion-mnist",
    "--n-conv",
    "2",
    "--n-dense",
    "2",
    "--w",
    "8",
    "--conv-inner-dim",
    "5",
    "--dense-inner-dim",
    "32",
    "--mean",
    "0.1307",
    "--q-mode",
    "reference",
    "--limit-test",
    String(n),
    "--backend",
    "cpu",
    "--offline",
    "--json",
  ]);
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trim().split("\n");
  const cli = JSON.parse(lines[lines.length - 1]);
  assert.equal(cli.n, n);

  const net = lipschitzNetwork(FIXTURE_NETWORK);
  const { stateDict } = readPth(await Deno.readFile(PTH));
  const { test } = await loadDataset("fashion-mnist", {
    limitTest: n,
    limitTrain: 1,
    download: false,
  });
  const eps = [36 / 255, 72 / 255, 108 / 255, 1];
  const { logits, weight } = scope(() => {
    const sd = Object.fromEntries(Object.entries(stateDict).map(([k, v]) => [k, toFloat32(v)]));
    const params = net.fromStateDict(sd);
    const x = tensor(test.images, { shape: [n, 1, 28, 28] });
    return {
      logits: net.apply(params, x),
      weight: net.toStateDict(params)["module.model.model.7.weight"],
    };
  });
  const lib = await certifiedAccuracy(logits, test.labels, weight, eps);
  logits.dispose();
  weight.dispose();
  assert.equal(cli.accuracy, lib.accuracy);
  assert.deepEqual([
    cli.certified["36"],
    cli.certified["72"],
    cli.certified["108"],
    cli.certified["255"],
  ], lib.certified);
});

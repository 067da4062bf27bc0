/**
 * Certifying a model from code: load a checkpoint written by `sll train` (or the reference's
 * `.pth` via `readPth` + `fromStateDict`), compute natural and certified accuracy on the test
 * set (margins divided by the network's certified Lipschitz bound), and check with a PGD L2
 * attack that no certified image is broken.
 *
 * Run: deno run -A examples/certify_from_code.ts <train-dir or checkpoint> [testImages=200]
 * @module
 */
import {
  certifiedAccuracy,
  certifiedLipschitzBound,
  dispose,
  keep,
  pgdL2,
  scope,
  type Tensor,
  tensor,
} from "../mod.ts";
import {
  buildNetwork,
  loadCheckpoint,
  paramsFromCheckpoint,
  resolveCheckpoint,
} from "../train/mod.ts";
import { loadDataset } from "../data/mod.ts";

const target = Deno.args[0];
if (!target) throw new Error("usage: certify_from_code.ts <train-dir or checkpoint> [testImages]");
const nTest = Number(Deno.args[1] ?? 200);

const ck = await loadCheckpoint(await resolveCheckpoint(target));
const cfg = ck.meta.config;
const { test } = await loadDataset(cfg.dataset, { limitTrain: 1, limitTest: nTest });
const net = buildNetwork(cfg.arch, test.shape, test.numClasses, cfg.mean ?? [0.286]);
const params = keep(scope(() => paramsFromCheckpoint(net, ck.params, ck.path)));

const x = tensor(test.images, { shape: [test.n, ...test.shape] });
const y = tensor(test.labels, { dtype: "int32" });
const eps = 36 / 255;
const logits = scope(() => net.apply(params, x));
// the network's certified Lipschitz bound, once per model: 1 by construction for SLL, above 1
// for a CPL or LiResNet network whose power iteration has not converged
const bound = await certifiedLipschitzBound(net, params, test.shape);
if (!Number.isFinite(bound.bound)) throw new Error(`nothing to certify: ${bound.text}`);
console.log(`Lipschitz bound ${bound.text}`);
const r = await certifiedAccuracy(logits, test.labels, net.lastWeight(params), [eps], {
  lipschitz: bound.bound,
});
const xAdv = pgdL2((z: Tensor) => net.apply(params, z), x, y, { eps, steps: 20 });
const advLogits = scope(() => net.apply(params, xAdv));
const adv = await certifiedAccuracy(advLogits, test.labels, null, []);
console.log(
  `natural ${(r.accuracy * 100).toFixed(1)}%, certified@36/255 ${
    (r.certified[0] * 100).toFixed(1)
  }%, ` +
    `PGD-robust@36/255 ${(adv.accuracy * 100).toFixed(1)}%`,
);
for (let i = 0; i < test.n; i++) {
  if (r.certifiedMask[0][i] && adv.margins.pred[i] !== test.labels[i]) {
    throw new Error(`image ${i} is certified but PGD changed its prediction: unsound certificate`);
  }
}
console.log("every certified image kept its prediction under attack");
dispose([x, y, logits, xAdv, advLogits, params]);

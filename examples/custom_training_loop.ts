/**
 * A custom training loop written against the public API only: load a Fashion-MNIST subset,
 * build the reference SLL network, take Adam steps under the reference's interp schedule
 * (each step in a `scope`, parameters and optimizer state kept), then report natural and
 * certified accuracy.
 *
 * Run: deno run -A examples/custom_training_loop.ts [trainImages=2048] [epochs=1]
 * @module
 */
import {
  adam,
  certifiedAccuracy,
  certifiedLipschitzBound,
  dispose,
  interpSchedule,
  keep,
  lipschitzNetwork,
  offsetCrossEntropy,
  randomKey,
  scope,
  type Tensor,
  tensor,
  valueAndGrad,
} from "../mod.ts";
import { batches, keyFromSeed, loadDataset } from "../data/mod.ts";

const nTrain = Number(Deno.args[0] ?? 2048);
const epochs = Number(Deno.args[1] ?? 1);
const { train, test } = await loadDataset("fashion-mnist", { limitTrain: nTrain, limitTest: 500 });

const net = lipschitzNetwork({
  inputShape: [1, 28, 28],
  numClasses: 10,
  nConv: 2,
  nDense: 1,
  width: 8,
  convInnerDim: 8,
  denseInnerDim: 128,
  mean: [0.286],
});
const batchSize = 128;
const stepsPerEpoch = Math.ceil(train.n / batchSize);
const lrAt = interpSchedule(0.01, stepsPerEpoch * epochs);
const opt = adam(); // the reference's betas (0.5, 0.9)

let params = keep(scope(() => net.init(randomKey(0)).params));
let state = keep(opt.init(params));
const lossAndGrad = valueAndGrad((p: typeof params, x: Tensor, y: Tensor) =>
  offsetCrossEntropy(net.apply(p, x), y)
);

let step = 0;
for (let epoch = 0; epoch < epochs; epoch++) {
  for (const b of batches(train, { batchSize, key: keyFromSeed(0), epoch })) {
    const { loss, next } = scope(() => {
      const x = tensor(b.x, { shape: b.shape });
      const y = tensor(b.y, { dtype: "int32" });
      const [loss, grads] = lossAndGrad(params, x, y);
      return { loss, next: opt.update(grads, state, params, lrAt(step)) };
    });
    const value = (await loss.data())[0];
    loss.dispose();
    dispose([params, state.slots]); // the old trees; the new ones are kept below
    params = keep(next.params);
    state = { step: next.state.step, slots: keep(next.state.slots) };
    if (++step % 10 === 0) console.log(`step ${step}: loss ${value.toFixed(4)}`);
  }
}

const logits = scope(() => net.apply(params, tensor(test.images, { shape: [test.n, 1, 28, 28] })));
// certificates divide the margins by the network's certified Lipschitz bound (1 for SLL)
const bound = await certifiedLipschitzBound(net, params, [1, 28, 28]);
const r = await certifiedAccuracy(logits, test.labels, net.lastWeight(params), [
  36 / 255,
  72 / 255,
], { lipschitz: bound.bound });
console.log(`Lipschitz bound ${bound.text}`);
console.log(
  `natural ${(r.accuracy * 100).toFixed(1)}%, certified@36 ${
    (r.certified[0] * 100).toFixed(1)
  }%, ` +
    `@72 ${(r.certified[1] * 100).toFixed(1)}%`,
);
dispose([logits, params, state.slots]);

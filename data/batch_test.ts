/**
 * Tests of batching (determinism per key and epoch, permutation, dropLast, augmentation keys,
 * prefetch equivalence and overlap), subsetting and the mean shift.
 * @module
 */

import assert from "node:assert/strict";
import { batches, epochOrder, numBatches, prefetchBatches, shardOrder } from "./batch.ts";
import { checkDataset, type Dataset, gather, subset } from "./dataset.ts";
import { DATASET_MEANS, meanShift } from "./preprocess.ts";
import { type BatchShape, cifarAugment } from "./augment.ts";
import { keyFromSeed } from "../tensor/prng.ts";

/** n examples of shape [c, h, w]; every value of example i is i / n, label i mod k. */
function toy(n: number, shape: [number, number, number] = [1, 2, 2], k = 3): Dataset {
  const per = shape[0] * shape[1] * shape[2];
  const images = new Float32Array(n * per);
  for (let i = 0; i < n; i++) images.fill(i / n, i * per, (i + 1) * per);
  return {
    name: "toy",
    images,
    labels: Int32Array.from({ length: n }, (_, i) => i % k),
    n,
    shape,
    numClasses: k,
  };
}

const ids = (ds: Dataset, b: { x: Float32Array; size: number }) => {
  const per = ds.shape[0] * ds.shape[1] * ds.shape[2];
  return Array.from({ length: b.size }, (_, i) => Math.round(b.x[i * per] * ds.n));
};

Deno.test("batches: no key keeps order; sizes, indices and dropLast", () => {
  const ds = toy(10);
  const all = [...batches(ds, { batchSize: 4 })];
  assert.deepEqual(all.map((b) => b.size), [4, 4, 2]);
  assert.deepEqual(all.map((b) => b.index), [0, 1, 2]);
  assert.deepEqual(all.flatMap((b) => ids(ds, b)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(all[2].shape, [2, 1, 2, 2]);
  assert.deepEqual(Array.from(all[1].y), [1, 2, 0, 1]);
  assert.equal([...batches(ds, { batchSize: 4, dropLast: true })].length, 2);
  assert.equal(numBatches(10, 5, true), 2);
  assert.equal([...batches(toy(0), { batchSize: 4 })].length, 0);
  assert.throws(() => [...batches(ds, { batchSize: 0 })], {
    message: /batchSize must be a positive integer, got 0/,
  });
});

Deno.test("batches: shuffling is a permutation, fixed by (key, epoch), new per epoch", () => {
  const ds = toy(257);
  const order = (seed: number, epoch: number) =>
    [...batches(ds, { batchSize: 32, key: keyFromSeed(seed), epoch })].flatMap((b) => ids(ds, b));
  const a = order(1, 0);
  assert.deepEqual([...a].sort((p, q) => p - q), Array.from({ length: 257 }, (_, i) => i));
  assert.deepEqual(order(1, 0), a);
  assert.notDeepEqual(order(1, 1), a);
  assert.notDeepEqual(order(2, 0), a);
  assert.deepEqual(Array.from(epochOrder(257, keyFromSeed(1), 0)), a);
  // labels travel with their images
  for (const b of batches(ds, { batchSize: 50, key: keyFromSeed(3) })) {
    ids(ds, b).forEach((id, i) => assert.equal(b.y[i], id % 3));
  }
  // dropLast drops the tail of the shuffled order
  const dropped = [...batches(ds, { batchSize: 32, key: keyFromSeed(1), dropLast: true })];
  assert.equal(dropped.length, 8);
  assert.deepEqual(dropped.flatMap((b) => ids(ds, b)), a.slice(0, 256));
});

Deno.test("batches: augmentation gets a distinct, reproducible key per batch", () => {
  const ds = toy(8, [3, 32, 32]);
  const seen: string[] = [];
  const spy = (x: Float32Array, _s: BatchShape, k: readonly [number, number]) => {
    seen.push(k.join(","));
    return x;
  };
  [...batches(ds, { batchSize: 2, key: keyFromSeed(5), augment: spy })];
  assert.equal(new Set(seen).size, 4);
  const run = () => [
    ...batches(ds, { batchSize: 4, key: keyFromSeed(5), epoch: 2, augment: cifarAugment() }),
  ];
  assert.deepEqual(run(), run());
  assert.throws(() => [...batches(ds, { batchSize: 2, augment: spy })], {
    message: /augment needs a key/,
  });
  const unshuffled = [
    ...batches(ds, { batchSize: 8, key: keyFromSeed(5), shuffle: false, augment: spy }),
  ];
  assert.deepEqual(ids(ds, unshuffled[0]), [0, 1, 2, 3, 4, 5, 6, 7]);
  const shrink = (x: Float32Array) => x.subarray(1);
  assert.throws(() => [...batches(ds, { batchSize: 2, key: keyFromSeed(5), augment: shrink })], {
    message: /augment returned 6143 values for a batch of 6144/,
  });
});

Deno.test("prefetchBatches: same batches as batches; prepares the next while awaiting", async () => {
  const ds = toy(64, [3, 32, 32]);
  const opts = { batchSize: 16, key: keyFromSeed(9), epoch: 1, augment: cifarAugment() };
  const sync = [...batches(ds, opts)];
  const events: string[] = [];
  let built = 0;
  const traced = {
    ...opts,
    augment: (x: Float32Array, s: BatchShape, k: readonly [number, number]) => {
      events.push(`build ${built++}`);
      return opts.augment(x, s, k);
    },
  };
  const got = [];
  for await (const b of prefetchBatches(ds, traced)) {
    events.push(`got ${b.index}`);
    got.push(b);
    await new Promise((r) => setTimeout(r, 5)); // the consumer awaits "the GPU"
    events.push(`woke ${b.index}`);
  }
  assert.deepEqual(got, sync);
  // batch k+1 is built while the consumer awaits on batch k
  assert.deepEqual(events, [
    "build 0",
    ...[0, 1, 2].flatMap((k) => [`got ${k}`, `build ${k + 1}`, `woke ${k}`]),
    "got 3",
    "woke 3",
  ]);
  // purely synchronous consumers and early exits work, without leaking timers
  const firstTwo = [];
  for await (const b of prefetchBatches(ds, opts)) {
    firstTwo.push(b);
    if (firstTwo.length === 2) break;
  }
  assert.deepEqual(firstTwo, sync.slice(0, 2));
});

Deno.test("subset, gather and checkDataset", () => {
  const ds = toy(10);
  const s = subset(ds, 3);
  assert.equal(s.n, 3);
  assert.deepEqual(Array.from(s.labels), [0, 1, 2]);
  assert.equal(s.images.length, 12);
  s.images[0] = 42;
  assert.equal(ds.images[0], 0); // a copy
  assert.equal(subset(ds, 50).n, 10);
  const r = subset(ds, 4, keyFromSeed(1));
  const rid = Array.from({ length: 4 }, (_, i) => Math.round(r.images[i * 4] * 10));
  assert.deepEqual(rid, [...rid].sort((a, b) => a - b));
  assert.equal(new Set(rid).size, 4);
  assert.deepEqual(subset(ds, 4, keyFromSeed(1)), r);
  const g = gather(ds, [9, 0]);
  assert.deepEqual(Array.from(g.labels), [0, 0]);
  checkDataset(g);
  assert.throws(() => checkDataset({ ...ds, n: 11 }), {
    message: /labels has 10 entries but n is 11/,
  });
  assert.throws(() => gather(ds, [10]), {
    message: /index 0 is 10, expected an integer in \[0, 10\)/,
  });
});

Deno.test("meanShift per channel, and the reference means", () => {
  const x = new Float32Array([1, 1, 1, 1, 1, 1, 1, 1]); // 2 examples × [2, 1, 2]
  assert.deepEqual(Array.from(meanShift(x, [0.5, 0.25], [2, 1, 2])), [
    0.5,
    0.5,
    0.75,
    0.75,
    0.5,
    0.5,
    0.75,
    0.75,
  ]);
  assert.deepEqual(Array.from(meanShift(new Float32Array([0.5]), [0.25])), [0.25]);
  assert.throws(() => meanShift(x, [0.5, 0.25]), { message: /pass ds\.shape/ });
  assert.throws(() => meanShift(x, [0.5, 0.25, 0], [2, 1, 2]), {
    message: /has 2 channels but 3 means/,
  });
  assert.deepEqual(DATASET_MEANS.cifar10, [0.4913, 0.4821, 0.4465]);
  assert.deepEqual(DATASET_MEANS.cifar100, [0.5071, 0.4865, 0.4409]);
  assert.deepEqual(DATASET_MEANS["fashion-mnist"], [0.2860]);
  assert.deepEqual(DATASET_MEANS.mnist, [0.1307]);
});

Deno.test("shardOrder splits an epoch as DistributedSampler: padded, strided, union = batches of N×B", () => {
  const order = Int32Array.from([5, 3, 1, 4, 0]);
  assert.deepEqual([...shardOrder(order, 0, 2)], [5, 1, 0]);
  assert.deepEqual([...shardOrder(order, 1, 2)], [3, 4, 5]); // padded with the first entry
  assert.equal(shardOrder(order, 0, 1), order);
  assert.throws(() => shardOrder(order, 2, 2), RangeError);
  // batch k of every rank together is batch k of one process with twice the batch size
  const ds = {
    name: "toy",
    images: Float32Array.from({ length: 12 }, (_, i) => i),
    labels: Int32Array.from({ length: 12 }, (_, i) => i),
    n: 12,
    shape: [1, 1, 1] as [number, number, number],
    numClasses: 12,
  };
  const key = keyFromSeed(3);
  const one = [...batches(ds, { batchSize: 4, key, epoch: 1 })].map((b) => [...b.y].sort());
  const r0 = [...batches(ds, { batchSize: 2, key, epoch: 1, shard: { rank: 0, size: 2 } })];
  const r1 = [...batches(ds, { batchSize: 2, key, epoch: 1, shard: { rank: 1, size: 2 } })];
  assert.equal(r0.length, one.length);
  for (let k = 0; k < one.length; k++) {
    assert.deepEqual([...r0[k].y, ...r1[k].y].sort(), one[k]);
  }
});

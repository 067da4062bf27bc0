/**
 * Tests of the idx reader: generated files (raw and gzip), every validation error, and the real
 * Fashion-MNIST from Debian's dataset-fashion-mnist package (required: CI installs it).
 * @module
 */

import assert from "node:assert/strict";
import { gzipSync } from "fflate";
import { idxToDataset, maybeGunzip, readIdx } from "./idx.ts";
import { DEBIAN_FASHION_MNIST_DIR } from "./load.ts";
import { DATASET_MEANS } from "./preprocess.ts";
import { makeIdx, makeIdxPair } from "./fixtures_test.ts";

Deno.test("readIdx parses raw and gzip files identically", () => {
  const { images, labels } = makeIdxPair(5, 3, 2);
  for (const wrap of [(b: Uint8Array) => b, (b: Uint8Array) => new Uint8Array(gzipSync(b))]) {
    const im = readIdx(wrap(images), "im", "images");
    assert.equal(im.kind, "images");
    assert.deepEqual(im.dims, [5, 3, 2]);
    assert.deepEqual(Array.from(im.data), Array.from(images.subarray(16)));
    const lb = readIdx(wrap(labels), "lb", "labels");
    assert.deepEqual(lb.dims, [5]);
    assert.deepEqual(Array.from(lb.data), [0, 1, 2, 3, 4]);
    const ds = idxToDataset(im, lb, { name: "toy/train", numClasses: 10, limit: 3 });
    assert.equal(ds.n, 3);
    assert.deepEqual(ds.shape, [1, 3, 2]);
    assert.equal(ds.images.length, 3 * 6);
    assert.equal(ds.images[7], Math.fround(images[16 + 7] / 255));
    assert.deepEqual(Array.from(ds.labels), [0, 1, 2]);
  }
});

Deno.test("readIdx: truncated gzip names the file and the expected byte count", () => {
  const n = 100;
  const { images } = makeIdxPair(n, 28, 28);
  const gz = new Uint8Array(gzipSync(images));
  const cut = gz.subarray(0, Math.floor(gz.length / 2));
  const file = "/d/train-images-idx3-ubyte.gz";
  assert.throws(
    () => readIdx(cut, file),
    (e: Error) => {
      assert.match(
        e.message,
        new RegExp(
          `^/d/train-images-idx3-ubyte\\.gz: expected ${16 + n * 784} bytes after ` +
            `decompression, got \\d+ \\(header says 100×28×28 images\\)`,
        ),
      );
      assert.match(e.message, /download it again/);
      return true;
    },
  );
  // raw truncation and trailing garbage
  assert.throws(() => readIdx(images.subarray(0, 1000), "raw.idx"), {
    message: /^raw\.idx: expected 78416 bytes, got 1000 /,
  });
  const longer = new Uint8Array(images.length + 3);
  longer.set(images);
  assert.throws(() => readIdx(longer, "long.idx"), { message: /expected 78416 bytes, got 78419/ });
  assert.throws(() => readIdx(images.subarray(0, 5), "tiny.idx"), {
    message: /^tiny\.idx: expected at least an 8-byte idx header, got 5 bytes/,
  });
});

Deno.test("readIdx: corrupt gzip, bad magic, wrong kind and zero dims", () => {
  const { images, labels } = makeIdxPair(4);
  const gz = new Uint8Array(gzipSync(images));
  const corrupt = gz.slice();
  corrupt[gz.length - 6] ^= 0xff; // CRC32 trailer
  assert.throws(() => readIdx(corrupt, "c.gz"), {
    message: /^c\.gz: not a valid gzip stream \(.+\); the file is corrupt/,
  });
  const bad = images.slice();
  bad[3] = 9;
  assert.throws(() => readIdx(bad, "m.idx"), {
    message: /^m\.idx: bad idx magic number 2057 \(0x00000809\), expected 2051 for images or 2049/,
  });
  assert.throws(() => readIdx(labels, "l.idx", "images"), {
    message: /^l\.idx: holds labels \(magic 2049\) but images \(magic 2051\) were expected/,
  });
  assert.throws(() => readIdx(makeIdx([0, 2, 2], new Uint8Array(0)), "z.idx"), {
    message: /^z\.idx: idx header dimension 0 is 0/,
  });
  assert.equal(maybeGunzip(images), images); // raw passes through untouched
});

Deno.test("idxToDataset: mismatched counts and labels out of range", () => {
  const a = makeIdxPair(4);
  const b = makeIdxPair(3);
  const im = readIdx(a.images, "a-images");
  assert.throws(
    () => idxToDataset(im, readIdx(b.labels), { name: "x", numClasses: 10, files: ["ai", "bl"] }),
    { message: /^bl: has 3 labels but ai has 4 images/ },
  );
  assert.throws(() => idxToDataset(im, readIdx(a.labels), { name: "x", numClasses: 2 }), {
    message: /label 2 is 2, expected a class in \[0, 2\)/,
  });
});

async function readDebian(file: string): Promise<Uint8Array> {
  const path = `${DEBIAN_FASHION_MNIST_DIR}/${file}`;
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw new Error(
      `${path} is missing (${(e as Error).message}). This test needs the real Fashion-MNIST: ` +
        `run \`apt-get install dataset-fashion-mnist\` (Debian/Ubuntu), which installs it there.`,
    );
  }
}

Deno.test("Fashion-MNIST from Debian's dataset-fashion-mnist parses completely", async () => {
  const files = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
  ];
  const [ti, tl, vi, vl] = await Promise.all(files.map(readDebian));
  const trainImages = readIdx(ti, files[0], "images");
  assert.deepEqual(trainImages.dims, [60000, 28, 28]);
  const train = idxToDataset(trainImages, readIdx(tl, files[1], "labels"), {
    name: "fashion-mnist/train",
    numClasses: 10,
  });
  const test = idxToDataset(readIdx(vi, files[2], "images"), readIdx(vl, files[3], "labels"), {
    name: "fashion-mnist/test",
    numClasses: 10,
  });
  assert.equal(train.n, 60000);
  assert.equal(test.n, 10000);
  assert.deepEqual(test.shape, [1, 28, 28]);
  // Fashion-MNIST is balanced: 6000 / 1000 examples per class
  for (const [ds, per] of [[train, 6000], [test, 1000]] as const) {
    const counts = new Array(10).fill(0);
    for (const y of ds.labels) counts[y]++;
    assert.deepEqual(counts, new Array(10).fill(per));
  }
  let sum = 0;
  for (const v of train.images) sum += v;
  const mean = sum / train.images.length;
  assert.ok(Math.abs(mean - DATASET_MEANS["fashion-mnist"][0]) < 5e-4, `mean ${mean}`);
  assert.equal(train.labels[0], 9); // the first training image is an ankle boot
});

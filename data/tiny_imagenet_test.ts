/**
 * Tests of the Tiny-ImageNet reader on a generated miniature folder (colour JPEGs from jpeg-js
 * and hand-built grayscale JPEGs).
 * @module
 */

import assert from "node:assert/strict";
import { decodeJpegChw, readTinyImagenet } from "./tiny_imagenet.ts";
import { loadDataset } from "./load.ts";
import { grayJpeg, rgbJpeg, writeTinyImagenet } from "./fixtures_test.ts";

Deno.test("decodeJpegChw: colour to CHW, grayscale expanded to 3 equal channels", () => {
  const red = decodeJpegChw(rgbJpeg(8, 8, [255, 0, 0]), "red.jpg");
  assert.equal(red.width, 8);
  assert.equal(red.data.length, 3 * 64);
  assert.ok(red.data[0] > 0.95 && red.data[64] < 0.05 && red.data[128] < 0.05);
  const gray = decodeJpegChw(grayJpeg(200), "gray.jpg");
  assert.equal(gray.data.length, 3 * 64);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < 64; p++) assert.ok(Math.abs(gray.data[c * 64 + p] - 200 / 255) < 1.5 / 255);
  }
  const dark = decodeJpegChw(grayJpeg(40), "dark.jpg");
  assert.ok(Math.abs(dark.data[100] - 40 / 255) < 1.5 / 255);
  assert.throws(() => decodeJpegChw(new Uint8Array([1, 2, 3]), "junk.JPEG"), {
    message: /^junk\.JPEG: cannot decode JPEG/,
  });
});

Deno.test("readTinyImagenet: sorted wnids, round-robin train order, val annotations", async () => {
  const root = await Deno.makeTempDir({ prefix: "sll-tiny-" });
  try {
    const dir = await writeTinyImagenet(root);
    const { train, test } = await readTinyImagenet(dir);
    assert.equal(train.numClasses, 2);
    assert.deepEqual(train.shape, [3, 8, 8]);
    assert.equal(train.n, 4);
    // sorted: n01 → 0, n02 → 1; round robin: n01_0, n02_0, n01_1, n02_1
    assert.deepEqual(Array.from(train.labels), [0, 1, 0, 1]);
    const px = (ds: typeof train, i: number, c: number) => ds.images[i * 192 + c * 64 + 27];
    assert.ok(px(train, 0, 0) > 0.95); // red
    assert.ok(px(train, 1, 2) > 0.95 && px(train, 1, 0) < 0.05); // blue
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(px(train, 2, c) - 200 / 255) < 1.5 / 255); // gray
    assert.ok(px(train, 3, 1) > 0.95); // green
    assert.deepEqual(Array.from(test.labels), [1, 0, 1]);
    assert.ok(Math.abs(px(test, 1, 2) - 40 / 255) < 1.5 / 255);
    for (const v of train.images) assert.ok(v >= 0 && v <= 1);
    const lim = await readTinyImagenet(dir, { limitTrain: 2, limitTest: 1 });
    assert.deepEqual(Array.from(lim.train.labels), [0, 1]); // balanced prefix
    assert.equal(lim.test.n, 1);
    // found through loadDataset with the tiny-imagenet-200/ sub-layout
    const viaLoad = await loadDataset("tiny-imagenet", { dataDir: root });
    assert.deepEqual(viaLoad.train.images, train.images);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("readTinyImagenet: unknown wnid and mixed sizes are named", async () => {
  const root = await Deno.makeTempDir({ prefix: "sll-tiny-" });
  try {
    const dir = await writeTinyImagenet(root);
    await Deno.writeTextFile(`${dir}/val/val_annotations.txt`, "val_0.JPEG\tn99\t0\t0\t1\t1\n");
    await assert.rejects(() => readTinyImagenet(dir), {
      message: /val_annotations\.txt: line 1 is "val_0\.JPEG\tn99/,
    });
    await Deno.writeTextFile(`${dir}/val/val_annotations.txt`, "val_0.JPEG\tn01\t0\t0\t1\t1\n");
    await Deno.writeFile(`${dir}/train/n02/images/n02_1.JPEG`, rgbJpeg(16, 8, [1, 2, 3]));
    await assert.rejects(() => readTinyImagenet(dir), {
      message: /n02_1\.JPEG: image is 16×8, expected 8×8/,
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/**
 * Tiny-ImageNet-200 reader over the extracted `tiny-imagenet-200/` folder: `wnids.txt`,
 * `train/<wnid>/images/*.JPEG` and `val/val_annotations.txt` + `val/images/`. JPEGs are decoded
 * with jpeg-js; grayscale images are expanded to 3 equal channels. Class index = position of the
 * wnid in sorted order (torchvision ImageFolder's convention). The val split serves as test.
 * @module
 */

import jpeg from "jpeg-js";
import { join } from "node:path";
import type { Dataset, Split } from "./dataset.ts";
import type { ProgressCallback } from "./download.ts";

/**
 * Decodes one JPEG to CHW floats in [0, 1] with 3 channels (grayscale is replicated).
 *
 * @example
 * ```ts
 * import jpeg from "jpeg-js";
 * import { decodeJpegChw } from "@sll/sll/data";
 * const rgba = new Uint8Array(2 * 2 * 4).fill(255);
 * const file = jpeg.encode({ data: rgba, width: 2, height: 2 }, 90).data;
 * decodeJpegChw(new Uint8Array(file), "white.jpg").height; // 2
 * ```
 */
export function decodeJpegChw(
  bytes: Uint8Array,
  file: string,
): { data: Float32Array; width: number; height: number } {
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
  } catch (e) {
    throw new Error(
      `${file}: cannot decode JPEG (${(e as Error).message}); the file is corrupt: ` +
        `extract tiny-imagenet-200.zip again`,
    );
  }
  const { width, height, data } = img;
  const plane = width * height;
  const channels = data.length / plane;
  if (channels !== 3 && channels !== 1) {
    throw new Error(
      `${file}: decoded ${data.length} bytes for ${width}×${height}, expected 1 or 3 channels`,
    );
  }
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      out[c * plane + p] = data[channels === 3 ? p * 3 + c : p] / 255;
    }
  }
  return { data: out, width, height };
}

function readText(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (e) {
    throw new Error(
      `${path}: cannot read (${(e as Error).message}); expected the extracted ` +
        `tiny-imagenet-200/ folder of http://cs231n.stanford.edu/tiny-imagenet-200.zip`,
    );
  }
}

async function decodeAll(
  files: readonly string[],
  labels: readonly number[],
  name: string,
  numClasses: number,
  onProgress?: ProgressCallback,
): Promise<Dataset> {
  const n = files.length;
  let images = new Float32Array(0);
  let size: [number, number] | undefined;
  for (let i = 0; i < n; i++) {
    const img = decodeJpegChw(await Deno.readFile(files[i]), files[i]);
    if (size === undefined) {
      size = [img.height, img.width];
      try {
        images = new Float32Array(n * img.data.length);
      } catch {
        throw new RangeError(
          `${name}: ${n} images of 3×${img.height}×${img.width} floats do not fit in one ` +
            `array; pass limitTrain/limitTest to load fewer`,
        );
      }
    } else if (img.height !== size[0] || img.width !== size[1]) {
      throw new Error(
        `${files[i]}: image is ${img.width}×${img.height}, expected ${size[1]}×${size[0]} ` +
          `like ${files[0]}`,
      );
    }
    images.set(img.data, i * img.data.length);
    if (onProgress && (i % 1000 === 999 || i === n - 1)) {
      onProgress({ phase: "decode", file: name, loaded: i + 1, total: n });
    }
  }
  const [h, w] = size ?? [64, 64];
  return {
    name,
    images,
    labels: Int32Array.from(labels),
    n,
    shape: [3, h, w],
    numClasses,
  };
}

/**
 * Reads Tiny-ImageNet from its extracted folder. Training images are ordered round-robin over
 * classes (image 0 of every class, then image 1, …), so `limitTrain` keeps classes balanced.
 * The full training split is 100 000 × 3 × 64 × 64 floats (4.9 GB): use `limitTrain` on small
 * machines.
 *
 * @example
 * ```ts ignore
 * // not run: needs the Tiny ImageNet files on disk
 * import { readTinyImagenet } from "@sll/sll/data";
 * const { train, test } = await readTinyImagenet("data/tiny-imagenet/tiny-imagenet-200", {
 *   limitTrain: 2000,
 * });
 * ```
 */
export async function readTinyImagenet(
  dir: string,
  opts: { limitTrain?: number; limitTest?: number; onProgress?: ProgressCallback } = {},
): Promise<Split> {
  const wnidFile = join(dir, "wnids.txt");
  const wnids = readText(wnidFile).split(/\r?\n/).map((s) => s.trim()).filter((s) => s !== "")
    .sort();
  if (wnids.length === 0) {
    throw new Error(`${wnidFile}: no class ids found, expected one wnid a line`);
  }
  const classOf = new Map(wnids.map((w, i) => [w, i]));
  const perClass: string[][] = wnids.map((wnid) => {
    const imgDir = join(dir, "train", wnid, "images");
    let names: string[];
    try {
      names = [...Deno.readDirSync(imgDir)]
        .filter((e) => e.isFile && /\.jpe?g$/i.test(e.name))
        .map((e) => e.name)
        .sort();
    } catch (e) {
      throw new Error(
        `${imgDir}: cannot list (${(e as Error).message}); every wnid of wnids.txt needs ` +
          `train/<wnid>/images/*.JPEG`,
      );
    }
    return names.map((f) => join(imgDir, f));
  });
  const trainFiles: string[] = [];
  const trainLabels: number[] = [];
  const longest = Math.max(...perClass.map((f) => f.length));
  const limitTrain = opts.limitTrain ?? Infinity;
  for (let j = 0; j < longest && trainFiles.length < limitTrain; j++) {
    for (let c = 0; c < wnids.length && trainFiles.length < limitTrain; c++) {
      if (j < perClass[c].length) {
        trainFiles.push(perClass[c][j]);
        trainLabels.push(c);
      }
    }
  }
  const annFile = join(dir, "val", "val_annotations.txt");
  const testFiles: string[] = [];
  const testLabels: number[] = [];
  const lines = readText(annFile).split(/\r?\n/);
  const limitTest = opts.limitTest ?? Infinity;
  for (let i = 0; i < lines.length && testFiles.length < limitTest; i++) {
    if (lines[i].trim() === "") continue;
    const [file, wnid] = lines[i].split("\t");
    const c = classOf.get(wnid);
    if (file === undefined || c === undefined) {
      throw new Error(
        `${annFile}: line ${i + 1} is "${lines[i]}", expected "<file>\\t<wnid from wnids.txt>\\t…"`,
      );
    }
    testFiles.push(join(dir, "val", "images", file));
    testLabels.push(c);
  }
  const k = wnids.length;
  const train = await decodeAll(trainFiles, trainLabels, "tiny-imagenet/train", k, opts.onProgress);
  const test = await decodeAll(testFiles, testLabels, "tiny-imagenet/test", k, opts.onProgress);
  return { train, test };
}

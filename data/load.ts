/**
 * Finding, downloading and parsing the named datasets. A given `dataDir` is the only place
 * looked at (as `<dir>` and `<dir>/<dataset>`: no fallback to another copy); without it the
 * search order is `$SLL_DATA_DIR/<dataset>` and `$SLL_DATA_DIR`, `./data/<dataset>`, and for
 * Fashion-MNIST the Debian location. The loaded `Split` lists the files it was read from. Downloads come from the official mirrors, are checked against the published
 * md5 checksums before anything is written, and land in the first search directory.
 * @module
 */

import { unzipSync } from "fflate";
import { join } from "node:path";
import { readCifar } from "./cifar.ts";
import type { DatasetName, Split } from "./dataset.ts";
import { fetchBytes, type ProgressCallback, verifyChecksum } from "./download.ts";
import { writeFileAtomic } from "../io/files.ts";
import { envVar } from "../kernels/env.ts";
import { idxToDataset, maybeGunzip, readIdx } from "./idx.ts";
import { readTar } from "./tar.ts";
import { readTinyImagenet } from "./tiny_imagenet.ts";

/** Where Debian's `dataset-fashion-mnist` package installs Fashion-MNIST. */
export const DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

/** One file (or archive) a dataset is downloaded as. */
export interface DownloadFile {
  /** File name on the mirror, appended to the base URL. */
  file: string;
  /** Published checksum, "md5:<hex>" or "sha256:<hex>". */
  checksum: string;
}

/** How a dataset is laid out on disk and where it comes from. */
export interface DatasetSource {
  /** Official mirror; file names are appended. */
  baseUrl: string;
  /** What to fetch from the mirror. */
  downloads: readonly DownloadFile[];
  /** Subdirectories (relative to a search directory) that may hold the files; "" = itself. */
  layouts: readonly string[];
  /**
   * Files that must exist in the directory; for idx datasets each may also be gzip-compressed
   * with a `.gz` suffix.
   */
  required: readonly string[];
  /** Subdirectory an archive download is extracted to ("" for idx files written as-is). */
  extractTo: string;
}

const IDX_FILES = [
  "train-images-idx3-ubyte",
  "train-labels-idx1-ubyte",
  "t10k-images-idx3-ubyte",
  "t10k-labels-idx1-ubyte",
] as const;

const CIFAR10_FILES = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`).concat("test_batch.bin");

/**
 * Mirrors, published checksums and on-disk layouts of every dataset. The md5 sums are the ones
 * published by the dataset authors (CIFAR, Fashion-MNIST) and used by torchvision (MNIST,
 * Tiny-ImageNet).
 *
 * @example
 * ```ts
 * import { DATASET_SOURCES } from "@sll/sll/data";
 * DATASET_SOURCES.cifar10.downloads[0].file; // "cifar-10-binary.tar.gz"
 * ```
 */
export const DATASET_SOURCES: Readonly<Record<DatasetName, DatasetSource>> = {
  "fashion-mnist": {
    baseUrl: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    downloads: [
      { file: "train-images-idx3-ubyte.gz", checksum: "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d" },
      { file: "train-labels-idx1-ubyte.gz", checksum: "md5:25c81989df183df01b3e8a0aad5dffbe" },
      { file: "t10k-images-idx3-ubyte.gz", checksum: "md5:bef4ecab320f06d8554ea6380940ec79" },
      { file: "t10k-labels-idx1-ubyte.gz", checksum: "md5:bb300cfdad3c16e7a12a480ee83cd310" },
    ],
    layouts: ["", "raw", "FashionMNIST/raw"],
    required: IDX_FILES,
    extractTo: "",
  },
  mnist: {
    baseUrl: "https://ossci-datasets.s3.amazonaws.com/mnist/",
    downloads: [
      { file: "train-images-idx3-ubyte.gz", checksum: "md5:f68b3c2dcbeaaa9fbdd348bbdeb94873" },
      { file: "train-labels-idx1-ubyte.gz", checksum: "md5:d53e105ee54ea40749a09fcbcd1e9432" },
      { file: "t10k-images-idx3-ubyte.gz", checksum: "md5:9fb629c4189551a2d022fa330f9573f3" },
      { file: "t10k-labels-idx1-ubyte.gz", checksum: "md5:ec29112dd5afa0611ce80d1b7f02629c" },
    ],
    layouts: ["", "raw", "MNIST/raw"],
    required: IDX_FILES,
    extractTo: "",
  },
  cifar10: {
    baseUrl: "https://www.cs.toronto.edu/~kriz/",
    downloads: [
      { file: "cifar-10-binary.tar.gz", checksum: "md5:c32a1d4ab5d03f1284b67883e8d87530" },
    ],
    layouts: ["", "cifar-10-batches-bin"],
    required: CIFAR10_FILES,
    extractTo: "cifar-10-batches-bin",
  },
  cifar100: {
    baseUrl: "https://www.cs.toronto.edu/~kriz/",
    downloads: [
      { file: "cifar-100-binary.tar.gz", checksum: "md5:03b5dce01913d631647c71ecec9e9cb8" },
    ],
    layouts: ["", "cifar-100-binary"],
    required: ["train.bin", "test.bin"],
    extractTo: "cifar-100-binary",
  },
  "tiny-imagenet": {
    baseUrl: "http://cs231n.stanford.edu/",
    downloads: [
      { file: "tiny-imagenet-200.zip", checksum: "md5:90528d7ca1a48142e341f4ef8d21d0de" },
    ],
    layouts: ["", "tiny-imagenet-200"],
    required: ["wnids.txt", "val/val_annotations.txt"],
    extractTo: "tiny-imagenet-200",
  },
};

/** Options of `loadDataset`. */
export interface LoadOptions {
  /** The only directory looked in (as `<dir>` and `<dir>/<dataset>`); downloads go here. */
  dataDir?: string;
  /** Download from the official mirror when the files are not found (default false). */
  download?: boolean;
  /** Keep only the first `limitTrain` training examples. */
  limitTrain?: number;
  /** Keep only the first `limitTest` test examples. */
  limitTest?: number;
  /** Progress of downloads and decoding. */
  onProgress?: ProgressCallback;
  /** Base URL replacing the official mirror (a local copy, or a test server). */
  mirror?: string;
  /** Checksums replacing the published ones, by download file name ("md5:…"/"sha256:…"). */
  checksums?: Readonly<Record<string, string>>;
}

/** A directory `loadDataset` searches, and why (for error messages). */
export interface SearchDir {
  /** The directory. */
  dir: string;
  /** Where it came from: "dataDir", "SLL_DATA_DIR", "default" or the Debian package. */
  why: string;
}

function envDataDir(): string | undefined {
  return envVar("SLL_DATA_DIR") || undefined; // an empty value counts as unset
}

/**
 * The directories `loadDataset` searches for `name`, in order, each with the reason it is
 * searched (for error messages).
 *
 * @example
 * ```ts
 * import { searchDirs } from "@sll/sll/data";
 * searchDirs("cifar10", { dataDir: "/datasets" })[0]; // { dir: "/datasets", why: "dataDir" }
 * ```
 */
export function searchDirs(name: DatasetName, opts: LoadOptions = {}): SearchDir[] {
  const out: SearchDir[] = [];
  if (opts.dataDir) {
    // authoritative: a file missing there must not be taken silently from another copy
    return [
      { dir: opts.dataDir, why: "dataDir" },
      { dir: join(opts.dataDir, name), why: "dataDir" },
    ];
  }
  const env = envDataDir();
  if (env) {
    out.push({ dir: join(env, name), why: "SLL_DATA_DIR" });
    out.push({ dir: env, why: "SLL_DATA_DIR" });
  }
  out.push({ dir: join("data", name), why: "default" });
  if (name === "fashion-mnist") {
    out.push({ dir: DEBIAN_FASHION_MNIST_DIR, why: "Debian package dataset-fashion-mnist" });
  }
  return out;
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** For idx datasets a file may be stored raw or gzipped; returns the path that exists. */
function resolveFile(dir: string, file: string, idx: boolean): string | undefined {
  const plain = join(dir, file);
  if (idx && isFile(plain + ".gz")) return plain + ".gz";
  return isFile(plain) ? plain : undefined;
}

/**
 * Finds the directory holding every required file of `name`, or undefined.
 *
 * @example
 * ```ts
 * import { locateDataset } from "@sll/sll/data";
 * const dir = locateDataset("fashion-mnist"); // e.g. "/usr/share/datasets/fashion-mnist"
 * ```
 */
export function locateDataset(name: DatasetName, opts: LoadOptions = {}): string | undefined {
  const src = DATASET_SOURCES[name];
  const idx = src.extractTo === "";
  for (const { dir } of searchDirs(name, opts)) {
    for (const layout of src.layouts) {
      const d = layout ? join(dir, layout) : dir;
      if (src.required.every((f) => resolveFile(d, f, idx) !== undefined)) return d;
    }
  }
  return undefined;
}

function downloadDir(name: DatasetName, opts: LoadOptions): string {
  if (opts.dataDir) return opts.dataDir;
  const env = envDataDir();
  return env ? join(env, name) : join("data", name);
}

function missingMessage(name: DatasetName, opts: LoadOptions, cause?: string): string {
  const src = DATASET_SOURCES[name];
  const base = opts.mirror ?? src.baseUrl;
  const lines = [
    cause
      ? `Dataset "${name}" is not on disk and downloading it failed: ${cause}`
      : `Dataset "${name}" not found.`,
    "Looked in:",
    ...searchDirs(name, opts).map((c) => `  ${c.dir}  (${c.why})`),
  ];
  const where = src.layouts.filter((l) => l !== "").map((l) => `"${l}/"`).join(" or ");
  lines.push(
    `Put these files into one of those directories${
      where ? ` (or its subdirectory ${where})` : ""
    }:`,
  );
  const idx = src.extractTo === "";
  for (const f of src.required) lines.push(`  ${f}${idx ? "(.gz)" : ""}`);
  if (name === "tiny-imagenet") {
    lines.push("  train/<wnid>/images/*.JPEG, val/images/*.JPEG");
  }
  lines.push("They come from:");
  for (const d of src.downloads) lines.push(`  ${base}${d.file}`, `    ${d.checksum}`);
  if (name === "cifar10" || name === "cifar100") {
    lines.push(`  extract with: tar xzf ${src.downloads[0].file}`);
  } else if (name === "tiny-imagenet") {
    lines.push(`  extract with: unzip ${src.downloads[0].file}`);
  } else if (name === "fashion-mnist") {
    lines.push("  or on Debian/Ubuntu: apt-get install dataset-fashion-mnist");
  }
  lines.push(
    "Then point at them with --data-dir <dir> (CLI) or the dataDir option,",
    "or set the environment variable SLL_DATA_DIR=<dir>.",
  );
  if (!cause) {
    lines.push("Or let it download: run without --offline (CLI), or pass download: true.");
  }
  return lines.join("\n");
}

async function downloadInto(name: DatasetName, dir: string, opts: LoadOptions): Promise<void> {
  const src = DATASET_SOURCES[name];
  const base = opts.mirror ?? src.baseUrl;
  for (const d of src.downloads) {
    const url = base + d.file;
    let bytes: Uint8Array;
    try {
      bytes = await fetchBytes(url, opts.onProgress);
    } catch (e) {
      throw new Error(missingMessage(name, opts, `${url}: ${(e as Error).message}`));
    }
    await verifyChecksum(bytes, opts.checksums?.[d.file] ?? d.checksum, url);
    if (src.extractTo === "") {
      await writeFileAtomic(join(dir, d.file), bytes);
    } else if (d.file.endsWith(".zip")) {
      const files = unzipSync(bytes);
      for (const [path, data] of Object.entries(files)) {
        if (path.endsWith("/") || path.split("/").includes("..")) continue;
        await writeFileAtomic(join(dir, path), data);
      }
    } else {
      // tar.gz: keep only the expected .bin files, flattened into extractTo/
      const entries = readTar(maybeGunzip(bytes, url), url);
      const wanted = new Set(src.required);
      const found = new Set<string>();
      for (const e of entries) {
        const baseName = e.name.slice(e.name.lastIndexOf("/") + 1);
        if (!wanted.has(baseName)) continue;
        await writeFileAtomic(join(dir, src.extractTo, baseName), e.data);
        found.add(baseName);
      }
      const missing = src.required.filter((f) => !found.has(f));
      if (missing.length > 0) {
        throw new Error(`${url}: archive lacks ${missing.join(", ")}; expected the binary version`);
      }
    }
  }
}

async function parse(name: DatasetName, dir: string, opts: LoadOptions): Promise<Split> {
  if (name === "tiny-imagenet") {
    return { ...await readTinyImagenet(dir, opts), files: [dir] };
  }
  const src = DATASET_SOURCES[name];
  const files: string[] = [];
  const read = (f: string) => {
    const path = resolveFile(dir, f, src.extractTo === "");
    if (path === undefined) throw new Error(`${join(dir, f)}: file vanished while loading`);
    files.push(path);
    return { path, bytes: Deno.readFileSync(path) };
  };
  if (name === "fashion-mnist" || name === "mnist") {
    const split = (prefix: "train" | "t10k", limit?: number) => {
      const im = read(`${prefix}-images-idx3-ubyte`);
      const lb = read(`${prefix}-labels-idx1-ubyte`);
      opts.onProgress?.({ phase: "decode", file: im.path, loaded: 0 });
      return idxToDataset(
        readIdx(im.bytes, im.path, "images"),
        readIdx(lb.bytes, lb.path, "labels"),
        {
          name: `${name}/${prefix === "train" ? "train" : "test"}`,
          numClasses: 10,
          limit,
          files: [im.path, lb.path],
        },
      );
    };
    return { train: split("train", opts.limitTrain), test: split("t10k", opts.limitTest), files };
  }
  const readAll = (list: readonly string[]) =>
    list.map((f) => {
      const { path, bytes } = read(f);
      return { file: path, bytes };
    });
  if (name === "cifar10") {
    return {
      train: readCifar(readAll(CIFAR10_FILES.slice(0, 5)), name, "cifar10/train", opts.limitTrain),
      test: readCifar(readAll(["test_batch.bin"]), name, "cifar10/test", opts.limitTest),
      files,
    };
  }
  return {
    train: readCifar(readAll(["train.bin"]), name, "cifar100/train", opts.limitTrain),
    test: readCifar(readAll(["test.bin"]), name, "cifar100/test", opts.limitTest),
    files,
  };
}

/**
 * Loads the train and test splits of a dataset into host memory (pixels in [0, 1], NCHW).
 * Searches the directories of `searchDirs`; when nothing is found and `download` is true,
 * fetches the official files, verifies their checksums and stores them in `dataDir` (else
 * `$SLL_DATA_DIR/<name>`, else `./data/<name>`). Otherwise throws an Error listing the files to
 * provide, where to put them and how to point at them.
 *
 * @example
 * ```ts ignore
 * // not run: needs the Fashion-MNIST files on disk (or a download)
 * import { loadDataset } from "@sll/sll/data";
 * const { train, test } = await loadDataset("fashion-mnist", { limitTrain: 1000 });
 * console.log(train.n, train.shape); // 1000 [1, 28, 28]
 * ```
 */
export async function loadDataset(name: DatasetName, opts: LoadOptions = {}): Promise<Split> {
  if (!(name in DATASET_SOURCES)) {
    throw new RangeError(
      `loadDataset: unknown dataset "${name}", expected one of ` +
        Object.keys(DATASET_SOURCES).join(", "),
    );
  }
  let dir = locateDataset(name, opts);
  if (dir === undefined) {
    if (!opts.download) throw new Error(missingMessage(name, opts));
    const target = downloadDir(name, opts);
    await downloadInto(name, target, opts);
    dir = locateDataset(name, { ...opts, dataDir: target });
    if (dir === undefined) {
      throw new Error(`${target}: download finished but the files are still incomplete`);
    }
  }
  return await parse(name, dir, opts);
}

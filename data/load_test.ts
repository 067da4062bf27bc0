/**
 * Tests of locating and downloading datasets: search order and sub-layouts, downloads from a
 * local mirror (good and bad checksums, idx, CIFAR tar.gz, Tiny-ImageNet zip), the offline and
 * missing-files messages, and the Debian Fashion-MNIST fallback.
 * @module
 */

import assert from "node:assert/strict";
import { gzipSync, zipSync } from "fflate";
import { join } from "node:path";
import { DEBIAN_FASHION_MNIST_DIR, loadDataset, locateDataset, searchDirs } from "./load.ts";
import { digestHex, type Progress, verifyChecksum } from "./download.ts";
import { createTar } from "./tar.ts";
import { makeCifar, makeIdxPair, serveFiles, writeTinyImagenet } from "./fixtures_test.ts";

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sll-data-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function withEnv(value: string | undefined, fn: () => Promise<void>): Promise<void> {
  const old = Deno.env.get("SLL_DATA_DIR");
  if (value === undefined) Deno.env.delete("SLL_DATA_DIR");
  else Deno.env.set("SLL_DATA_DIR", value);
  try {
    await fn();
  } finally {
    if (old === undefined) Deno.env.delete("SLL_DATA_DIR");
    else Deno.env.set("SLL_DATA_DIR", old);
  }
}

/** Generated Fashion-MNIST-like files: 12 train and 5 test images of 4×4, gzipped. */
function idxFiles(): Record<string, Uint8Array> {
  const tr = makeIdxPair(12);
  const te = makeIdxPair(5);
  const gz = (b: Uint8Array) => new Uint8Array(gzipSync(b));
  return {
    "train-images-idx3-ubyte.gz": gz(tr.images),
    "train-labels-idx1-ubyte.gz": gz(tr.labels),
    "t10k-images-idx3-ubyte.gz": gz(te.images),
    "t10k-labels-idx1-ubyte.gz": gz(te.labels),
  };
}

async function sha256s(files: Record<string, Uint8Array>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(files)) out[k] = `sha256:${await digestHex(v, "sha256")}`;
  return out;
}

Deno.test("digests and verifyChecksum", async () => {
  const abc = new TextEncoder().encode("abc");
  assert.equal(
    await digestHex(abc, "sha256"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(await digestHex(abc, "md5"), "900150983cd24fb0d6963f7d28e17f72");
  await verifyChecksum(abc, "md5:900150983CD24FB0D6963F7D28E17F72", "abc");
  await assert.rejects(() => verifyChecksum(abc, "md5:00000000000000000000000000000000", "x.gz"), {
    message:
      /^checksum mismatch for x\.gz: expected md5 0{32}, got 900150983cd24fb0d6963f7d28e17f72/,
  });
  await assert.rejects(() => verifyChecksum(abc, "crc:1234", "x"), {
    message: /expected "md5:<32 hex digits>"/,
  });
});

Deno.test("search order: a given dataDir only; else $SLL_DATA_DIR/<name>, $SLL_DATA_DIR, ./data", async () => {
  await withEnv("/env", () => {
    const only = searchDirs("fashion-mnist", { dataDir: "/opt" }).map((c) => c.dir);
    assert.deepEqual(only, ["/opt", "/opt/fashion-mnist"]);
    const dirs = searchDirs("fashion-mnist").map((c) => c.dir);
    assert.deepEqual(dirs, [
      "/env/fashion-mnist",
      "/env",
      "data/fashion-mnist",
      DEBIAN_FASHION_MNIST_DIR,
    ]);
    assert.deepEqual(searchDirs("cifar10").map((c) => c.dir), [
      "/env/cifar10",
      "/env",
      "data/cifar10",
    ]);
    return Promise.resolve();
  });
});

Deno.test("locates sub-layouts: raw idx files under FashionMNIST/raw, cifar-10-batches-bin", async () => {
  await withTemp(async (root) => {
    const raw = join(root, "fashion-mnist", "FashionMNIST", "raw");
    await Deno.mkdir(raw, { recursive: true });
    const tr = makeIdxPair(7), te = makeIdxPair(3);
    await Deno.writeFile(join(raw, "train-images-idx3-ubyte"), tr.images);
    await Deno.writeFile(join(raw, "train-labels-idx1-ubyte"), tr.labels);
    await Deno.writeFile(join(raw, "t10k-images-idx3-ubyte"), te.images);
    await Deno.writeFile(join(raw, "t10k-labels-idx1-ubyte.gz"), gzipSync(te.labels));
    await withEnv(root, async () => {
      assert.equal(locateDataset("fashion-mnist"), raw);
      const { train, test } = await loadDataset("fashion-mnist", { limitTest: 2 });
      assert.deepEqual([train.n, test.n], [7, 2]);
      assert.deepEqual(train.shape, [1, 4, 4]);
      assert.equal(train.name, "fashion-mnist/train");
    });
    const bin = join(root, "c10", "cifar-10-batches-bin");
    await Deno.mkdir(bin, { recursive: true });
    for (let i = 1; i <= 5; i++) {
      await Deno.writeFile(join(bin, `data_batch_${i}.bin`), makeCifar(2, "cifar10", i));
    }
    await Deno.writeFile(join(bin, "test_batch.bin"), makeCifar(3, "cifar10"));
    const c = await loadDataset("cifar10", { dataDir: join(root, "c10"), limitTrain: 9 });
    assert.deepEqual([c.train.n, c.test.n], [9, 3]);
    assert.deepEqual(Array.from(c.train.labels), [1, 2, 2, 3, 3, 4, 4, 5, 5]);
  });
});

Deno.test("download from a mirror: progress, checksums, atomic files, then found locally", async () => {
  const files = idxFiles();
  const server = serveFiles(files);
  try {
    await withTemp(async (dir) => {
      const progress: Progress[] = [];
      const opts = {
        dataDir: dir,
        download: true,
        mirror: server.url,
        checksums: await sha256s(files),
        onProgress: (p: Progress) => progress.push(p),
      };
      const { train, test } = await loadDataset("mnist", opts);
      assert.deepEqual([train.n, test.n], [12, 5]);
      assert.deepEqual(Array.from(test.labels), [0, 1, 2, 3, 4]);
      assert.deepEqual(server.requests.sort(), Object.keys(files).sort());
      const last = progress.filter((p) =>
        p.phase === "download" && p.file.endsWith("t10k-images-idx3-ubyte.gz")
      ).at(-1);
      assert.equal(last?.loaded, files["t10k-images-idx3-ubyte.gz"].length);
      assert.equal(last?.total, last?.loaded);
      const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
      assert.deepEqual(names, Object.keys(files).sort()); // no temp files left
      await loadDataset("mnist", opts); // second time: found on disk, nothing fetched
      assert.equal(server.requests.length, 4);
    });
  } finally {
    await server.close();
  }
});

Deno.test("download with a bad checksum fails and writes nothing", async () => {
  const files = idxFiles();
  const server = serveFiles(files);
  try {
    await withTemp(async (dir) => {
      // the published md5 of the real file cannot match the generated bytes
      await assert.rejects(
        () =>
          loadDataset("mnist", {
            dataDir: join(dir, "f"),
            download: true,
            mirror: server.url,
          }),
        (e: Error) => {
          assert.match(
            e.message,
            /^checksum mismatch for http:\/\/127\.0\.0\.1:\d+\/train-images-idx3-ubyte\.gz/,
          );
          assert.match(
            e.message,
            /expected md5 f68b3c2dcbeaaa9fbdd348bbdeb94873, got [0-9a-f]{32}/,
          );
          return true;
        },
      );
      const tampered = {
        ...(await sha256s(files)),
        "t10k-labels-idx1-ubyte.gz": `sha256:${"0".repeat(64)}`,
      };
      await assert.rejects(
        () =>
          loadDataset("mnist", {
            dataDir: join(dir, "m"),
            download: true,
            mirror: server.url,
            checksums: tampered,
          }),
        { message: /checksum mismatch for .*t10k-labels-idx1-ubyte\.gz: expected sha256 0{64}/ },
      );
      assert.deepEqual([...Deno.readDirSync(join(dir))].map((e) => e.name), ["m"]); // nothing in f
      assert.deepEqual(
        [...Deno.readDirSync(join(dir, "m"))].map((e) => e.name).includes(
          "t10k-labels-idx1-ubyte.gz",
        ),
        false,
      );
    });
  } finally {
    await server.close();
  }
});

Deno.test("download CIFAR-10/100 tar.gz and Tiny-ImageNet zip from a mirror", async () => {
  await withTemp(async (root) => {
    const c10 = createTar([
      ...[1, 2, 3, 4, 5].map((i) => ({
        name: `cifar-10-batches-bin/data_batch_${i}.bin`,
        data: makeCifar(1, "cifar10", i),
      })),
      { name: "cifar-10-batches-bin/test_batch.bin", data: makeCifar(2, "cifar10") },
      {
        name: "cifar-10-batches-bin/batches.meta.txt",
        data: new TextEncoder().encode("airplane\n"),
      },
    ]);
    const c100 = createTar([
      { name: "cifar-100-binary/train.bin", data: makeCifar(3, "cifar100", 90) },
      { name: "cifar-100-binary/test.bin", data: makeCifar(1, "cifar100", 5) },
    ]);
    const tinySrc = await writeTinyImagenet(join(root, "src"));
    const zipInput: Record<string, Uint8Array> = {};
    const walk = (dir: string, rel: string) => {
      for (const e of Deno.readDirSync(dir)) {
        if (e.isDirectory) walk(join(dir, e.name), `${rel}${e.name}/`);
        else zipInput[`${rel}${e.name}`] = Deno.readFileSync(join(dir, e.name));
      }
    };
    walk(tinySrc, "tiny-imagenet-200/");
    const files = {
      "cifar-10-binary.tar.gz": new Uint8Array(gzipSync(c10)),
      "cifar-100-binary.tar.gz": new Uint8Array(gzipSync(c100)),
      "tiny-imagenet-200.zip": zipSync(zipInput),
    };
    const checksums: Record<string, string> = {};
    for (const [k, v] of Object.entries(files)) checksums[k] = `md5:${await digestHex(v, "md5")}`;
    const server = serveFiles(files);
    try {
      const base = { download: true, mirror: server.url, checksums };
      const a = await loadDataset("cifar10", { ...base, dataDir: join(root, "c10") });
      assert.deepEqual(Array.from(a.train.labels), [1, 2, 3, 4, 5]);
      assert.equal(a.test.n, 2);
      assert.deepEqual(
        [...Deno.readDirSync(join(root, "c10", "cifar-10-batches-bin"))].map((e) => e.name).sort(),
        [
          "data_batch_1.bin",
          "data_batch_2.bin",
          "data_batch_3.bin",
          "data_batch_4.bin",
          "data_batch_5.bin",
          "test_batch.bin",
        ],
      );
      const b = await loadDataset("cifar100", { ...base, dataDir: join(root, "c100") });
      assert.deepEqual(Array.from(b.train.labels), [90, 91, 92]);
      const t = await loadDataset("tiny-imagenet", { ...base, dataDir: join(root, "tiny") });
      assert.deepEqual(Array.from(t.train.labels), [0, 1, 0, 1]);
      assert.equal(t.test.n, 3);
    } finally {
      await server.close();
    }
  });
});

Deno.test("offline: the error lists the files, the directories and how to point at them", async () => {
  // a port nothing listens on: open a server, note its port, close it
  const gone = serveFiles({});
  await gone.close();
  await withTemp(async (dir) => {
    await withEnv(undefined, async () => {
      await assert.rejects(
        () => loadDataset("cifar10", { dataDir: dir, download: true, mirror: gone.url }),
        (e: Error) => {
          const m = e.message;
          assert.match(
            m,
            /^Dataset "cifar10" is not on disk and downloading it failed: http:\/\/127\.0\.0\.1:\d+\/cifar-10-binary\.tar\.gz: /,
          );
          assert.ok(m.includes(`  ${dir}  (dataDir)`), m);
          assert.ok(m.includes(`  ${join(dir, "cifar10")}  (dataDir)`), m);
          assert.ok(!m.includes("data/cifar10  (default)"), m); // --data-dir is the only place
          assert.match(m, /subdirectory "cifar-10-batches-bin\/"/);
          for (const f of ["data_batch_1.bin", "data_batch_5.bin", "test_batch.bin"]) {
            assert.ok(m.includes(`  ${f}\n`), f);
          }
          assert.match(m, /cifar-10-binary\.tar\.gz\n {4}md5:c32a1d4ab5d03f1284b67883e8d87530/);
          assert.match(m, /tar xzf cifar-10-binary\.tar\.gz/);
          assert.match(m, /--data-dir <dir> \(CLI\) or the dataDir option,\n.*SLL_DATA_DIR=<dir>/);
          return true;
        },
      );
      // not allowed to download: same listing, plus how to allow it
      await assert.rejects(() => loadDataset("mnist", { dataDir: dir }), (e: Error) => {
        assert.match(e.message, /^Dataset "mnist" not found\.\nLooked in:/);
        assert.ok(e.message.includes("  train-images-idx3-ubyte(.gz)\n"));
        assert.match(
          e.message,
          /https:\/\/ossci-datasets\.s3\.amazonaws\.com\/mnist\/t10k-labels-idx1-ubyte\.gz/,
        );
        assert.match(e.message, /run without --offline \(CLI\), or pass download: true/);
        return true;
      });
    });
  });
  const notFound = serveFiles({});
  try {
    await withTemp(async (dir) => {
      await assert.rejects(
        () => loadDataset("cifar100", { dataDir: dir, download: true, mirror: notFound.url }),
        {
          message: /cifar-100-binary\.tar\.gz: GET .* HTTP 404/,
        },
      );
    });
  } finally {
    await notFound.close();
  }
  await assert.rejects(() => loadDataset("imagenet" as "mnist"), {
    message: /unknown dataset "imagenet"/,
  });
});

Deno.test("fashion-mnist falls back to Debian's /usr/share/datasets/fashion-mnist", async () => {
  await withTemp(async (dir) => {
    await withEnv(dir, async () => {
      const found = locateDataset("fashion-mnist");
      assert.ok(
        found !== undefined,
        `Fashion-MNIST not found; install it with \`apt-get install dataset-fashion-mnist\``,
      );
      const split = await loadDataset("fashion-mnist", { limitTrain: 100, limitTest: 10 });
      const { train, test } = split;
      assert.deepEqual([train.n, test.n, train.numClasses], [100, 10, 10]);
      assert.deepEqual(train.shape, [1, 28, 28]);
      // the split says which files it was read from
      assert.equal(split.files?.length, 4);
      for (const f of split.files!) assert.ok(f.startsWith(found!), f);
    });
  });
});

Deno.test("a given dataDir is authoritative: a file missing there is not taken from elsewhere", async () => {
  await withTemp(async (dir) => {
    // the Debian copy exists, but --data-dir holds only three of the four files
    for (const f of Deno.readDirSync(DEBIAN_FASHION_MNIST_DIR)) {
      if (!f.name.startsWith("t10k-labels")) {
        await Deno.copyFile(join(DEBIAN_FASHION_MNIST_DIR, f.name), join(dir, f.name));
      }
    }
    await withEnv(undefined, async () => {
      assert.equal(locateDataset("fashion-mnist", { dataDir: dir }), undefined);
      await assert.rejects(() => loadDataset("fashion-mnist", { dataDir: dir }), (e: Error) => {
        assert.match(e.message, /Dataset "fashion-mnist" not found/);
        assert.ok(!e.message.includes(DEBIAN_FASHION_MNIST_DIR), e.message);
        assert.match(e.message, /t10k-labels-idx1-ubyte/);
        // several short lines, not one 900-character line
        for (const l of e.message.split("\n")) assert.ok(l.length <= 100, `long line: ${l}`);
        assert.ok(!e.message.includes("--download"), "suggests a flag that does not exist");
        return true;
      });
    });
  });
});

/**
 * Fuzzed inputs (issue #9): a few hundred seeded mutations — byte flips, truncations,
 * insertions, deletions and format-aware header edits, some with their checksums recomputed as a
 * forger would — of one of our checkpoints (its .safetensors and .json), of the reference `.pth`
 * fixture and of an idx file, fed to the entry points a user's command calls (loadModelFile,
 * loadDataset, then the certificate). Each must give a clean one-line error naming the file, or
 * results identical to the unmutated file's, or — only from a file whose every checksum is valid —
 * other results whose certificates hold: finite, non-negative radii, certified ⊆ correct, and no
 * prediction changes under a perturbation inside the certified radius. Never an internal crash.
 * `FUZZ_SEED` replays a run; the seed is printed.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { certifiedAccuracy } from "../certify/margins.ts";
import { type Dataset, loadDataset } from "../data/mod.ts";
import { readZip, writeZip } from "../io/zip.ts";
import { add, dispose, scope, type Tensor, tensor } from "../tensor/mod.ts";
import { sha256Hex } from "../train/checkpoint.ts";
import { loadModelFile, type ModelFile } from "../train/load_model.ts";
import type { ModelSpec } from "../train/checkpoint.ts";
import { FIXTURE_MODEL_SPEC, leakFreeTest } from "./helpers.ts";
import { makeCheckpoint } from "./trust_helpers.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20261202);
const FIX = new URL("./fixtures/", import.meta.url).pathname;
const COUNTS = { ours: 110, pth: 110, idx: 80 };
const EPS = [36, 72, 108, 255].map((e) => e / 255);
const B = 24;

/** mulberry32: a small seeded generator, enough to pick mutations. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
const R = rng(SEED);
const int = (n: number): number => Math.floor(R() * n);

/** A random byte-level mutation; returns the new bytes and a description. */
function mutateBytes(b: Uint8Array): [Uint8Array, string] {
  const op = int(4);
  if (op === 0) {
    const out = b.slice();
    const k = 1 + int(3);
    for (let i = 0; i < k; i++) out[int(out.length)] ^= 1 + int(255);
    return [out, `flip ${k} byte(s)`];
  }
  if (op === 1) {
    const at = int(b.length);
    return [b.slice(0, at), `truncate to ${at}`];
  }
  if (op === 2) {
    const at = int(b.length + 1), k = 1 + int(8);
    const ins = Uint8Array.from({ length: k }, () => int(256));
    const out = new Uint8Array(b.length + k);
    out.set(b.subarray(0, at));
    out.set(ins, at);
    out.set(b.subarray(at), at + k);
    return [out, `insert ${k} at ${at}`];
  }
  const at = int(b.length), k = 1 + int(16);
  const out = new Uint8Array(b.length - Math.min(k, b.length - at));
  out.set(b.subarray(0, at));
  out.set(b.subarray(at + k), at);
  return [out, `delete ${k} at ${at}`];
}

const CRASH =
  /Cannot read propert|is not a function|is not iterable|of undefined|of null|Invalid typed array|Maximum call stack|out of memory|allocation failed|outside the bounds|Invalid array length|Invalid string length|Unexpected end of data/;

function assertClean(e: unknown, source: string, what: string): void {
  assert.ok(e instanceof Error, `${what}: threw a non-Error ${String(e)}`);
  const m = e.message;
  assert.ok(!m.includes("\n"), `${what}: multi-line error:\n${m}`);
  assert.ok(m.includes(source), `${what}: error does not name ${source}: ${m}`);
  assert.doesNotMatch(m, CRASH, `${what}: internal error: ${m}`);
}

interface Outcome {
  logits: Float32Array;
  masks: string;
}

/** Logits and certificates of `m` on `ds`'s first B images; checks every certificate holds. */
async function outcome(m: ModelFile, ds: Dataset, what: string): Promise<Outcome> {
  const n = Math.min(B, ds.n);
  const shape = [n, ...ds.shape];
  const x = tensor(ds.images.subarray(0, n * ds.shape[0] * ds.shape[1] * ds.shape[2]), { shape });
  const lab = ds.labels.subarray(0, n);
  let logits: Tensor | undefined, moved: Tensor | undefined, delta: Tensor | undefined;
  try {
    logits = scope(() => m.network.apply(m.params, x));
    const w = m.network.lastWeight(m.params);
    const r = await certifiedAccuracy(logits, lab, w, EPS);
    const radius = r.margins.radius;
    for (let i = 0; i < n; i++) {
      assert.ok(Number.isFinite(radius[i]) && radius[i] >= 0, `${what}: radius ${radius[i]}`);
      for (const mask of r.certifiedMask) assert.ok(!mask[i] || r.correct[i], `${what}: ${i}`);
    }
    // A perturbation of norm 0.99·min(radius, 1) must not change a certified prediction.
    const dir = new Float32Array(x.size).map(() => R() * 2 - 1);
    const per = x.size / n;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < per; j++) s += dir[i * per + j] ** 2;
      const scale = (0.99 * Math.min(radius[i], 1)) / Math.sqrt(s);
      for (let j = 0; j < per; j++) dir[i * per + j] *= scale;
    }
    delta = tensor(dir, { shape });
    moved = scope(() => m.network.apply(m.params, add(x, delta!)));
    const after = await certifiedAccuracy(moved, lab, null, []);
    for (let i = 0; i < n; i++) {
      if (radius[i] > 0 && r.margins.pred[i] >= 0) {
        assert.equal(after.margins.pred[i], r.margins.pred[i], `${what}: image ${i} flipped`);
      }
    }
    return {
      logits: Float32Array.from(await logits.data()),
      masks: r.certifiedMask.map((c) => c.join("")).join("|") + r.correct.join(""),
    };
  } finally {
    dispose([x, logits, moved, delta].filter((t): t is Tensor => t !== undefined));
  }
}

function sameOutcome(a: Outcome, b: Outcome): boolean {
  return a.masks === b.masks && a.logits.length === b.logits.length &&
    a.logits.every((v, i) => Object.is(v, b.logits[i]));
}

/** Runs one mutated model file: clean error, or the same results, or sound other results. */
async function checkModel(
  path: string,
  spec: ModelSpec | undefined,
  ds: Dataset,
  base: Outcome,
  what: string,
  stats: Record<string, number>,
): Promise<void> {
  let m: ModelFile;
  try {
    m = await loadModelFile(path, spec);
  } catch (e) {
    assertClean(e, path.replace(/\.(safetensors|pth)$/, ""), what);
    stats.error++;
    return;
  }
  try {
    const o = await outcome(m, ds, what);
    // Loading succeeded, so every checksum (SHA-256 or CRC-32) of the file is valid.
    stats[sameOutcome(o, base) ? "same" : "valid"]++;
  } finally {
    dispose(m.params);
  }
}

/** Rewrites a safetensors header field (shape, offsets, dtype or name) of one tensor. */
function editSafetensorsHeader(b: Uint8Array): [Uint8Array, string] {
  const n = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n)));
  const keys = Object.keys(header).filter((k) => k !== "__metadata__");
  const k = keys[int(keys.length)];
  const t = header[k];
  const op = int(5);
  let what: string;
  if (op === 0 && t.shape.length) {
    t.shape[int(t.shape.length)] += int(2) ? 1 : -1;
    what = `shape of ${k}`;
  } else if (op === 1) {
    t.data_offsets[int(2)] += [-4, 4, -1, 8][int(4)];
    what = `offsets of ${k}`;
  } else if (op === 2) {
    t.dtype = ["F64", "F16", "I32", "BF16", "U8"][int(5)];
    what = `dtype of ${k}`;
  } else if (op === 3) {
    header[k.replace(/\d/, (d) => String((Number(d) + 1) % 10))] = t;
    delete header[k];
    what = `rename ${k}`;
  } else {
    const o = header[keys[int(keys.length)]];
    [t.data_offsets, o.data_offsets] = [o.data_offsets, t.data_offsets];
    what = `swap offsets of ${k}`;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + (b.length - 8 - n));
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(b.subarray(8 + n), 8 + json.length);
  return [out, `header edit: ${what}`];
}

/** Rewrites one numeric or string field of our checkpoint's .json (its checksum stays valid). */
function editMeta(text: string): [string, string] {
  const meta = JSON.parse(text);
  const edits: [string, () => void][] = [
    ["model.arch.width", () => (meta.model.arch.width += 1)],
    ["model.arch.nConv", () => (meta.model.arch.nConv = [0, 2, 1e6][int(3)])],
    ["model.arch.denseInnerDim", () => (meta.model.arch.denseInnerDim *= 2)],
    ["model.arch.qMode", () => (meta.model.arch.qMode = "reference")],
    ["model.mean", () => (meta.model.mean = [[0.5], [0.286, 0.1], [NaN]][int(3)])],
    ["model.inputShape", () => (meta.model.inputShape = [[1, 32, 32], [3, 28, 28]][int(2)])],
    ["model.numClasses", () => (meta.model.numClasses = [9, 100000, -1][int(3)])],
    ["model.dataset", () => (meta.model.dataset = "cifar10")],
    ["tensors.bytes", () => (meta.tensors.bytes += 1)],
    ["version", () => (meta.version = 1)],
    ["model", () => delete meta.model],
  ];
  const [name, edit] = edits[int(edits.length)];
  edit();
  return [JSON.stringify(meta), `meta edit: ${name}`];
}

/** A .pth with one entry's bytes changed and every CRC recomputed (a forged, valid archive). */
function forgePth(b: Uint8Array): [Uint8Array, string] {
  const files = readZip(b);
  const names = Object.keys(files);
  const name = int(3) === 0 ? names.find((n) => n.endsWith("data.pkl"))! : names[int(names.length)];
  const [data, how] = mutateBytes(files[name]);
  files[name] = data;
  return [
    writeZip(Object.entries(files).map(([n, d]) => ({ name: n, data: d }))),
    `forged CRC, ${name}: ${how}`,
  ];
}

leakFreeTest(`fuzz: mutated checkpoints, .pth and idx files (FUZZ_SEED=${SEED})`, async () => {
  console.error(`fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED})`);
  const root = await Deno.makeTempDir();
  const t0 = performance.now();
  const stats: Record<string, Record<string, number>> = {};
  try {
    const { test } = await loadDataset("fashion-mnist", {
      limitTrain: 1,
      limitTest: B,
      download: false,
    });
    // ---- our checkpoint: its .safetensors and .json
    const good = await makeCheckpoint(join(root, "run"));
    const goodJson = good.replace(/\.safetensors$/, ".json");
    const stBytes: Uint8Array = await Deno.readFile(good);
    const metaText = await Deno.readTextFile(goodJson);
    const m0 = await loadModelFile(good);
    const base = await outcome(m0, test, "unmutated checkpoint");
    dispose(m0.params);
    stats.ours = { error: 0, same: 0, valid: 0 };
    const ck = join(root, "ck", "checkpoints", "model.ckpt-10.safetensors");
    await Deno.mkdir(join(root, "ck", "checkpoints"), { recursive: true });
    for (let i = 0; i < COUNTS.ours; i++) {
      const kind = int(4);
      let st: Uint8Array = stBytes, meta = metaText, how: string;
      if (kind === 0) [st, how] = mutateBytes(stBytes);
      else if (kind === 1) [meta, how] = editMeta(metaText);
      else if (kind === 2) {
        [meta, how] = mutateBytes(new TextEncoder().encode(metaText))
          .map((x, j) => j === 0 ? new TextDecoder().decode(x as Uint8Array) : x) as [
            string,
            string,
          ];
      } else {
        // The forger's case: tensors changed and the SHA-256 in the .json recomputed.
        [st, how] = int(2) ? editSafetensorsHeader(stBytes) : mutateBytes(stBytes);
        const mj = JSON.parse(metaText);
        mj.tensors = { sha256: await sha256Hex(st), bytes: st.length };
        meta = JSON.stringify(mj);
        how = `SHA-256 fixed, ${how}`;
      }
      await Deno.writeFile(ck, st);
      await Deno.writeTextFile(ck.replace(/\.safetensors$/, ".json"), meta);
      await checkModel(ck, undefined, test, base, `ours #${i} (${how})`, stats.ours);
    }
    // ---- the reference .pth fixture
    const pthBytes = await Deno.readFile(join(FIX, "tiny_c1_28.ckpt.pth"));
    const spec = FIXTURE_MODEL_SPEC;
    const p0 = join(root, "base.pth");
    await Deno.writeFile(p0, pthBytes);
    const mp = await loadModelFile(p0, spec);
    const pbase = await outcome(mp, test, "unmutated .pth");
    dispose(mp.params);
    stats.pth = { error: 0, same: 0, valid: 0 };
    const pth = join(root, "mutated.pth");
    for (let i = 0; i < COUNTS.pth; i++) {
      const [bytes, how] = int(3) === 0 ? forgePth(pthBytes) : mutateBytes(pthBytes);
      await Deno.writeFile(pth, bytes);
      await checkModel(pth, spec, test, pbase, `pth #${i} (${how})`, stats.pth);
    }
    // ---- idx files: a 32-image split written here, the test images or labels mutated
    const data = join(root, "data");
    await Deno.mkdir(data);
    const idx = (magic: number, dims: number[], body: Uint8Array): Uint8Array => {
      const out = new Uint8Array(4 + 4 * dims.length + body.length);
      const v = new DataView(out.buffer);
      v.setUint32(0, magic, false);
      dims.forEach((d, k) => v.setUint32(4 + 4 * k, d, false));
      out.set(body, 4 + 4 * dims.length);
      return out;
    };
    const px = Uint8Array.from(test.images, (p) => Math.round(p * 255));
    const images = idx(2051, [B, 28, 28], px);
    const labels = idx(2049, [B], Uint8Array.from(test.labels));
    for (const p of ["train", "t10k"]) {
      await Deno.writeFile(join(data, `${p}-images-idx3-ubyte`), images);
      await Deno.writeFile(join(data, `${p}-labels-idx1-ubyte`), labels);
    }
    const mi = await loadModelFile(good);
    try {
      const clean = await loadDataset("fashion-mnist", { dataDir: data, download: false });
      const ibase = await outcome(mi, clean.test, "unmutated idx");
      stats.idx = { error: 0, same: 0, valid: 0 };
      for (let i = 0; i < COUNTS.idx; i++) {
        const which = int(2) ? "t10k-images-idx3-ubyte" : "t10k-labels-idx1-ubyte";
        const orig = which.includes("images") ? images : labels;
        let bytes: Uint8Array, how: string;
        if (int(4) === 0) {
          bytes = orig.slice();
          const v = new DataView(bytes.buffer);
          const at = 4 * int(which.includes("images") ? 4 : 2);
          v.setUint32(at, v.getUint32(at, false) + [1, -1, 256, 2 ** 24][int(4)], false);
          how = `header edit at ${at}`;
        } else [bytes, how] = mutateBytes(orig);
        await Deno.writeFile(join(data, which), bytes);
        const what = `idx #${i} (${which}: ${how})`;
        let ds: Dataset;
        try {
          ds = (await loadDataset("fashion-mnist", { dataDir: data, download: false })).test;
        } catch (e) {
          assertClean(e, which, what);
          stats.idx.error++;
          continue;
        } finally {
          await Deno.writeFile(join(data, which), orig);
        }
        assert.deepEqual(ds.shape, [1, 28, 28], what);
        assert.ok(ds.images.every((p) => p >= 0 && p <= 1), `${what}: pixel out of [0, 1]`);
        assert.ok(ds.labels.every((l) => l >= 0 && l < 10), `${what}: label out of range`);
        // idx files carry no checksum: other pixels or labels are other, valid inputs.
        const o = await outcome(mi, ds, what);
        stats.idx[sameOutcome(o, ibase) ? "same" : "valid"]++;
      }
    } finally {
      dispose(mi.params);
    }
    const s = (performance.now() - t0) / 1000;
    console.error(`fuzz: ${JSON.stringify(stats)} in ${s.toFixed(1)} s`);
    for (const [k, v] of Object.entries(stats)) {
      assert.ok(v.error > 0 && v.error + v.same + v.valid === COUNTS[k as keyof typeof COUNTS]);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

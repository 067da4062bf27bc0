/**
 * `sll reproduce <dir>`: the reference's reproduce_tables.py. Finds checkpoints under `<dir>`:
 * our train dirs (the latest checkpoint of each, grouped by model preset name) and the
 * reference's `.pth` files laid out as `<dataset>/<size>/model*.pth`; evaluates each on the test
 * set, averages per (dataset, size) and prints the reference's table (Nat, 36, 72, 108, 255).
 * Only finished runs are averaged: unfinished runs are listed as partial, and unrelated or
 * corrupt files are skipped and listed with the reason.
 * @module
 */
import { join, relative, sep } from "node:path";
import { DATASET_NAMES, type DatasetName } from "../data/mod.ts";
import { dispose } from "../tensor/mod.ts";
import { DEFAULT_EPS } from "../train/config.ts";
import { listCheckpoints, loadCheckpoint } from "../train/checkpoint.ts";
import { evaluate } from "../train/evaluate.ts";
import { type FlagSpec, helpText, parseFlags, UsageError } from "./args.ts";
import { loadModel, loadTest, selectBackend } from "./common.ts";

/** Flags of `sll reproduce`. */
export const REPRODUCE_FLAGS: readonly FlagSpec[] = [
  { name: "data-dir", kind: "string", help: "where the dataset files are" },
  { name: "limit-test", kind: "posint", help: "use only the first N test images" },
  { name: "offline", kind: "bool", help: "never download a missing dataset" },
  { name: "backend", kind: ["cpu", "webgpu", "auto"], help: "compute backend (default auto)" },
  { name: "json", kind: "bool", help: "print the averages as one JSON line" },
  { name: "help", kind: "bool", help: "show this help" },
];

const SIZE_ORDER = ["small", "medium", "large", "xlarge"];

interface Entry {
  dataset: DatasetName;
  size: string;
  path: string;
  flags: Record<string, unknown>;
}

/** A file or run that `reproduce` did not average, and why. */
export interface Skipped {
  /** The file or train dir. */
  path: string;
  /** Why it was not counted. */
  reason: string;
}

/** What {@linkcode findEntries} found under a folder. */
export interface Found {
  /** Checkpoints to evaluate and average. */
  entries: Entry[];
  /** Unrelated or corrupt files, with the reason. */
  skipped: Skipped[];
  /** Unfinished runs (not averaged), with how far they got. */
  partial: Skipped[];
}

const oneLine = (e: unknown): string => String((e as Error)?.message ?? e).split("\n").join(" ");

async function walk(dir: string, out: string[], depth = 0): Promise<void> {
  if (depth > 6) return;
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) await walk(p, out, depth + 1);
    else out.push(p);
  }
}

/**
 * Finds the checkpoints to evaluate under `root`, with their dataset and size. Our runs count
 * only when finished (the latest checkpoint reached the configured epochs); `.pth` files must
 * sit in `<dataset>/<size>/` with a known size. Everything else is reported, never averaged.
 */
export async function findEntries(root: string): Promise<Found> {
  const files: string[] = [];
  try {
    await walk(root, files);
  } catch {
    throw new Error(`${root}: cannot read this directory; pass the folder holding the runs`);
  }
  const entries: Entry[] = [];
  const skipped: Skipped[] = [];
  const partial: Skipped[] = [];
  const trainDirs = new Set<string>();
  for (const f of files.sort()) {
    if (/model\.ckpt-\d+\.json$/.test(f) && f.split(sep).at(-2) === "checkpoints") {
      trainDirs.add(f.split(sep).slice(0, -2).join(sep));
    } else if (f.endsWith(".pth")) {
      const parts = relative(root, f).split(sep);
      const size = parts.at(-2) ?? "";
      const ds = parts.find((p) => (DATASET_NAMES as readonly string[]).includes(p)) as
        | DatasetName
        | undefined;
      if (!ds || !SIZE_ORDER.includes(size)) {
        skipped.push({
          path: f,
          reason: `its architecture is unknown: put it under <dir>/<dataset>/<size>/ with ` +
            `size one of ${SIZE_ORDER.join(", ")} and dataset one of ${DATASET_NAMES.join(", ")}`,
        });
        continue;
      }
      entries.push({ dataset: ds, size, path: f, flags: { "model-name": size, dataset: ds } });
    }
  }
  for (const d of [...trainDirs].sort()) {
    const latest = (await listCheckpoints(d)).at(-1);
    if (!latest) {
      skipped.push({
        path: d,
        reason: "no complete checkpoint (a .json without its .safetensors)",
      });
      continue;
    }
    let meta;
    try {
      meta = (await loadCheckpoint(latest)).meta;
    } catch (e) {
      skipped.push({ path: latest, reason: oneLine(e) });
      continue;
    }
    if (meta.epoch < meta.config.epochs) {
      partial.push({
        path: d,
        reason: `unfinished: epoch ${
          Math.round(meta.epoch * 100) / 100
        } of ${meta.config.epochs} (latest checkpoint ${latest}); not averaged`,
      });
      continue;
    }
    entries.push({
      dataset: meta.model.dataset,
      size: meta.model.arch.name ?? "custom",
      path: latest,
      flags: {},
    });
  }
  return { entries, skipped, partial };
}

/** Runs `sll reproduce`; returns the exit code. */
export async function reproduceCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseFlags("reproduce", argv, REPRODUCE_FLAGS, 1);
  if (values.help) {
    console.log(helpText("reproduce <dir>", "the reference's results table", REPRODUCE_FLAGS));
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError("reproduce needs a folder: sll reproduce <dir>");
  }
  console.error(await selectBackend((values.backend as string | undefined) ?? "auto"));
  const { entries, skipped, partial } = await findEntries(positionals[0]);
  const groups = new Map<string, { dataset: DatasetName; size: string; rows: number[][] }>();
  for (const e of entries) {
    let model;
    try {
      model = await loadModel(
        e.path,
        { ...values, ...e.flags },
        `put it under <dir>/<dataset>/<size>/ with size one of ${SIZE_ORDER.join(", ")}`,
      );
    } catch (err) {
      // An unrelated or corrupt checkpoint is reported and skipped, never fatal for the table.
      skipped.push({ path: e.path, reason: oneLine(err) });
      continue;
    }
    try {
      const { test } = await loadTest(model.dataset, values);
      const r = await evaluate(model.network.apply, model.params, test, {
        prepare: model.network.prepare,
        eps255: DEFAULT_EPS,
        lastWeight: model.network.lastWeight(model.params),
        network: model.network, // certificates divide by its certified Lipschitz bound
      });
      const key = `${e.dataset}/${e.size}`;
      const g = groups.get(key) ?? { dataset: e.dataset, size: e.size, rows: [] };
      g.rows.push([r.accuracy, ...DEFAULT_EPS.map((x) => r.certified[String(x)])]);
      groups.set(key, g);
      console.error(`evaluated ${e.path} (Lipschitz bound ${r.lipschitz?.text ?? "1"})`);
    } finally {
      dispose(model.params);
    }
  }
  for (const p of partial) console.error(`partial: ${p.path}: ${p.reason}`);
  for (const k of skipped) console.error(`skipped: ${k.path}: ${k.reason}`);
  if (groups.size === 0) {
    throw new Error(
      `${positionals[0]}: no finished, readable checkpoints found (expected train dirs with ` +
        `checkpoints/ or <dataset>/<size>/model*.pth); ${skipped.length} skipped, ` +
        `${partial.length} partial`,
    );
  }
  const rank = (s: string): number => (SIZE_ORDER.includes(s) ? SIZE_ORDER.indexOf(s) : 99);
  const all = [...groups.values()].sort((a, b) =>
    a.dataset.localeCompare(b.dataset) || rank(a.size) - rank(b.size) ||
    a.size.localeCompare(b.size)
  );
  const avg = (rows: number[][]): number[] =>
    rows[0].map((_, j) => rows.reduce((s, r) => s + r[j], 0) / rows.length);
  if (values.json) {
    console.log(
      JSON.stringify({
        groups: all.map((g) => ({
          dataset: g.dataset,
          size: g.size,
          checkpoints: g.rows.length,
          average: avg(g.rows),
        })),
        skipped,
        partial,
      }),
    );
    return 0;
  }
  for (const ds of new Set(all.map((g) => g.dataset))) {
    console.log(`-- Evaluation on ${ds} --`);
    console.log("+-----------------------------------------------+");
    console.log(
      `| ${"Nat".padStart(5)}  |  ${"36".padStart(5)}  |  ${"72".padStart(5)}  |  ${
        "108".padStart(5)
      }  |  ${"255".padStart(5)} |`,
    );
    console.log("+-----------------------------------------------+");
    for (const g of all.filter((x) => x.dataset === ds)) {
      const v = avg(g.rows).map((x) => (x * 100).toFixed(1).padStart(5));
      console.log(
        `| ${v[0]}  |  ${v[1]}  |  ${v[2]}  |  ${v[3]}  |  ${
          v[4]
        } |   ${g.size} (${g.rows.length} ckpt)`,
      );
    }
    console.log("+-----------------------------------------------+\n");
  }
  return 0;
}

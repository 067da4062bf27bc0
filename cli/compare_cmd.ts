/**
 * `sll compare`: trains Prach et al.'s ConvNet once per registered layer (`--layers`, default all)
 * with the same size, data, recipe and wall-clock budget per layer (`--budget 10m`), then prints
 * and plots natural and certified accuracy, training and inference img/s and peak tensor memory
 * per layer — "1-Lipschitz Layers Compared" (Prach et al., CVPR 2024) Table 2 and Figures 2–4
 * for this machine. Like the paper, each layer's number of steps is fitted to the budget from
 * its own measured step time, so the learning-rate schedule completes.
 * @module
 */
import { join } from "node:path";
import { layerNames } from "../layers/registry.ts";
import {
  dispose,
  keep,
  makeOptimizer,
  peakMemory,
  randomKey,
  resetPeakMemory,
  scope,
  tensor,
  valueAndGrad,
} from "../mod.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { loadDataset } from "../data/mod.ts";
import { DATASET_MEANS } from "../data/mod.ts";
import type { TrainConfig } from "../train/config.ts";
import { makeLoss } from "../train/loss_select.ts";
import { buildNetwork, type NetworkParams } from "../train/model.ts";
import { train } from "../train/loop.ts";
import { numBatches } from "../data/mod.ts";
import { type FlagSpec, helpText, parseFlags, UsageError } from "./args.ts";
import { OFFLINE_FLAG, RUN_FLAGS, selectBackend } from "./common.ts";
import { configFlag, configFromFlags } from "./config_flags.ts";
import { formatDuration } from "./progress.ts";
import { barChart } from "./compare_svg.ts";

/** Flags of `sll compare`. */
export const COMPARE_FLAGS: readonly FlagSpec[] = [
  {
    name: "budget",
    kind: "string",
    help: "training wall-clock time per layer: 90s, 10m, 1.5h (evaluation is extra)",
    defaultText: "10m",
  },
  {
    name: "layers",
    kind: "string",
    help: "comma-separated registered layers to compare",
    defaultText: "all registered",
  },
  configFlag("size", { defaultText: "tiny" }),
  configFlag("dataset"),
  configFlag("data-dir"),
  configFlag("batch-size"),
  configFlag("lr"),
  configFlag("loss"),
  configFlag("seed"),
  configFlag("eps"),
  configFlag("limit-train"),
  configFlag("limit-test"),
  {
    name: "out",
    kind: "string",
    help: "folder for runs, compare.json and the SVG plots",
    defaultText: "runs/compare-<time>",
  },
  { name: "quiet", kind: "bool", help: "no per-step progress" },
  OFFLINE_FLAG,
  ...RUN_FLAGS,
];

/**
 * Seconds in a duration written as `<number><unit>`, unit s, m or h (`90s`, `10m`, `1.5h`).
 * Throws a UsageError naming the flag otherwise.
 *
 * @example
 * ```ts ignore
 * parseBudget("10m"); // 600
 * ```
 */
export function parseBudget(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)$/.exec(text.trim());
  const seconds = m ? Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as "s" | "m" | "h"] : NaN;
  if (!(seconds > 0)) {
    throw new UsageError(
      `invalid value for --budget: "${text}" (expected a positive duration such as 90s, 10m or 1.5h)`,
    );
  }
  return seconds;
}

/** One layer's outcome in the comparison. */
export interface CompareRow {
  /** Registered layer name. */
  layer: string;
  /** Trainable parameters. */
  params: number;
  /** Optimizer steps done and images seen. */
  steps: number;
  /** Training images seen. */
  images: number;
  /** Training seconds (without evaluations). */
  trainSeconds: number;
  /** Test accuracy. */
  accuracy: number;
  /** Certified accuracy by radius (units of 1/255). */
  certified: Record<string, number>;
  /**
   * The certified Lipschitz bound the certificates divided by (null: none finite, nothing
   * certified) and what it rests on, e.g. "1.0000 (by construction)".
   */
  lipschitz?: { bound: number | null; text: string };
  /** Training throughput, images per second. */
  trainImagesPerSecond: number;
  /** Inference (logits of the test set, parameters prepared once), images per second. */
  inferenceImagesPerSecond: number;
  /** Peak bytes of live tensors during training. */
  peakBytes: number;
  /** Run directory. */
  trainDir: string;
}

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-");
}

/** Seconds per training step of `config`'s network, measured on a few batches of `data`. */
async function stepSeconds(
  config: TrainConfig,
  shape: readonly [number, number, number],
  numClasses: number,
  mean: readonly number[],
): Promise<number> {
  const net = buildNetwork(config.arch, shape, numClasses, mean);
  const loss = makeLoss(config, numClasses);
  const opt = makeOptimizer({ name: config.optimizer, beta1: config.beta1, beta2: config.beta2 });
  let params = keep(scope(() => net.init(randomKey(config.seed)).params));
  let state = keep(opt.init(params));
  const b = config.batchSize;
  const x = keep(tensor(new Float32Array(b * shape[0] * shape[1] * shape[2]).fill(0.5), {
    shape: [b, ...shape],
  }));
  const y = keep(tensor(Int32Array.from({ length: b }, (_, i) => i % numClasses), {
    shape: [b],
    dtype: "int32",
  }));
  const lg = valueAndGrad((p: NetworkParams, xb: Tensor, yb: Tensor) => loss(net.apply(p, xb), yb));
  const times: number[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const [l, p, s] = scope(() => {
        const [l, g] = lg(params, x, y);
        const u = opt.update(g, state, params, 1e-4);
        return [l, net.refresh?.(u.params, 1) ?? u.params, u.state] as const;
      });
      await l.data();
      l.dispose();
      dispose([params, state.slots]);
      params = keep(p);
      state = { step: s.step, slots: keep(s.slots) };
      if (i > 0) times.push((performance.now() - t0) / 1000); // the first step warms up
    }
  } finally {
    dispose([params, state.slots, x, y]);
  }
  return Math.min(...times);
}

/** Runs `sll compare`; returns the exit code. */
export async function compareCommand(argv: readonly string[]): Promise<number> {
  const { values } = parseFlags("compare", argv, COMPARE_FLAGS);
  if (values.help) {
    console.log(
      helpText("compare", "train the ConvNet with each layer on one time budget", COMPARE_FLAGS),
    );
    return 0;
  }
  const budget = parseBudget((values.budget as string | undefined) ?? "10m");
  const registered = layerNames();
  const layers = values.layers === undefined
    ? registered
    : String(values.layers).split(",").map((s) => s.trim());
  for (const l of layers) {
    if (!registered.includes(l)) {
      throw new UsageError(
        `invalid value for --layers: "${l}" is not a registered layer (registered: ${
          registered.join(", ")
        })`,
      );
    }
  }
  if (layers.length === 0 || new Set(layers).size !== layers.length) {
    throw new UsageError(
      `invalid value for --layers: "${values.layers}" (distinct names, comma-separated)`,
    );
  }
  const out = (values.out as string | undefined) ?? `runs/compare-${timestamp()}`;
  console.error(await selectBackend((values.backend as string | undefined) ?? "auto"));
  const base = configFromFlags({
    dataset: values.dataset,
    "data-dir": values["data-dir"],
    "batch-size": values["batch-size"],
    lr: values.lr,
    loss: values.loss,
    seed: values.seed,
    eps: values.eps,
    "limit-train": values["limit-train"],
    "limit-test": values["limit-test"],
    arch: "convnet",
    size: values.size ?? "tiny",
  });
  const data = await loadDataset(base.dataset, {
    dataDir: base.dataDir,
    limitTrain: base.limitTrain,
    limitTest: base.limitTest,
    download: !values.offline,
  });
  if (data.files) console.error(`read ${data.files.join(", ")}`);
  const mean = base.mean ??
    [...((DATASET_MEANS as Record<string, readonly number[]>)[base.dataset] ?? [0])];
  const n = data.train.n;
  console.error(
    `compare: ${
      layers.join(", ")
    } on ConvNet-${base.arch.size}, ${base.dataset} (${n} train / ${data.test.n} test), ` +
      `${formatDuration(budget)} of training each, batch ${base.batchSize}, ${base.loss} loss`,
  );
  const rows: CompareRow[] = [];
  for (const layer of layers) {
    const config0: TrainConfig = {
      ...base,
      arch: { ...base.arch, layer },
      trainDir: join(out, layer),
      saveEvery: 1_000_000,
      logEvery: 10,
    };
    // fit the run to the budget, as the paper does: steps = budget / measured step time
    const sec = await stepSeconds(config0, data.train.shape, data.train.numClasses, mean);
    const steps = Math.max(1, Math.floor(budget / sec));
    const perEpoch = numBatches(n, config0.batchSize);
    const epochs = Math.max(1, Math.min(3, Math.floor(steps / perEpoch)));
    // more than 3 epochs' worth: 3 evaluations in total (epochs of the whole set, repeated)
    const repeat = steps >= perEpoch * 3 ? Math.floor(steps / (perEpoch * 3)) : 1;
    const limit = steps < perEpoch ? steps * config0.batchSize : undefined;
    const config: TrainConfig = { ...config0, epochs: epochs * repeat };
    const train0 = limit !== undefined
      ? {
        ...data.train,
        n: limit,
        images: data.train.images.subarray(0, limit * data.train.shape.reduce((a, b) => a * b, 1)),
        labels: data.train.labels.subarray(0, limit),
      }
      : data.train;
    console.error(
      `${layer}: ${(sec * 1000).toFixed(0)} ms per step → ${steps} steps (${
        limit !== undefined ? `${limit} images once` : `${config.epochs} epochs`
      })`,
    );
    resetPeakMemory();
    let last = performance.now(), stepTime = 0, stepCount = 0;
    const controller = new AbortController();
    // a guard against a misjudged step time (load from other processes): stop at 1.5× budget
    const timer = setTimeout(() => controller.abort(), budget * 1500 + 60_000);
    const r = await train(config, {
      data: { train: train0, test: data.test },
      signal: controller.signal,
      onStep: (s) => {
        const now = performance.now();
        if (s.stepInEpoch > 1) {
          stepTime += (now - last) / 1000;
          stepCount++;
        }
        last = now;
        if (!values.quiet && s.step % 20 === 0) {
          console.error(`  ${layer}: step ${s.step}/${s.totalSteps}, loss ${s.loss.toFixed(4)}`);
        }
      },
      onEpoch: () => {
        last = performance.now();
      },
    }).finally(() => clearTimeout(timer));
    const peak = peakMemory().bytes;
    const net = r.network;
    const final = r.final;
    // inference throughput: logits of the test set with the parameters prepared once
    const t0 = performance.now();
    const fwd = net.prepare(r.params);
    let seen = 0;
    try {
      for (let i = 0; i < data.test.n; i += config.evalBatchSize) {
        const b = Math.min(config.evalBatchSize, data.test.n - i);
        const z = scope(() => {
          const px = data.test.shape.reduce((a, c) => a * c, 1);
          const x = tensor(data.test.images.subarray(i * px, (i + b) * px), {
            shape: [b, ...data.test.shape],
          });
          return fwd.apply(x);
        });
        await z.data();
        z.dispose();
        seen += b;
        if (performance.now() - t0 > 20_000) break; // enough for a rate
      }
    } finally {
      fwd.dispose();
    }
    const inferSeconds = (performance.now() - t0) / 1000;
    if (!final) throw new Error(`${layer}: the run ended before its first evaluation`);
    const nParams = Object.values(net.shapes().params ? flatShapes(net.shapes().params) : [])
      .reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
    dispose(r.params);
    const row: CompareRow = {
      layer,
      params: nParams,
      steps: r.stepsRun,
      images: r.stepsRun * config.batchSize,
      trainSeconds: stepCount ? (stepTime / stepCount) * r.stepsRun : NaN,
      accuracy: final.accuracy,
      certified: final.certified,
      lipschitz: final.lipschitz,
      trainImagesPerSecond: stepCount ? (stepCount * config.batchSize) / stepTime : NaN,
      inferenceImagesPerSecond: seen / inferSeconds,
      peakBytes: peak,
      trainDir: config.trainDir,
    };
    rows.push(row);
    console.error(`${layer}: ${summary(row)}`);
  }
  await Deno.mkdir(out, { recursive: true });
  await Deno.writeTextFile(
    join(out, "compare.json"),
    JSON.stringify({ budget, rows }, null, 2) + "\n",
  );
  const files = await plotComparison(rows, out);
  console.error(`wrote ${join(out, "compare.json")}, ${files.join(", ")}`);
  if (values.json) console.log(JSON.stringify({ budgetSeconds: budget, rows }));
  else console.log(compareTable(rows, budget));
  return 0;
}

function flatShapes(tree: unknown): number[][] {
  const out: number[][] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v) && v.every((d) => typeof d === "number")) out.push(v as number[]);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  walk(tree);
  return out;
}

function summary(r: CompareRow): string {
  return `${(r.accuracy * 100).toFixed(2)}% natural, ${
    Object.entries(r.certified).map(([k, v]) => `${(v * 100).toFixed(2)}% @${k}`).join(", ")
  } (Lipschitz bound ${r.lipschitz?.text ?? "—"}); ${
    r.trainImagesPerSecond.toFixed(0)
  } img/s training, ${r.inferenceImagesPerSecond.toFixed(0)} img/s inference, peak ${
    (r.peakBytes / 2 ** 20).toFixed(0)
  } MiB`;
}

/**
 * The comparison as a Markdown table (one row per layer), then which layer wins per minute of
 * training: the highest certified accuracy at the first radius, ties to the faster layer.
 *
 * @example
 * ```ts ignore
 * console.log(compareTable(rows, 600));
 * ```
 */
export function compareTable(rows: readonly CompareRow[], budget: number): string {
  const keys = rows.length ? Object.keys(rows[0].certified) : [];
  const head = [
    "layer",
    "params",
    "steps (images)",
    "natural",
    ...keys.map((k) => `cert. ${k}/255`),
    "Lipschitz bound",
    "train img/s",
    "inference img/s",
    "peak memory",
  ];
  const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
  const body = rows.map((r) => [
    r.layer,
    r.params >= 1e6 ? `${(r.params / 1e6).toFixed(2)}M` : `${(r.params / 1e3).toFixed(1)}k`,
    `${r.steps} (${r.images})`,
    pct(r.accuracy),
    ...keys.map((k) => pct(r.certified[k] ?? NaN)),
    r.lipschitz ? (r.lipschitz.bound === null ? "none" : r.lipschitz.bound.toFixed(4)) : "—",
    r.trainImagesPerSecond.toFixed(0),
    r.inferenceImagesPerSecond.toFixed(0),
    `${(r.peakBytes / 2 ** 20).toFixed(0)} MiB`,
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (c: string[]): string => "| " + c.map((x, i) => x.padEnd(w[i])).join(" | ") + " |";
  const sep = "| " + w.map((x) => "-".repeat(x)).join(" | ") + " |";
  const lines = [line(head), sep, ...body.map(line)];
  if (rows.length && keys.length) {
    const k = keys[0];
    const best = [...rows].sort((a, b) =>
      (b.certified[k] - a.certified[k]) || (b.trainImagesPerSecond - a.trainImagesPerSecond)
    )[0];
    lines.push(
      "",
      `Per ${formatDuration(budget)} of CPU training, ${best.layer} wins: ${
        pct(best.certified[k])
      } certified at ${k}/255 (${pct(best.accuracy)} natural).`,
    );
  }
  return lines.join("\n");
}

/** Writes the comparison's SVG charts into `dir`; returns their paths. */
export async function plotComparison(rows: readonly CompareRow[], dir: string): Promise<string[]> {
  const names = rows.map((r) => r.layer);
  const keys = rows.length ? Object.keys(rows[0].certified) : [];
  const charts: [string, string][] = [
    [
      "compare_accuracy.svg",
      barChart(names, [
        { label: "natural", values: rows.map((r) => r.accuracy * 100) },
        ...keys.map((k) => ({
          label: `certified ε=${k}/255`,
          values: rows.map((r) => (r.certified[k] ?? NaN) * 100),
        })),
      ], { title: "Accuracy per layer (same budget)", yLabel: "accuracy (%)", yMax: 100 }),
    ],
    [
      "compare_speed.svg",
      barChart(names, [
        { label: "training", values: rows.map((r) => r.trainImagesPerSecond) },
        { label: "inference", values: rows.map((r) => r.inferenceImagesPerSecond) },
      ], { title: "Throughput per layer", yLabel: "images per second" }),
    ],
    [
      "compare_memory.svg",
      barChart(names, [
        { label: "peak tensor memory", values: rows.map((r) => r.peakBytes / 2 ** 20) },
      ], { title: "Peak memory while training", yLabel: "MiB" }),
    ],
  ];
  const files: string[] = [];
  for (const [name, svg] of charts) {
    const p = join(dir, name);
    await Deno.writeTextFile(p, svg);
    files.push(p);
  }
  return files;
}

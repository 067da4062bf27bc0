/**
 * `sll train`: flags → validated TrainConfig → the training loop, with a progress bar on
 * stderr, an accuracy table per epoch, Ctrl-C handling (checkpoint, then exit 130) and the
 * `--json` result line. Refuses to reuse a train dir that already holds checkpoints unless
 * `--resume` is given, so nothing existing is overwritten.
 * @module
 */
import { join } from "node:path";
import { loadDataset } from "../data/mod.ts";
import { listCheckpoints, loadCheckpoint } from "../train/checkpoint.ts";
import { DEFAULT_CONFIG, parseTrainConfig, type TrainConfig } from "../train/config.ts";
import { train } from "../train/loop.ts";
import { dispose } from "../tensor/mod.ts";
import { type FlagSpec, helpText, parseFlags, UsageError } from "./args.ts";
import {
  accuracyTable,
  ARCH_FLAGS,
  archFromFlags,
  DATA_FLAGS,
  DISTRIBUTED_FLAG,
  resultJson,
  RUN_FLAGS,
  selectBackend,
  startDistributed,
} from "./common.ts";
import { broadcastJson } from "../distributed/data_parallel.ts";
import { formatDuration, ProgressBar } from "./progress.ts";

/** Flags of `sll train`. */
export const TRAIN_FLAGS: readonly FlagSpec[] = [
  ...DATA_FLAGS,
  { name: "train-dir", kind: "string", help: "run directory (default runs/<dataset>-<time>)" },
  ...ARCH_FLAGS,
  {
    name: "epochs",
    kind: "posint",
    help: `passes over the data (default ${DEFAULT_CONFIG.epochs})`,
  },
  {
    name: "batch-size",
    kind: "posint",
    help: `images per update (default ${DEFAULT_CONFIG.batchSize})`,
  },
  { name: "lr", kind: "number", help: `peak learning rate (default ${DEFAULT_CONFIG.lr})` },
  {
    name: "loss",
    kind: ["xent", "margin", "xent+margin", "margin_boosting"],
    help: "training loss (default xent)",
  },
  { name: "offset", kind: "number", help: "xent offset (default 1.0; the reference uses √2·3/2)" },
  { name: "temperature", kind: "posnumber", help: "xent temperature (default 0.25)" },
  { name: "margin", kind: "number", help: "hinge margin (default 0.7)" },
  { name: "optimizer", kind: ["adam", "adamw", "sgd"], help: "optimizer (default adam)" },
  { name: "beta1", kind: "number", help: "Adam β1 (default 0.5)" },
  { name: "beta2", kind: "number", help: "Adam β2 (default 0.9)" },
  { name: "wd", kind: "number", help: "weight decay (default 0)" },
  { name: "momentum", kind: "number", help: "SGD momentum (default 0.9)" },
  { name: "nesterov", kind: "bool", help: "SGD Nesterov momentum" },
  {
    name: "scheduler",
    kind: ["interp", "cosine", "multistep", "constant"],
    help: "lr schedule (default interp)",
  },
  { name: "warmup", kind: "number", help: "fraction of the run in linear warmup (default 0)" },
  { name: "decay", kind: "numlist", help: "multistep milestones in epochs, e.g. 10,20" },
  { name: "gamma", kind: "posnumber", help: "multistep decay factor (default 0.1)" },
  { name: "clip-norm", kind: "posnumber", help: "clip gradients to this global L2 norm" },
  { name: "clip-value", kind: "posnumber", help: "clip gradient elements to ±value" },
  { name: "seed", kind: "int", help: "seed of initialisation and data order (default 0)" },
  { name: "eps", kind: "numlist", help: "certification radii ×1/255 (default 36,72,108,255)" },
  { name: "save-every", kind: "posint", help: "checkpoint every N epochs (default 1)" },
  { name: "resume", kind: "bool", help: "continue from the latest checkpoint in --train-dir" },
  { name: "limit-train", kind: "posint", help: "use only the first N training images" },
  { name: "log-every", kind: "posint", help: "metrics.jsonl line every N steps (default 10)" },
  { name: "augment", kind: "bool", help: "reference CIFAR augmentation (crop, flip, jitter)" },
  { name: "eval-batch-size", kind: "posint", help: "images per evaluation batch (default 500)" },
  { name: "quiet", kind: "bool", help: "no progress bar" },
  DISTRIBUTED_FLAG,
  ...RUN_FLAGS,
];

function timestamp(): string {
  const d = new Date();
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${
    p(d.getMinutes())
  }${p(d.getSeconds())}`;
}

/** Builds the TrainConfig from parsed flags (defaults from DEFAULT_CONFIG). */
export function configFromFlags(v: Record<string, unknown>): TrainConfig {
  const d = DEFAULT_CONFIG;
  const dataset = (v.dataset as TrainConfig["dataset"] | undefined) ?? d.dataset;
  const cfg: Record<string, unknown> = {
    ...structuredClone(d),
    dataset,
    dataDir: v["data-dir"],
    trainDir: v["train-dir"] ?? `runs/${dataset}-${timestamp()}`,
    arch: archFromFlags(v, d.arch),
    mean: v.mean,
    epochs: v.epochs ?? d.epochs,
    batchSize: v["batch-size"] ?? d.batchSize,
    lr: v.lr ?? d.lr,
    loss: v.loss ?? d.loss,
    offset: v.offset ?? d.offset,
    temperature: v.temperature ?? d.temperature,
    margin: v.margin ?? d.margin,
    optimizer: v.optimizer ?? d.optimizer,
    beta1: v.beta1 ?? d.beta1,
    beta2: v.beta2 ?? d.beta2,
    weightDecay: v.wd ?? d.weightDecay,
    momentum: v.momentum ?? d.momentum,
    nesterov: v.nesterov ?? d.nesterov,
    scheduler: v.scheduler ?? d.scheduler,
    warmup: v.warmup ?? d.warmup,
    decay: v.decay,
    gamma: v.gamma ?? d.gamma,
    clipNorm: v["clip-norm"],
    clipValue: v["clip-value"],
    seed: v.seed ?? d.seed,
    eps: v.eps ?? d.eps,
    saveEvery: v["save-every"] ?? d.saveEvery,
    limitTrain: v["limit-train"],
    limitTest: v["limit-test"],
    logEvery: v["log-every"] ?? d.logEvery,
    augment: v.augment ?? d.augment,
    evalBatchSize: v["eval-batch-size"] ?? d.evalBatchSize,
  };
  for (const k of Object.keys(cfg)) if (cfg[k] === undefined) delete cfg[k];
  try {
    return parseTrainConfig(cfg, "flags");
  } catch (e) {
    // name the flag: config field → flag
    const m = /flags is invalid: ([\w.]+): (.*?)(;|$)/.exec((e as Error).message);
    if (m) {
      const flag = FIELD_TO_FLAG[m[1].split(".").at(-1)!] ?? m[1];
      throw new UsageError(`invalid value for --${flag}: ${m[2]}`);
    }
    throw new UsageError((e as Error).message);
  }
}

const FIELD_TO_FLAG: Record<string, string> = {
  batchSize: "batch-size",
  weightDecay: "wd",
  clipNorm: "clip-norm",
  clipValue: "clip-value",
  saveEvery: "save-every",
  limitTrain: "limit-train",
  limitTest: "limit-test",
  logEvery: "log-every",
  evalBatchSize: "eval-batch-size",
  nConv: "n-conv",
  nDense: "n-dense",
  width: "w",
  convInnerDim: "conv-inner-dim",
  denseInnerDim: "dense-inner-dim",
};

async function checkWritable(dir: string): Promise<void> {
  try {
    await Deno.mkdir(join(dir, "checkpoints"), { recursive: true });
    const probe = join(dir, `.write-test-${Deno.pid}`);
    await Deno.writeFile(probe, new Uint8Array(0));
    await Deno.remove(probe);
  } catch (e) {
    throw new Error(
      `cannot write to --train-dir ${dir} (${(e as Error).name}: ${
        (e as Error).message.split(":")[0]
      }); choose a writable directory with --train-dir`,
    );
  }
}

/** Checks the train dir (no checkpoints unless resuming) and, resuming, takes the run's config. */
async function resolveRun(
  flagConfig: TrainConfig,
  values: Record<string, unknown>,
  resume: boolean,
): Promise<TrainConfig> {
  let config = flagConfig;
  const existing = await listCheckpoints(config.trainDir);
  if (!resume && existing.length > 0) {
    throw new UsageError(
      `${config.trainDir} already holds checkpoints; pass --resume to continue that run, or choose a new --train-dir`,
    );
  }
  if (resume) {
    if (existing.length === 0) {
      throw new UsageError(
        `--resume: no checkpoint in ${
          join(config.trainDir, "checkpoints")
        }; train without --resume first`,
      );
    }
    const stored = (await loadCheckpoint(existing[existing.length - 1])).meta.config;
    // the run's own config wins; only bookkeeping flags and --epochs may change
    config = {
      ...stored,
      trainDir: config.trainDir,
      dataDir: (values["data-dir"] as string | undefined) ?? stored.dataDir,
      epochs: (values.epochs as number | undefined) ?? stored.epochs,
      saveEvery: (values["save-every"] as number | undefined) ?? stored.saveEvery,
      logEvery: (values["log-every"] as number | undefined) ?? stored.logEvery,
    };
  }
  await checkWritable(config.trainDir);
  return config;
}

/** Runs `sll train`; returns the process exit code. */
export async function trainCommand(argv: readonly string[]): Promise<number> {
  const { values } = parseFlags("train", argv, TRAIN_FLAGS);
  if (values.help) {
    console.log(helpText("train", "train an SLL network and certify it", TRAIN_FLAGS));
    return 0;
  }
  let config = configFromFlags(values);
  const resume = Boolean(values.resume);
  const world = startDistributed(values);
  if (resume && values["train-dir"] === undefined) {
    throw new UsageError("--resume needs --train-dir (the run to continue)");
  }
  // rank 0 alone reads and writes the train dir; the others take its resolved config
  if (world.isRoot) config = await resolveRun(config, values, resume);
  config = broadcastJson(world, config);
  const json = Boolean(values.json);
  const bar = new ProgressBar({ enabled: !values.quiet && world.isRoot });
  const backend = await selectBackend((values.backend as string | undefined) ?? "auto");
  bar.log(
    `${backend}; train dir ${config.trainDir}` +
      (world.size > 1 ? `; ${world.size} processes × batch ${config.batchSize}` : ""),
  );

  const data = await loadDataset(config.dataset, {
    dataDir: config.dataDir,
    limitTrain: config.limitTrain,
    limitTest: config.limitTest,
    download: !values.offline,
  });
  bar.log(
    `${config.dataset}: ${data.train.n} train / ${data.test.n} test images; model ${
      config.arch.name ?? "custom"
    } (n_conv ${config.arch.nConv}, n_dense ${config.arch.nDense}, w ${config.arch.width}, conv inner ${config.arch.convInnerDim}, dense inner ${config.arch.denseInnerDim}); ${config.epochs} epochs of batch ${config.batchSize}`,
  );
  if (world.isRoot) {
    await Deno.writeTextFile(
      join(config.trainDir, "config.json"),
      JSON.stringify(config, null, 2) + "\n",
    );
  }

  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts > 1) Deno.exit(130);
    bar.log("interrupt: saving a checkpoint after this step (Ctrl-C again to quit now)");
    controller.abort();
  };
  try {
    Deno.addSignalListener("SIGINT", onSigint);
  } catch { /* signals unsupported here */ }
  try {
    const result = await train(config, {
      data,
      resume,
      world,
      signal: controller.signal,
      onMessage: (m) => bar.log(m),
      onStep: (s) =>
        bar.update(
          s.step / s.totalSteps,
          `epoch ${s.epoch + 1}/${config.epochs} step ${s.stepInEpoch}/${s.stepsPerEpoch} loss ${
            s.loss.toFixed(4)
          } lr ${s.lr.toExponential(2)} ${Math.round(s.imagesPerSecond)} img/s ETA ${
            formatDuration(s.etaSeconds)
          }`,
        ),
      onEpoch: (e) => {
        const c = e.test.certified;
        bar.log(
          `epoch ${e.epoch + 1}/${config.epochs} (${formatDuration(e.seconds)}): train loss ${
            e.trainLoss.toFixed(4)
          }, test accuracy ${(e.test.accuracy * 100).toFixed(2)}%, certified ${
            Object.entries(c).map(([k, v]) => `${k}: ${(v * 100).toFixed(2)}%`).join(", ")
          }`,
        );
      },
    });
    dispose(result.params);
    if (result.status === "interrupted") {
      bar.log(
        `interrupted at step ${result.step}; checkpoint ${result.checkpoint}; continue with: deno task train --train-dir ${config.trainDir} --resume`,
      );
      return 130;
    }
    bar.clear();
    if (result.final) {
      console.error(accuracyTable(result.final));
      console.error(
        `trained in ${formatDuration(result.seconds)}; checkpoint ${result.checkpoint}`,
      );
      if (json) console.log(resultJson(result.final, result.seconds));
    }
    return 0;
  } finally {
    try {
      Deno.removeSignalListener("SIGINT", onSigint);
    } catch { /* ignore */ }
  }
}

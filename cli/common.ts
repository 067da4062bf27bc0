/**
 * Pieces shared by the subcommands: the architecture and backend flags, choosing the backend,
 * loading a model from our checkpoints or the reference's `.pth`, loading the test split, and
 * printing the accuracy table / `--json` line. Errors are thrown; only main.ts exits.
 * @module
 */
import type { Network, NetworkParams } from "../train/model.ts";
import { DATASET_MEANS, type DatasetName, loadDataset, type Split } from "../data/mod.ts";
import { autoBackend, initWebGpu, setBackend } from "../tensor/mod.ts";
import { dispose } from "../tensor/mod.ts";
import type { FlagSpec } from "./args.ts";
import { CONFIG_FLAGS, configFlag } from "./config_flags.ts";
import { UsageError } from "./args.ts";
import { type EvalResult, resolveCheckpoint } from "../train/checkpoint.ts";
import { isPthPath, loadModelFile } from "../train/load_model.ts";
import type { Arch, TrainConfig } from "../train/config.ts";
import { DISTRIBUTED_MODES, type DistributedMode } from "../distributed/launch.ts";
import { startWorld, type World } from "../distributed/world.ts";
import { archFromPreset, presetNames } from "../train/model.ts";

/** Per-example shape and class count of each dataset (to build a network before loading). */
export const DATASET_INFO: Readonly<
  Record<DatasetName, { shape: [number, number, number]; classes: number }>
> = {
  "fashion-mnist": { shape: [1, 28, 28], classes: 10 },
  mnist: { shape: [1, 28, 28], classes: 10 },
  cifar10: { shape: [3, 32, 32], classes: 10 },
  cifar100: { shape: [3, 32, 32], classes: 100 },
  "tiny-imagenet": { shape: [3, 64, 64], classes: 200 },
};

/** `--backend` values. */
export const BACKENDS = ["cpu", "webgpu", "auto"] as const;

/** The dataset a `.pth` checkpoint is evaluated on when `--dataset` is not given. */
export const PTH_DEFAULT_DATASET: DatasetName = "cifar10";

/**
 * Flags naming the network of a reference `.pth` checkpoint (the config's arch flags and
 * `--mean`; our checkpoints carry their architecture and ignore none of these silently).
 */
export const ARCH_FLAGS: readonly FlagSpec[] = CONFIG_FLAGS.filter((f) =>
  [
    "model-name",
    "n-conv",
    "n-dense",
    "w",
    "conv-inner-dim",
    "dense-inner-dim",
    "space-to-depth",
    "q-mode",
    "mean",
  ]
    .includes(f.name)
).map((f) => ({
  ...f,
  help: f.name === "model-name" ? "architecture preset of a .pth checkpoint" : `.pth: ${f.help}`,
  defaultText: f.name === "q-mode" ? "reference" : f.name === "mean" ? "the dataset's" : undefined,
}));

/** Flags common to every command that runs a network. */
export const RUN_FLAGS: readonly FlagSpec[] = [
  {
    name: "backend",
    kind: BACKENDS,
    help: "compute backend (auto: WebGPU when a hardware adapter is usable)",
    defaultText: "auto",
  },
  { name: "json", kind: "bool", help: "print the result as one JSON line on stdout" },
  { name: "help", kind: "bool", help: "show this help" },
];

/** `--offline`: never download. */
export const OFFLINE_FLAG: FlagSpec = {
  name: "offline",
  kind: "bool",
  help: "never download a missing dataset; say where to put which files",
};

/** `--distributed`: data-parallel over the ranks of an MPI launch (train, certify, attack). */
export const DISTRIBUTED_FLAG: FlagSpec = {
  name: "distributed",
  kind: DISTRIBUTED_MODES,
  help:
    "auto (default): data-parallel when started by mpiexec/srun; off: one process; on: require MPI",
};

/**
 * Starts the process group from `--distributed` (see distributed/world.ts). On ranks other
 * than 0 the console is silenced, so results, tables and logs appear once; errors still reach
 * stderr through the abort path, prefixed with the rank.
 *
 * @example
 * ```ts ignore
 * import { startDistributed } from "./common.ts";
 * const world = startDistributed({ distributed: "auto" });
 * ```
 */
export function startDistributed(values: Record<string, unknown>): World {
  const world = startWorld((values.distributed as DistributedMode | undefined) ?? "auto");
  if (!world.isRoot) {
    const quiet = (): void => {};
    console.log =
      console.error =
      console.warn =
      console.info =
      console.debug =
        quiet;
  }
  return world;
}

/** Flags choosing the data of an evaluation command. */
export const DATA_FLAGS: readonly FlagSpec[] = [
  configFlag("dataset", {
    help: "dataset of a .pth checkpoint (ours record theirs)",
    defaultText: `the checkpoint's; ${PTH_DEFAULT_DATASET} for a .pth`,
  }),
  configFlag("data-dir"),
  configFlag("limit-test"),
  OFFLINE_FLAG,
];

/**
 * Selects the compute backend — "cpu", "webgpu" (error when no adapter) or "auto" (see
 * `autoBackend`) — and returns a one-line description of what was chosen and why.
 *
 * @example
 * ```ts ignore
 * import { selectBackend } from "./common.ts";
 * console.error(await selectBackend("auto")); // e.g. "backend: cpu (…software adapter…)"
 * ```
 */
export async function selectBackend(name: string): Promise<string> {
  if (name === "cpu") {
    await setBackend("cpu");
    return "backend: cpu";
  }
  if (name === "webgpu") {
    const adapter = await initWebGpu();
    await setBackend("webgpu");
    return `backend: webgpu on ${adapter.description || adapter.device} (${adapter.backend})`;
  }
  const picked = await autoBackend();
  if (picked.backend === "webgpu") {
    const a = picked.adapter!;
    return `backend: webgpu on ${a.description || a.device} (${a.backend})`;
  }
  return `backend: cpu (${picked.reason})`;
}

/**
 * The architecture from `--model-name` and explicit size flags (explicit ones win), starting
 * from `base`.
 */
export function archFromFlags(values: Record<string, unknown>, base: Arch): Arch {
  let arch: Arch = { ...base };
  if (values["model-name"] !== undefined) {
    const name = String(values["model-name"]);
    if (!presetNames().includes(name)) {
      throw new UsageError(
        `invalid value for --model-name: "${name}" (expected one of ${presetNames().join(", ")})`,
      );
    }
    arch = { ...archFromPreset(name), qMode: base.qMode };
  }
  const set = (flag: string, key: keyof Arch): void => {
    if (values[flag] !== undefined) {
      (arch as unknown as Record<string, unknown>)[key] = values[flag];
      if (values["model-name"] === undefined) arch.name = undefined;
    }
  };
  set("n-conv", "nConv");
  set("n-dense", "nDense");
  set("w", "width");
  set("conv-inner-dim", "convInnerDim");
  set("dense-inner-dim", "denseInnerDim");
  set("space-to-depth", "spaceToDepth");
  if (values["q-mode"] !== undefined) arch.qMode = values["q-mode"] as Arch["qMode"];
  for (const k of ["nConv", "nDense"] as const) {
    if (arch[k] < 0) {
      throw new UsageError(
        `invalid value for --${k === "nConv" ? "n-conv" : "n-dense"}: ${
          arch[k]
        } (expected an integer ≥ 0)`,
      );
    }
  }
  return arch;
}

/** A model ready to run: network, kept parameters, and where it came from. */
export interface LoadedModel {
  /** The network. */
  network: Network;
  /** Its parameters (kept; dispose when done). */
  params: NetworkParams;
  /** Dataset it was trained on (ours) or given by --dataset (.pth). */
  dataset: DatasetName;
  /** Architecture. */
  arch: Arch;
  /** The checkpoint file. */
  path: string;
  /** Our training config, when the checkpoint is ours. */
  config?: TrainConfig;
  /** Metrics stored with the checkpoint. */
  metrics?: EvalResult;
}

/**
 * Loads `--checkpoint` (ours, or the reference's `.pth` with the architecture from flags); says on
 * stderr which file it read. `archHint` tells how to name a `.pth`'s architecture (the flags, by
 * default; `reproduce` takes no such flags and names its folder layout instead).
 *
 * @example
 * ```ts ignore
 * import { loadModel } from "./common.ts";
 * const m = await loadModel("runs/a", {});
 * ```
 */
export async function loadModel(
  checkpoint: string,
  values: Record<string, unknown>,
  archHint =
    "pass --model-name or --n-conv/--n-dense/--w/--conv-inner-dim/--dense-inner-dim (and --dataset)",
): Promise<LoadedModel> {
  const path = await resolveCheckpoint(checkpoint);
  console.error(`read ${path}`);
  const flagDataset = values.dataset as DatasetName | undefined;
  if (isPthPath(path)) {
    const dataset = flagDataset ?? PTH_DEFAULT_DATASET;
    const info = DATASET_INFO[dataset];
    const hasArch = ["model-name", "n-conv", "n-dense", "w", "dense-inner-dim"].some((f) =>
      values[f] !== undefined
    );
    if (!hasArch) {
      throw new UsageError(
        `${path} is a PyTorch checkpoint without architecture metadata: ${archHint}`,
      );
    }
    const arch = archFromFlags(values, {
      nConv: 30,
      nDense: 5,
      width: 1,
      convInnerDim: 5,
      denseInnerDim: 2048,
      qMode: "reference",
    });
    const mean = (values.mean as number[] | undefined) ??
      [...((DATASET_MEANS as Record<string, readonly number[]>)[dataset] ?? [0])];
    const m = await loadModelFile(path, {
      dataset,
      inputShape: info.shape,
      numClasses: info.classes,
      mean,
      arch,
    });
    return { network: m.network, params: m.params, dataset, arch, path };
  }
  const m = await loadModelFile(path);
  const dataset = m.spec.dataset;
  if (flagDataset !== undefined && flagDataset !== dataset) {
    dispose(m.params);
    throw new UsageError(
      `${path} was trained on ${dataset}, not ${flagDataset}; drop --dataset or pass a matching checkpoint`,
    );
  }
  return {
    network: m.network,
    params: m.params,
    dataset,
    arch: m.spec.arch,
    path,
    config: m.config,
    metrics: m.metrics,
  };
}

/**
 * Loads the test split (and a 1-image train split) of `dataset`; says on stderr which files it
 * read.
 */
export async function loadTest(
  dataset: DatasetName,
  values: Record<string, unknown>,
): Promise<Split> {
  const split = await loadDataset(dataset, {
    dataDir: values["data-dir"] as string | undefined,
    limitTrain: 1,
    limitTest: values["limit-test"] as number | undefined,
    download: !values.offline,
  });
  // say which files were read (the train files are opened for their header and first image)
  if (split.files) console.error(`read ${split.files.join(", ")}`);
  return split;
}

/**
 * The accuracy table: natural accuracy and certified accuracy at each ε, in percent.
 *
 * @example
 * ```ts
 * import { accuracyTable } from "./common.ts";
 * console.log(accuracyTable({ n: 10, accuracy: 0.9, certified: { "36": 0.8 } }));
 * ```
 */
export function accuracyTable(r: EvalResult): string {
  const keys = Object.keys(r.certified);
  const head = ["natural", ...keys.map((k) => `ε=${k}/255`)];
  const vals = [r.accuracy, ...keys.map((k) => r.certified[k])].map((v) =>
    (v * 100).toFixed(2) + "%"
  );
  const w = head.map((h, i) => Math.max(h.length, vals[i].length));
  const line = (cells: string[]): string =>
    "| " + cells.map((c, i) => c.padStart(w[i])).join(" | ") + " |";
  const sep = "+" + w.map((x) => "-".repeat(x + 2)).join("+") + "+";
  const lines = [sep, line(head), sep, line(vals), sep, `(${r.n} test images)`];
  if (r.lipschitz) lines.push(`Lipschitz bound ${r.lipschitz.text}`);
  return lines.join("\n");
}

/** The `--json` result line of train and certify. */
export function resultJson(r: EvalResult, seconds: number): string {
  return JSON.stringify({
    n: r.n,
    accuracy: r.accuracy,
    certified: r.certified,
    ...(r.lipschitz ? { lipschitz: r.lipschitz } : {}),
    seconds: Math.round(seconds * 1000) / 1000,
  });
}

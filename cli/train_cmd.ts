/**
 * `sll train`: flags → validated TrainConfig → the training loop, with progress and messages on
 * stderr and the result (accuracy table, or the `--json` line) on stdout. Ctrl-C or SIGTERM saves
 * after the current step and exits 130/143 (before the first step: no checkpoint). Refuses to reuse a train dir that already holds checkpoints unless
 * `--resume` is given, so nothing existing is overwritten.
 * @module
 */
import { join } from "node:path";
import { listCheckpoints, loadCheckpoint } from "../train/checkpoint.ts";
import { train } from "../train/loop.ts";
import { dispose } from "../tensor/mod.ts";
import { type FlagSpec, helpText, parseFlags, UsageError } from "./args.ts";
import {
  accuracyTable,
  DISTRIBUTED_FLAG,
  OFFLINE_FLAG,
  resultJson,
  RUN_FLAGS,
  selectBackend,
  startDistributed,
} from "./common.ts";
import { broadcastJson } from "../distributed/data_parallel.ts";
import type { TrainConfig } from "../train/config.ts";
import { CONFIG_FLAGS, configFromFlags, resumeConfig } from "./config_flags.ts";
import { formatDuration, ProgressBar } from "./progress.ts";

/** Flags of `sll train`: every config field's (from the schema), then the run's own. */
export const TRAIN_FLAGS: readonly FlagSpec[] = [
  ...CONFIG_FLAGS,
  {
    name: "resume",
    kind: "bool",
    help: "continue the run in --train-dir from its latest checkpoint; other config flags " +
      "must match it, except the resumable ones (epochs, save-every, log-every, eval-batch-size, " +
      "eval-every, data-dir)",
  },
  { name: "quiet", kind: "bool", help: "no progress bar" },
  OFFLINE_FLAG,
  DISTRIBUTED_FLAG,
  ...RUN_FLAGS,
];

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

/** Exit codes of a stopped run: 128 + the signal number, as shells report them. */
const SIGNAL_EXIT: Record<"SIGINT" | "SIGTERM", number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Resolves once every signal this process received so far has reached its listeners: a signal
 * that arrives while JavaScript runs a long synchronous stretch (decoding the dataset) reaches
 * its listener only some time after (measured: up to ~0.6 s here). So the process sends itself
 * SIGUSR2 and waits for that one: the runtime delivers pending signals together, so by then an
 * earlier Ctrl-C has been seen. Without signal support it just yields.
 */
async function flushSignals(): Promise<void> {
  const yieldOnce = (): Promise<void> => new Promise((r) => setTimeout(r, 0));
  if (Deno.build.os === "windows") return await yieldOnce();
  let resolve = (): void => {};
  const seen = new Promise<void>((r) => (resolve = r));
  const probe = (): void => resolve();
  try {
    Deno.addSignalListener("SIGUSR2", probe);
  } catch {
    return await yieldOnce();
  }
  try {
    Deno.kill(Deno.pid, "SIGUSR2");
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([seen, new Promise<void>((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    await yieldOnce(); // let the listeners of signals delivered in the same batch run
  } finally {
    Deno.removeSignalListener("SIGUSR2", probe);
  }
}

/**
 * Stop requests (Ctrl-C = SIGINT, `kill` = SIGTERM) as an AbortSignal: the first asks the loop to
 * save after the current step and return; a second ends the process at once. Installed before
 * anything slow, so an early Ctrl-C is never lost.
 */
function stopOnSignals(log: (m: string) => void): {
  signal: AbortSignal;
  which: () => "SIGINT" | "SIGTERM" | undefined;
  flush: () => Promise<void>;
  remove: () => void;
} {
  const controller = new AbortController();
  let which: "SIGINT" | "SIGTERM" | undefined;
  const handlers: [Deno.Signal, () => void][] = [];
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    const h = (): void => {
      if (which !== undefined) Deno.exit(SIGNAL_EXIT[sig]);
      which = sig;
      log(`${sig}: stopping after the current step, with a checkpoint (again to quit now)`);
      controller.abort();
    };
    try {
      Deno.addSignalListener(sig, h);
      handlers.push([sig, h]);
    } catch { /* signals unsupported here (Windows has no SIGTERM listener) */ }
  }
  return {
    signal: controller.signal,
    which: () => which,
    flush: flushSignals,
    remove: () => {
      for (const [sig, h] of handlers) {
        try {
          Deno.removeSignalListener(sig, h);
        } catch { /* ignore */ }
      }
    },
  };
}

/** Runs `sll train`; returns the process exit code. */
export async function trainCommand(argv: readonly string[]): Promise<number> {
  const { values } = parseFlags("train", argv, TRAIN_FLAGS);
  if (values.help) {
    console.log(helpText("train", "train an SLL network and certify it", TRAIN_FLAGS));
    return 0;
  }
  const bar = new ProgressBar({ enabled: !values.quiet });
  const stop = stopOnSignals((m) => bar.log(m));
  try {
    return await runTrain(values, bar, stop);
  } finally {
    stop.remove();
  }
}

/** Checks the train dir (no checkpoints unless resuming) and, resuming, takes the run's config. */
async function resolveRun(
  flagConfig: TrainConfig,
  values: Record<string, unknown>,
  resume: boolean,
  log: (m: string) => void,
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
    const latest = existing[existing.length - 1];
    const stored = (await loadCheckpoint(latest)).meta.config;
    log(`read ${latest}`);
    // the run's own config wins; a given flag that disagrees with it is an error
    config = resumeConfig(stored, values);
  }
  await checkWritable(config.trainDir);
  return config;
}

async function runTrain(
  values: Record<string, unknown>,
  bar: ProgressBar,
  stop: ReturnType<typeof stopOnSignals>,
): Promise<number> {
  let config = configFromFlags(values);
  const resume = Boolean(values.resume);
  const world = startDistributed(values);
  if (resume && values["train-dir"] === undefined) {
    throw new UsageError("--resume needs --train-dir (the run to continue)");
  }
  // rank 0 alone reads and writes the train dir; the others take its resolved config
  if (world.isRoot) config = await resolveRun(config, values, resume, (m) => bar.log(m));
  config = broadcastJson(world, config);
  if (!world.isRoot) bar.hide();
  const json = Boolean(values.json);
  const backend = await selectBackend((values.backend as string | undefined) ?? "auto");
  bar.log(
    `${backend}; train dir ${config.trainDir}; pid ${Deno.pid} (stop: kill ${Deno.pid})` +
      (world.size > 1 ? `; ${world.size} processes × batch ${config.batchSize}` : ""),
  );

  const result = await train(config, {
    resume,
    world,
    signal: stop.signal,
    beforeFirstStep: stop.flush,
    download: !values.offline,
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
      const head = `epoch ${e.epoch + 1}/${config.epochs} (${
        formatDuration(e.seconds)
      }): train loss ${e.trainLoss.toFixed(4)}`;
      if (e.test === undefined) return bar.log(`${head} (no evaluation: --eval-every)`);
      const c = e.test.certified, lip = e.test.lipschitz;
      bar.log(
        `${head}, test accuracy ${(e.test.accuracy * 100).toFixed(2)}%, certified ${
          Object.entries(c).map(([k, v]) => `${k}: ${(v * 100).toFixed(2)}%`).join(", ")
        }${
          // a bound other than 1 by construction (CPL, LiResNet) is said where it divides
          lip && lip.text !== "1.0000 (by construction)" ? ` (Lipschitz bound ${lip.text})` : ""}`,
      );
    },
  });
  if (result.params !== undefined) dispose(result.params);
  if (result.status === "interrupted") {
    const sig = stop.which() ?? "SIGINT";
    if (result.stepsRun === 0) {
      console.error(`${sig} before the first step: exiting without a checkpoint`);
    } else {
      console.error(
        `stopped at step ${result.step}; checkpoint ${result.checkpoint}; continue with: ` +
          `deno task train --train-dir ${config.trainDir} --resume`,
      );
    }
    return SIGNAL_EXIT[sig];
  }
  bar.clear();
  if (result.final) {
    console.error(`trained in ${formatDuration(result.seconds)}; checkpoint ${result.checkpoint}`);
    // the result: on stdout (progress and messages are on stderr)
    if (json) {
      console.error(accuracyTable(result.final));
      console.log(resultJson(result.final, result.seconds));
    } else console.log(accuracyTable(result.final));
  }
  return 0;
}

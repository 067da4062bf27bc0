/**
 * The training loop: deterministic batches from (seed, epoch), one update per batch inside a
 * `scope` (parameters and optimizer state are kept, the previous ones disposed), metrics lines,
 * per-epoch evaluation, atomic checkpoints and exact resume. Invariants: the state after step s
 * depends only on the config and s (so resume is bit-for-bit), live tensors stay flat, and a
 * non-finite loss never reaches a checkpoint, and one process at a time trains in a train dir
 * (train.lock). It never exits the process; the CLI does.
 * @module
 */
import { join } from "node:path";
import {
  type Batch,
  batches,
  type BatchOptions,
  type Dataset,
  DATASET_MEANS,
  loadDataset,
  numBatches,
  type Split,
} from "../data/mod.ts";
import { dispose, keep, memory, scope, type Tensor, tensor } from "../tensor/mod.ts";
import { valueAndGrad } from "../autodiff/autodiff.ts";
import { randomKey, split } from "../tensor/random.ts";
import { leaves } from "../tensor/tree.ts";
import {
  type CheckpointMeta,
  type EvalResult,
  listCheckpoints,
  loadCheckpoint,
  saveCheckpoint,
} from "./checkpoint.ts";
import { clipByGlobalNorm, clipByValue } from "./clip.ts";
import type { TrainConfig } from "./config.ts";
import { evaluate } from "./evaluate.ts";
import { makeLoss } from "./loss_select.ts";
import {
  archKind,
  buildNetwork,
  CONVERGE_ITERATIONS,
  type Network,
  type NetworkParams,
  paramsFromCheckpoint,
  resolvedArch,
} from "./model.ts";
import { makeOptimizer, type OptState } from "./optimizers.ts";
import { makeSchedule } from "./schedules.ts";
import { augmentFor } from "./augment_select.ts";
import { lockTrainDir } from "./lock.ts";
import { SINGLE_PROCESS, type World } from "../distributed/world.ts";
import { broadcastJson } from "../distributed/data_parallel.ts";
import {
  checkInSync,
  dataParallelStep,
  shareState,
  stepsPerEpochCheck,
} from "./data_parallel_step.ts";

/** Progress of one update, for progress bars. */
export interface StepInfo {
  /** Epoch index (from 0). */
  epoch: number;
  /** Global update count after this step. */
  step: number;
  /** Updates done in this epoch. */
  stepInEpoch: number;
  /** Updates per epoch. */
  stepsPerEpoch: number;
  /** Updates of the whole run. */
  totalSteps: number;
  /** Training loss of this batch. */
  loss: number;
  /** Learning rate used. */
  lr: number;
  /** Training images per second (since this run started). */
  imagesPerSecond: number;
  /** Estimated seconds left (training only). */
  etaSeconds: number;
}

/** One finished epoch. */
export interface EpochInfo {
  /** Epoch index (from 0). */
  epoch: number;
  /** Global update count. */
  step: number;
  /** Mean training loss over the epoch's batches run in this process. */
  trainLoss: number;
  /** Test evaluation (natural and certified accuracy); absent when `evalEvery` skips this epoch. */
  test?: EvalResult;
  /** Seconds spent in this epoch's training steps. */
  seconds: number;
  /** Checkpoint written after the epoch, if any. */
  checkpoint?: string;
}

/** Options of `train`. */
export interface TrainOptions {
  /** Data already in memory (else loaded from `config.dataset`). */
  data?: Split;
  /** Continue from the latest checkpoint in `config.trainDir`. */
  resume?: boolean;
  /** Stops after the step in progress, saving a checkpoint (Ctrl-C). */
  signal?: AbortSignal;
  /** Stop (and checkpoint) once this many global steps are done. */
  stopAfterStep?: number;
  /** Called after every update. */
  onStep?: (s: StepInfo) => void;
  /** Called after every epoch's evaluation. */
  onEpoch?: (e: EpochInfo) => void;
  /** Informational messages (data loaded, checkpoint written, resumed from …). */
  onMessage?: (m: string) => void;
  /**
   * Awaited just before the first step, then `signal` is checked: a stop asked for until then
   * ends the run without a checkpoint (the CLI waits here until pending signals are delivered).
   */
  beforeFirstStep?: () => Promise<void>;
  /** Download the dataset when it is not on disk (only when `data` is not given). */
  download?: boolean;
  /**
   * The processes training together (default: this one alone). With several, `batchSize` is
   * per process, each epoch's order is split over the ranks, gradients are averaged in one
   * all-reduce, and only rank 0 writes files (and holds the train-dir lock).
   */
  world?: World;
}

/** The outcome of `train`. */
export interface TrainResult {
  /** "done", "interrupted" (signal or stopAfterStep). */
  status: "done" | "interrupted";
  /** Final parameters (kept; dispose them when done). */
  params: NetworkParams;
  /** The network they belong to. */
  network: Network;
  /** Global steps done. */
  step: number;
  /** Steps done by this call (0: interrupted before its first step; nothing was saved). */
  stepsRun: number;
  /** Last evaluation on the test set. */
  final?: EvalResult;
  /** Last checkpoint written. */
  checkpoint?: string;
  /** Wall time in seconds. */
  seconds: number;
}

/** Thrown when the loss becomes NaN or infinite; names the step and the last checkpoint. */
export class DivergedError extends Error {
  /** Step at which the loss was not finite. */
  readonly step: number;
  /** Last checkpoint on disk (untouched), if any. */
  readonly lastCheckpoint?: string;
  /** Builds the message from the step, the loss value and the last checkpoint. */
  constructor(step: number, loss: number, lastCheckpoint?: string) {
    super(
      `training diverged: the loss is ${loss} at step ${step}; ` +
        (lastCheckpoint
          ? `the last good checkpoint is ${lastCheckpoint}. `
          : "no checkpoint was written yet. ") +
        "Lower --lr, or add --clip-norm 1",
    );
    this.name = "DivergedError";
    this.step = step;
    this.lastCheckpoint = lastCheckpoint;
  }
}

/** Replaces kept tree `old` by `next`: keeps `next`, disposes leaves of `old` not reused. */
function swapKept<T>(old: T, next: T): T {
  keep(next);
  const reused = new Set<Tensor>(leaves(next));
  for (const t of leaves(old)) if (!reused.has(t)) t.dispose();
  return next;
}

const appendLine = (path: string, obj: unknown): Promise<void> =>
  Deno.writeTextFile(path, JSON.stringify(obj) + "\n", { append: true });

/** Radii (×1/255) of the certified-accuracy curve stored with each epoch (for plots). */
const CURVE_EPS: number[] = Array.from({ length: 52 }, (_, i) => i * 5);

/**
 * One turn of the event loop (signals, file writes), through a message rather than
 * `setTimeout(0)`: timers nested this deep are clamped to 4 ms, a step's worth of work here.
 */
const yieldToEventLoop = (): Promise<void> =>
  new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => (port1.close(), resolve());
    port2.postMessage(null);
  });

/**
 * The training batches of one epoch, exactly as the loop consumes them: shuffled by the run's
 * seed and the epoch, and with `config.augment` augmented by `augmentFor(config.dataset)` with
 * keys from (seed, epoch, batch index) — so a resumed run sees the same pixels.
 *
 * @example
 * ```ts
 * import { DEFAULT_CONFIG, epochBatches } from "@sll/sll/train";
 * const data = {
 *   name: "toy", n: 10, numClasses: 2, shape: [1, 2, 2] as [number, number, number],
 *   images: new Float32Array(40).fill(0.5), labels: Int32Array.from({ length: 10 }, (_, i) => i % 2),
 * };
 * for (const b of epochBatches({ ...DEFAULT_CONFIG, batchSize: 4 }, data, 0)) {
 *   console.log(b.index, b.size); // 0 4, 1 4, 2 2
 * }
 * ```
 */
export function epochBatches(
  config: Pick<TrainConfig, "augment" | "dataset" | "batchSize" | "seed">,
  trainSet: Dataset,
  epoch: number,
  shard?: BatchOptions["shard"],
): Generator<Batch, void, undefined> {
  // the data key is the second of the seed's key split (the first initialises the network)
  const [, dataKey] = split(randomKey(config.seed), 2);
  return batches(trainSet, {
    batchSize: config.batchSize,
    key: dataKey,
    epoch,
    shard,
    augment: config.augment ? augmentFor(config.dataset) : undefined,
  });
}

/**
 * Trains the network described by `config` and returns the final parameters and evaluation.
 * Writes `metrics.jsonl` and checkpoints under `config.trainDir`. With `resume`, continues
 * from the latest checkpoint there (bit-for-bit the same as an uninterrupted run). Throws
 * `DivergedError` on a non-finite loss (no checkpoint is written for it).
 *
 * @example
 * ```ts
 * import { dispose } from "@sll/sll";
 * import { archFromPreset, type Dataset, DEFAULT_CONFIG, train } from "@sll/sll/train";
 * const toy = (n: number): Dataset => ({
 *   name: "toy", n, numClasses: 2, shape: [1, 8, 8],
 *   images: Float32Array.from({ length: n * 64 }, (_, i) => (i % 64 < 32) === (i % 128 < 64) ? 1 : 0),
 *   labels: Int32Array.from({ length: n }, (_, i) => i % 2),
 * });
 * const trainDir = await Deno.makeTempDir();
 * const r = await train(
 *   { ...DEFAULT_CONFIG, trainDir, epochs: 1, batchSize: 16, evalBatchSize: 16, mean: [0.5],
 *     arch: { ...archFromPreset("tiny"), width: 2, denseInnerDim: 16 } },
 *   { data: { train: toy(32), test: toy(16) } },
 * );
 * console.log(r.final?.accuracy, r.checkpoint);
 * dispose(r.params);
 * await Deno.remove(trainDir, { recursive: true });
 * ```
 */
export async function train(config: TrainConfig, opts: TrainOptions = {}): Promise<TrainResult> {
  // rank 0 alone writes the train dir, so it alone holds the lock
  const lock = (opts.world ?? SINGLE_PROCESS).isRoot ? lockTrainDir(config.trainDir) : undefined;
  try {
    return await trainLocked(config, opts);
  } finally {
    lock?.release();
  }
}

async function trainLocked(config: TrainConfig, opts: TrainOptions): Promise<TrainResult> {
  const t0 = performance.now();
  const msg = opts.onMessage ?? (() => {});
  const data = opts.data ?? await loadDataset(config.dataset, {
    dataDir: config.dataDir,
    limitTrain: config.limitTrain,
    limitTest: config.limitTest,
    download: opts.download,
  });
  if (data.files) msg(`read ${data.files.join(", ")}`);
  const { train: trainSet, test: testSet } = data;
  const mean = config.mean ??
    [...((DATASET_MEANS as Record<string, readonly number[]>)[config.dataset] ?? [0])];
  const network = buildNetwork(config.arch, trainSet.shape, trainSet.numClasses, mean);
  const world = opts.world ?? SINGLE_PROCESS;
  const shard = world.size > 1 ? { rank: world.rank, size: world.size } : undefined;
  const stepsPerEpoch = numBatches(Math.ceil(trainSet.n / world.size), config.batchSize);
  const totalSteps = stepsPerEpoch * config.epochs;
  const schedule = makeSchedule({
    name: config.scheduler,
    lr: config.lr,
    totalSteps,
    stepsPerEpoch,
    milestones: config.decay,
    gamma: config.gamma,
    warmup: config.warmup,
  });
  const optimizer = makeOptimizer({
    name: config.optimizer,
    beta1: config.beta1,
    beta2: config.beta2,
    weightDecay: config.weightDecay,
    momentum: config.momentum,
    nesterov: config.nesterov,
  });
  const lossOf = makeLoss(config, trainSet.numClasses);
  // One split of the seed's key: the init key and the data-order key are siblings.
  const [initKey, dataKey] = split(randomKey(config.seed), 2);
  const a = config.arch;
  msg(
    `${config.dataset}: ${trainSet.n} train / ${testSet.n} test images; model ${
      archKind(a) === "convnet"
        ? `ConvNet-${a.size ?? "xs"} of ${a.layer ?? "sll"} layers`
        : `${a.name ?? "custom"} (n_conv ${a.nConv}, n_dense ${a.nDense}, w ${a.width}, ` +
          `conv inner ${a.convInnerDim}, dense inner ${a.denseInnerDim}${
            (a.spaceToDepth ?? 1) === 1 ? "" : `, space-to-depth ${a.spaceToDepth}`
          }, q ${a.qMode})`
    }; ${config.epochs} epochs of batch ` +
      `${config.batchSize}${config.augment ? ", augmented" : ""}`,
  );

  if (world.isRoot) {
    await Deno.mkdir(join(config.trainDir, "checkpoints"), { recursive: true });
    await Deno.writeTextFile(
      join(config.trainDir, "config.json"),
      JSON.stringify(config, null, 2) + "\n",
    );
  }
  const metricsPath = join(config.trainDir, "metrics.jsonl");

  // ----- state: fresh or from the latest checkpoint
  let params: NetworkParams;
  let state: OptState<NetworkParams>;
  let step = 0;
  let lastCheckpoint: string | undefined;
  let final: EvalResult | undefined;
  if (opts.resume && world.isRoot) {
    const latest = (await listCheckpoints(config.trainDir)).at(-1);
    if (!latest) {
      throw new Error(
        `--resume: no checkpoint in ${
          join(config.trainDir, "checkpoints")
        }; train without --resume first`,
      );
    }
    const ck = await loadCheckpoint(latest);
    stepsPerEpochCheck(ck.meta, stepsPerEpoch, world.size, latest);
    const slots: Record<string, NetworkParams> = {};
    params = keep(scope(() => paramsFromCheckpoint(network, ck.params, latest)));
    try {
      for (const name of optimizer.slotNames) {
        slots[name] = keep(
          scope(() => paramsFromCheckpoint(network, ck.slots[name] ?? {}, `${latest} (${name})`)),
        );
      }
    } catch (e) {
      dispose([params, slots]);
      throw e;
    }
    state = { step: ck.meta.optimizer.step, slots };
    step = ck.meta.step;
    lastCheckpoint = latest;
    final = ck.meta.metrics;
    msg(`resumed from ${latest} (step ${step}, epoch ${ck.meta.epoch.toFixed(2)})`);
  } else {
    params = keep(scope(() => network.init(initKey).params));
    state = keep(optimizer.init(params));
  }
  if (world.size > 1) {
    // every rank starts from rank 0's parameters, optimizer state and step
    const shared = await shareState(world, { params, state, step });
    params = shared.params;
    state = shared.state;
    step = shared.step;
    // the last evaluation too: whether the run ends with a (collective) evaluation must agree
    final = broadcastJson(world, final ?? null) ?? undefined;
  }

  // layers with state outside the gradient (CPL's power iteration) advance it once per update
  const refreshed = (p: NetworkParams): NetworkParams => network.refresh?.(p, 1) ?? p;
  const lossAndGrad = valueAndGrad((p: NetworkParams, x: Tensor, y: Tensor) =>
    lossOf(network.apply(p, x), y, network.lastWeight(p))
  );
  const evalTest = async (): Promise<EvalResult & { curve?: unknown }> => {
    // stateful layers (CPL's power iteration) are evaluated with their state converged, on a
    // copy: the training state goes on as it was (a resumed run stays bit-identical)
    const evalParams = network.refresh
      ? keep(scope(() => network.refresh!(params, CONVERGE_ITERATIONS)))
      : params;
    try {
      return await evaluate(network.apply, evalParams, testSet, {
        prepare: network.prepare, // SLL rescalings once per evaluation, not per batch
        network, // certificates divide by its certified Lipschitz bound
        eps255: config.eps255,
        batchSize: config.evalBatchSize,
        lastWeight: network.lastWeight(evalParams),
        curve255: CURVE_EPS,
        world,
      });
    } finally {
      if (evalParams !== params) {
        const own = new Set<Tensor>(leaves(params));
        for (const t of leaves(evalParams)) if (!own.has(t)) t.dispose();
      }
    }
  };

  const meta = (reason: string, metrics?: EvalResult): Omit<CheckpointMeta, "tensors"> => ({
    format: "sll-checkpoint",
    version: 2,
    config,
    model: {
      dataset: config.dataset,
      inputShape: [...trainSet.shape],
      numClasses: trainSet.numClasses,
      mean,
      arch: resolvedArch(config.arch), // a ConvNet's layer and size written out
    },
    epoch: step / stepsPerEpoch,
    step,
    stepInEpoch: step % stepsPerEpoch,
    optimizer: { name: optimizer.name, step: state.step },
    rng: { seed: config.seed, key: [dataKey[0], dataKey[1]] },
    metrics,
    reason,
    savedAt: new Date().toISOString(),
  });
  const save = async (reason: string, metrics?: EvalResult): Promise<string | undefined> => {
    if (!world.isRoot) return undefined; // rank 0 alone writes
    lastCheckpoint = await saveCheckpoint(
      config.trainDir,
      params,
      state.slots,
      meta(reason, metrics),
    );
    msg(`checkpoint ${lastCheckpoint}`);
    return lastCheckpoint;
  };

  const baseline = memory().tensors;
  const tTrain = performance.now();
  const stepAtStart = step;
  let trainSeconds = 0;
  let status: TrainResult["status"] = "done";
  // a stop asked for before the first step (e.g. Ctrl-C while the data loaded): nothing to save.
  // (With several processes a stop is agreed on with the step's all-reduce instead.)
  await (opts.beforeFirstStep?.() ?? yieldToEventLoop());
  if (opts.signal?.aborted && world.size === 1) {
    dispose(state.slots);
    msg(
      `interrupted before the first step: no checkpoint written${
        lastCheckpoint ? ` (the latest is still ${lastCheckpoint})` : ""
      }`,
    );
    return {
      status: "interrupted",
      params,
      network,
      step,
      stepsRun: 0,
      final,
      checkpoint: lastCheckpoint,
      seconds: (performance.now() - t0) / 1000,
    };
  }
  try {
    outer: for (let epoch = Math.floor(step / stepsPerEpoch); epoch < config.epochs; epoch++) {
      const skip = step - epoch * stepsPerEpoch;
      const tEpoch = performance.now();
      let lossSum = 0, lossCount = 0;
      for (const batch of epochBatches(config, trainSet, epoch, shard)) {
        if (batch.index < skip) continue;
        const lr = schedule(step);
        let stopAll = false;
        const [loss, nextParams, nextState] = world.size > 1
          ? await (async () => {
            const r = await dataParallelStep(world, batch, params, state, {
              lossAndGrad,
              update: (g, s, p) => {
                if (config.clipNorm !== undefined) g = clipByGlobalNorm(g, config.clipNorm);
                if (config.clipValue !== undefined) g = clipByValue(g, config.clipValue);
                const u = optimizer.update(g, s, p, lr);
                return { ...u, params: refreshed(u.params) };
              },
              stop: opts.signal?.aborted ?? false,
            });
            stopAll = r.stop;
            return [tensor([r.loss]), r.params, r.state] as const;
          })()
          : scope(() => {
            const x = tensor(batch.x, { shape: batch.shape });
            const y = tensor(batch.y, { shape: [batch.size], dtype: "int32" });
            const [l, g0] = lossAndGrad(params, x, y);
            let g = g0;
            if (config.clipNorm !== undefined) g = clipByGlobalNorm(g, config.clipNorm);
            if (config.clipValue !== undefined) g = clipByValue(g, config.clipValue);
            const u = optimizer.update(g, state, params, lr);
            return [l, refreshed(u.params), u.state] as const;
          });
        const lossValue = (await loss.data())[0];
        loss.dispose();
        if (!Number.isFinite(lossValue)) {
          dispose([nextParams, nextState.slots]);
          throw new DivergedError(step + 1, lossValue, lastCheckpoint);
        }
        // the slots first: on a backend that fuses (CPU, WebGPU) the new moments then run once
        // and the new parameters read them, instead of recomputing them inline
        const slots = swapKept(state.slots, nextState.slots);
        params = swapKept(params, nextParams);
        state = { step: nextState.step, slots };
        step++;
        lossSum += lossValue;
        lossCount++;
        const elapsed = (performance.now() - tTrain) / 1000;
        const done = step - stepAtStart;
        const perStep = elapsed / done;
        const info: StepInfo = {
          epoch,
          step,
          stepInEpoch: batch.index + 1,
          stepsPerEpoch,
          totalSteps,
          loss: lossValue,
          lr,
          imagesPerSecond: (done * config.batchSize * world.size) / elapsed,
          etaSeconds: perStep * (totalSteps - step),
        };
        opts.onStep?.(info);
        if (world.isRoot && (step % config.logEvery === 0 || step === 1)) {
          await appendLine(metricsPath, {
            type: "step",
            epoch: step / stepsPerEpoch,
            step,
            loss: lossValue,
            lr,
            imagesPerSecond: Math.round(info.imagesPerSecond),
            time: new Date().toISOString(),
          });
        }
        await yieldToEventLoop(); // lets Ctrl-C and the metrics writes through
        // several ranks stop on the request all-reduced with this step, so all at the same one
        const stopRequested = world.size > 1 ? stopAll : opts.signal?.aborted;
        if (stopRequested || (opts.stopAfterStep !== undefined && step >= opts.stopAfterStep)) {
          status = "interrupted";
          await save("interrupt");
          break outer;
        }
      }
      trainSeconds += (performance.now() - tEpoch) / 1000;
      await checkInSync(world, params, step);
      const isLast = epoch + 1 === config.epochs, every = config.evalEvery ?? 1;
      let test: EvalResult | undefined, curve: unknown;
      if (isLast || (every > 0 && (epoch + 1) % every === 0)) {
        ({ curve, ...test } = await evalTest());
        final = test;
      }
      let ckpt: string | undefined;
      if ((epoch + 1) % config.saveEvery === 0 || isLast) {
        ckpt = await save(isLast ? "final" : "epoch", test);
      }
      const info: EpochInfo = {
        epoch,
        step,
        trainLoss: lossCount ? lossSum / lossCount : NaN,
        test,
        seconds: (performance.now() - tEpoch) / 1000,
        checkpoint: ckpt,
      };
      if (world.isRoot) {
        await appendLine(metricsPath, {
          type: "epoch",
          epoch: epoch + 1,
          step,
          trainLoss: info.trainLoss,
          test,
          curve,
          seconds: info.seconds,
          time: new Date().toISOString(),
        });
      }
      opts.onEpoch?.(info);
      const live = memory().tensors;
      if (live > baseline) {
        msg(`warning: ${live - baseline} tensors leaked during epoch ${epoch + 1}`);
      }
    }
  } catch (e) {
    dispose([params, state.slots]);
    throw e;
  }
  if (status === "done" && final === undefined) {
    const { curve: _c, ...test } = await evalTest();
    final = test;
  }
  dispose(state.slots);
  return {
    status,
    params,
    network,
    step,
    stepsRun: step - stepAtStart,
    final,
    checkpoint: lastCheckpoint,
    seconds: (performance.now() - t0) / 1000,
  };
}

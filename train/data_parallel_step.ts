/**
 * The training loop's data-parallel hooks: one step on several ranks (local gradient of this
 * rank's batch, ONE flat all-reduce averaging gradients with the loss and a stop request, then
 * clipping and the optimizer on identical inputs, so parameters stay bit-identical), rank 0's
 * state shared with every rank at the start, and the resume check that a checkpoint was
 * written with the same steps per epoch (number of processes × batch size).
 * @module
 */
import type { Batch } from "../data/mod.ts";
import { dispose, keep, scope, type Tensor, tensor } from "../tensor/mod.ts";
import { leaves } from "../tensor/tree.ts";
import type { World } from "../distributed/world.ts";
import {
  averageOverRanks,
  broadcastJson,
  broadcastTree,
  checkSame,
  treeChecksum,
} from "../distributed/data_parallel.ts";
import { getBackend } from "../tensor/mod.ts";
import type { CheckpointMeta } from "./checkpoint.ts";
import type { OptState } from "./optimizers.ts";

/** What one data-parallel step needs from the loop. */
export interface StepFns<P> {
  /** Loss and gradient of the local batch. */
  lossAndGrad: (p: P, x: Tensor, y: Tensor) => [Tensor, P];
  /** Clipping and the optimizer, applied to the averaged gradient. */
  update: (g: P, state: OptState<P>, params: P) => { params: P; state: OptState<P> };
  /** This rank asks to stop after this step (Ctrl-C). */
  stop: boolean;
}

/** Result of one data-parallel step. */
export interface StepResult<P> {
  /** The loss averaged over ranks (NaN on every rank when NaN on one). */
  loss: number;
  /** New parameters (not yet kept). */
  params: P;
  /** New optimizer state (not yet kept). */
  state: OptState<P>;
  /** Some rank asked to stop: every rank stops after this same step. */
  stop: boolean;
}

/**
 * One step of synchronous data-parallel SGD: the gradient of this rank's batch is averaged
 * over all ranks (sum / N) in one all-reduce, then clipped and applied — as PyTorch's DDP.
 *
 * Internal to the loop's data-parallel path; the public way is `train(config, { world })`.
 */
export async function dataParallelStep<P>(
  world: World,
  batch: Batch,
  params: P,
  state: OptState<P>,
  fns: StepFns<P>,
): Promise<StepResult<P>> {
  const [l, g] = scope(() => {
    const x = tensor(batch.x, { shape: batch.shape });
    const y = tensor(batch.y, { shape: [batch.size], dtype: "int32" });
    return fns.lossAndGrad(params, x, y);
  });
  let avg: { tree: P; extras: number[] };
  try {
    const local = (await l.data())[0];
    avg = await averageOverRanks(world, g, [local, fns.stop ? 1 : 0]);
  } finally {
    dispose([l, g]);
  }
  const next = scope(() => fns.update(avg.tree, state, params));
  const reused = new Set<Tensor>([...leaves(next.params), ...leaves(next.state.slots)]);
  for (const t of leaves(avg.tree)) if (!reused.has(t)) t.dispose();
  return { loss: avg.extras[0], params: next.params, state: next.state, stop: avg.extras[1] > 0 };
}

/**
 * Rank 0's parameters, optimizer state and step on every rank (fresh or resumed). The trees
 * passed in are replaced (disposed) by the broadcast ones.
 *
 * Internal to the loop's data-parallel path; the public way is `train(config, { world })`.
 */
export async function shareState<P>(
  world: World,
  s: { params: P; state: OptState<P>; step: number },
): Promise<{ params: P; state: OptState<P>; step: number }> {
  // one backend everywhere: another one's rounding would split the parameters apart
  const backend = [...getBackend()].reduce((h, c) => h * 31 + c.charCodeAt(0), 7);
  checkSame(world, [backend], `the compute backend (here ${getBackend()})`);
  const counters = broadcastJson(world, { step: s.step, optStep: s.state.step });
  const params = keep(await broadcastTree(world, s.params));
  const slots = keep(await broadcastTree(world, s.state.slots));
  dispose([s.params, s.state.slots]);
  return { params, state: { step: counters.optStep, slots }, step: counters.step };
}

/**
 * Throws when a checkpoint was written with another number of steps per epoch than this run
 * has (another process count or batch size): resuming would replay a different data order.
 *
 * Internal to the loop's data-parallel path; the public way is `train(config, { world })`.
 */
export function stepsPerEpochCheck(
  meta: CheckpointMeta,
  stepsPerEpoch: number,
  processes: number,
  path: string,
): void {
  if (meta.step === 0 || meta.epoch === 0) return;
  const then = Math.round(meta.step / meta.epoch);
  if (then !== stepsPerEpoch) {
    throw new Error(
      `--resume: ${path} was written by a run with ${then} steps per epoch, this one has ` +
        `${stepsPerEpoch} (${processes} process${processes > 1 ? "es" : ""} × batch ` +
        `${meta.config.batchSize}); resume with the number of processes (mpiexec -n) of the ` +
        `original run`,
    );
  }
}

/**
 * Throws on every rank unless the parameters are bit-identical on all ranks (a checksum of
 * every value, compared exactly); the loop checks it after each epoch.
 *
 * Internal to the loop's data-parallel path; the public way is `train(config, { world })`.
 */
export async function checkInSync(world: World, params: unknown, step: number): Promise<void> {
  if (world.size === 1) return;
  checkSame(world, [await treeChecksum(params)], `the parameters after step ${step}`);
}

/**
 * Learning-rate schedules as pure functions of the step: `(step) -> lr`. The step counts
 * optimizer updates from 0; `totalSteps` is the number of updates of the whole run.
 * `interp` is the reference's TriangularLRScheduler (np.interp through integer breakpoints).
 * @module
 */

/** A learning-rate schedule: the lr used for update number `step` (from 0). */
export type Schedule = (step: number) => number;

/** Schedule names accepted by `makeSchedule` (and the CLI's `--scheduler`). */
export const SCHEDULER_NAMES: readonly ["interp", "cosine", "multistep", "constant"] = [
  "interp",
  "cosine",
  "multistep",
  "constant",
];

/** np.interp for increasing xs: clamps outside, linear between breakpoints. */
function interp1(x: number, xs: readonly number[], ys: readonly number[]): number {
  if (x <= xs[0]) return ys[0];
  const last = xs.length - 1;
  if (x >= xs[last]) return ys[last];
  for (let i = 1; i <= last; i++) {
    if (x < xs[i]) {
      const x0 = xs[i - 1], x1 = xs[i];
      // np.interp takes the right value on a zero-width segment
      if (x1 === x0) return ys[i];
      return ys[i - 1] + (ys[i] - ys[i - 1]) * (x - x0) / (x1 - x0);
    }
  }
  return ys[last];
}

function checkTotal(totalSteps: number, name: string): void {
  if (!Number.isInteger(totalSteps) || totalSteps < 1) {
    throw new RangeError(`${name}: totalSteps must be a positive integer, got ${totalSteps}`);
  }
}

/**
 * The reference's `interp` schedule: piecewise linear through
 * (0, 0), (⌊2N/5⌋, lr), (⌊4N/5⌋, lr/20), (N, 0) with N = totalSteps, constant 0 after N.
 *
 * @example
 * ```ts
 * import { interpSchedule } from "@sll/sll";
 * const s = interpSchedule(0.01, 100);
 * s(0); // 0
 * s(40); // 0.01
 * s(80); // 0.0005
 * ```
 */
export function interpSchedule(lr: number, totalSteps: number): Schedule {
  checkTotal(totalSteps, "interpSchedule");
  const xs = [0, Math.floor(totalSteps * 2 / 5), Math.floor(totalSteps * 4 / 5), totalSteps];
  const ys = [0, lr, lr / 20, 0];
  return (step) => interp1(step, xs, ys);
}

/**
 * Cosine annealing to 0 over `totalSteps` (PyTorch's CosineAnnealingLR, eta_min 0):
 * lr·(1 + cos(π·t/N))/2.
 *
 * @example
 * ```ts
 * import { cosineSchedule } from "@sll/sll";
 * cosineSchedule(0.1, 10)(5); // 0.05
 * ```
 */
export function cosineSchedule(lr: number, totalSteps: number): Schedule {
  checkTotal(totalSteps, "cosineSchedule");
  return (step) => lr * (1 + Math.cos(Math.PI * Math.min(step, totalSteps) / totalSteps)) / 2;
}

/**
 * Multiplies lr by `gamma` at each milestone step passed (PyTorch's MultiStepLR).
 *
 * @example
 * ```ts
 * import { multistepSchedule } from "@sll/sll";
 * const s = multistepSchedule(0.1, [10, 20], 0.1);
 * s(9); // 0.1
 * s(10); // 0.01 (up to rounding)
 * ```
 */
export function multistepSchedule(
  lr: number,
  milestones: readonly number[],
  gamma: number,
): Schedule {
  const ms = [...milestones].sort((a, b) => a - b);
  return (step) => {
    let k = 0;
    for (const m of ms) if (step >= m) k++;
    return lr * gamma ** k;
  };
}

/**
 * Constant learning rate.
 *
 * @example
 * ```ts
 * import { constantSchedule } from "@sll/sll";
 * constantSchedule(0.01)(123); // 0.01
 * ```
 */
export function constantSchedule(lr: number): Schedule {
  return () => lr;
}

/**
 * Linear warmup over the first `warmupSteps` updates, multiplying `inner` by
 * min(1, (step + 1) / warmupSteps) (as `pytorch_warmup.LinearWarmup`, which the reference uses).
 *
 * @example
 * ```ts
 * import { constantSchedule, withWarmup } from "@sll/sll";
 * const s = withWarmup(constantSchedule(0.1), 10);
 * s(0); // 0.01
 * s(9); // 0.1
 * ```
 */
export function withWarmup(inner: Schedule, warmupSteps: number): Schedule {
  if (!(warmupSteps >= 0)) {
    throw new RangeError(`withWarmup: warmupSteps must be ≥ 0, got ${warmupSteps}`);
  }
  if (warmupSteps === 0) return inner;
  return (step) => inner(step) * Math.min(1, (step + 1) / warmupSteps);
}

/** Settings of `makeSchedule`. */
export interface ScheduleSettings {
  /** Which schedule. */
  name: (typeof SCHEDULER_NAMES)[number];
  /** Peak / base learning rate. */
  lr: number;
  /** Updates in the whole run. */
  totalSteps: number;
  /** Updates per epoch (milestones in epochs are converted with it). */
  stepsPerEpoch: number;
  /** multistep: milestones in epochs (default 10%, 50%, 85% of the run, as the reference). */
  milestones?: readonly number[];
  /** multistep: decay factor (default 0.1). */
  gamma?: number;
  /** Fraction of the run spent in linear warmup (default 0). */
  warmup?: number;
}

/**
 * Builds a schedule by name, as the reference's `get_scheduler` (+ optional warmup).
 *
 * @example
 * ```ts
 * import { makeSchedule } from "@sll/sll";
 * const s = makeSchedule({ name: "interp", lr: 0.01, totalSteps: 1000, stepsPerEpoch: 100 });
 * ```
 */
export function makeSchedule(s: ScheduleSettings): Schedule {
  let base: Schedule;
  switch (s.name) {
    case "interp":
      base = interpSchedule(s.lr, s.totalSteps);
      break;
    case "cosine":
      base = cosineSchedule(s.lr, s.totalSteps);
      break;
    case "multistep": {
      const ms = s.milestones
        ? s.milestones.map((e) => Math.floor(e * s.stepsPerEpoch))
        : [0.1, 0.5, 0.85].map((f) => Math.floor(f * s.totalSteps));
      base = multistepSchedule(s.lr, ms, s.gamma ?? 0.1);
      break;
    }
    case "constant":
      base = constantSchedule(s.lr);
      break;
    default:
      throw new RangeError(
        `makeSchedule: unknown scheduler "${(s as { name: string }).name}", expected one of ${
          SCHEDULER_NAMES.join(", ")
        }`,
      );
  }
  return withWarmup(base, Math.floor((s.warmup ?? 0) * s.totalSteps));
}

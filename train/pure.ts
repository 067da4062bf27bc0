/**
 * The browser-clean part of training that both entry points export: pure optimizers and
 * schedules, gradient clipping and the live-tensor leak check. "." (mod.ts) and "./train"
 * (train/mod.ts) re-export this one list, so their shared surface cannot drift apart.
 * @module
 */
export {
  adam,
  type AdamOptions,
  adamw,
  makeOptimizer,
  type Optimizer,
  OPTIMIZER_NAMES,
  type OptimizerSettings,
  type OptState,
  sgd,
  type SgdOptions,
} from "./optimizers.ts";
export {
  constantSchedule,
  cosineSchedule,
  interpSchedule,
  makeSchedule,
  multistepSchedule,
  type Schedule,
  SCHEDULER_NAMES,
  type ScheduleSettings,
  withWarmup,
} from "./schedules.ts";
export { clipByGlobalNorm, clipByValue, globalNorm } from "./clip.ts";
export { type LeakCheck, leakCheck, type LeakCheckOptions } from "./leak_check.ts";

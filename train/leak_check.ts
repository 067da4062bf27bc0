/**
 * An opt-in leak warning for hand-written training loops: `leakCheck()` remembers `memory()`
 * after each step and warns, naming the growth, when live tensors grew since the previous step
 * (a step that keeps its parameters and optimizer state and frees the old ones stays flat).
 * @module
 */
import type { BackendName } from "../kernels/prims.ts";
import { memory } from "../tensor/scope.ts";

/** Options of {@linkcode leakCheck}. */
export interface LeakCheckOptions {
  /** Where warnings go (default `console.warn`). */
  warn?: (message: string) => void;
  /** Live tensors a step may add without a warning (default 0). */
  tolerance?: number;
  /** Backend to watch (default: the current one at each step). */
  backend?: BackendName;
  /** Name used in the warning (default "leakCheck"). */
  label?: string;
}

/** What {@linkcode leakCheck} returns. */
export interface LeakCheck {
  /**
   * Call once after each step: compares live tensors with the previous call and warns when they
   * grew by more than the tolerance. Returns the growth in tensors (0 on the first call).
   */
  step(): number;
  /** Live tensors and bytes recorded at the last `step()`. */
  readonly last: { tensors: number; bytes: number } | null;
}

/**
 * Starts watching live tensors from step to step; see {@linkcode LeakCheck.step}. The first
 * `step()` sets the baseline, so call it after the first step (whose kept state is expected).
 *
 * @example
 * ```ts
 * import { keep, leakCheck, scope, tensor } from "@sll/sll";
 * const leaks = leakCheck({ warn: (m) => console.log(m) });
 * for (let i = 0; i < 3; i++) {
 *   scope(() => keep(tensor([i]))); // kept and never disposed: a leak
 *   leaks.step(); // from the 2nd step: "leakCheck: live tensors grew by 1 …"
 * }
 * ```
 */
export function leakCheck(options: LeakCheckOptions = {}): LeakCheck {
  const warn = options.warn ?? ((m: string) => console.warn(m));
  const tolerance = options.tolerance ?? 0;
  const label = options.label ?? "leakCheck";
  let last: { tensors: number; bytes: number } | null = null;
  let steps = 0;
  return {
    get last() {
      return last;
    },
    step(): number {
      steps++;
      const now = memory(options.backend);
      const prev = last;
      last = { tensors: now.tensors, bytes: now.bytes };
      if (prev === null) return 0;
      const grew = now.tensors - prev.tensors;
      if (grew > tolerance) {
        warn(
          `${label}: live tensors grew by ${grew} (${prev.tensors} → ${now.tensors}, ${
            formatBytes(now.bytes - prev.bytes)
          }) between step ${steps - 1} and step ${steps}; dispose the previous parameters and ` +
            `state after each update, and create temporaries inside scope()`,
        );
      }
      return grew;
    },
  };
}

function formatBytes(n: number): string {
  const sign = n < 0 ? "−" : "+";
  const a = Math.abs(n);
  if (a >= 1 << 20) return `${sign}${(a / (1 << 20)).toFixed(1)} MiB`;
  if (a >= 1 << 10) return `${sign}${(a / (1 << 10)).toFixed(1)} KiB`;
  return `${sign}${a} bytes`;
}

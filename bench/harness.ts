/**
 * Shared benchmark plumbing: deterministic inputs, the workload geometry, an implementation
 * interface (prepare → run → outputs), timing (warm-up, then median of repeats) and the
 * comparison of outputs against a reference. Every implementation of a workload gets the same
 * inputs and must return the same outputs in the same layout.
 * @module
 */

import type { Conv2dOptions } from "../kernels/cpu/wasm/mod.ts";
import { threadsReady } from "../kernels/cpu/wasm/runtime.ts";
/** Workload names accepted by `--only`. */
export type WorkloadName = "matmul" | "conv" | "mlp" | "sll-conv";
/** The WebGPU bench's workloads (here, so bench/main.ts checks --only without loading it). */
export const WEBGPU_WORKLOADS = ["matmul", "conv", "mlp", "chain"] as const;

/** Conv workload geometry: x [B, C, H, W], w [O, C, k, k], stride 1, padding 1. */
export const CONV = {
  b: 64,
  c: 45,
  h: 32,
  w: 32,
  o: 45,
  kh: 3,
  kw: 3,
  stride: 1,
  padding: 1,
} as const;
/** SLL conv workload: the few-channel 3×3 pad 1 convolutions of the SLL net, C→C. */
export const SLL_CONV = { b: 256, channels: [8, 16], h: 28, w: 28 } as const;

/** Inputs of the SLL conv workload, one {@linkcode ConvInputs} per channel count. */
export function sllConvInputs(): ConvInputs[] {
  return SLL_CONV.channels.map((c, i) => {
    const geom = { b: SLL_CONV.b, c, h: SLL_CONV.h, w: SLL_CONV.w, o: c, kh: 3, kw: 3 };
    const g = { ...geom, stride: 1, padding: 1 }, px = c * g.h * g.w;
    return {
      x: randomArray(g.b * px, 50 + i),
      w: randomArray(c * c * 9, 60 + i, -0.1, 0.1),
      gy: randomArray(g.b * px, 70 + i),
      geom: g,
    };
  });
}
/** Matmul workload size (n×n times n×n). */
export const MATMUL_N = 1024;
/** MLP workload: layer widths and batch. */
export const MLP = { sizes: [784, 1024, 1024, 10], batch: 256 } as const;

/** Inputs of the conv workload (gy is a fixed cotangent for the backward pass). */
export interface ConvInputs {
  x: Float32Array;
  w: Float32Array;
  gy: Float32Array;
  /** The wasm kernels' conv geometry, every field given. */
  geom: Required<Conv2dOptions>;
}

/** Inputs of the MLP step: x [batch, 784], int labels, weights [in, out] and biases. */
export interface MlpInputs {
  x: Float32Array;
  labels: Int32Array;
  weights: Float32Array[];
  biases: Float32Array[];
  sizes: readonly number[];
  batch: number;
}

/** A prepared run: `run` does one full step and returns its outputs on the host. */
export interface Prepared {
  run(): Float32Array[] | Promise<Float32Array[]>;
  dispose?(): void;
}

/** One contender: builds a prepared run for a workload, or says why it cannot. */
export interface Impl {
  name: string;
  /** A different label for one workload (e.g. when it runs through other code). */
  labels?: Partial<Record<WorkloadName, string>>;
  /** Extra note for the table (e.g. "extrapolated from b=4"). */
  note?: string;
  matmul?(a: Float32Array, b: Float32Array, n: number): Promise<Prepared>;
  conv?(inp: ConvInputs): Promise<Prepared>;
  mlp?(inp: MlpInputs): Promise<Prepared>;
  /** Conv batch this contender runs (when too slow for the full one); times are scaled. */
  convBatch?: number;
}

/** xorshift32 uniform values in [lo, hi). */
export function randomArray(len: number, seed: number, lo = -0.5, hi = 0.5): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(len);
  for (let i = 0; i < len; i++) {
    s ^= s << 13, s >>>= 0, s ^= s >>> 17, s ^= s << 5, s >>>= 0;
    out[i] = lo + (hi - lo) * (s / 4294967296);
  }
  return out;
}

/** Conv inputs for a batch size (the first `b` images are the same for every `b`). */
export function convInputs(b: number = CONV.b): ConvInputs {
  const g = { ...CONV, b };
  const px = g.c * g.h * g.w, py = g.o * g.h * g.w;
  return {
    x: randomArray(CONV.b * px, 11).subarray(0, b * px),
    w: randomArray(g.o * g.c * g.kh * g.kw, 12, -0.1, 0.1),
    gy: randomArray(CONV.b * py, 13).subarray(0, b * py),
    geom: g,
  };
}

/** MLP inputs with He-scaled weights. */
export function mlpInputs(): MlpInputs {
  const { sizes, batch } = MLP;
  const weights: Float32Array[] = [], biases: Float32Array[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const s = Math.sqrt(6 / sizes[l]);
    weights.push(randomArray(sizes[l] * sizes[l + 1], 20 + l, -s, s));
    biases.push(randomArray(sizes[l + 1], 30 + l, -0.01, 0.01));
  }
  const labels = new Int32Array(batch);
  for (let i = 0; i < batch; i++) labels[i] = (i * 7) % sizes[sizes.length - 1];
  return { x: randomArray(batch * sizes[0], 40, 0, 1), labels, weights, biases, sizes, batch };
}

/** Timing summary in milliseconds. */
export interface Timing {
  medianMs: number;
  runs: number;
  outputs: Float32Array[];
}

/**
 * Warm-up runs, then `repeats` timed runs (fewer when one run exceeds `budgetMs`/repeats);
 * returns the median and the outputs of the last run.
 */
export async function timeIt(
  p: Prepared,
  repeats: number,
  warmup: number,
  budgetMs = 60_000,
): Promise<Timing> {
  let outputs: Float32Array[] = [];
  for (let i = 0; i < warmup; i++) outputs = await p.run();
  const times: number[] = [];
  let spent = 0;
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    outputs = await p.run();
    const dt = performance.now() - t0;
    times.push(dt);
    spent += dt;
    if (spent > budgetMs && times.length >= 1) break;
  }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  const medianMs = times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
  return { medianMs, runs: times.length, outputs };
}

/** max_i |a_i − b_i| / max_i |b_i| over each output pair; the worst over outputs. */
export function maxRelDiff(got: Float32Array[], ref: Float32Array[]): number {
  if (got.length !== ref.length) return Infinity;
  let worst = 0;
  for (let t = 0; t < ref.length; t++) {
    const a = got[t], b = ref[t];
    if (a.length !== b.length) return Infinity;
    let diff = 0, scale = 0;
    for (let i = 0; i < b.length; i++) {
      const d = Math.abs(a[i] - b[i]);
      diff = d > diff || Number.isNaN(d) ? d : diff;
      scale = Math.max(scale, Math.abs(b[i]));
    }
    worst = Math.max(worst, Number.isNaN(diff) ? Infinity : diff / (scale || 1));
  }
  return worst;
}

/** Relative differences above this mark a result as wrong. */
export const WRONG_ABOVE = 1e-3;

/** Formats a table with a header row; columns padded to their widest cell. */
export function formatTable(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  const line = (r: string[]): string =>
    "| " + r.map((cell, c) => (cell ?? "").padEnd(widths[c])).join(" | ") + " |";
  return [
    line(rows[0]),
    "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|",
    ...rows.slice(1).map(line),
  ].join("\n");
}

/**
 * Times `ours` against a competitor that runs in its own process, alternating: `warmup` runs of
 * ours, then `repeats` rounds of one timed run of ours and one call of `theirs` (its timings
 * returned by it), so background load falls on both. The first failure of `theirs` ends its
 * rounds and is returned as `note`; `theirs` undefined times ours alone. Before each timed run
 * of ours the wasm helper thread is brought back up outside the timing: it closes after 1 s
 * idle, and a competitor's run of seconds would otherwise leave our next run starting on one
 * thread, while PyTorch's thread pool stays up between its runs.
 */
export async function alternateRuns(
  ours: { run(): Promise<unknown> },
  theirs: (() => Promise<number[]>) | undefined,
  opts: { warmup: number; repeats: number },
): Promise<{ ours: number[]; theirs: number[]; note: string }> {
  const mine: number[] = [], other: number[] = [];
  let note = "";
  for (let i = 0; i < opts.warmup; i++) await ours.run();
  for (let i = 0; i < opts.repeats; i++) {
    await threadsReady();
    const t0 = performance.now();
    await ours.run();
    mine.push(performance.now() - t0);
    if (theirs && !note) {
      try {
        other.push(...await theirs());
      } catch (e) {
        note = e instanceof Error ? e.message : String(e);
      }
    }
  }
  return { ours: mine, theirs: other, note };
}

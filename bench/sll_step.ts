/**
 * `deno task bench --only sll`: the SLL networks of the reference, one training step (loss, all
 * gradients, Adam update, loss read back) and the certification forward, through the library's
 * public API on the CPU backend — beside the same networks in PyTorch (bench/sll_torch.py, run as
 * a child process with 2 threads and Debian's OpenBLAS) when `python3 -c "import torch"` works.
 * Runs alternate between the two (ours, PyTorch, ours, …) so load from other processes falls on
 * both; medians are reported with the ratio.
 * @module
 */

import { fileURLToPath } from "node:url";
import {
  dispose,
  initWebGpu,
  keep,
  lipschitzNetwork,
  makeOptimizer,
  offsetCrossEntropy,
  randomKey,
  scope,
  setBackend,
  type Tensor,
  tensor,
  valueAndGrad,
} from "../mod.ts";
import { leaves } from "../tensor/tree.ts";
import { cpuKernelsInUse } from "../kernels/cpu/fast.ts";
import { alternateRuns, formatTable, randomArray } from "./harness.ts";

/** One SLL workload: network sizes, batch, and whether it is a training step or certification. */
export interface SllWorkload {
  /** Row label. */
  label: string;
  c: number;
  h: number;
  w: number;
  nConv: number;
  nDense: number;
  width: number;
  convInner: number;
  denseInner: number;
  /** Space-to-depth factor of the input before the channel padding (default 1: none). */
  spaceToDepth?: number;
  batch: number;
  /** "train": loss + gradients + Adam; "certify": logits of `certifyBatches` batches. */
  mode: "train" | "certify";
  /**
   * How the PyTorch side writes the SLL conv's transposed convolution: "transpose"
   * (F.conv_transpose2d, as the reference; the default) or "flipped" (F.conv2d with the kernel's
   * channels swapped and taps flipped: the same product, PyTorch's faster form on the CPU).
   */
  torchConvT?: "transpose" | "flipped";
}

/** The same workload against PyTorch's tuned form (transposed conv as a flipped conv2d). */
function tuned(wl: SllWorkload): SllWorkload {
  return {
    ...wl,
    label: `${wl.label.split(" (")[0].split(",")[0]}, vs PyTorch tuned (conv2d, flipped kernel)`,
    torchConvT: "flipped",
  };
}

/** Batches per certification run: ours computes t once per model, PyTorch once per batch. */
export const CERTIFY_BATCHES = 4;

const TINY_RGB: SllWorkload = {
  label: "tiny 3×32×32 (w 8, 2 conv inner 5, 2 dense 32), batch 256",
  c: 3,
  h: 32,
  w: 32,
  nConv: 2,
  nDense: 2,
  width: 8,
  convInner: 5,
  denseInner: 32,
  batch: 256,
  mode: "train",
};

const TINY_MNIST: SllWorkload = {
  ...TINY_RGB,
  label: "tiny 1×28×28, batch 256",
  c: 1,
  h: 28,
  w: 28,
};

/**
 * The default `deno task train` network (the `fmnist` preset: space-to-depth 2, then 4 channels
 * zero-padded to 16 at 14×14).
 */
const FMNIST: SllWorkload = {
  label:
    "fmnist 1×28×28 (default run: space-to-depth 2, w 16, 2 conv inner 16, 4 dense 256), batch 256",
  c: 1,
  h: 28,
  w: 28,
  nConv: 2,
  nDense: 4,
  width: 16,
  convInner: 16,
  denseInner: 256,
  spaceToDepth: 2,
  batch: 256,
  mode: "train",
};

const XS: SllWorkload = {
  label: "xs 1×28×28 (w 16, 4 conv inner 16, 2 dense 256), batch 256",
  c: 1,
  h: 28,
  w: 28,
  nConv: 4,
  nDense: 2,
  width: 16,
  convInner: 16,
  denseInner: 256,
  batch: 256,
  mode: "train",
};

/**
 * The workloads of issue #12's table and the default training run's network (the one list; the
 * PyTorch script gets each as JSON); tiny, fmnist and xs also against PyTorch's tuned form (each
 * row its own interleaved run, ours timed again).
 */
export const SLL_WORKLOADS: readonly SllWorkload[] = [
  TINY_RGB,
  tuned(TINY_RGB),
  TINY_MNIST,
  tuned(TINY_MNIST),
  FMNIST,
  tuned(FMNIST),
  XS,
  tuned(XS),
  {
    label: "small 3×32×32 (w 45, 20 conv inner 5, 7 dense 2048), batch 64",
    c: 3,
    h: 32,
    w: 32,
    nConv: 20,
    nDense: 7,
    width: 45,
    convInner: 5,
    denseInner: 2048,
    batch: 64,
    mode: "train",
  },
  {
    label: `small, certification forward, ${CERTIFY_BATCHES} batches of 256`,
    c: 3,
    h: 32,
    w: 32,
    nConv: 20,
    nDense: 7,
    width: 45,
    convInner: 5,
    denseInner: 2048,
    batch: 256,
    mode: "certify",
  },
];

/** A prepared run of ours: `run` does one step (or one certification) and waits for it. */
interface OursRun {
  run(): Promise<void>;
  dispose(): void;
}

function swapKept<T>(old: T, next: T): T {
  keep(next);
  const reused = new Set<Tensor>(leaves(next));
  for (const t of leaves(old)) if (!reused.has(t)) t.dispose();
  return next;
}

/** Builds our network, parameters, optimizer state and a fixed batch for the workload. */
export function prepareOurs(wl: SllWorkload): OursRun {
  const net = lipschitzNetwork({
    inputShape: [wl.c, wl.h, wl.w],
    numClasses: 10,
    nConv: wl.nConv,
    nDense: wl.nDense,
    width: wl.width,
    convInnerDim: wl.convInner,
    denseInnerDim: wl.denseInner,
    spaceToDepth: wl.spaceToDepth,
    mean: new Array(wl.c).fill(0.5),
  });
  let params = keep(scope(() => net.init(randomKey(0)).params));
  const shape = [wl.batch, wl.c, wl.h, wl.w];
  const x = keep(tensor(randomArray(wl.batch * wl.c * wl.h * wl.w, 90, 0, 1), { shape }));
  const labels = Int32Array.from({ length: wl.batch }, (_, i) => (i * 7) % 10);
  const y = keep(tensor(labels, { shape: [wl.batch], dtype: "int32" }));
  if (wl.mode === "certify") {
    return {
      async run(): Promise<void> {
        // t once per model (inside the timing), then the batches
        const forward = net.prepare(params);
        try {
          for (let b = 0; b < CERTIFY_BATCHES; b++) {
            const z = scope(() => forward.apply(x));
            await z.data();
            z.dispose();
          }
        } finally {
          forward.dispose();
        }
      },
      dispose: () => dispose([params, x, y]),
    };
  }
  const opt = makeOptimizer({ name: "adam", beta1: 0.5, beta2: 0.9 });
  let state = keep(opt.init(params));
  const lossAndGrad = valueAndGrad((p: typeof params, xb: Tensor, yb: Tensor) =>
    offsetCrossEntropy(net.apply(p, xb), yb)
  );
  return {
    async run(): Promise<void> {
      const [loss, nextParams, nextState] = scope(() => {
        const [l, g] = lossAndGrad(params, x, y);
        const u = opt.update(g, state, params, 1e-3);
        return [l, u.params, u.state] as const;
      });
      await loss.data();
      loss.dispose();
      params = swapKept(params, nextParams);
      state = { step: nextState.step, slots: swapKept(state.slots, nextState.slots) };
    },
    dispose: () => dispose([params, state.slots, x, y]),
  };
}

/** How to run the PyTorch script here, or why it cannot run. */
export interface TorchRunner {
  /** The Python executable whose `import torch` works, or null. */
  python: string | null;
  /** Why PyTorch is not compared (when python is null). */
  reason?: string;
  /** Environment for the child (LD_LIBRARY_PATH to an OpenBLAS build, when found). */
  env: Record<string, string>;
  /** Which BLAS PyTorch was pointed at. */
  blas: string;
}

/** Debian's multi-arch OpenBLAS (pthread build), the BLAS PyTorch uses when pointed at it. */
function openBlasDir(): string | null {
  const arch = Deno.build.arch === "aarch64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
  const dir = `/usr/lib/${arch}/openblas-pthread`;
  try {
    return Deno.statSync(dir).isDirectory ? dir : null;
  } catch {
    return null;
  }
}

/**
 * Finds a Python with PyTorch: `$SLL_PYTHON`, then `python3`, then the system's
 * `/usr/bin/python3` (Debian's python3-torch installs there, while a pyenv `python3` may not see it).
 */
export async function findTorch(): Promise<TorchRunner> {
  const dir = openBlasDir();
  // OpenMP's default active spin-wait makes PyTorch 5–10× slower whenever the cores are shared
  // (measured here: 13–22 s instead of 1.6–1.9 s per tiny step at load average 12); passive
  // waiting costs it little on a quiet machine, so the comparison stays fair to PyTorch
  const env: Record<string, string> = {
    OMP_WAIT_POLICY: Deno.env.get("OMP_WAIT_POLICY") ?? "PASSIVE",
    ...(dir ? { LD_LIBRARY_PATH: dir } : {}),
  };
  const blas = dir ? `OpenBLAS (${dir})` : "PyTorch's default BLAS (Debian's OpenBLAS not found)";
  const candidates = [Deno.env.get("SLL_PYTHON"), "python3", "/usr/bin/python3"].filter(
    (c): c is string => !!c,
  );
  for (const python of candidates) {
    try {
      const r = await new Deno.Command(python, {
        args: ["-c", "import torch; print(torch.__version__)"],
        env,
        stdout: "piped",
        stderr: "null",
      }).output();
      if (r.success) return { python, env, blas };
    } catch {
      // not installed under that name: try the next
    }
  }
  return {
    python: null,
    env,
    blas,
    reason: `no python with torch among ${candidates.join(", ")} (set SLL_PYTHON)`,
  };
}

/** Runs the PyTorch script for one workload; returns its timed runs in milliseconds. */
export async function runTorch(
  t: TorchRunner,
  wl: SllWorkload,
  repeats: number,
  warmup: number,
): Promise<number[]> {
  const script = fileURLToPath(new URL("./sll_torch.py", import.meta.url));
  // certification: PyTorch runs as many batches as ours (images per run must match)
  const spec = JSON.stringify({ ...wl, label: undefined, certifyBatches: CERTIFY_BATCHES });
  const r = await new Deno.Command(t.python!, {
    args: [script, spec, String(repeats), String(warmup)],
    env: t.env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(r.stdout);
  const line = out.split("\n").find((l) => l.startsWith("ms "));
  if (!r.success || !line) {
    const err = new TextDecoder().decode(r.stderr).trim().split("\n").at(-1);
    throw new Error(`sll_torch.py failed (exit ${r.code}): ${err}`);
  }
  return line.slice(3).trim().split(/\s+/).map(Number);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Options of {@linkcode runSllBench}. */
export interface SllBenchOptions {
  /** Timed runs per contender (alternating in rounds). */
  repeats: number;
  /** Untimed runs first. */
  warmup: number;
  /** Compare with PyTorch when it is installed (default true). */
  torch?: boolean;
  /** Our backend (default "cpu"); "webgpu" runs ours on the WebGPU adapter (PyTorch stays CPU). */
  backend?: "cpu" | "webgpu";
  /** Only the workloads whose label starts with one of these (default: all). */
  rows?: readonly string[];
}

/** Runs every SLL workload (ours and PyTorch alternating) and prints the table. */
export async function runSllBench(opts: SllBenchOptions): Promise<void> {
  const torch = opts.torch === false
    ? { python: null, env: {}, blas: "", reason: "--competitors none" }
    : await findTorch();
  if (opts.backend === "webgpu") {
    const a = await initWebGpu();
    await setBackend("webgpu");
    console.log(`ours: WebGPU backend, adapter "${a.description || a.device}" (${a.backend})`);
  } else {
    // the CPU backend (and its kernel choice) comes up with the first tensor
    scope(() => tensor([0]));
    console.log(`ours: CPU backend, ${cpuKernelsInUse()?.detail ?? "no fast kernels"}`);
  }
  console.log(
    torch.python
      ? `PyTorch: ${torch.python}, 2 threads (torch.set_num_threads), BLAS ${torch.blas}, OMP_WAIT_POLICY=${torch.env.OMP_WAIT_POLICY}`
      : `PyTorch: not compared (${torch.reason})`,
  );
  const rows: string[][] = [[
    "workload",
    "ours (img/s)",
    "PyTorch CPU (img/s)",
    "ours ÷ PyTorch",
    "ours ms (median)",
    "PyTorch ms (median)",
  ]];
  const rows0 = opts.rows;
  const chosen = rows0
    ? SLL_WORKLOADS.filter((wl) => rows0.some((r) => wl.label.startsWith(r)))
    : SLL_WORKLOADS;
  if (chosen.length === 0) {
    throw new RangeError(
      `--rows ${rows0!.join(",")}: no SLL workload label starts with these (labels: ${
        [...new Set(SLL_WORKLOADS.map((wl) => wl.label.split(" ")[0]))].join(", ")
      })`,
    );
  }
  for (const wl of chosen) {
    const images = wl.batch * (wl.mode === "certify" ? CERTIFY_BATCHES : 1);
    const p = prepareOurs(wl);
    let timed: Awaited<ReturnType<typeof alternateRuns>>;
    try {
      // rounds: one run of ours, then PyTorch's (in its own process, its own warm-up)
      timed = await alternateRuns(
        p,
        torch.python ? () => runTorch(torch, wl, 1, Math.max(1, opts.warmup)) : undefined,
        opts,
      );
    } finally {
      p.dispose();
    }
    const { ours, theirs, note } = timed;
    const mo = median(ours), mt = theirs.length ? median(theirs) : NaN;
    const ips = (
      ms: number,
    ): string => (Number.isNaN(ms) ? "—" : (images / (ms / 1000)).toFixed(1));
    rows.push([
      wl.label,
      ips(mo),
      note ? `failed: ${note.slice(0, 80)}` : ips(mt),
      Number.isNaN(mt) ? "" : (mt / mo).toFixed(2) + "×",
      mo.toFixed(0),
      Number.isNaN(mt) ? "" : mt.toFixed(0),
    ]);
    const them = Number.isNaN(mt) ? "" : `, PyTorch ${mt.toFixed(0)} ms`;
    console.log(`  ${wl.label}: ours ${mo.toFixed(0)} ms${them}`);
  }
  console.log(
    `\n## SLL training steps and certification (ours on ${
      opts.backend ?? "cpu"
    }, PyTorch on CPU; Adam; higher img/s is better)`,
  );
  console.log(formatTable(rows));
}

/**
 * `deno task bench --only layers`: one training step (forward, all gradients, Adam update, loss
 * read back) of each registered 1-Lipschitz layer (layers/registry.ts), as a convolution and as
 * a dense layer, on the CPU backend — beside the same layer in PyTorch (bench/layers_torch.py,
 * a child process with 2 threads) when `python3 -c "import torch"` works. Runs alternate ours,
 * PyTorch, ours, … so background load falls on both; medians and the ratio are printed.
 * @module
 */

import { fileURLToPath } from "node:url";
import {
  dispose,
  initWebGpu,
  keep,
  LAYER_REGISTRY,
  makeOptimizer,
  mean,
  mul,
  randomKey,
  refreshLayers,
  scope,
  setBackend,
  type Tensor,
  tensor,
  valueAndGrad,
} from "../mod.ts";
import { leaves } from "../tensor/tree.ts";
import { cpuKernelsInUse } from "../kernels/cpu/fast.ts";
import { alternateRuns, formatTable, randomArray } from "./harness.ts";
import { findTorch, type TorchRunner } from "./sll_step.ts";

/** One layer workload: the layer's registry name, conv or dense, sizes and batch. */
export interface LayerWorkload {
  /** Registry name (`sll`, `aol`, …); the PyTorch script has a function of the same name. */
  layer: string;
  /** "conv": [batch, channels, size, size], kernel 3; "dense": [batch, channels]. */
  kind: "conv" | "dense";
  /** Channels (conv) or features (dense). */
  channels: number;
  /** Spatial side (conv). */
  size: number;
  /** Odd kernel size (conv). */
  kernel: number;
  /** Batch size. */
  batch: number;
}

/** The geometries timed for every registered layer (a ConvNet-XS block-2 conv; a head). */
export const LAYER_GEOMETRIES: readonly Omit<LayerWorkload, "layer">[] = [
  { kind: "conv", channels: 32, size: 16, kernel: 3, batch: 64 },
  { kind: "dense", channels: 256, size: 1, kernel: 1, batch: 256 },
];

/** Every registered layer × every geometry (or only the `layers` named). */
export function layerWorkloads(layers?: readonly string[]): LayerWorkload[] {
  const names = LAYER_REGISTRY.map((e) => e.name).filter((n) => !layers || layers.includes(n));
  return names.flatMap((layer) => LAYER_GEOMETRIES.map((g) => ({ layer, ...g })));
}

function label(wl: LayerWorkload): string {
  return wl.kind === "conv"
    ? `${wl.layer} conv ${wl.channels}×${wl.size}×${wl.size} k${wl.kernel}, batch ${wl.batch}`
    : `${wl.layer} dense ${wl.channels}, batch ${wl.batch}`;
}

function swapKept<T>(old: T, next: T): T {
  keep(next);
  const reused = new Set<Tensor>(leaves(next));
  for (const t of leaves(old)) if (!reused.has(t)) t.dispose();
  return next;
}

/** A prepared training step of ours: loss mean(f(x)²)/2, gradients, Adam, state refresh. */
export function prepareLayerStep(wl: LayerWorkload): { run(): Promise<void>; dispose(): void } {
  const entry = LAYER_REGISTRY.find((e) => e.name === wl.layer)!;
  const layer = wl.kind === "conv"
    ? entry.conv({ channels: wl.channels, kernel: wl.kernel })
    : entry.dense({ features: wl.channels });
  const inShape = wl.kind === "conv" ? [wl.channels, wl.size, wl.size] : [wl.channels];
  let params = keep(scope(() => layer.init(randomKey(0), inShape).params));
  const n = wl.batch * inShape.reduce((a, b) => a * b, 1);
  const x = keep(tensor(randomArray(n, 91), { shape: [wl.batch, ...inShape] }));
  const opt = makeOptimizer({ name: "adam", beta1: 0.5, beta2: 0.9 });
  let state = keep(opt.init(params));
  const lossAndGrad = valueAndGrad((p: typeof params, xb: Tensor) => {
    const y = layer.apply(p, xb);
    return mul(mean(mul(y, y)), 0.5);
  });
  return {
    async run(): Promise<void> {
      const [loss, nextParams, nextState] = scope(() => {
        const [l, g] = lossAndGrad(params, x);
        const u = opt.update(g, state, params, 1e-3);
        return [l, refreshLayers(layer, u.params, 1), u.state] as const;
      });
      await loss.data();
      loss.dispose();
      params = swapKept(params, nextParams);
      state = { step: nextState.step, slots: swapKept(state.slots, nextState.slots) };
    },
    dispose: () => dispose([params, state.slots, x]),
  };
}

/** Runs the PyTorch counterpart of one workload; its timed runs in milliseconds. */
async function runTorchLayer(
  t: TorchRunner,
  wl: LayerWorkload,
  repeats: number,
  warmup: number,
): Promise<number[]> {
  const script = fileURLToPath(new URL("./layers_torch.py", import.meta.url));
  const r = await new Deno.Command(t.python!, {
    args: [script, JSON.stringify(wl), String(repeats), String(warmup)],
    env: t.env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const line = new TextDecoder().decode(r.stdout).split("\n").find((l) => l.startsWith("ms "));
  if (!r.success || !line) {
    const err = new TextDecoder().decode(r.stderr).trim().split("\n").at(-1);
    throw new Error(`layers_torch.py failed (exit ${r.code}): ${err}`);
  }
  return line.slice(3).trim().split(/\s+/).map(Number);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Options of {@linkcode runLayersBench}. */
export interface LayersBenchOptions {
  /** Timed runs per contender (alternating). */
  repeats: number;
  /** Untimed runs first. */
  warmup: number;
  /** Compare with PyTorch when installed (default true). */
  torch?: boolean;
  /** Our backend (default "cpu"). */
  backend?: "cpu" | "webgpu";
  /** Only these registered layers (default all). */
  layers?: readonly string[];
}

/** Times every registered layer's training step (ours and PyTorch alternating); prints a table. */
export async function runLayersBench(opts: LayersBenchOptions): Promise<void> {
  const torch = opts.torch === false
    ? { python: null, env: {}, blas: "", reason: "--competitors none" } as TorchRunner
    : await findTorch();
  if (opts.backend === "webgpu") {
    const a = await initWebGpu();
    await setBackend("webgpu");
    console.log(`ours: WebGPU backend, adapter "${a.description || a.device}" (${a.backend})`);
  } else {
    scope(() => tensor([0]));
    console.log(`ours: CPU backend, ${cpuKernelsInUse()?.detail ?? "no fast kernels"}`);
  }
  console.log(
    torch.python
      ? `PyTorch: ${torch.python}, 2 threads, BLAS ${torch.blas}, OMP_WAIT_POLICY=${torch.env.OMP_WAIT_POLICY}`
      : `PyTorch: not compared (${torch.reason})`,
  );
  const rows: string[][] = [[
    "layer step",
    "ours (img/s)",
    "PyTorch CPU (img/s)",
    "ours ÷ PyTorch",
    "ours ms",
    "PyTorch ms",
  ]];
  for (const wl of layerWorkloads(opts.layers)) {
    const p = prepareLayerStep(wl);
    let timed: Awaited<ReturnType<typeof alternateRuns>>;
    try {
      timed = await alternateRuns(
        p,
        torch.python ? () => runTorchLayer(torch, wl, 1, Math.max(1, opts.warmup)) : undefined,
        opts,
      );
    } finally {
      p.dispose();
    }
    const { ours, theirs, note } = timed;
    const mo = median(ours), mt = theirs.length ? median(theirs) : NaN;
    const ips = (ms: number): string =>
      Number.isNaN(ms) ? "—" : (wl.batch / (ms / 1000)).toFixed(0);
    rows.push([
      label(wl),
      ips(mo),
      note ? `failed: ${note.slice(0, 80)}` : ips(mt),
      Number.isNaN(mt) ? "" : (mt / mo).toFixed(2) + "×",
      mo.toFixed(1),
      Number.isNaN(mt) ? "" : mt.toFixed(1),
    ]);
    console.log(
      `  ${label(wl)}: ours ${mo.toFixed(1)} ms${
        Number.isNaN(mt) ? "" : `, PyTorch ${mt.toFixed(1)} ms`
      }`,
    );
  }
  console.log(
    `\n## One training step per layer (loss ½·mean(f(x)²), gradients, Adam; ours on ${
      opts.backend ?? "cpu"
    }, PyTorch on CPU; higher img/s is better)`,
  );
  console.log(formatTable(rows));
}

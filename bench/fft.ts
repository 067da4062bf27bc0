/**
 * `deno task bench --only fft`: the fft and solve primitives at the sizes the spectral layers use
 * (rfft2 then irfft2 of [B, C, H, W] images; solve of per-frequency systems [H, ⌊W/2⌋+1, 2C, 2C]
 * with 2C right-hand sides, i.e. an inverse) on our backend beside PyTorch's CPU torch.fft and
 * torch.linalg.solve (bench/fft_torch.py, 2 threads) when installed. Runs alternate ours and
 * PyTorch so background load falls on both; medians are printed.
 * @module
 */
import { fileURLToPath } from "node:url";
import {
  dispose,
  initWebGpu,
  irfft2,
  keep,
  rfft2,
  scope,
  setBackend,
  solve,
  tensor,
} from "../mod.ts";
import type { Tensor } from "../mod.ts";
import { formatTable, randomArray } from "./harness.ts";
import { cpuKernelsInUse } from "../kernels/cpu/fast.ts";
import { findTorch, type TorchRunner } from "./sll_step.ts";

/** One workload: an FFT round trip of `shape`, or `solve` of a batch of n × n systems. */
type FftWorkload =
  | { op: "fft"; shape: number[] }
  | { op: "solve"; batch: number[]; n: number; k: number };

const WORKLOADS: FftWorkload[] = [
  { op: "fft", shape: [64, 16, 32, 32] },
  { op: "fft", shape: [64, 16, 28, 28] },
  { op: "solve", batch: [32, 17], n: 32, k: 32 },
];

function label(w: FftWorkload): string {
  return w.op === "fft"
    ? `rfft2 + irfft2 [${w.shape}]`
    : `solve [${w.batch}, ${w.n}, ${w.n}] · [${w.n}, ${w.k}]`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function prepare(w: FftWorkload): { run: () => Promise<void>; dispose: () => void } {
  if (w.op === "fft") {
    const x = keep(tensor(randomArray(w.shape.reduce((a, b) => a * b), 1), { shape: w.shape }));
    const [h, ww] = w.shape.slice(-2);
    return {
      run: async () => {
        const y = scope(() => irfft2(rfft2(x), [h, ww]));
        await y.data();
        y.dispose();
      },
      dispose: () => dispose(x),
    };
  }
  const count = w.batch.reduce((a, b) => a * b, 1), n = w.n;
  const av = randomArray(count * n * n, 2);
  for (let z = 0; z < count; z++) for (let i = 0; i < n; i++) av[z * n * n + i * (n + 1)] += n + 2;
  const a: Tensor = keep(tensor(av, { shape: [...w.batch, n, n] }));
  const b: Tensor = keep(tensor(randomArray(count * n * w.k, 3), { shape: [...w.batch, n, w.k] }));
  return {
    run: async () => {
      const x = scope(() => solve(a, b));
      await x.data();
      x.dispose();
    },
    dispose: () => dispose([a, b]),
  };
}

async function runTorch(t: TorchRunner, w: FftWorkload, warmup: number): Promise<number> {
  const script = fileURLToPath(new URL("./fft_torch.py", import.meta.url));
  const r = await new Deno.Command(t.python!, {
    args: [script, JSON.stringify(w), "1", String(warmup)],
    env: t.env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const line = new TextDecoder().decode(r.stdout).split("\n").find((l) => l.startsWith("ms "));
  if (!r.success || !line) {
    const err = new TextDecoder().decode(r.stderr).trim().split("\n").at(-1);
    throw new Error(`fft_torch.py failed (exit ${r.code}): ${err}`);
  }
  return Number(line.slice(3).trim());
}

/** Options of {@linkcode runFftBench}. */
export interface FftBenchOptions {
  /** Timed runs per contender (alternating). */
  repeats: number;
  /** Untimed runs first. */
  warmup: number;
  /** Compare with PyTorch when installed. */
  torch: boolean;
  /** Our backend. */
  backend: "cpu" | "webgpu";
}

/** Times each workload (ours and PyTorch alternating) and prints a table in milliseconds. */
export async function runFftBench(opts: FftBenchOptions): Promise<void> {
  const torch = opts.torch
    ? await findTorch()
    : { python: null, env: {}, blas: "", reason: "--competitors none" } as TorchRunner;
  if (opts.backend === "webgpu") {
    const a = await initWebGpu();
    await setBackend("webgpu");
    console.log(`ours: WebGPU backend, adapter "${a.description || a.device}" (${a.backend})`);
  } else {
    await setBackend("cpu"); // loads the CPU kernels, so the line below names them
    const k = cpuKernelsInUse();
    console.log(
      `ours: CPU backend, ${k?.kind ?? "default"} kernels: ${
        k?.kind === "reference"
          ? "TypeScript FFT and LU, one thread"
          : `wasm SIMD FFT (2 threads), solve by the wasm SIMD LU (four systems per vector, 2 threads)`
      }`,
    );
  }
  console.log(
    torch.python
      ? `PyTorch: ${torch.python}, 2 threads`
      : `PyTorch: not compared (${torch.reason})`,
  );
  const rows = [["workload", "ours ms", "PyTorch ms", "PyTorch ÷ ours"]];
  for (const w of WORKLOADS) {
    const p = prepare(w), ours: number[] = [], theirs: number[] = [];
    let note = "";
    try {
      for (let i = 0; i < opts.warmup; i++) await p.run();
      for (let i = 0; i < opts.repeats; i++) {
        const t0 = performance.now();
        await p.run();
        ours.push(performance.now() - t0);
        if (torch.python && !note) {
          try {
            theirs.push(await runTorch(torch, w, Math.max(1, opts.warmup)));
          } catch (e) {
            note = e instanceof Error ? e.message : String(e);
          }
        }
      }
    } finally {
      p.dispose();
    }
    const mo = median(ours), mt = theirs.length ? median(theirs) : NaN;
    rows.push([
      label(w),
      mo.toFixed(1),
      note ? `failed: ${note.slice(0, 60)}` : Number.isNaN(mt) ? "—" : mt.toFixed(1),
      Number.isNaN(mt) ? "" : (mt / mo).toFixed(2) + "×",
    ]);
  }
  console.log(formatTable(rows));
  if (opts.backend === "webgpu") await setBackend("cpu");
}

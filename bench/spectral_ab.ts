/**
 * Before/after of the CPU spectral kernels in one process, interleaved run by run so background
 * load falls on both: "before" is the CPU backend with the float32 rfft2/irfft2/solve hooks
 * removed (the TypeScript FFT and LU, as before the wasm kernels), "after" the selected kernels
 * (wasm SIMD FFT; wasm SIMD LU); everything else (matmul, conv, fusion) is the
 * same. Workloads: bench/fft.ts's FFT round trips and solve, and bench --only layers' training
 * steps of the layers that call them.
 * `deno run -A bench/spectral_ab.ts [repeats = 5] [layer …]`
 * @module
 */
import { dispose, irfft2, keep, rfft2, scope, solve, type Tensor, tensor } from "../mod.ts";
import { setFastCpuKernels } from "../kernels/cpu/backend.ts";
import { selectCpuKernels } from "../kernels/cpu/fast.ts";
import { shutdownWasmThreads } from "../kernels/cpu/wasm/mod.ts";
import { formatTable, randomArray } from "./harness.ts";
import { layerWorkloads, prepareLayerStep } from "./layers_step.ts";

const SPECTRAL_LAYERS = ["cayley", "lot", "sandwich", "bro"];

interface Run {
  name: string;
  run(): Promise<void>;
  dispose(): void;
}

function fftRun(shape: number[]): Run {
  const x = keep(tensor(randomArray(shape.reduce((a, b) => a * b), 1), { shape }));
  const [h, w] = shape.slice(-2);
  return {
    name: `rfft2 + irfft2 [${shape}]`,
    run: async () => {
      const y = scope(() => irfft2(rfft2(x), [h, w]));
      await y.data();
      y.dispose();
    },
    dispose: () => dispose(x),
  };
}

function solveRun(batch: number[], n: number, k: number): Run {
  const count = batch.reduce((a, b) => a * b, 1);
  const av = randomArray(count * n * n, 2);
  for (let z = 0; z < count; z++) for (let i = 0; i < n; i++) av[z * n * n + i * (n + 1)] += n + 2;
  const a: Tensor = keep(tensor(av, { shape: [...batch, n, n] }));
  const b: Tensor = keep(tensor(randomArray(count * n * k, 3), { shape: [...batch, n, k] }));
  return {
    name: `solve [${batch}, ${n}, ${n}] · [${n}, ${k}]`,
    run: async () => {
      const x = scope(() => solve(a, b));
      await x.data();
      x.dispose();
    },
    dispose: () => dispose([a, b]),
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

if (import.meta.main) {
  const repeats = Number(Deno.args[0] ?? 5);
  const layers = Deno.args.length > 1 ? Deno.args.slice(1) : SPECTRAL_LAYERS;
  const sel = selectCpuKernels();
  const after = sel.kernels;
  const before = { ...after, rfft2: undefined, irfft2: undefined, solve: undefined };
  console.log(`spectral A/B (cpu, ${sel.kind}): ${sel.detail}; repeats ${repeats} (median)`);
  const runs: (() => Run)[] = [
    () => fftRun([64, 16, 32, 32]),
    () => fftRun([64, 16, 28, 28]),
    () => solveRun([32, 17], 32, 32),
    () => solveRun([16, 9], 64, 64),
    ...layerWorkloads(layers).map((wl) => (): Run => ({
      name: wl.kind === "conv"
        ? `${wl.layer} conv ${wl.channels}×${wl.size}×${wl.size}, batch ${wl.batch}`
        : `${wl.layer} dense ${wl.channels}, batch ${wl.batch}`,
      ...prepareLayerStep(wl),
    })),
  ];
  const rows = [["workload", "before ms", "after ms", "before ÷ after", "load (1 min)"]];
  for (const make of runs) {
    const r = make(), t: Record<"before" | "after", number[]> = { before: [], after: [] };
    try {
      for (let i = 0; i <= repeats; i++) {
        for (const side of ["before", "after"] as const) {
          setFastCpuKernels(side === "before" ? before : after);
          const t0 = performance.now();
          await r.run();
          if (i > 0) t[side].push(performance.now() - t0); // run 0 warms up
        }
      }
    } finally {
      setFastCpuKernels(after);
      r.dispose();
    }
    const b = median(t.before), a = median(t.after);
    rows.push([
      r.name,
      b.toFixed(1),
      a.toFixed(1),
      `${(b / a).toFixed(2)}×`,
      Deno.loadavg()[0].toFixed(1),
    ]);
    console.log(rows.at(-1)!.join(" | "));
  }
  console.log(formatTable(rows));
  shutdownWasmThreads();
}

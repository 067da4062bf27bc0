/**
 * `deno task bench`: times our kernels against jax-js and TensorFlow.js on the same inputs in the
 * same process (warm-up first, median of repeats), checks that every competitor's outputs agree
 * with ours (a disagreement is flagged, never hidden), and prints one table per workload.
 * Flags: --backend cpu|webgpu, --only matmul|conv|mlp|sll-conv|sll|layers|default|fft (webgpu: matmul|conv|mlp|chain|sll|layers|fft),
 * --repeats N, --warmup N, --rows a,b (--only sll: only the rows whose label starts with one of these),
 * --competitors jax,tfjs-wasm,tfjs-cpu (comma list; "none" for ours only).
 * `--only sll` is the SLL networks' training steps and certification beside PyTorch
 * (bench/sll_step.ts; minutes, so not part of the default run). `--only layers` is one training
 * step of every registered layer beside its PyTorch counterpart (bench/layers_step.ts).
 * `--only fft` times rfft2/irfft2 and solve at spectral-layer sizes beside PyTorch (bench/fft.ts).
 * @module
 */

import { parseArgs } from "node:util";
import { shutdownWasmThreads } from "../kernels/cpu/wasm/mod.ts";
import { conv2d, conv2dFilterGrad, convTranspose2d } from "../kernels/cpu/wasm/mod.ts";
import { type ConvertingPrepared, jaxJs, tfjs } from "./competitors.ts";
import { ours } from "./cpu_kernels.ts";
import {
  CONV,
  convInputs,
  formatTable,
  type Impl,
  MATMUL_N,
  maxRelDiff,
  mlpInputs,
  type Prepared,
  randomArray,
  SLL_CONV,
  sllConvInputs,
  timeIt,
  WEBGPU_WORKLOADS,
  type WorkloadName,
  WRONG_ABOVE,
} from "./harness.ts";

const WORKLOADS: WorkloadName[] = ["matmul", "conv", "mlp", "sll-conv"];
/** Workloads run only when named by --only. */
const EXTRA_WORKLOADS = ["sll", "layers", "default", "fft"] as const;
const COMPETITORS: Record<string, () => Impl> = {
  "jax": () => jaxJs("wasm"),
  "tfjs-wasm": () => tfjs("wasm"),
  "tfjs-cpu": () => tfjs("cpu"),
};

interface Row {
  impl: string;
  /** GFLOP/s for matmul, seconds otherwise. */
  value?: number;
  runs?: number;
  diff?: number;
  note?: string;
}

function parse(): {
  backend: string;
  only?: string;
  repeats: number;
  warmup: number;
  competitors: string[];
  rows?: string[];
} {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      backend: { type: "string", default: "cpu" },
      only: { type: "string" },
      // defaults: 5 and 3, or 3 and 1 for --only sll (its steps take seconds)
      repeats: { type: "string" },
      warmup: { type: "string" },
      competitors: { type: "string", default: Object.keys(COMPETITORS).join(",") },
      rows: { type: "string" },
    },
    strict: true,
  });
  if (values.backend !== "cpu" && values.backend !== "webgpu") {
    throw new RangeError(`--backend ${values.backend}: expected cpu or webgpu`);
  }
  const known: readonly string[] = values.backend === "webgpu"
    ? [...WEBGPU_WORKLOADS, ...EXTRA_WORKLOADS]
    : [...WORKLOADS, ...EXTRA_WORKLOADS];
  if (values.only !== undefined && !known.includes(values.only)) {
    throw new RangeError(
      `--only ${values.only}: expected one of ${
        known.join(", ")
      } (with --backend ${values.backend})`,
    );
  }
  const sll = values.only === "sll" || values.only === "layers" || values.only === "fft";
  const repeats = Number(values.repeats ?? (sll ? 3 : 5));
  const warmup = Number(values.warmup ?? (sll ? 1 : 3));
  if (!Number.isInteger(repeats) || repeats < 1) {
    throw new RangeError(`--repeats ${values.repeats}: expected an integer >= 1`);
  }
  if (!Number.isInteger(warmup) || warmup < 0) {
    throw new RangeError(`--warmup ${values.warmup}: expected an integer >= 0`);
  }
  const competitors = values.competitors === "none"
    ? []
    : values.competitors.split(",").map((s) => s.trim());
  for (const c of competitors) {
    if (!(c in COMPETITORS) && !(sll && c === "torch")) {
      throw new RangeError(
        `--competitors ${c}: expected some of ${
          Object.keys(COMPETITORS).join(", ")
        } or none (--only sll|layers|fft: torch or none)`,
      );
    }
  }
  if (values.rows !== undefined && values.only !== "sll") {
    throw new RangeError(`--rows ${values.rows}: only --only sll has rows to choose`);
  }
  return {
    backend: values.backend,
    only: values.only,
    repeats,
    warmup,
    competitors,
    rows: values.rows?.split(",").map((s) => s.trim()).filter((s) => s.length > 0),
  };
}

function prepare(
  impl: Impl,
  w: WorkloadName,
  batch: number,
): Promise<Prepared | undefined> | undefined {
  if (w === "matmul") {
    return impl.matmul?.(randomArray(MATMUL_N ** 2, 1), randomArray(MATMUL_N ** 2, 2), MATMUL_N);
  }
  if (w === "conv") return impl.conv?.(convInputs(batch));
  if (w === "sll-conv") return impl.name.startsWith("ours") ? sllConv(impl) : undefined;
  return impl.mlp?.(mlpInputs());
}

/** Both SLL conv geometries in one run (ours only: the competitors take seconds per step). */
async function sllConv(impl: Impl): Promise<Prepared | undefined> {
  const parts = await Promise.all(sllConvInputs().map((inp) => impl.conv?.(inp)));
  if (parts.some((p) => !p)) return undefined;
  return {
    run: async (): Promise<Float32Array[]> => {
      const out: Float32Array[] = [];
      for (const p of parts) out.push(...await p!.run());
      return out;
    },
    dispose: (): void => parts.forEach((p) => p!.dispose?.()),
  };
}

/** Our conv outputs at a smaller batch, to check contenders that run fewer images. */
function ourConvAt(batch: number): Float32Array[] {
  const inp = convInputs(batch), g = inp.geom;
  return [
    conv2d(inp.x, inp.w, g),
    convTranspose2d(inp.gy, inp.w, g),
    conv2dFilterGrad(inp.x, inp.gy, g),
  ];
}

async function runWorkload(
  w: WorkloadName,
  impls: Impl[],
  repeats: number,
  warmup: number,
): Promise<Row[]> {
  const rows: Row[] = [];
  let reference: Float32Array[] | undefined;
  for (const impl of impls) {
    const name = impl.labels?.[w] ?? impl.name;
    const batch = w === "conv" ? impl.convBatch ?? CONV.b : CONV.b;
    let p: Prepared | undefined;
    try {
      p = await prepare(impl, w, batch);
      if (!p) {
        rows.push({ impl: name, note: "not implemented" });
        continue;
      }
      const slow = batch !== CONV.b;
      const t = await timeIt(p, slow ? Math.min(repeats, 2) : repeats, slow ? 1 : warmup);
      const outs = (p as ConvertingPrepared).toReference?.(t.outputs) ?? t.outputs;
      const ref = batch === CONV.b ? reference : ourConvAt(batch);
      if (!reference && batch === CONV.b) reference = outs;
      const seconds = (t.medianMs / 1000) * (CONV.b / batch);
      const value = w === "matmul" ? (2 * MATMUL_N ** 3) / (t.medianMs / 1000) / 1e9 : seconds;
      const diff = ref && ref !== outs ? maxRelDiff(outs, ref) : undefined;
      rows.push({ impl: name, value, runs: t.runs, diff, note: slow ? impl.note : undefined });
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      rows.push({
        impl: name,
        note: `failed: ${msg.split("\n")[0].slice(0, 120)}`,
      });
    } finally {
      p?.dispose?.();
    }
  }
  return rows;
}

function render(w: WorkloadName, rows: Row[]): string {
  const unit = w === "matmul" ? "GFLOP/s" : "s";
  const ourRow = rows.find((r) => r.impl.startsWith("ours"));
  const header = [
    "implementation",
    unit === "s" ? "time (s)" : "GFLOP/s",
    "runs",
    "ours ÷ them (speed)",
    "max rel diff vs ref",
    "note",
  ];
  const body = rows.map((r) => {
    let ratio = "";
    if (ourRow?.value !== undefined && r.value !== undefined && r !== ourRow) {
      ratio = (unit === "s" ? r.value / ourRow.value : ourRow.value / r.value).toFixed(2) + "×";
    }
    const wrong = r.diff !== undefined && !(r.diff <= WRONG_ABOVE);
    return [
      r.impl,
      r.value === undefined ? "—" : unit === "s" ? r.value.toFixed(3) : r.value.toFixed(1),
      r.runs === undefined ? "" : String(r.runs),
      ratio,
      r.diff === undefined
        ? (r === rows.find((x) => x.value !== undefined) ? "(reference)" : "")
        : r.diff.toExponential(1) + (wrong ? " WRONG" : ""),
      r.note ?? "",
    ];
  });
  return formatTable([header, ...body]);
}

const TITLES: Record<WorkloadName, string> = {
  matmul: `matmul ${MATMUL_N}×${MATMUL_N}×${MATMUL_N} f32 (GFLOP/s, higher is better)`,
  conv:
    `conv2d fwd + grad x + grad w, x [${CONV.b},${CONV.c},${CONV.h},${CONV.w}], ${CONV.c}→${CONV.o} ${CONV.kh}×${CONV.kw} pad ${CONV.padding} (seconds, lower is better)`,
  mlp: "MLP step 784→1024→1024→10 batch 256: loss + all gradients (seconds, lower is better)",
  "sll-conv":
    `SLL conv fwd + grad x + grad w, x [${SLL_CONV.b},C,${SLL_CONV.h},${SLL_CONV.w}] C→C 3×3 pad 1 for C = ${
      SLL_CONV.channels.join(" and ")
    } (seconds, lower is better)`,
};

async function main(): Promise<void> {
  const opts = parse();
  if (opts.only === "default") {
    // the default run's step profiled (bench/default_profile.ts); --repeats = profiled steps
    if (opts.backend !== "cpu") {
      throw new RangeError("--only default profiles the CPU backend's step: drop --backend webgpu");
    }
    const { runDefaultProfile } = await import("./default_profile.ts");
    const given = Deno.args.some((a) => a.startsWith("--repeats"));
    await runDefaultProfile({ steps: given ? opts.repeats : 15, evaluate: true });
    shutdownWasmThreads();
    return;
  }
  if (opts.only === "fft") {
    const { runFftBench } = await import("./fft.ts");
    console.log(`fft bench (${opts.backend}): ${navigator.hardwareConcurrency} cores`);
    await runFftBench({
      ...opts,
      torch: opts.competitors.length > 0,
      backend: opts.backend === "webgpu" ? "webgpu" : "cpu",
    });
    shutdownWasmThreads();
    return;
  }
  if (opts.backend === "webgpu" && opts.only !== "sll" && opts.only !== "layers") {
    const { runWebGpuBench, WEBGPU_COMPETITORS } = await import("./webgpu.ts");
    return await runWebGpuBench({
      only: opts.only,
      repeats: opts.repeats,
      warmup: opts.warmup,
      competitors: opts.competitors.length ? [...WEBGPU_COMPETITORS] : [],
    });
  }
  if (opts.only === "layers") {
    const { runLayersBench } = await import("./layers_step.ts");
    console.log(
      `layers bench (${opts.backend}, one training step per registered layer): ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}`,
    );
    await runLayersBench({
      repeats: opts.repeats,
      warmup: opts.warmup,
      torch: opts.competitors.length > 0,
      backend: opts.backend === "webgpu" ? "webgpu" : "cpu",
    });
    shutdownWasmThreads();
    return;
  }
  if (opts.only === "sll") {
    const { runSllBench } = await import("./sll_step.ts");
    console.log(
      `sll bench (${opts.backend}, SLL networks): ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}`,
    );
    await runSllBench({
      repeats: opts.repeats,
      warmup: opts.warmup,
      rows: opts.rows,
      torch: opts.competitors.length > 0,
      backend: opts.backend === "webgpu" ? "webgpu" : "cpu",
    });
    shutdownWasmThreads();
    return;
  }
  const impls = [ours(), ...opts.competitors.map((c) => COMPETITORS[c]())];
  console.log(
    `sll bench (cpu): ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}, V8 ${Deno.version.v8}`,
  );
  console.log(
    `repeats ${opts.repeats} (median), warm-up ${opts.warmup}; diff = max|a−ref| / max|ref| per output, WRONG above ${WRONG_ABOVE}\n`,
  );
  for (const w of opts.only ? [opts.only as WorkloadName] : WORKLOADS) {
    const rows = await runWorkload(w, impls, opts.repeats, opts.warmup);
    console.log(`## ${TITLES[w]}\n${render(w, rows)}\n`);
  }
  shutdownWasmThreads();
}

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    // a bad flag is one line naming it, as in the CLI; anything else keeps its stack
    if (!(e instanceof RangeError && e.message.startsWith("--"))) throw e;
    console.error(`error: ${e.message}`);
    Deno.exit(2);
  }
  // jax-js and TF.js keep worker threads and timers alive; the bench is an entry script, so end
  // the process here rather than hang.
  Deno.exit(0);
}

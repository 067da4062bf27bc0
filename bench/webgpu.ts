/**
 * `deno task bench --backend webgpu`: our WebGPU backend beside TensorFlow.js's WebGPU backend
 * and jax-js's WebGPU device on the same adapter in the same process: matmul 1024³, conv2d
 * forward + both gradients, an MLP step (loss + all gradients), and dispatches per second over a
 * chain of 1,000 small elementwise ops. Every run reads its outputs back to the host; every
 * competitor's outputs are compared with ours and flagged WRONG when they disagree.
 * @module
 */
import * as jax from "@jax-js/jax";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { autoBackend, initWebGpu, setBackend } from "../tensor/backend.ts";
import { dispose, keep, scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import * as o from "../tensor/ops.ts";
import { valueAndGrad, vjp } from "../autodiff/autodiff.ts";
import { acquireWebGpu } from "../kernels/webgpu/mod.ts";
import { initJaxDevice, jaxJs, tfjs } from "./competitors.ts";
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
  timeIt,
  WEBGPU_WORKLOADS,
  WRONG_ABOVE,
} from "./harness.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/** Options of the WebGPU bench (the CLI flags of bench/main.ts). */
export interface WebGpuBenchOptions {
  /** One workload (matmul, conv, mlp, chain); others of the CPU bench are not run here. */
  only?: string;
  repeats: number;
  warmup: number;
  /** Competitor names: "tfjs-webgpu", "jax-webgpu" (empty: ours only). */
  competitors: string[];
}

const f32 = (d: ArrayLike<number>): Float32Array =>
  d instanceof Float32Array ? d : Float32Array.from(d);

/**
 * Our library on the WebGPU backend; with `fusion` false (the chain's second row), every
 * elementwise op is its own dispatch, which measures the raw dispatch rate.
 */
function ours(fusion = true): Impl & { chain(): Promise<Prepared> } {
  const read = async (ts: Tensor[]): Promise<Float32Array[]> => {
    const out = await Promise.all(ts.map((t) => t.data()));
    dispose(ts);
    return out.map(f32);
  };
  return {
    name: fusion ? "sll (webgpu)" : "sll (webgpu, fusion off)",
    matmul: async (a, b, n) => {
      await setBackend("webgpu");
      const A = keep(o.tensor(a, { shape: [n, n] })), B = keep(o.tensor(b, { shape: [n, n] }));
      return {
        run: () => read([o.matmul(A, B)]),
        dispose: () => dispose([A, B]),
      };
    },
    conv: async (inp) => {
      await setBackend("webgpu");
      const g = inp.geom;
      const X = keep(o.tensor(inp.x, { shape: [g.b, g.c, g.h, g.w] }));
      const W = keep(o.tensor(inp.w, { shape: [g.o, g.c, g.kh, g.kw] }));
      const GY = keep(o.tensor(inp.gy, { shape: [g.b, g.o, g.h, g.w] }));
      return {
        run: () =>
          read(scope(() => {
            const [y, pb] = vjp(
              (x: Tensor, w: Tensor) => o.conv2d(x, w, { stride: g.stride, padding: g.padding }),
              X,
              W,
            );
            return [y, ...pb(GY)];
          })),
        dispose: () => dispose([X, W, GY]),
      };
    },
    mlp: async (inp) => {
      await setBackend("webgpu");
      const { sizes, batch } = inp;
      const params = keep(inp.weights.map((w, l) => ({
        weight: o.tensor(w, { shape: [sizes[l], sizes[l + 1]] }),
        bias: o.tensor(inp.biases[l], { shape: [sizes[l + 1]] }),
      })));
      const X = keep(o.tensor(inp.x, { shape: [batch, sizes[0]] }));
      const Y = keep(o.tensor(inp.labels, { dtype: "int32" }));
      type P = typeof params;
      const loss = (ps: P): Tensor => {
        let h = X;
        ps.forEach((l, i) => {
          h = o.add(o.matmul(h, l.weight), l.bias);
          if (i + 1 < ps.length) h = o.relu(h);
        });
        return o.crossEntropy(h, Y);
      };
      const step = valueAndGrad(loss);
      return {
        run: () =>
          read(scope(() => {
            const [v, gr] = step(params);
            return [v, ...gr.flatMap((l) => [l.weight, l.bias])];
          })),
        dispose: () => dispose([params, X, Y]),
      };
    },
    chain: async () => {
      await setBackend("webgpu");
      const gpu = await acquireWebGpu();
      gpu.fusion = fusion;
      const s = keep(o.tensor(randomArray(64, 9, 0.99, 1.01)));
      return {
        run: () =>
          read([scope(() => {
            let z = s;
            for (let i = 0; i < 1000; i++) z = i % 2 ? o.add(z, s) : o.mul(z, s);
            return z;
          })]),
        dispose: () => {
          s.dispose();
          gpu.fusion = true;
        },
      };
    },
  };
}

/** jax-js on its WebGPU device: the CPU bench's jax-js contender, plus the dispatch chain. */
function jaxWebGpu(): Impl & { chain(): Promise<Prepared> } {
  const np = jax.numpy as Any;
  return {
    ...jaxJs("webgpu"),
    chain: async () => {
      await initJaxDevice("webgpu");
      const s = np.array(randomArray(64, 9, 0.99, 1.01));
      return {
        run: async () => {
          let z = s.ref;
          for (let i = 0; i < 1000; i++) z = i % 2 ? z.add(s.ref) : z.mul(s.ref);
          return [f32(await z.data())];
        },
        dispose: () => s.dispose(),
      };
    },
  };
}

/** TensorFlow.js on its WebGPU backend (the CPU bench's TF.js contender, pointed at webgpu). */
function tfjsWebGpu(): Impl & { chain(): Promise<Prepared> } {
  const impl = tfjs("webgpu" as "cpu");
  return {
    ...impl,
    name: "tfjs 4 (webgpu)",
    convBatch: undefined,
    note: undefined,
    chain: async () => {
      if (!(await tf.setBackend("webgpu"))) throw new Error("TF.js webgpu failed to initialise");
      const s = tf.tensor1d(randomArray(64, 9, 0.99, 1.01));
      return {
        run: async () => {
          const z = tf.tidy(() => {
            let z: tf.Tensor = s;
            for (let i = 0; i < 1000; i++) z = i % 2 ? tf.add(z, s) : tf.mul(z, s);
            return z;
          });
          const d = f32(await z.data() as Float32Array);
          z.dispose();
          return [d];
        },
        dispose: () => s.dispose(),
      };
    },
  };
}

const COMPETITORS: Record<string, () => Impl & { chain(): Promise<Prepared> }> = {
  "tfjs-webgpu": tfjsWebGpu,
  "jax-webgpu": jaxWebGpu,
};

/** Competitor names the WebGPU bench knows. */
export const WEBGPU_COMPETITORS: readonly string[] = Object.keys(COMPETITORS);

type W = typeof WEBGPU_WORKLOADS[number];

const TITLES: Record<W, string> = {
  matmul: `matmul ${MATMUL_N}³ f32 (GFLOP/s, higher is better)`,
  conv:
    `conv2d fwd + grad x + grad w, x [${CONV.b},${CONV.c},${CONV.h},${CONV.w}], ${CONV.c}→${CONV.o} 3×3 pad 1 (s, lower is better)`,
  mlp: "MLP step 784→1024→1024→10 batch 256: loss + all gradients (ms, lower is better)",
  chain:
    "chain of 1,000 elementwise ops on [64], one read (ops/s, higher is better; fused: ~1 dispatch per 24 ops)",
};

function prepare(impl: Impl & { chain(): Promise<Prepared> }, w: W): Promise<Prepared> | undefined {
  if (w === "matmul") {
    return impl.matmul?.(randomArray(MATMUL_N ** 2, 1), randomArray(MATMUL_N ** 2, 2), MATMUL_N);
  }
  if (w === "conv") return impl.conv?.(convInputs());
  if (w === "mlp") return impl.mlp?.(mlpInputs());
  return impl.chain();
}

function figure(w: W, ms: number): number {
  if (w === "matmul") return 2 * MATMUL_N ** 3 / (ms * 1e6);
  if (w === "conv") return ms / 1000;
  if (w === "mlp") return ms;
  return 1000 / (ms / 1000);
}

/**
 * Runs the WebGPU workloads for us and the named competitors, printing one table per workload.
 *
 * @example
 * ```ts
 * import { runWebGpuBench } from "./webgpu.ts";
 * await runWebGpuBench({ repeats: 5, warmup: 2, competitors: ["tfjs-webgpu", "jax-webgpu"] });
 * ```
 */
export async function runWebGpuBench(opts: WebGpuBenchOptions): Promise<void> {
  const adapter = await initWebGpu();
  await autoBackend();
  console.log(
    `sll bench (webgpu): adapter "${adapter.description}" (${adapter.backend}${
      adapter.isFallbackAdapter ? ", software" : ""
    }), ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}`,
  );
  console.log(
    `repeats ${opts.repeats} (median), warm-up ${opts.warmup}; every run reads its outputs back; diff = max|a−ours| / max|ours|, WRONG above ${WRONG_ABOVE}\n`,
  );
  const impls = [ours(), ...opts.competitors.map((c) => COMPETITORS[c]())];
  const unfused = ours(false);
  const all: readonly W[] = WEBGPU_WORKLOADS;
  if (opts.only && !all.includes(opts.only as W)) {
    console.log(`--only ${opts.only}: no WebGPU workload of that name (have ${all.join(", ")})`);
    return;
  }
  for (const w of opts.only ? [opts.only as W] : all) {
    const rows: string[][] = [["implementation", "figure", "runs", "diff vs ours", "note"]];
    let ref: Float32Array[] | undefined;
    for (const impl of w === "chain" ? [impls[0], unfused, ...impls.slice(1)] : impls) {
      let p: Prepared | undefined;
      try {
        p = await prepare(impl, w);
        if (!p) continue;
        const t = await timeIt(p, opts.repeats, opts.warmup, 60_000);
        let outs = t.outputs;
        const conv = (p as { toReference?(o: Float32Array[]): Float32Array[] }).toReference;
        if (conv) outs = conv(outs);
        const diff = ref ? maxRelDiff(outs, ref) : undefined;
        ref ??= outs;
        rows.push([
          impl.name,
          figure(w, t.medianMs).toPrecision(3),
          String(t.runs),
          diff === undefined
            ? "(reference)"
            : diff.toExponential(1) + (diff > WRONG_ABOVE ? " WRONG" : ""),
          impl.note ?? "",
        ]);
      } catch (e) {
        rows.push([impl.name, "—", "0", "", `failed: ${(e as Error).message.slice(0, 120)}`]);
      } finally {
        try {
          p?.dispose?.();
        } catch { /* a failed competitor may not dispose cleanly */ }
      }
    }
    console.log(`## ${TITLES[w]}\n${formatTable(rows)}\n`);
  }
  await sumProbe(opts.competitors);
  await setBackend("cpu");
}

/**
 * Correctness probe past Mesa's 65,535-iterations-per-invocation loop limit: the sum of 10⁶
 * ones (exactly 1,000,000 in float32) on each contender.
 */
async function sumProbe(competitors: string[]): Promise<void> {
  const n = 1_000_000;
  const rows: string[][] = [["implementation", "sum of 10⁶ ones", "verdict"]];
  const verdict = (v: number) => (v === n ? "ok" : "WRONG");
  await setBackend("webgpu");
  const t = o.ones([n]);
  const y = o.sum(t);
  const v = (await y.data())[0];
  dispose([t, y]);
  rows.push(["sll (webgpu)", String(v), verdict(v)]);
  if (competitors.includes("tfjs-webgpu")) {
    try {
      await tf.setBackend("webgpu");
      const s = tf.tidy(() => tf.sum(tf.ones([n])));
      const tv = (await s.data())[0];
      s.dispose();
      rows.push(["tfjs 4 (webgpu)", String(tv), verdict(tv)]);
    } catch (e) {
      rows.push(["tfjs 4 (webgpu)", "—", `failed: ${(e as Error).message.slice(0, 80)}`]);
    }
  }
  if (competitors.includes("jax-webgpu")) {
    try {
      const np = jax.numpy as Any;
      await jax.init("webgpu");
      jax.defaultDevice("webgpu");
      const jv = (await np.ones([n]).sum().data())[0];
      rows.push(["jax-js 0.1 (webgpu)", String(jv), verdict(jv)]);
    } catch (e) {
      rows.push(["jax-js 0.1 (webgpu)", "—", `failed: ${(e as Error).message.slice(0, 80)}`]);
    }
  }
  console.log(`## correctness past the loop limit: sum of 10⁶ ones\n${formatTable(rows)}\n`);
}

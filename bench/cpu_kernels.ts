/**
 * Our side of the CPU benchmarks: the wasm kernels of kernels/cpu/wasm for matmul and conv
 * forward+backward, and the MLP-step hook, which runs through the library's autodiff core
 * (root mod.ts) once that exports the DESIGN.md API, and reports "pending core" until then.
 * @module
 */

import {
  conv2d,
  conv2dFilterGrad,
  convTranspose2d,
  sgemm,
  shutdownWasmThreads,
  wasmInfo,
  wasmThreads,
} from "../kernels/cpu/wasm/mod.ts";
import type { ConvInputs, Impl, MlpInputs, Prepared } from "./harness.ts";

/** Why our MLP step cannot run yet, or undefined when the core is there. */
export let mlpPendingReason: string | undefined;

// ---- MLP hook ---------------------------------------------------------------------------------
// The MLP step 784→1024→1024→10 (batch 256) needs the autodiff core (tensor, matmul, add, relu,
// crossEntropy, valueAndGrad, scope from the root mod.ts, signatures as in DESIGN.md §2). It is
// loaded dynamically so this file type-checks before the core exists.
type Core = Record<string, (...args: never[]) => unknown>;

async function loadCore(): Promise<Core | undefined> {
  const need = [
    "tensor",
    "matmul",
    "add",
    "relu",
    "crossEntropy",
    "valueAndGrad",
    "scope",
    "setBackend",
  ];
  try {
    const url = new URL("../mod.ts", import.meta.url).href;
    const core = (await import(url)) as Core;
    const missing = need.filter((n) => typeof core[n] !== "function");
    if (missing.length) {
      mlpPendingReason = `pending core (mod.ts lacks ${missing.join(", ")})`;
      return undefined;
    }
    return core;
  } catch {
    mlpPendingReason = "pending core (no root mod.ts yet)";
    return undefined;
  }
}

// deno-lint-ignore no-explicit-any
type Any = any;

async function ourMlp(inp: MlpInputs): Promise<Prepared> {
  const core = await loadCore();
  if (!core) throw new Error(mlpPendingReason);
  const c = core as Any;
  await c.setBackend("cpu");
  const { sizes, batch } = inp;
  const params = c.keep(
    inp.weights.map((w, l) => ({
      weight: c.tensor(w, { shape: [sizes[l], sizes[l + 1]] }),
      bias: c.tensor(inp.biases[l], { shape: [sizes[l + 1]] }),
    })),
  );
  const x = c.keep(c.tensor(inp.x, { shape: [batch, sizes[0]] }));
  const labels = c.keep(c.tensor(inp.labels, { shape: [batch], dtype: "int32" }));
  const loss = (p: Any[]): Any => {
    let h = x;
    p.forEach((layer, l) => {
      h = c.add(c.matmul(h, layer.weight), layer.bias);
      if (l + 1 < p.length) h = c.relu(h);
    });
    return c.crossEntropy(h, labels);
  };
  const step = c.valueAndGrad(loss);
  return {
    run: async (): Promise<Float32Array[]> => {
      const [value, grads] = step(params);
      const out: Float32Array[] = [Float32Array.from(await value.data())];
      for (const g of grads as Any[]) {
        out.push(Float32Array.from(await g.weight.data()), Float32Array.from(await g.bias.data()));
      }
      c.dispose([value, grads]);
      return out;
    },
    dispose: (): void => void c.dispose([params, x, labels]),
  };
}

/** Our CPU implementation (wasm SIMD kernels, `wasmThreads()` threads). */
export function ours(): Impl {
  const info = wasmInfo();
  return {
    name: `ours (wasm${info.relaxedSimd ? " relaxed-simd" : " simd"}, ${wasmThreads()} thr)`,
    matmul: (a, b, n): Promise<Prepared> =>
      Promise.resolve({ run: (): Float32Array[] => [sgemm(a, b, { m: n, n, k: n })] }),
    conv: (inp: ConvInputs): Promise<Prepared> =>
      Promise.resolve({
        run: (): Float32Array[] => {
          const g = inp.geom;
          const y = conv2d(inp.x, inp.w, g);
          const dx = convTranspose2d(inp.gy, inp.w, g);
          const dw = conv2dFilterGrad(inp.x, inp.gy, g);
          return [y, dx, dw];
        },
        dispose: shutdownWasmThreads,
      }),
    labels: { mlp: "ours (autodiff core, cpu backend)" },
    mlp: ourMlp,
  };
}

/**
 * Our side of the CPU benchmarks: the wasm kernels of kernels/cpu/wasm for matmul and conv
 * forward+backward, and the MLP step 784→1024→1024→10 (batch 256) through the library's public
 * API (root mod.ts: tensors, autodiff, the CPU backend).
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
import {
  add,
  crossEntropy,
  dispose,
  keep,
  matmul,
  relu,
  setBackend,
  type Tensor,
  tensor,
  valueAndGrad,
} from "../mod.ts";
import type { ConvInputs, Impl, MlpInputs, Prepared } from "./harness.ts";

async function ourMlp(inp: MlpInputs): Promise<Prepared> {
  await setBackend("cpu");
  const { sizes, batch } = inp;
  const params = keep(
    inp.weights.map((w, l) => ({
      weight: tensor(w, { shape: [sizes[l], sizes[l + 1]] }),
      bias: tensor(inp.biases[l], { shape: [sizes[l + 1]] }),
    })),
  );
  const x = keep(tensor(inp.x, { shape: [batch, sizes[0]] }));
  const labels = keep(tensor(inp.labels, { shape: [batch], dtype: "int32" }));
  const loss = (p: { weight: Tensor; bias: Tensor }[]): Tensor => {
    let h = x;
    p.forEach((layer, l) => {
      h = add(matmul(h, layer.weight), layer.bias);
      if (l + 1 < p.length) h = relu(h);
    });
    return crossEntropy(h, labels);
  };
  const step = valueAndGrad(loss);
  return {
    run: async (): Promise<Float32Array[]> => {
      const [value, grads] = step(params);
      const out: Float32Array[] = [Float32Array.from(await value.data())];
      for (const g of grads) {
        out.push(Float32Array.from(await g.weight.data()), Float32Array.from(await g.bias.data()));
      }
      dispose([value, grads]);
      return out;
    },
    dispose: (): void => void dispose([params, x, labels]),
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

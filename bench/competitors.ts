/**
 * Competitors for the CPU benchmarks: jax-js (wasm device) and TensorFlow.js (cpu and wasm
 * backends). Inputs are uploaded in `prepare` (outside the timing); each run computes and reads
 * results back to the host. TF.js is NHWC, so its inputs are transposed once at preparation and
 * its outputs converted back (untimed) before the agreement check.
 * @module
 */

import * as jax from "@jax-js/jax";
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import type { ConvInputs, Impl, MlpInputs, Prepared } from "./harness.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/** The Prepared of a competitor may convert its outputs into our layout after timing. */
export interface ConvertingPrepared extends Prepared {
  toReference?(outs: Float32Array[]): Float32Array[];
}

// ---- jax-js -----------------------------------------------------------------------------------

const jaxReady = new Map<string, Promise<void>>();

/** Initialises jax-js once per device and makes it the default. */
export function initJaxDevice(device: "wasm" | "webgpu"): Promise<void> {
  let ready = jaxReady.get(device);
  if (!ready) {
    ready = jax.init(device).then((devices: string[]) => {
      if (!devices.includes(device)) {
        throw new Error(`jax-js has no ${device} device (got ${devices.join(", ")})`);
      }
      jax.defaultDevice(device);
    });
    jaxReady.set(device, ready);
  }
  return ready;
}

const f32 = (d: ArrayLike<number>): Float32Array =>
  d instanceof Float32Array ? d : Float32Array.from(d);

/** jax-js on its wasm device (the CPU bench) or its WebGPU device (the WebGPU bench). */
export function jaxJs(device: "wasm" | "webgpu" = "wasm"): Impl {
  const np = jax.numpy as Any, lax = jax.lax as Any, nn = jax.nn as Any;
  const initJax = () => initJaxDevice(device);
  return {
    name: `jax-js 0.1 (${device})`,
    matmul: async (a, b, n): Promise<Prepared> => {
      await initJax();
      const A = np.array(a, { shape: [n, n] }), B = np.array(b, { shape: [n, n] });
      return {
        run: async (): Promise<Float32Array[]> => [f32(await np.matmul(A.ref, B.ref).data())],
        dispose: (): void => (A.dispose(), B.dispose()),
      };
    },
    conv: async (inp: ConvInputs): Promise<Prepared> => {
      await initJax();
      const g = inp.geom;
      const X = np.array(inp.x, { shape: [g.b, g.c, g.h, g.w] });
      const W = np.array(inp.w, { shape: [g.o, g.c, g.kh, g.kw] });
      const GY = np.array(inp.gy, { shape: [g.b, g.o, g.h, g.w] });
      const p = g.padding;
      const f = (x: Any, w: Any): Any => lax.conv(x, w, [g.stride, g.stride], [[p, p], [p, p]]);
      return {
        run: async (): Promise<Float32Array[]> => {
          const [y, pullback] = (jax.vjp as Any)(f, [X.ref, W.ref]);
          const [dx, dw] = pullback(GY.ref);
          pullback.dispose();
          return [f32(await y.data()), f32(await dx.data()), f32(await dw.data())];
        },
        dispose: (): void => (X.dispose(), W.dispose(), GY.dispose()),
      };
    },
    mlp: async (inp: MlpInputs): Promise<Prepared> => {
      await initJax();
      const { sizes, batch } = inp;
      const params = inp.weights.map((w, l) => ({
        weight: np.array(w, { shape: [sizes[l], sizes[l + 1]] }),
        bias: np.array(inp.biases[l], { shape: [sizes[l + 1]] }),
      }));
      const X = np.array(inp.x, { shape: [batch, sizes[0]] });
      const classes = sizes[sizes.length - 1];
      const oneHot = new Float32Array(batch * classes);
      inp.labels.forEach((c, i) => oneHot[i * classes + c] = 1);
      const Y = np.array(oneHot, { shape: [batch, classes] });
      // Mean cross-entropy: −(1/B) Σ onehot ⊙ logSoftmax(logits).
      const loss = (ps: Any[]): Any => {
        let h = X.ref;
        ps.forEach((layer: Any, l: number) => {
          h = np.matmul(h, layer.weight).add(layer.bias);
          if (l + 1 < ps.length) h = nn.relu(h);
        });
        return nn.logSoftmax(h, -1).mul(Y.ref).sum().mul(-1 / batch);
      };
      const step = (jax.valueAndGrad as Any)(loss);
      return {
        run: async (): Promise<Float32Array[]> => {
          const [value, grads] = step(
            params.map((l) => ({ weight: l.weight.ref, bias: l.bias.ref })),
          );
          const out = [f32(await value.data())];
          for (const gl of grads) out.push(f32(await gl.weight.data()), f32(await gl.bias.data()));
          return out;
        },
        dispose: (): void => {
          for (const l of params) l.weight.dispose(), l.bias.dispose();
          X.dispose(), Y.dispose();
        },
      };
    },
  };
}

// ---- TensorFlow.js ----------------------------------------------------------------------------

let wasmPathsSet = false;

async function useTf(backend: "cpu" | "wasm"): Promise<void> {
  if (backend === "wasm" && !wasmPathsSet) {
    // The .wasm files sit next to the package's entry in node_modules.
    const entry = import.meta.resolve("@tensorflow/tfjs-backend-wasm");
    const dir = new URL(".", entry);
    setWasmPaths(dir.protocol === "file:" ? decodeURIComponent(dir.pathname) : dir.href);
    wasmPathsSet = true;
  }
  if (!(await tf.setBackend(backend))) {
    throw new Error(`TF.js backend ${backend} failed to initialise`);
  }
  await tf.ready();
}

/** NHWC → NCHW for a [B, H, W, C] array. */
function nhwcToNchw(a: Float32Array, b: number, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let n = 0; n < b; n++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let ch = 0; ch < c; ch++) {
          out[((n * c + ch) * h + y) * w + x] = a[((n * h + y) * w + x) * c + ch];
        }
      }
    }
  }
  return out;
}

/** TF.js filter [kh, kw, C, O] → ours [O, C, kh, kw]. */
function hwioToOihw(a: Float32Array, kh: number, kw: number, c: number, o: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      for (let ch = 0; ch < c; ch++) {
        for (let oc = 0; oc < o; oc++) {
          out[((oc * c + ch) * kh + i) * kw + j] = a[((i * kw + j) * c + ch) * o + oc];
        }
      }
    }
  }
  return out;
}

/** TF.js 4 on its "cpu" (plain JS) or "wasm" (XNNPACK, SIMD) backend. */
export function tfjs(backend: "cpu" | "wasm"): Impl {
  return {
    name: `tfjs 4 (${backend})`,
    // The plain-JS conv is minutes at the full batch: run 4 images and scale the time.
    convBatch: backend === "cpu" ? 4 : undefined,
    note: backend === "cpu" ? "conv time extrapolated ×16 from batch 4" : undefined,
    matmul: async (a, b, n): Promise<Prepared> => {
      await useTf(backend);
      const A = tf.tensor2d(a, [n, n]), B = tf.tensor2d(b, [n, n]);
      return {
        run: async (): Promise<Float32Array[]> => {
          const c = tf.matMul(A, B);
          const d = await c.data();
          c.dispose();
          return [f32(d as Float32Array)];
        },
        dispose: (): void => (A.dispose(), B.dispose()),
      };
    },
    conv: async (inp: ConvInputs): Promise<ConvertingPrepared> => {
      await useTf(backend);
      const g = inp.geom;
      const X = tf.tidy(() =>
        tf.tensor4d(inp.x, [g.b, g.c, g.h, g.w]).transpose([0, 2, 3, 1])
      ) as tf.Tensor4D;
      const W = tf.tidy(() =>
        tf.tensor4d(inp.w, [g.o, g.c, g.kh, g.kw]).transpose([2, 3, 1, 0])
      ) as tf.Tensor4D;
      const GY = tf.tidy(() =>
        tf.tensor4d(inp.gy, [g.b, g.o, g.h, g.w]).transpose([0, 2, 3, 1])
      ) as tf.Tensor4D;
      const f = (x: tf.Tensor, w: tf.Tensor): tf.Tensor =>
        tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, g.stride, g.padding);
      const vg = tf.valueAndGrads(f);
      const [ho, wo] = [g.h + 2 * g.padding - g.kh + 1, g.w + 2 * g.padding - g.kw + 1];
      return {
        run: async (): Promise<Float32Array[]> => {
          const { value, grads } = vg([X, W], GY);
          const out = [f32(await value.data() as Float32Array)];
          for (const t of grads) out.push(f32(await t.data() as Float32Array));
          value.dispose(), grads.forEach((t) => t.dispose());
          return out;
        },
        toReference: (outs: Float32Array[]): Float32Array[] => [
          nhwcToNchw(outs[0], g.b, ho, wo, g.o),
          nhwcToNchw(outs[1], g.b, g.h, g.w, g.c),
          hwioToOihw(outs[2], g.kh, g.kw, g.c, g.o),
        ],
        dispose: (): void => (X.dispose(), W.dispose(), GY.dispose()),
      };
    },
    mlp: async (inp: MlpInputs): Promise<Prepared> => {
      await useTf(backend);
      const { sizes, batch } = inp;
      const Ws = inp.weights.map((w, l) => tf.tensor2d(w, [sizes[l], sizes[l + 1]]));
      const Bs = inp.biases.map((b) => tf.tensor1d(b));
      const X = tf.tensor2d(inp.x, [batch, sizes[0]]);
      const Y = tf.oneHot(tf.tensor1d(inp.labels, "int32"), sizes[sizes.length - 1]);
      const loss = (...ps: tf.Tensor[]): tf.Tensor => {
        let h: tf.Tensor = X;
        for (let l = 0; l < Ws.length; l++) {
          h = tf.add(tf.matMul(h as tf.Tensor2D, ps[2 * l] as tf.Tensor2D), ps[2 * l + 1]);
          if (l + 1 < Ws.length) h = tf.relu(h);
        }
        return tf.losses.softmaxCrossEntropy(Y, h);
      };
      const vg = tf.valueAndGrads(loss);
      const args = Ws.flatMap((w, l) => [w, Bs[l]]);
      return {
        run: async (): Promise<Float32Array[]> => {
          const { value, grads } = vg(args);
          const out = [f32(await value.data() as Float32Array)];
          for (const t of grads) out.push(f32(await t.data() as Float32Array));
          value.dispose(), grads.forEach((t) => t.dispose());
          return out;
        },
        dispose: (): void => tf.dispose([...Ws, ...Bs, X, Y]),
      };
    },
  };
}

/**
 * The page's compute worker: a dedicated module web Worker that holds the library, the model and
 * the images, and answers the page's requests one at a time (web/protocol.ts). Running here, off
 * the page's main thread, the CPU kernels may block and use their helper thread (2 threads when
 * the page is cross-origin isolated); WebGPU works in workers too.
 * @module
 */
import {
  adam,
  autoBackend,
  certifiedAccuracy,
  certifiedLipschitzBound,
  dispose,
  flattenTree,
  getBackend,
  type HostTensor,
  initWebGpu,
  isSoftwareAdapter,
  keep,
  type LipschitzCertificate,
  type LipschitzNetwork,
  lipschitzNetwork,
  type LipschitzParams,
  margins,
  offsetCrossEntropy,
  permutation,
  pgdL2,
  randomKey,
  scope,
  setBackend,
  setWasmThreads,
  split,
  type Tensor,
  tensor,
  valueAndGrad,
  wasmHelperDispatches,
  wasmThreads,
  wasmThreadsReady,
} from "../mod.ts";
import { FMNIST_MEAN, type HostModel, PAGE_INPUT, readHostModel } from "./checkpoint.ts";
import { decodeImageSet, gunzip, type ImageSet } from "./sample.ts";
import type {
  Answers,
  BackendInfo,
  Capabilities,
  CertifyResult,
  FromWorker,
  Request,
  ToWorker,
  TrainResult,
} from "./protocol.ts";

/** The certification radii of `deno task certify`, in units of 1/255. */
export const RADII_255 = [36, 72, 108, 255];
/** Images per forward pass, as `deno task certify`'s default --batch-size. */
const EVAL_BATCH = 500;

interface Live {
  host: HostModel;
  network: LipschitzNetwork;
  params: LipschitzParams;
}

interface WorkerScope {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker): void;
}
const self = globalThis as unknown as WorkerScope;

let sample: ImageSet | undefined;
let trainSet: ImageSet | undefined;
let model: Live | undefined;
let adapter: string | undefined;
let capabilities: Capabilities | undefined;

function backendInfo(): BackendInfo {
  const name = getBackend();
  const helperDispatches = wasmHelperDispatches();
  return name === "webgpu"
    ? { name, threads: 1, adapter, helperDispatches }
    : { name, threads: wasmThreads(), helperDispatches };
}

/**
 * The wasm helper thread closes itself after a second without work; before a request's kernels
 * run, bring it back up (and wait until it serves), or a short request would run on one thread.
 */
async function helperUp(): Promise<void> {
  if (getBackend() !== "webgpu" && wasmThreads() === 2) await wasmThreadsReady();
}

function build(host: HostModel): Live {
  const network = lipschitzNetwork(host.config);
  const params = keep(scope(() => network.fromStateDict(host.leaves, { prefix: "" })));
  return { host, network, params };
}

async function probeWebGpu(): Promise<
  Pick<Capabilities, "webgpu" | "webgpuSoftware" | "webgpuReason">
> {
  try {
    const a = await initWebGpu();
    adapter = a.description || [a.vendor, a.architecture, a.device].filter((s) => s).join(" ") ||
      "WebGPU adapter";
    return { webgpu: adapter, webgpuSoftware: isSoftwareAdapter(a) };
  } catch (e) {
    return { webgpuReason: e instanceof Error ? e.message : String(e) };
  }
}

async function useBackend(name: "cpu" | "webgpu" | "auto", threads?: number): Promise<BackendInfo> {
  if (name === "auto") {
    const r = await autoBackend();
    if (r.backend === "cpu") {
      setWasmThreads(2);
      if (!(await wasmThreadsReady())) setWasmThreads(1);
    }
  } else if (name === "webgpu") {
    if (!capabilities?.webgpu) {
      throw new Error(
        `WebGPU is not available in this browser (${
          capabilities?.webgpuReason ?? "navigator.gpu gave no adapter"
        }); use the CPU backend`,
      );
    }
    await setBackend("webgpu");
  } else if (name === "cpu") {
    const want = threads ?? 2;
    if (want !== 1 && want !== 2) throw new RangeError(`CPU threads must be 1 or 2, got ${want}`);
    await setBackend("cpu");
    setWasmThreads(want);
    if (want === 2 && !(await wasmThreadsReady())) {
      setWasmThreads(1);
      throw new Error(
        "2 CPU threads need shared memory, which a page has only when cross-origin isolated " +
          "(served with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: " +
          "require-corp); running on 1 thread",
      );
    }
  } else throw new RangeError(`unknown backend "${name}"; expected cpu or webgpu`);
  if (model) {
    // Parameters live on one backend: rebuild them from the host copy on the new one.
    dispose(model.params);
    model = build(model.host);
  }
  return backendInfo();
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`${what} is not loaded yet; wait for the page to start`);
  return v;
}

function imagesTensor(set: ImageSet, from: number, to: number): Tensor {
  const size = set.rows * set.cols;
  const x = new Float32Array((to - from) * size);
  for (let i = 0; i < x.length; i++) x[i] = set.pixels[from * size + i] / 255;
  return tensor(x, { shape: [to - from, 1, set.rows, set.cols] });
}

/** Certified Lipschitz bounds, once per parameter set (a new set after loading or training). */
const bounds = new WeakMap<object, Promise<LipschitzCertificate>>();

/** The network's certified Lipschitz bound as a margin divisor; throws when none is finite. */
async function lipschitzOf(live: Live): Promise<number> {
  let b = bounds.get(live.params);
  if (!b) {
    b = certifiedLipschitzBound(live.network, live.params, PAGE_INPUT);
    bounds.set(live.params, b);
  }
  const cert = await b;
  if (!Number.isFinite(cert.bound)) {
    throw new RangeError(`the model has no finite Lipschitz bound: ${cert.text}`);
  }
  return cert.bound;
}

async function certifySet(live: Live, set: ImageSet, n: number): Promise<CertifyResult> {
  const t0 = performance.now();
  const eps = RADII_255.map((e) => e / 255);
  let natural = 0;
  const counts = RADII_255.map(() => 0);
  const predictions: number[] = [], radii: number[] = [];
  const lipschitz = await lipschitzOf(live);
  const prepared = live.network.prepare(live.params);
  try {
    for (let from = 0; from < n; from += EVAL_BATCH) {
      const to = Math.min(n, from + EVAL_BATCH);
      const logits = scope(() => prepared.apply(imagesTensor(set, from, to)));
      try {
        const r = await certifiedAccuracy(
          logits,
          Array.from(set.labels.subarray(from, to)),
          live.network.lastWeight(live.params),
          eps,
          { lipschitz },
        );
        natural += r.correct.reduce((s, c) => s + c, 0);
        r.certifiedMask.forEach((m, j) => (counts[j] += m.reduce((s, c) => s + c, 0)));
        predictions.push(...r.margins.pred);
        radii.push(...r.margins.radius);
      } finally {
        logits.dispose();
      }
    }
  } finally {
    prepared.dispose();
  }
  return {
    n,
    natural,
    certified: RADII_255.map((radius255, j) => ({ radius255, count: counts[j] })),
    predictions,
    radii,
    ms: performance.now() - t0,
  };
}

async function classify(
  live: Live,
  x: Tensor,
): Promise<{ pred: number; radius: number; logits: number[] }> {
  const lipschitz = await lipschitzOf(live);
  const logits = scope(() => live.network.apply(live.params, x));
  try {
    const m = await margins(logits, live.network.lastWeight(live.params), { lipschitz });
    return { pred: m.pred[0], radius: m.radius[0], logits: Array.from(await logits.data()) };
  } finally {
    logits.dispose();
  }
}

function checkImage(image: Float32Array): void {
  const [, h, w] = PAGE_INPUT;
  if (!(image instanceof Float32Array) || image.length !== h * w) {
    throw new TypeError(`an image must be ${h}×${w} = ${h * w} floats, got ${image?.length}`);
  }
}

async function attack(image: Float32Array, radius: number, steps: number, seed: number) {
  const live = need(model, "the model");
  checkImage(image);
  if (!(radius >= 0 && Number.isFinite(radius))) {
    throw new RangeError(`attack radius must be a finite number ≥ 0, got ${radius}`);
  }
  const x = tensor(image, { shape: [1, ...PAGE_INPUT] });
  try {
    const clean = await classify(live, x);
    const y = tensor([clean.pred], { dtype: "int32" });
    const xa = pgdL2((v) => live.network.apply(live.params, v), x, y, {
      eps: radius,
      steps,
      key: randomKey(seed),
    });
    y.dispose();
    try {
      const adv = await classify(live, xa);
      const a = await xa.data();
      let s = 0;
      for (let i = 0; i < a.length; i++) s += (a[i] - image[i]) ** 2;
      return {
        success: adv.pred !== clean.pred,
        norm: Math.sqrt(s),
        label: clean.pred,
        adversarialLabel: adv.pred,
        image: Array.from(a),
      };
    } finally {
      xa.dispose();
    }
  } finally {
    x.dispose();
  }
}

/** The network trained in the tab: small enough for seconds per epoch on one thread. */
const TAB_NETWORK = {
  inputShape: PAGE_INPUT,
  numClasses: 10,
  nConv: 1,
  nDense: 1,
  width: 4,
  convInnerDim: 4,
  denseInnerDim: 64,
  mean: [FMNIST_MEAN],
  qMode: "paper" as const,
};

async function trainInTab(
  images: number,
  epochs: number,
  seed: number,
  progress: (f: number) => void,
): Promise<TrainResult & { description: string }> {
  const data = need(trainSet, "the training subset");
  const test = need(sample, "the test sample");
  if (!(Number.isInteger(images) && images >= 1 && images <= data.n)) {
    throw new RangeError(
      `train: images must be an integer in 1…${data.n} (the subset shipped), got ${images}`,
    );
  }
  if (!(Number.isInteger(epochs) && epochs >= 1 && epochs <= 100)) {
    throw new RangeError(`train: epochs must be an integer in 1…100, got ${epochs}`);
  }
  const t0 = performance.now();
  const network = lipschitzNetwork(TAB_NETWORK);
  const batch = 50;
  const perEpoch = Math.ceil(images / batch);
  const total = perEpoch * epochs;
  const [kInit, kData] = split(randomKey(seed));
  let params = keep(scope(() => network.init(kInit).params));
  const opt = adam();
  let state = keep(opt.init(params));
  const lossAndGrad = valueAndGrad((p: LipschitzParams, x: Tensor, y: Tensor) =>
    offsetCrossEntropy(network.apply(p, x), y, { offset: 1, temperature: 0.25 })
  );
  const size = data.rows * data.cols;
  let step = 0;
  try {
    for (let e = 0; e < epochs; e++) {
      const perm = permutation(split(kData, epochs)[e], images);
      const order = await perm.data();
      perm.dispose();
      for (let b = 0; b < perEpoch; b++) {
        const idx = Array.from(order.subarray(b * batch, Math.min(images, (b + 1) * batch)));
        const xs = new Float32Array(idx.length * size);
        idx.forEach((k, j) => {
          for (let i = 0; i < size; i++) xs[j * size + i] = data.pixels[k * size + i] / 255;
        });
        const ys = idx.map((k) => data.labels[k]);
        // lr 0.01 with a linear decay to 0.001 over the run: short runs need no warm-up here.
        const lr = 0.01 * (1 - 0.9 * step / total);
        const next = scope(() => {
          const x = tensor(xs, { shape: [idx.length, ...PAGE_INPUT] });
          const y = tensor(ys, { dtype: "int32" });
          const [, grads] = lossAndGrad(params, x, y);
          return opt.update(grads, state, params, lr);
        });
        dispose([params, state.slots]);
        params = keep(next.params);
        state = { step: next.state.step, slots: keep(next.state.slots) };
        step++;
        progress(step / total);
        // let the worker breathe between steps (a backend switch waits in the queue anyway)
        await new Promise((r) => setTimeout(r, 0));
      }
    }
    const leaves: Record<string, HostTensor> = {};
    for (const [p, t] of Object.entries(flattenTree(params))) {
      leaves[p] = {
        dtype: "float32",
        shape: [...t.shape],
        data: Float32Array.from(await t.data()),
      };
    }
    const host: HostModel = {
      config: TAB_NETWORK,
      leaves,
      description:
        `network trained in this tab (${images} images × ${epochs} epochs, seed ${seed})`,
    };
    trained = host;
    const live: Live = { host, network, params };
    const r = await certifySet(live, test, test.n);
    return {
      natural: r.natural / r.n,
      certified36: r.certified[0].count / r.n,
      n: r.n,
      images,
      ms: performance.now() - t0,
      description: host.description,
    };
  } finally {
    dispose([params, state.slots]);
  }
}

let trained: HostModel | undefined;

async function handle(req: Request, progress: (f: number) => void): Promise<unknown> {
  switch (req.op) {
    case "init": {
      sample = decodeImageSet(req.sample, "sample");
      if (req.trainSet) trainSet = decodeImageSet(await gunzip(req.trainSet), "training subset");
      capabilities = {
        crossOriginIsolated:
          (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated ===
            true,
        twoThreads: false,
        ...(await probeWebGpu()),
      };
      const backend = await useBackend("auto");
      setWasmThreads(2);
      capabilities.twoThreads = await wasmThreadsReady();
      if (backend.name === "cpu" && !capabilities.twoThreads) setWasmThreads(1);
      return { capabilities, backend: backendInfo() } satisfies Answers["init"];
    }
    case "setBackend":
      return await useBackend(req.name, req.threads) satisfies Answers["setBackend"];
    case "load": {
      const host = await readHostModel(req.file, req.meta);
      const next = build(host);
      if (model) dispose(model.params);
      model = next;
      return { description: host.description, dataset: host.dataset } satisfies Answers["load"];
    }
    case "useTrained": {
      const host = need(trained, "a network trained in this tab");
      const next = build(host);
      if (model) dispose(model.params);
      model = next;
      return { description: host.description };
    }
    case "certify": {
      const set = need(sample, "the test sample");
      const live = need(model, "the model");
      const limit = req.limit ?? set.n;
      if (!(Number.isInteger(limit) && limit >= 1)) {
        throw new RangeError(`certifySample: limit must be a positive integer, got ${limit}`);
      }
      await helperUp();
      const r = await certifySet(live, set, Math.min(limit, set.n));
      return { ...r, backend: backendInfo() } satisfies Answers["certify"];
    }
    case "predict": {
      checkImage(req.image);
      const x = tensor(req.image, { shape: [1, ...PAGE_INPUT] });
      try {
        return await classify(need(model, "the model"), x) satisfies Answers["predict"];
      } finally {
        x.dispose();
      }
    }
    case "attack":
      return await attack(req.image, req.radius, req.steps ?? 100, req.seed ?? 0);
    case "train":
      return await trainInTab(req.images, req.epochs, req.seed ?? 0, progress);
  }
}

// One request at a time, in order: a backend switch never lands in the middle of a computation.
let queue: Promise<void> = Promise.resolve();
self.onmessage = (e: MessageEvent<ToWorker>): void => {
  const { id } = e.data;
  queue = queue.then(async () => {
    try {
      const result = await handle(e.data, (f) => self.postMessage({ id, progress: f }));
      self.postMessage({ id, ok: true, result });
    } catch (err) {
      const msg = err instanceof Error
        ? `${err.name === "Error" ? "" : err.name + ": "}${err.message}`
        : String(err);
      self.postMessage({ id, ok: false, error: msg });
    }
  });
};

/**
 * Messages between the page (web/app.ts) and its compute worker (web/compute_worker.ts): one
 * request per call, answered once by id (result or error text); training also sends progress.
 * Types only, so the page's bundle stays free of the library.
 * @module
 */

/** What the current backend is. */
export interface BackendInfo {
  /** Backend name. */
  name: "cpu" | "webgpu";
  /** Threads of the CPU kernels (1 on WebGPU). */
  threads: number;
  /** The WebGPU adapter: its description, or vendor and architecture (WebGPU only). */
  adapter?: string;
  /** Kernel calls the CPU helper thread has shared so far (grows only on 2 threads). */
  helperDispatches: number;
}

/** What the worker found it can do. */
export interface Capabilities {
  /** Whether shared memory can be used (cross-origin isolated page). */
  crossOriginIsolated: boolean;
  /** Whether a CPU helper thread can run here. */
  twoThreads: boolean;
  /** The WebGPU adapter's description, when `navigator.gpu` gives one. */
  webgpu?: string;
  /** Whether that adapter is a software one (then auto stays on the CPU). */
  webgpuSoftware?: boolean;
  /** Why WebGPU is not available, when it is not. */
  webgpuReason?: string;
}

/** The result of certifying the first images of the sample. */
export interface CertifyResult {
  /** Images certified. */
  n: number;
  /** Correctly classified count. */
  natural: number;
  /** Correct and certified count at each radius in units of 1/255. */
  certified: { radius255: number; count: number }[];
  /** Predicted class per image (−1: non-finite logits). */
  predictions: number[];
  /** Certified L2 radius per image, in input units (pixels in [0, 1]). */
  radii: number[];
  /** Milliseconds spent (forward pass and margins). */
  ms: number;
}

/** One image classified: prediction, radius, class scores. */
export interface Prediction {
  /** Predicted class (−1: non-finite logits). */
  pred: number;
  /** Certified L2 radius in input units. */
  radius: number;
  /** The logits. */
  logits: number[];
}

/** The result of a PGD attack on one image. */
export interface AttackResult {
  /** Whether the adversarial image's prediction differs from `label`. */
  success: boolean;
  /** ‖x_adv − x‖₂ in input units. */
  norm: number;
  /** The prediction on the clean image (what the attack tries to change). */
  label: number;
  /** The prediction on the adversarial image. */
  adversarialLabel: number;
  /** The adversarial image (pixels in [0, 1]). */
  image: number[];
}

/** The result of training in the tab. */
export interface TrainResult {
  /** Natural accuracy on the test sample, a fraction in [0, 1]. */
  natural: number;
  /** Certified accuracy at 36/255 on the test sample, a fraction in [0, 1]. */
  certified36: number;
  /** Test images evaluated. */
  n: number;
  /** Training images used. */
  images: number;
  /** Milliseconds spent training. */
  ms: number;
}

/** The model the worker holds. */
export interface ModelInfo {
  /** What was loaded and what was assumed. */
  description: string;
  /** Dataset the checkpoint says it was trained on, if it says. */
  dataset?: string;
}

/** Requests, by operation. */
export type Request =
  | { op: "init"; sample: Uint8Array; trainSet?: Uint8Array }
  | { op: "setBackend"; name: "cpu" | "webgpu" | "auto"; threads?: number }
  | {
    op: "load";
    file: { name: string; bytes: Uint8Array };
    meta?: { name: string; bytes: Uint8Array };
  }
  | { op: "certify"; limit?: number }
  | { op: "predict"; image: Float32Array }
  | { op: "attack"; image: Float32Array; radius: number; steps?: number; seed?: number }
  | { op: "train"; images: number; epochs: number; seed?: number }
  | { op: "useTrained" };

/** What each operation answers. */
export interface Answers {
  /** Capabilities and the backend chosen like `autoBackend()`. */
  init: { capabilities: Capabilities; backend: BackendInfo };
  /** The backend now in use. */
  setBackend: BackendInfo;
  /** The model now loaded. */
  load: ModelInfo;
  /** Certification of the sample, and the backend after it. */
  certify: CertifyResult & { backend: BackendInfo };
  /** One image classified. */
  predict: Prediction;
  /** One attack. */
  attack: AttackResult;
  /** Training in the tab (the trained network becomes the current model). */
  train: TrainResult & ModelInfo;
  /** The network trained in the tab, now the current model. */
  useTrained: ModelInfo;
}

/** A message from the page. */
export type ToWorker = { id: number } & Request;

/** A message from the worker. */
export type FromWorker =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: string }
  | { id: number; progress: number };

/**
 * The page (web/index.html): fetches the shipped checkpoint and images, drives the compute
 * worker (web/compute_worker.ts, where the library runs), shows the sample with predictions and
 * certified radii, the certified-accuracy chart, the editor with noise and PGD, training in the
 * tab, and exposes the same actions as `globalThis.sllApp` (the contract in web/README.md).
 * Every error is shown on the page.
 * @module
 */
import { certifiedCurveSvg } from "./chart.ts";
import { $, action, className, fetchBytes, paint, r255, showError, shown } from "./page_util.ts";
import { decodeImageSet, type ImageSet } from "./sample.ts";
import type {
  Answers,
  AttackResult,
  BackendInfo,
  Capabilities,
  CertifyResult,
  FromWorker,
  Request,
  TrainResult,
} from "./protocol.ts";

/** Files fetched at start, relative to the page. */
export const ASSETS = {
  checkpoint: "assets/fmnist_tiny.safetensors",
  checkpointMeta: "assets/fmnist_tiny.json",
  sample: "assets/fmnist_test_200.bin",
  trainSet: "assets/fmnist_train_1000.bin.gz",
} as const;

/** What the page exposes as `globalThis.sllApp` (documented in web/README.md). */
export interface SllApp {
  /** Resolves once the shipped checkpoint and sample are loaded and first certified. */
  ready: Promise<void>;
  /** The backend in use. */
  backend(): BackendInfo;
  /** Switches backend (what the visible switch calls). */
  setBackend(name: "cpu" | "webgpu", opts?: { threads?: 1 | 2 }): Promise<void>;
  /** Certifies the first `limit` sample images and updates the page. */
  certifySample(opts?: { limit?: number }): Promise<Omit<CertifyResult, never>>;
  /** Loads a checkpoint (as dropping it on the page); `meta`: our `.json` beside it. */
  loadCheckpoint(bytes: Uint8Array, fileName: string, meta?: Uint8Array): Promise<void>;
  /** PGD on sample image `index` within L2 radius `radius` (input units). */
  attack(
    index: number,
    radius: number,
    opts?: { steps?: number },
  ): Promise<Omit<AttackResult, "image">>;
  /** Trains the small network in the tab and certifies it on the sample. */
  train(
    opts: { images: number; epochs: number; onProgress?: (fraction: number) => void },
  ): Promise<TrainResult>;
}

// ---- the worker, as promises ------------------------------------------------------------------

const worker = new Worker(new URL("./compute.js", import.meta.url), { type: "module" });
let nextId = 1;
const pending = new Map<
  number,
  { resolve: (v: unknown) => void; reject: (e: Error) => void; progress?: (f: number) => void }
>();
worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  const p = pending.get(m.id);
  if (!p) return;
  if ("progress" in m) p.progress?.(m.progress);
  else {
    pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(new Error(m.error));
  }
};
worker.onerror = (e: ErrorEvent) => {
  e.preventDefault();
  const err = new Error(
    `the compute worker failed: ${e.message || "could not start (compute.js)"}`,
  );
  showError(err);
  for (const p of pending.values()) p.reject(err);
  pending.clear();
};

function call<K extends Request["op"]>(
  req: Extract<Request, { op: K }>,
  progress?: (f: number) => void,
): Promise<Answers[K]> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve: resolve as (v: unknown) => void, reject, progress });
    worker.postMessage({ id, ...req });
  });
}

// ---- state -----------------------------------------------------------------------------------

let sample: ImageSet;
let capabilities: Capabilities | undefined;
let current: BackendInfo = { name: "cpu", threads: 1, helperDispatches: 0 };
let selected = 0;

function imageOf(i: number): Float32Array {
  const out = new Float32Array(784);
  for (let j = 0; j < 784; j++) out[j] = sample.pixels[i * 784 + j] / 255;
  return out;
}

// ---- backend switch --------------------------------------------------------------------------

function showBackend(b: BackendInfo): void {
  current = b;
  const sel = $<HTMLSelectElement>("backend");
  sel.value = b.name === "webgpu" ? "webgpu" : b.threads === 2 ? "cpu2" : "cpu1";
  $("status").textContent = b.name === "webgpu"
    ? `WebGPU on ${b.adapter ?? "an adapter"}`
    : `CPU (WebAssembly SIMD) on ${b.threads} thread${b.threads > 1 ? "s" : ""}`;
  renderNotice();
}

/** The notes at the top: why there is one thread, what WebGPU is (or why there is none). */
function renderNotice(): void {
  if (!capabilities) return;
  const notes: string[] = [];
  if (!capabilities.crossOriginIsolated) {
    notes.push(
      "This page is not cross-origin isolated (served without the Cross-Origin-Opener-Policy and " +
        "Cross-Origin-Embedder-Policy headers), so the CPU backend runs on one thread.",
    );
  } else if (!capabilities.twoThreads) {
    notes.push("The CPU helper thread could not start here: the CPU backend runs on one thread.");
  }
  if (!capabilities.webgpu) {
    // the core's reason is written for Deno users (drivers, flags); a page needs one line
    notes.push(
      "navigator" in globalThis && "gpu" in navigator
        ? "This browser's WebGPU gave no adapter, so WebGPU is off."
        : "This browser has no WebGPU (navigator.gpu), so WebGPU is off.",
    );
  } else if (capabilities.webgpuSoftware) {
    notes.push(
      current.name === "webgpu"
        ? `WebGPU runs on a software adapter (${capabilities.webgpu}) here, emulated on the CPU.`
        : `The only WebGPU adapter is a software one (${capabilities.webgpu}), slower than the ` +
          "CPU backend, so the CPU was chosen (as autoBackend() does); pick WebGPU above to try it.",
    );
  }
  const notice = $("notice");
  notice.textContent = notes.join(" ");
  notice.hidden = notes.length === 0;
}

function setupBackendSwitch(caps: Capabilities): void {
  const sel = $<HTMLSelectElement>("backend");
  const opt = (v: string) => sel.querySelector<HTMLOptionElement>(`option[value="${v}"]`)!;
  opt("cpu2").disabled = !caps.twoThreads;
  opt("webgpu").disabled = !caps.webgpu;
  if (caps.webgpu) {
    opt("webgpu").textContent = `WebGPU (${caps.webgpu}${caps.webgpuSoftware ? ", software" : ""})`;
  }
  renderNotice();
  sel.disabled = false;
  sel.onchange = action(async () => {
    const v = sel.value;
    sel.disabled = true;
    try {
      await app.setBackend(v === "webgpu" ? "webgpu" : "cpu", {
        threads: v === "cpu2" ? 2 : 1,
      });
      await app.certifySample();
    } finally {
      showBackend(current);
      sel.disabled = false;
    }
  });
}

// ---- the sample ------------------------------------------------------------------------------

function renderSample(r: CertifyResult): void {
  const rows = [
    `<tr><th>images</th><th>natural</th>${
      r.certified.map((c) => `<th>ε=${c.radius255}/255</th>`).join("")
    }</tr>`,
    `<tr><td>${r.n}</td><td>${r.natural}</td>${
      r.certified.map((c) => `<td>${c.count}</td>`).join("")
    }</tr>`,
    `<tr><td></td><td>${pct(r.natural, r.n)}</td>${
      r.certified.map((c) => `<td>${pct(c.count, r.n)}</td>`).join("")
    }</tr>`,
  ];
  $("summary").innerHTML = `<tbody>${rows.join("")}</tbody>`;
  $("timing").textContent = `${r.n} images in ${r.ms.toFixed(0)} ms on ${
    current.name === "webgpu" ? "WebGPU" : `CPU × ${current.threads}`
  }`;
  const correct = r.predictions.map((p, i) => (p === sample.labels[i] ? 1 : 0));
  $("chart").innerHTML = certifiedCurveSvg(r.radii, correct, {
    marks: r.certified.map((c) => c.radius255),
  });
  const grid = $("grid");
  grid.textContent = "";
  for (let i = 0; i < r.n; i++) {
    const fig = document.createElement("figure");
    fig.dataset.index = String(i);
    if (i === selected) fig.classList.add("selected");
    const c = document.createElement("canvas");
    c.width = c.height = 28;
    paint(c, sample.pixels.subarray(i * 784, (i + 1) * 784), true);
    const ok = correct[i] === 1;
    const cap = document.createElement("figcaption");
    cap.className = ok ? (r.radii[i] > 36 / 255 ? "cert" : "") : "wrong";
    cap.textContent = `${className(r.predictions[i])} ${ok ? "✓" : "✗"}\nr ${r255(r.radii[i])}`;
    cap.title = `true: ${className(sample.labels[i])}; certified radius ${r.radii[i].toFixed(4)} (${
      r255(r.radii[i])
    }/255)`;
    cap.style.whiteSpace = "pre-line";
    fig.append(c, cap);
    fig.onclick = action(() => select(i));
    grid.append(fig);
  }
}

const pct = (c: number, n: number): string => `${n ? ((100 * c) / n).toFixed(1) : "0"}%`;

// ---- editor ----------------------------------------------------------------------------------

let edited: Float32Array = new Float32Array(784);
let original: Float32Array = new Float32Array(784);
let originalPred = -1;
let originalRadius = 0;
let predictTimer: number | undefined;

async function select(i: number): Promise<void> {
  selected = i;
  for (const f of $("grid").querySelectorAll("figure")) {
    f.classList.toggle("selected", f.dataset.index === String(i));
  }
  original = imageOf(i);
  edited = original.slice();
  const p = await call({ op: "predict", image: original });
  originalPred = p.pred;
  originalRadius = p.radius;
  $("attack-log").textContent = "";
  await refreshEditor();
}

async function refreshEditor(): Promise<void> {
  paint($<HTMLCanvasElement>("editor"), edited, false);
  const p = await call({ op: "predict", image: edited });
  let d = 0;
  for (let i = 0; i < 784; i++) d += (edited[i] - original[i]) ** 2;
  d = Math.sqrt(d);
  $("edit-pred").innerHTML = `prediction: <b>${className(p.pred)}</b>, certified radius ${
    p.radius.toFixed(3)
  } (${r255(p.radius)}/255)`;
  $("edit-dist").textContent = `‖x − x₀‖₂ = ${d.toFixed(3)} (${
    r255(d)
  }/255) from sample #${selected} (${className(originalPred)}, radius ${
    originalRadius.toFixed(3)
  })`;
  const v = $("edit-verdict");
  if (d < originalRadius) {
    v.className = "inside";
    v.textContent = `Inside the certified radius: the prediction is proved to stay ${
      className(originalPred)
    }${p.pred === originalPred ? " — and it does." : " — yet it changed: please report this bug."}`;
  } else {
    v.className = "outside";
    v.textContent = `Outside the certified radius: no guarantee; the prediction is ${
      p.pred === originalPred ? "still" : "now"
    } ${className(p.pred)}.`;
  }
}

function schedulePredict(): void {
  if (predictTimer !== undefined) return;
  predictTimer = setTimeout(() => {
    predictTimer = undefined;
    void shown(refreshEditor).catch(() => {});
  }, 60);
}

function setupEditor(): void {
  const canvas = $<HTMLCanvasElement>("editor");
  let down = false;
  const stroke = (e: PointerEvent) => {
    const rect = canvas.getBoundingClientRect();
    const px = ((e.clientX - rect.left) / rect.width) * 28;
    const py = ((e.clientY - rect.top) / rect.height) * 28;
    const erase = document.querySelector<HTMLInputElement>('input[name="brush"]:checked')
      ?.value === "erase";
    for (let y = Math.floor(py - 2); y <= py + 2; y++) {
      for (let x = Math.floor(px - 2); x <= px + 2; x++) {
        if (x < 0 || y < 0 || x >= 28 || y >= 28) continue;
        const w = Math.max(0, 1 - Math.hypot(x + 0.5 - px, y + 0.5 - py) / 1.8);
        const i = y * 28 + x;
        edited[i] = erase ? Math.min(edited[i], 1 - w) : Math.max(edited[i], w);
      }
    }
    paint(canvas, edited, false);
    schedulePredict();
  };
  canvas.onpointerdown = (e) => {
    down = true;
    canvas.setPointerCapture(e.pointerId);
    stroke(e);
  };
  canvas.onpointermove = (e) => down && stroke(e);
  canvas.onpointerup = () => (down = false);
  $("clear").onclick = action(async () => {
    edited = new Float32Array(784);
    await refreshEditor();
  });
  $("restore").onclick = action(async () => {
    edited = original.slice();
    await refreshEditor();
  });
  const noise = $<HTMLInputElement>("noise");
  noise.oninput = () => ($("noise-out").textContent = Number(noise.value).toFixed(2));
  const addNoise = async (target: number) => {
    // Gaussian direction scaled to the chosen norm, added to the sample image, then clipped to
    // [0, 1] (the clip only shortens the perturbation: the box holds the original).
    const g = new Float32Array(784);
    let n = 0;
    for (let i = 0; i < 784; i++) {
      const u = 1 - Math.random(), v = Math.random();
      g[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
      n += g[i] * g[i];
    }
    const s = target / Math.sqrt(n);
    edited = original.map((x, i) => Math.min(1, Math.max(0, x + s * g[i])));
    await refreshEditor();
  };
  $("add-noise").onclick = action(() => addNoise(Number(noise.value)));
  $("noise-inside").onclick = action(async () => {
    const target = 0.99 * originalRadius;
    noise.value = String(target);
    $("noise-out").textContent = target.toFixed(2);
    await addNoise(target);
  });
  $("attack").onclick = action(async () => {
    const log = $("attack-log");
    log.textContent = "";
    const r = originalRadius;
    if (!(r > 0)) {
      log.innerHTML = "<li>This image has no certified radius (wrong or tied prediction).</li>";
    }
    const factors = r > 0 ? [0.95, 1.5, 2, 3, 5] : [];
    for (const f of factors) {
      const eps = r * f;
      const li = document.createElement("li");
      li.textContent = `ε = ${eps.toFixed(3)} (${f}× the radius): attacking…`;
      log.append(li);
      const a = await call({ op: "attack", image: original, radius: eps });
      li.className = a.success ? "success" : "fail";
      li.textContent = `ε = ${eps.toFixed(3)} (${f}× the radius): ${
        a.success
          ? `succeeded — ${className(a.label)} → ${className(a.adversarialLabel)}, ‖δ‖ = ${
            a.norm.toFixed(3)
          }`
          : `failed — still ${className(a.adversarialLabel)}${f < 1 ? " (as proved)" : ""}`
      }`;
      if (a.success) {
        paint($<HTMLCanvasElement>("adv"), a.image, false);
        break;
      }
    }
  });
}

// ---- training --------------------------------------------------------------------------------

function setupTraining(): void {
  $("train").onclick = action(async () => {
    const images = Number($<HTMLInputElement>("train-images").value);
    const epochs = Number($<HTMLInputElement>("train-epochs").value);
    await app.train({ images, epochs });
  });
  $("use-trained").onclick = action(async () => {
    const m = await call({ op: "useTrained" });
    $("model-desc").textContent = m.description;
    await app.certifySample();
  });
}

// ---- files -----------------------------------------------------------------------------------

async function loadFiles(files: { name: string; bytes: Uint8Array }[]): Promise<void> {
  const meta = files.find((f) => f.name.toLowerCase().endsWith(".json"));
  const main = files.find((f) => !f.name.toLowerCase().endsWith(".json"));
  if (!main) {
    throw new Error(
      `${meta?.name ?? "nothing"}: drop the checkpoint's .safetensors together with its .json`,
    );
  }
  const m = await call({ op: "load", file: main, meta });
  $("model-desc").textContent = m.description +
    (m.dataset && m.dataset !== "fashion-mnist"
      ? ` — trained on ${m.dataset}, evaluated here on Fashion-MNIST images`
      : "");
  await app.certifySample();
  await select(selected);
}

function setupDrop(): void {
  const drop = $("drop");
  const read = async (list: FileList) =>
    await loadFiles(
      await Promise.all(
        Array.from(
          list,
          async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) }),
        ),
      ),
    );
  drop.ondragover = (e) => {
    e.preventDefault();
    drop.classList.add("over");
  };
  drop.ondragleave = () => drop.classList.remove("over");
  drop.ondrop = (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer?.files.length) action(() => read(e.dataTransfer!.files))();
  };
  const input = $<HTMLInputElement>("file");
  input.onchange = () => {
    if (input.files?.length) action(() => read(input.files!))();
  };
  $("reload").onclick = action(loadShipped);
}

async function loadShipped(): Promise<void> {
  const [bytes, meta] = await Promise.all([
    fetchBytes(ASSETS.checkpoint),
    fetchBytes(ASSETS.checkpointMeta),
  ]);
  await loadFiles([
    { name: ASSETS.checkpoint.split("/").pop()!, bytes },
    { name: ASSETS.checkpointMeta.split("/").pop()!, bytes: meta },
  ]);
}

// ---- the app ---------------------------------------------------------------------------------

async function start(): Promise<void> {
  const [sampleBytes, trainBytes] = await Promise.all([
    fetchBytes(ASSETS.sample),
    fetchBytes(ASSETS.trainSet),
  ]);
  sample = decodeImageSet(sampleBytes, ASSETS.sample);
  const init = await call({ op: "init", sample: sampleBytes, trainSet: trainBytes });
  capabilities = init.capabilities;
  showBackend(init.backend);
  setupBackendSwitch(init.capabilities);
  setupDrop();
  setupEditor();
  setupTraining();
  await loadShipped();
  for (const id of ["recertify", "attack", "train"]) $<HTMLButtonElement>(id).disabled = false;
  $("recertify").onclick = action(() => app.certifySample());
}

const app: SllApp = {
  ready: undefined as unknown as Promise<void>,
  backend: () => ({ ...current }),
  setBackend: (name, opts) =>
    shown(async () => {
      showBackend(await call({ op: "setBackend", name, threads: opts?.threads }));
    }),
  certifySample: (opts) =>
    shown(async () => {
      const { backend, ...r } = await call({ op: "certify", limit: opts?.limit });
      current = backend; // fresh helperDispatches for backend()
      renderSample(r);
      return r;
    }),
  loadCheckpoint: (bytes, fileName, meta) =>
    shown(() =>
      loadFiles([
        { name: fileName, bytes },
        ...(meta ? [{ name: fileName.replace(/\.[^.]*$/, "") + ".json", bytes: meta }] : []),
      ])
    ),
  attack: (index, radius, opts) =>
    shown(async () => {
      if (!(Number.isInteger(index) && index >= 0 && index < sample.n)) {
        throw new RangeError(`attack: index must be an integer in 0…${sample.n - 1}, got ${index}`);
      }
      const { image: _, ...r } = await call({
        op: "attack",
        image: imageOf(index),
        radius,
        steps: opts?.steps,
      });
      return r;
    }),
  train: (opts) =>
    shown(async () => {
      const bar = $<HTMLProgressElement>("train-progress");
      const button = $<HTMLButtonElement>("train");
      button.disabled = true;
      bar.value = 0;
      $("train-result").textContent = "training…";
      try {
        const r = await call({ op: "train", images: opts.images, epochs: opts.epochs }, (f) => {
          bar.value = f;
          opts.onProgress?.(f);
        });
        bar.value = 1;
        $("train-result").textContent = `${r.images} images × ${opts.epochs} epochs in ${
          (r.ms / 1000).toFixed(1)
        } s: natural ${(100 * r.natural).toFixed(1)}%, certified at 36/255 ${
          (100 * r.certified36).toFixed(1)
        }% on the ${r.n} test images`;
        $("use-trained").hidden = false;
        const { description: _, ...result } = r;
        return result;
      } finally {
        button.disabled = false;
      }
    }),
};
app.ready = shown(start);
app.ready.catch(() => {}); // shown on the page; callers awaiting ready still see the rejection
(globalThis as { sllApp?: SllApp }).sllApp = app;

globalThis.addEventListener("unhandledrejection", (e) => showError(e.reason));
globalThis.addEventListener("error", (e) => showError(e.error ?? e.message));

/**
 * Helpers of the page's module (web/app.ts): element lookup, errors shown on the page, fetching
 * assets, painting a 28×28 image on a canvas, and the class names. Browser-only (DOM).
 * @module
 */
/** Fashion-MNIST's classes. */
export const CLASSES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

/** The element with this id; throws naming the id when the page lacks it. */
export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
};

/** Shows an error on the page (in #errors, one closable line per error). */
export function showError(e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  const div = document.createElement("div");
  div.className = "error";
  div.textContent = msg;
  const close = document.createElement("button");
  close.textContent = "×";
  close.style.float = "right";
  close.onclick = () => div.remove();
  div.prepend(close);
  $("errors").append(div);
}

/** Runs a page action; its error is shown on the page and rethrown to the caller. */
export async function shown<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    showError(e);
    throw e;
  }
}

/** Runs a UI action: errors shown, never unhandled. */
export function action(f: () => Promise<unknown>): () => void {
  return () => void shown(f).catch(() => {});
}

/** Fetches a file of the page as bytes; throws naming the URL and the HTTP status. */
export async function fetchBytes(path: string): Promise<Uint8Array> {
  const url = new URL(path, document.baseURI);
  let r: Response;
  try {
    r = await fetch(url);
  } catch (e) {
    throw new Error(`cannot fetch ${url} (${(e as Error).message})`);
  }
  if (!r.ok) {
    throw new Error(
      `cannot fetch ${url}: HTTP ${r.status}; rebuild the page (deno task build:web)`,
    );
  }
  return new Uint8Array(await r.arrayBuffer());
}

/** Paints a 28×28 grey image (bytes 0–255, or floats in [0, 1]) on a canvas of any size. */
export function paint(
  canvas: HTMLCanvasElement,
  pixels: ArrayLike<number>,
  scale255: boolean,
): void {
  const ctx = canvas.getContext("2d")!;
  const img = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = scale255 ? pixels[i] : Math.round(Math.min(1, Math.max(0, pixels[i])) * 255);
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
    img.data[4 * i + 3] = 255;
  }
  if (canvas.width === 28) ctx.putImageData(img, 0, 0);
  else {
    const tmp = document.createElement("canvas");
    tmp.width = tmp.height = 28;
    tmp.getContext("2d")!.putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height);
  }
}

/** A radius in input units as units of 1/255, one decimal. */
export const r255 = (r: number): string => (r * 255).toFixed(1);
/** The class name of a prediction (−1: none). */
export const className = (
  c: number,
): string => (c >= 0 ? CLASSES[c] ?? `class ${c}` : "none (NaN)");

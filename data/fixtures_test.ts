/**
 * Test fixtures for data/: generated idx and CIFAR bytes, a hand-built grayscale JPEG, a
 * Tiny-ImageNet folder, and a local HTTP server standing in for a dataset mirror.
 * Holds no tests itself.
 * @module
 */

import jpeg from "jpeg-js";
import { join } from "node:path";

/** An idx file: magic 2051 (3 dims) or 2049 (1 dim), big-endian dims, then the bytes. */
export function makeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const header = 4 + 4 * dims.length;
  const out = new Uint8Array(header + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, dims.length === 3 ? 2051 : 2049, false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, header);
  return out;
}

/** n images of h×w with pixel (i, p) = (i·31 + p) mod 256 and labels i mod 10. */
export function makeIdxPair(n: number, h = 4, w = 4): { images: Uint8Array; labels: Uint8Array } {
  const px = new Uint8Array(n * h * w);
  for (let i = 0; i < px.length; i++) px[i] = (Math.floor(i / (h * w)) * 31 + (i % (h * w))) % 256;
  const lb = Uint8Array.from({ length: n }, (_, i) => i % 10);
  return { images: makeIdx([n, h, w], px), labels: makeIdx([n], lb) };
}

/** n CIFAR records; label (fine) = (first + i) mod classes, pixel k of record i = (i + k) & 255. */
export function makeCifar(n: number, variant: "cifar10" | "cifar100", first = 0): Uint8Array {
  const lb = variant === "cifar10" ? 1 : 2;
  const classes = variant === "cifar10" ? 10 : 100;
  const rec = lb + 3072;
  const out = new Uint8Array(n * rec);
  for (let i = 0; i < n; i++) {
    const o = i * rec;
    const y = (first + i) % classes;
    if (lb === 2) out[o] = y % 20; // coarse label
    out[o + lb - 1] = y;
    for (let k = 0; k < 3072; k++) out[o + lb + k] = (i + k) & 255;
  }
  return out;
}

/**
 * A baseline JPEG with ONE component (grayscale), 8×8, every pixel `value`: a DC-only block
 * with quantisation 1 and single-code Huffman tables. jpeg-js can only encode colour, and
 * Tiny-ImageNet does contain grayscale files, so the test needs this by hand.
 */
export function grayJpeg(value: number): Uint8Array {
  const dc = 8 * (value - 128); // FDCT of a constant block: F(0,0) = 8·(v − 128)
  const cat = dc === 0 ? 0 : Math.floor(Math.log2(Math.abs(dc))) + 1;
  const bits = dc >= 0 ? dc : dc + (1 << cat) - 1; // JPEG's one's-complement for negatives
  // DC code "0" (1 bit), `cat` magnitude bits, AC code "0" (EOB); pad with 1s
  let s = "0" + (cat ? bits.toString(2).padStart(cat, "0") : "") + "0";
  while (s.length % 8) s += "1";
  const scan: number[] = [];
  for (let i = 0; i < s.length; i += 8) {
    const byte = parseInt(s.slice(i, i + 8), 2);
    scan.push(byte);
    if (byte === 0xff) scan.push(0); // byte stuffing
  }
  const bitsTable = [1, ...new Array(15).fill(0)];
  return new Uint8Array([
    0xff,
    0xd8, // SOI
    0xff,
    0xdb,
    0,
    67,
    0,
    ...new Array(64).fill(1), // DQT: all ones
    0xff,
    0xc0,
    0,
    11,
    8,
    0,
    8,
    0,
    8,
    1,
    1,
    0x11,
    0, // SOF0: 8×8, one component
    0xff,
    0xc4,
    0,
    20,
    0x00,
    ...bitsTable,
    cat, // DHT DC 0: one code for `cat`
    0xff,
    0xc4,
    0,
    20,
    0x10,
    ...bitsTable,
    0x00, // DHT AC 0: one code for EOB
    0xff,
    0xda,
    0,
    8,
    1,
    1,
    0x00,
    0,
    63,
    0, // SOS
    ...scan,
    0xff,
    0xd9, // EOI
  ]);
}

/** An RGB JPEG of w×h filled with one colour (jpeg-js encode, quality 100). */
export function rgbJpeg(w: number, h: number, rgb: [number, number, number]): Uint8Array {
  const data = new Uint8Array(w * h * 4);
  for (let p = 0; p < w * h; p++) data.set([...rgb, 255], 4 * p);
  return new Uint8Array(jpeg.encode({ data, width: w, height: h }, 100).data);
}

/**
 * Writes a miniature tiny-imagenet-200/ tree under `root`: classes n02 and n01 (wnids.txt lists
 * them unsorted), two 8×8 training images each (one grayscale), and three val images.
 */
export async function writeTinyImagenet(root: string): Promise<string> {
  const dir = join(root, "tiny-imagenet-200");
  const put = async (rel: string, data: Uint8Array | string) => {
    const path = join(dir, rel);
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    if (typeof data === "string") await Deno.writeTextFile(path, data);
    else await Deno.writeFile(path, data);
  };
  await put("wnids.txt", "n02\nn01\n");
  await put("train/n01/images/n01_0.JPEG", rgbJpeg(8, 8, [255, 0, 0]));
  await put("train/n01/images/n01_1.JPEG", grayJpeg(200));
  await put("train/n01/n01_boxes.txt", "n01_0.JPEG\t0\t0\t7\t7\n");
  await put("train/n02/images/n02_0.JPEG", rgbJpeg(8, 8, [0, 0, 255]));
  await put("train/n02/images/n02_1.JPEG", rgbJpeg(8, 8, [0, 255, 0]));
  await put("val/images/val_0.JPEG", rgbJpeg(8, 8, [0, 255, 0]));
  await put("val/images/val_1.JPEG", grayJpeg(40));
  await put("val/images/val_2.JPEG", rgbJpeg(8, 8, [255, 255, 255]));
  await put(
    "val/val_annotations.txt",
    "val_0.JPEG\tn02\t0\t0\t7\t7\nval_1.JPEG\tn01\t0\t0\t7\t7\nval_2.JPEG\tn02\t1\t1\t6\t6\n",
  );
  return dir;
}

/** A local mirror: serves `files` by name on 127.0.0.1 (random port) and records requests. */
export function serveFiles(files: Record<string, Uint8Array>): {
  url: string;
  requests: string[];
  close: () => Promise<void>;
} {
  const requests: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => {
      const name = decodeURIComponent(new URL(req.url).pathname.slice(1));
      requests.push(name);
      const body = files[name];
      if (body === undefined) return new Response("not found", { status: 404 });
      return new Response(body as Uint8Array<ArrayBuffer>, {
        headers: { "content-length": String(body.length) },
      });
    },
  );
  const addr = server.addr as Deno.NetAddr;
  return {
    url: `http://127.0.0.1:${addr.port}/`,
    requests,
    close: () => server.shutdown(),
  };
}

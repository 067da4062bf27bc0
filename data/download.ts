/**
 * Fetching dataset files with progress reports, checksum verification ("md5:<hex>" or
 * "sha256:<hex>") and atomic writes (temp file + rename), so a partial or corrupt download is
 * never left where a reader would pick it up.
 * @module
 */

import { createHash } from "node:crypto";

/** A progress report while downloading or decoding a dataset. */
export interface Progress {
  /** What is happening: fetching bytes, or decoding/parsing them. */
  phase: "download" | "decode";
  /** File (or URL) being processed. */
  file: string;
  /** Bytes (download) or items (decode) done so far. */
  loaded: number;
  /** Expected total, when known. */
  total?: number;
}

/** Receives progress reports; must not throw. */
export type ProgressCallback = (p: Progress) => void;

/**
 * Hex digest of `bytes`: sha256 through WebCrypto, md5 through `node:crypto` (the official
 * MNIST, Fashion-MNIST, CIFAR and Tiny-ImageNet checksums are md5).
 *
 * @example
 * ```ts
 * import { digestHex } from "@sll/sll/data";
 * await digestHex(new Uint8Array(), "md5"); // "d41d8cd98f00b204e9800998ecf8427e"
 * ```
 */
export async function digestHex(bytes: Uint8Array, algorithm: "md5" | "sha256"): Promise<string> {
  if (algorithm === "md5") return createHash("md5").update(bytes).digest("hex");
  const buf = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Checks `bytes` against `expected` ("md5:<32 hex>" or "sha256:<64 hex>"); throws an Error
 * naming `what`, both digests and the fix on a mismatch.
 *
 * @example
 * ```ts
 * import { verifyChecksum } from "@sll/sll/data";
 * await verifyChecksum(new Uint8Array(), "md5:d41d8cd98f00b204e9800998ecf8427e", "empty");
 * ```
 */
export async function verifyChecksum(
  bytes: Uint8Array,
  expected: string,
  what: string,
): Promise<void> {
  const m = /^(md5|sha256):([0-9a-fA-F]+)$/.exec(expected);
  if (!m || m[2].length !== (m[1] === "md5" ? 32 : 64)) {
    throw new TypeError(
      `checksum for ${what} is "${expected}", expected "md5:<32 hex digits>" or ` +
        `"sha256:<64 hex digits>"`,
    );
  }
  const algorithm = m[1] as "md5" | "sha256";
  const got = await digestHex(bytes, algorithm);
  if (got !== m[2].toLowerCase()) {
    throw new Error(
      `checksum mismatch for ${what}: expected ${algorithm} ${m[2].toLowerCase()}, got ${got} ` +
        `(${bytes.length} bytes); the download is corrupt or the mirror serves different ` +
        `files: retry, or place verified files in the data directory yourself`,
    );
  }
}

/**
 * Downloads `url` into memory, reporting progress after every chunk. Throws on network errors
 * (as fetch does) and on HTTP statuses other than 2xx (an Error naming the URL and status).
 *
 * @example
 * ```ts ignore
 * // not run: needs the network
 * import { fetchBytes } from "@sll/sll/data";
 * const bytes = await fetchBytes("https://example.org/x.bin", (p) => console.log(p.loaded));
 * ```
 */
export async function fetchBytes(url: string, onProgress?: ProgressCallback): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok || res.body === null) {
    await res.body?.cancel();
    throw new Error(`GET ${url}: HTTP ${res.status} ${res.statusText}`);
  }
  const header = res.headers.get("content-length");
  const total = header === null ? undefined : Number(header);
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    onProgress?.({ phase: "download", file: url, loaded, total });
  }
  if (total !== undefined && loaded !== total) {
    throw new Error(`GET ${url}: connection closed after ${loaded} of ${total} bytes`);
  }
  const out = new Uint8Array(loaded);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

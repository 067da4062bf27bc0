/**
 * A small reader (and writer, for tests and fixtures) of POSIX ustar / GNU tar archives held in
 * memory. Only regular files are returned; GNU long names ("L") and pax "path" records are
 * honoured; directories, links and other entries are skipped. Checksums are verified.
 * @module
 */

/** One regular file of a tar archive. */
export interface TarEntry {
  /** Path inside the archive, e.g. "cifar-10-batches-bin/data_batch_1.bin". */
  name: string;
  /** File contents (a view into the archive bytes). */
  data: Uint8Array;
}

const BLOCK = 512;
const decoder = new TextDecoder();

function cString(bytes: Uint8Array, start: number, len: number): string {
  let end = start;
  while (end < start + len && bytes[end] !== 0) end++;
  return decoder.decode(bytes.subarray(start, end));
}

function octal(bytes: Uint8Array, start: number, len: number, what: string): number {
  // GNU base-256 encoding for sizes over 8 GiB: high bit set in the first byte.
  if (bytes[start] & 0x80) {
    let v = bytes[start] & 0x7f;
    for (let i = start + 1; i < start + len; i++) v = v * 256 + bytes[i];
    return v;
  }
  const s = cString(bytes, start, len).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw new Error(`tar: header field ${what} is "${s}", expected octal`);
  return parseInt(s, 8);
}

/**
 * Lists the regular files of an (uncompressed) tar archive. Throws an Error naming `file` when
 * a header checksum is wrong or an entry runs past the end (a truncated archive).
 *
 * @example
 * ```ts
 * import { createTar, readTar } from "@sll/sll/data";
 * const tar = createTar([{ name: "a.txt", data: new Uint8Array([104, 105]) }]);
 * readTar(tar).map((e) => e.name); // ["a.txt"]
 * ```
 */
export function readTar(bytes: Uint8Array, file = "<tar bytes>"): TarEntry[] {
  const out: TarEntry[] = [];
  let off = 0;
  let longName: string | undefined;
  while (off + BLOCK <= bytes.length) {
    const h = bytes.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break; // end-of-archive marker
    const stored = octal(h, 148, 8, "chksum");
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    if (sum !== stored) {
      throw new Error(
        `${file}: tar header at byte ${off} has checksum ${stored}, computed ${sum}; ` +
          `the archive is corrupt: delete it and download it again`,
      );
    }
    const size = octal(h, 124, 12, "size");
    const type = String.fromCharCode(h[156] || 48);
    const dataStart = off + BLOCK;
    if (dataStart + size > bytes.length) {
      throw new Error(
        `${file}: tar entry at byte ${off} needs ${size} bytes but the archive ends after ` +
          `${bytes.length - dataStart}; the archive is truncated: download it again`,
      );
    }
    const data = bytes.subarray(dataStart, dataStart + size);
    off = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (type === "L") {
      longName = cString(data, 0, data.length);
      continue;
    }
    if (type === "x") {
      const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(decoder.decode(data));
      if (m) longName = m[1];
      continue;
    }
    let name = cString(h, 0, 100);
    const magic = cString(h, 257, 6);
    if (magic === "ustar") {
      const prefix = cString(h, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    if (longName !== undefined) name = longName;
    longName = undefined;
    if (type === "0" || type === "7") out.push({ name, data });
  }
  return out;
}

/**
 * Writes regular files into a ustar archive (names up to 100 bytes). Used to build fixtures.
 *
 * @example
 * ```ts
 * import { createTar } from "@sll/sll/data";
 * createTar([{ name: "dir/x.bin", data: new Uint8Array(3) }]).length; // 2048
 * ```
 */
export function createTar(entries: readonly TarEntry[]): Uint8Array {
  let total = 2 * BLOCK;
  for (const e of entries) total += BLOCK + Math.ceil(e.data.length / BLOCK) * BLOCK;
  const out = new Uint8Array(total);
  const enc = new TextEncoder();
  let off = 0;
  for (const e of entries) {
    const name = enc.encode(e.name);
    if (name.length > 100) throw new RangeError(`createTar: name "${e.name}" exceeds 100 bytes`);
    const h = out.subarray(off, off + BLOCK);
    h.set(name, 0);
    h.set(enc.encode("0000644\0"), 100);
    h.set(enc.encode("0000000\0"), 108);
    h.set(enc.encode("0000000\0"), 116);
    h.set(enc.encode(e.data.length.toString(8).padStart(11, "0") + "\0"), 124);
    h.set(enc.encode("00000000000\0"), 136);
    h[156] = 48; // "0": regular file
    h.set(enc.encode("ustar\x0000"), 257);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    h.set(enc.encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
    out.set(e.data, off + BLOCK);
    off += BLOCK + Math.ceil(e.data.length / BLOCK) * BLOCK;
  }
  return out;
}

// Zip archives on bytes, as PyTorch's `torch.save` writes them: a reader that checks the CRC-32
// of every entry against the central directory (and the local header when it holds one) and
// refuses overlapping, out-of-range or duplicate entries; a writer of stored (uncompressed)
// entries with 64-byte-aligned data, as torch's own writer lays them out. No node:, no Deno.

import { inflateSync } from "fflate";

const CRC_TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * CRC-32 (ISO-HDLC, as zip and gzip use) of `bytes`, as an unsigned 32-bit number.
 *
 * @example
 * ```ts
 * import { crc32 } from "./zip.ts";
 * crc32(new TextEncoder().encode("123456789")); // 0xcbf43926
 * ```
 */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const hex = (n: number): string => `0x${n.toString(16).padStart(8, "0")}`;

/** Most entries an archive may list (torch checkpoints have one per storage plus three). */
const MAX_ENTRIES = 1_000_000;

/**
 * Reads every entry of a zip archive into `name → bytes`, checking each entry's CRC-32 and size
 * against the central directory. Stored and deflated entries are supported; encrypted, split or
 * otherwise unusual archives are refused. Throws an Error naming `source`, the entry and the
 * expectation.
 *
 * @example
 * ```ts
 * import { readZip, writeZip } from "./zip.ts";
 * const z = writeZip([{ name: "a/version", data: new TextEncoder().encode("3\n") }]);
 * readZip(z)["a/version"]; // Uint8Array [51, 10]
 * ```
 */
export function readZip(bytes: Uint8Array, source = "zip"): Record<string, Uint8Array> {
  const fail = (msg: string): never => {
    throw new Error(`${source}: ${msg}`);
  };
  const n = bytes.byteLength;
  const v = new DataView(bytes.buffer, bytes.byteOffset, n);
  const u16 = (p: number): number => v.getUint16(p, true);
  const u32 = (p: number): number => v.getUint32(p, true);
  const u64 = (p: number): number => {
    const x = v.getBigUint64(p, true);
    if (x > BigInt(Number.MAX_SAFE_INTEGER)) fail(`a zip64 field (${x}) is out of range`);
    return Number(x);
  };
  // End of central directory: the last "PK\5\6" record whose comment runs to the end.
  let eocd = -1;
  for (let p = n - 22; p >= Math.max(0, n - 22 - 0xffff); p--) {
    if (u32(p) === 0x06054b50 && p + 22 + u16(p + 20) === n) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) fail("no end-of-central-directory record (truncated or not a zip archive)");
  if (u16(eocd + 4) !== 0 || u16(eocd + 6) !== 0) fail("multi-disk archives are not supported");
  let count = u16(eocd + 10);
  let cdSize = u32(eocd + 12);
  let cdOffset = u32(eocd + 16);
  let cdEnd = eocd;
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || u32(loc) !== 0x07064b50) fail("zip64 end-of-directory locator is missing");
    const z = u64(loc + 8);
    if (z + 56 > loc || u32(z) !== 0x06064b50) fail("zip64 end-of-directory record is corrupt");
    count = u64(z + 32);
    cdSize = u64(z + 40);
    cdOffset = u64(z + 48);
    cdEnd = z;
  }
  if (count > MAX_ENTRIES) fail(`the directory lists ${count} entries (limit ${MAX_ENTRIES})`);
  if (cdOffset + cdSize > cdEnd) {
    fail(`the central directory (${cdSize} bytes at ${cdOffset}) runs past its end record`);
  }
  const out: Record<string, Uint8Array> = Object.create(null);
  const spans: [number, number, string][] = [];
  const dec = new TextDecoder("utf-8", { fatal: true });
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdOffset + cdSize || u32(p) !== 0x02014b50) {
      fail(`central directory entry ${i} at byte ${p} is corrupt`);
    }
    const flags = u16(p + 8), method = u16(p + 10), crc = u32(p + 16);
    let csize = u32(p + 20), usize = u32(p + 24);
    const nameLen = u16(p + 28), extraLen = u16(p + 30), commentLen = u16(p + 32);
    let local = u32(p + 42);
    const next = p + 46 + nameLen + extraLen + commentLen;
    if (next > cdOffset + cdSize) fail(`central directory entry ${i} runs past the directory`);
    let name: string;
    try {
      name = dec.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    } catch {
      fail(`central directory entry ${i} has a name that is not UTF-8`);
    }
    // zip64 extended information: the 0xffffffff fields, in order usize, csize, offset.
    for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen;) {
      const id = u16(e), len = u16(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        if (usize === 0xffffffff) (usize = u64(q), q += 8);
        if (csize === 0xffffffff) (csize = u64(q), q += 8);
        if (local === 0xffffffff) local = u64(q);
      }
      e += 4 + len;
    }
    if (flags & 1) fail(`entry "${name!}" is encrypted`);
    if (Object.hasOwn(out, name!)) fail(`entry "${name!}" appears twice`);
    if (local + 30 > cdOffset || u32(local) !== 0x04034b50) {
      fail(`entry "${name!}": no local header at byte ${local}`);
    }
    const lNameLen = u16(local + 26), lExtraLen = u16(local + 28);
    const lName = bytes.subarray(local + 30, local + 30 + lNameLen);
    if (lNameLen !== nameLen || lName.some((b, k) => b !== bytes[p + 46 + k])) {
      fail(`entry "${name!}": the local header names another file`);
    }
    const start = local + 30 + lNameLen + lExtraLen;
    if (start + csize > cdOffset) {
      fail(`entry "${name!}": its ${csize} bytes at ${start} run past the archive's data`);
    }
    spans.push([local, start + csize, name!]);
    const raw = bytes.subarray(start, start + csize);
    let data: Uint8Array;
    if (method === 0) {
      if (csize !== usize) fail(`entry "${name!}": stored with sizes ${csize} ≠ ${usize}`);
      data = raw;
    } else if (method === 8) {
      try {
        data = inflateSync(raw, { out: new Uint8Array(usize) });
      } catch (e) {
        fail(`entry "${name!}": cannot inflate (${(e as Error).message})`);
      }
      if (data!.byteLength !== usize) {
        fail(`entry "${name!}": inflates to ${data!.byteLength} bytes, expected ${usize}`);
      }
    } else {
      fail(`entry "${name!}": compression method ${method} is not supported (stored or deflate)`);
    }
    const got = crc32(data!);
    if (got !== crc) {
      fail(
        `entry "${name!}": CRC-32 is ${hex(got)} but the directory records ${hex(crc)} ` +
          `(the file is corrupt)`,
      );
    }
    if (!(u16(local + 6) & 8) && u32(local + 14) !== crc) {
      fail(`entry "${name!}": the local header's CRC-32 ${hex(u32(local + 14))} ≠ ${hex(crc)}`);
    }
    Object.defineProperty(out, name!, {
      value: data!,
      enumerable: true,
      writable: true,
      configurable: true,
    });
    p = next;
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) {
      fail(`entries "${spans[i - 1][2]}" and "${spans[i][2]}" overlap`);
    }
  }
  return out;
}

/** One file of {@linkcode writeZip}. */
export interface ZipEntry {
  /** Path inside the archive ("/" separated). */
  name: string;
  /** Contents (stored uncompressed). */
  data: Uint8Array;
}

/**
 * Writes a zip archive of stored (uncompressed) entries with their CRC-32, each entry's data
 * starting on a 64-byte boundary (padding in an extra field, as torch's writer does). Throws a
 * RangeError past the classic format's 4 GiB / 65,535-entry limits.
 *
 * @example
 * ```ts
 * import { writeZip } from "./zip.ts";
 * const bytes = writeZip([{ name: "archive/version", data: new TextEncoder().encode("3\n") }]);
 * ```
 */
export function writeZip(entries: readonly ZipEntry[]): Uint8Array {
  if (entries.length > 0xfffe) {
    throw new RangeError(`writeZip: ${entries.length} entries exceed the 65,534 supported`);
  }
  const enc = new TextEncoder();
  const names = entries.map((e) => enc.encode(e.name));
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.name)) throw new RangeError(`writeZip: entry "${e.name}" appears twice`);
    seen.add(e.name);
  }
  // Layout: per entry a local header (30 + name + padding extra) then data; then the directory.
  const offsets: number[] = [];
  const pads: number[] = [];
  let pos = 0;
  for (let i = 0; i < entries.length; i++) {
    offsets.push(pos);
    const head = 30 + names[i].length;
    const pad = (64 - ((pos + head + 4) % 64)) % 64; // extra field: 4-byte header + padding
    pads.push(pad);
    pos += head + 4 + pad + entries[i].data.byteLength;
  }
  const cdOffset = pos;
  const cdSize = names.reduce((s, nm) => s + 46 + nm.length, 0);
  const total = cdOffset + cdSize + 22;
  if (total > 0xffffffff) {
    throw new RangeError(`writeZip: ${total} bytes exceed the 4 GiB of a classic zip archive`);
  }
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  const crcs = entries.map((e) => crc32(e.data));
  // DOS time 1980-01-01 00:00: the output depends on the inputs only.
  const time = 0, date = (0 << 9) | (1 << 5) | 1;
  for (let i = 0; i < entries.length; i++) {
    const p = offsets[i], nm = names[i], size = entries[i].data.byteLength;
    v.setUint32(p, 0x04034b50, true);
    v.setUint16(p + 4, 20, true); // version needed
    v.setUint16(p + 6, 0x0800, true); // UTF-8 names
    v.setUint16(p + 8, 0, true); // stored
    v.setUint16(p + 10, time, true);
    v.setUint16(p + 12, date, true);
    v.setUint32(p + 14, crcs[i], true);
    v.setUint32(p + 18, size, true);
    v.setUint32(p + 22, size, true);
    v.setUint16(p + 26, nm.length, true);
    v.setUint16(p + 28, 4 + pads[i], true);
    out.set(nm, p + 30);
    const x = p + 30 + nm.length;
    v.setUint16(x, 0x4246, true); // "FB": torch's alignment padding field
    v.setUint16(x + 2, pads[i], true);
    out.fill(0x5a, x + 4, x + 4 + pads[i]);
    out.set(entries[i].data, x + 4 + pads[i]);
  }
  let c = cdOffset;
  for (let i = 0; i < entries.length; i++) {
    const nm = names[i], size = entries[i].data.byteLength;
    v.setUint32(c, 0x02014b50, true);
    v.setUint16(c + 4, 20, true); // made by
    v.setUint16(c + 6, 20, true); // needed
    v.setUint16(c + 8, 0x0800, true);
    v.setUint16(c + 10, 0, true);
    v.setUint16(c + 12, time, true);
    v.setUint16(c + 14, date, true);
    v.setUint32(c + 16, crcs[i], true);
    v.setUint32(c + 20, size, true);
    v.setUint32(c + 24, size, true);
    v.setUint16(c + 28, nm.length, true);
    // extra, comment, disk, internal attributes: 0; external attributes: 0
    v.setUint32(c + 42, offsets[i], true);
    out.set(nm, c + 46);
    c += 46 + nm.length;
  }
  v.setUint32(c, 0x06054b50, true);
  v.setUint16(c + 8, entries.length, true);
  v.setUint16(c + 10, entries.length, true);
  v.setUint32(c + 12, cdSize, true);
  v.setUint32(c + 16, cdOffset, true);
  return out;
}

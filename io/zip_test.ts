// Tests for io/zip.ts (issue #9, defect 3): CRC-32 of every entry is checked — a flipped byte in
// a `.pth` storage, its directory CRC or its local header is an error naming the entry, never a
// model with other numbers — plus the writer's round trip, deflated entries and malformed
// archives.

import assert from "node:assert/strict";
import { zipSync } from "fflate";
import { crc32, readZip, writeZip } from "./zip.ts";
import { readPth } from "./pth.ts";

const fixture = (name: string) => new URL(`../tests/fixtures/${name}`, import.meta.url);
const enc = new TextEncoder();

Deno.test("crc32 matches the standard check value", () => {
  assert.equal(crc32(enc.encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array()), 0);
});

Deno.test("readPth: a flipped byte in a storage fails the CRC-32 check, naming the entry", async () => {
  const bytes = await Deno.readFile(fixture("tiny_c1_28.ckpt.pth"));
  // Storage "12" (the last layer's weight) holds 15,680 bytes starting near byte 4,560 + header.
  const files = readZip(bytes);
  const target = files["tiny_c1_28.ckpt/data/12"];
  const at = target.byteOffset + 100;
  const bad = bytes.slice();
  bad[at] ^= 0x40;
  assert.throws(
    () => readPth(bad, { source: "m.pth" }),
    /m\.pth: entry "tiny_c1_28\.ckpt\/data\/12": CRC-32 is 0x[0-9a-f]{8} but the directory records/,
  );
});

Deno.test("readZip: directory CRC, local header and truncation edits are refused", async () => {
  const bytes = await Deno.readFile(fixture("tiny_c1_28.ckpt.pth"));
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  // The first central directory entry: find its signature after the last local entry.
  let cd = -1;
  for (let p = bytes.length - 22; p >= 0; p--) {
    if (view.getUint32(p, true) === 0x06054b50) {
      cd = view.getUint32(p + 16, true);
      break;
    }
  }
  assert.ok(cd > 0);
  const badCrc = bytes.slice();
  badCrc[cd + 16] ^= 1;
  assert.throws(() => readZip(badCrc, "x.pth"), /x\.pth: entry ".*data\.pkl": CRC-32 is/);
  const badName = bytes.slice();
  badName[30] ^= 1; // first byte of the first local header's name
  assert.throws(() => readZip(badName, "x.pth"), /local header names another file/);
  assert.throws(() => readZip(bytes.subarray(0, bytes.length - 30), "x.pth"), /end-of-central/);
  assert.throws(() => readZip(bytes.subarray(0, 2000), "x.pth"), /x\.pth: /);
});

Deno.test("readZip reads deflated archives and writeZip round-trips", () => {
  const a = enc.encode("hello ".repeat(100));
  const b = new Uint8Array([1, 2, 3]);
  const deflated = zipSync({ "t/a": a, "t/b": [b, { level: 0 }] }, { level: 6 });
  const r = readZip(deflated);
  assert.deepEqual(r["t/a"], a);
  assert.deepEqual(r["t/b"], b);
  const w = writeZip([{ name: "x/ä", data: a }, { name: "x/e", data: new Uint8Array() }]);
  const back = readZip(w);
  assert.deepEqual(Object.keys(back), ["x/ä", "x/e"]);
  assert.deepEqual(back["x/ä"], a);
  assert.equal(back["x/e"].length, 0);
  // Data of every entry starts on a 64-byte boundary.
  assert.equal(back["x/ä"].byteOffset % 64, 0);
  assert.throws(
    () => writeZip([{ name: "d", data: a }, { name: "d", data: b }]),
    /appears twice/,
  );
});

// Tests for io/pth.ts and io/pickle.ts: the PyTorch fixtures against their safetensors twins,
// Python-produced numpy pickles, strided/offset views and int64 storages built by hand, and
// refusal of forbidden globals, unsupported opcodes and malformed archives.

import assert from "node:assert/strict";
import { zipSync } from "fflate";
import { readPth } from "./pth.ts";
import { unpickle } from "./pickle.ts";
import { readSafetensors } from "./safetensors.ts";
import type { HostTensor } from "./host_tensor.ts";

const fixture = (name: string) => new URL(`../tests/fixtures/${name}`, import.meta.url);
const hex = (s: string) => new Uint8Array(s.match(/../g)!.map((b) => parseInt(b, 16)));

function assertSameTensor(got: HostTensor, want: HostTensor, what: string, atol = 0): void {
  assert.ok(got, `${what}: missing`);
  assert.equal(got.dtype, want.dtype, `${what}: dtype`);
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  assert.equal(got.data.length, want.data.length, `${what}: length`);
  for (let i = 0; i < want.data.length; i++) {
    const d = Math.abs(Number(got.data[i]) - Number(want.data[i]));
    if (!(d <= atol)) assert.fail(`${what}[${i}]: got ${got.data[i]}, want ${want.data[i]}`);
  }
}

Deno.test("tiny_c1_28.ckpt.pth equals tiny_c1_28.params.safetensors", async () => {
  const ckpt = readPth(await Deno.readFile(fixture("tiny_c1_28.ckpt.pth")));
  const { tensors } = readSafetensors(
    await Deno.readFile(fixture("tiny_c1_28.params.safetensors")),
  );
  assert.deepEqual(Object.keys(ckpt.stateDict).sort(), Object.keys(tensors).sort());
  for (const [k, want] of Object.entries(tensors)) assertSameTensor(ckpt.stateDict[k], want, k);
  assert.equal(typeof ckpt.epoch, "number");
  assert.equal(typeof ckpt.globalStep, "number");
  assert.ok(ckpt.optimizer && typeof ckpt.optimizer === "object");
});

Deno.test("tiny_c1_28.adam1.ckpt.pth: params and Adam state equal the safetensors twin", async () => {
  const ckpt = readPth(await Deno.readFile(fixture("tiny_c1_28.adam1.ckpt.pth")));
  const { tensors } = readSafetensors(await Deno.readFile(fixture("tiny_c1_28.adam1.safetensors")));
  const keys = Object.keys(tensors).filter((k) => k.startsWith("param.")).map((k) => k.slice(6));
  assert.deepEqual(Object.keys(ckpt.stateDict).sort(), [...keys].sort());
  for (const k of keys) assertSameTensor(ckpt.stateDict[k], tensors[`param.${k}`], k);
  assert.equal(ckpt.epoch, 0);
  assert.equal(ckpt.globalStep, 1);

  // Adam's per-parameter state is keyed by position in model.parameters(), i.e. state-dict order.
  const opt = ckpt.optimizer as {
    state: Record<string, { step: HostTensor; exp_avg: HostTensor; exp_avg_sq: HostTensor }>;
    param_groups: { lr: number; betas: number[]; eps: number; params: number[] }[];
  };
  assert.equal(opt.param_groups[0].lr, 0.01);
  assert.deepEqual(opt.param_groups[0].betas, [0.5, 0.9]);
  const order = Object.keys(ckpt.stateDict);
  assert.equal(opt.param_groups[0].params.length, order.length);
  order.forEach((k, i) => {
    const s = opt.state[String(i)];
    assertSameTensor(s.exp_avg, tensors[`exp_avg.${k}`], `exp_avg.${k}`);
    assertSameTensor(s.exp_avg_sq, tensors[`exp_avg_sq.${k}`], `exp_avg_sq.${k}`);
    assert.deepEqual(s.step.shape, []);
    assert.equal(Number(s.step.data[0]), 1);
  });
});

// Python: pickle.dumps({'lr': np.float64(0.01), 'n': np.int64(-7), 'h': np.float32(1.5)}, 2)
// with numpy 2 (numpy._core.multiarray.scalar, bytes via _codecs.encode).
const NUMPY_P2 =
  "80027d71002858020000006c727101636e756d70792e5f636f72652e6d756c746961727261790a736361" +
  "6c61720a7102636e756d70790a64747970650a71035802000000663871048988877105527106284b03580100" +
  "00003c71074e4e4e4affffffff4affffffff4b0074710862635f636f646563730a656e636f64650a7109580b" +
  "0000007b14c2ae47c3a17ac2843f710a58060000006c6174696e31710b86710c52710d86710e52710f580100" +
  "00006e7110680268035802000000693871118988877112527113284b0368074e4e4e4affffffff4affffffff" +
  "4b007471146268095810000000c3b9c3bfc3bfc3bfc3bfc3bfc3bfc3bf7115680b8671165271178671185271" +
  "19580100000068711a6802680358020000006634711b898887711c52711d284b0368074e4e4e4affffffff4a" +
  "ffffffff4b0074711e62680958050000000000c3803f711f680b867120527121867122527123752e";
// Python: pickle.dumps({'lr': np.float64(0.01)}, protocol=4) (FRAME, MEMOIZE, STACK_GLOBAL).
const NUMPY_P4 =
  "80049572000000000000007d948c026c72948c166e756d70792e5f636f72652e6d756c74696172726179" +
  "948c067363616c61729493948c056e756d7079948c0564747970659493948c02663894898887945294284b03" +
  "8c013c944e4e4e4affffffff4affffffff4b0074946243087b14ae47e17a843f9486945294732e";

Deno.test("numpy scalars (the optimizer's lr) unpickle to numbers", () => {
  assert.deepEqual(unpickle(hex(NUMPY_P2)), { lr: 0.01, n: -7, h: 1.5 });
  assert.deepEqual(unpickle(hex(NUMPY_P4)), { lr: 0.01 });
  // numpy 1.x spells the module numpy.core.multiarray (GLOBAL is a text line: no length).
  const toHex = (s: string) =>
    Array.from(new TextEncoder().encode(s), (b) => b.toString(16)).join("");
  const legacy = NUMPY_P2.replace(toHex("numpy._core."), toHex("numpy.core."));
  assert.notEqual(legacy, NUMPY_P2);
  assert.deepEqual(unpickle(hex(legacy)), { lr: 0.01, n: -7, h: 1.5 });
});

/** A tiny pickle writer for hand-built test inputs (protocol 2 opcodes). */
class P {
  private out: number[] = [0x80, 2];
  op(...b: number[]): this {
    this.out.push(...b);
    return this;
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.op(0x58, b.length & 255, (b.length >> 8) & 255, 0, 0, ...b);
  }
  int(n: number): this {
    return n >= 0 && n < 256
      ? this.op(0x4b, n)
      : this.op(0x4a, n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255);
  }
  global(module: string, name: string): this {
    return this.op(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }
  mark(): this {
    return this.op(0x28);
  }
  tuple(): this {
    return this.op(0x74);
  }
  reduce(): this {
    return this.op(0x52);
  }
  /** Pushes torch._utils._rebuild_tensor_v2(storage(key), offset, size, stride, False, OrderedDict()). */
  tensor(
    type: string,
    key: string,
    numel: number,
    offset: number,
    size: number[],
    stride: number[],
  ): this {
    this.global("torch._utils", "_rebuild_tensor_v2").mark();
    this.mark().str("storage").global("torch", type).str(key).str("cpu").int(numel).tuple().op(
      0x51,
    );
    this.int(offset).mark();
    size.forEach((s) => this.int(s));
    this.tuple().mark();
    stride.forEach((s) => this.int(s));
    this.tuple().op(0x89).global("collections", "OrderedDict").op(0x29).reduce();
    return this.tuple().reduce();
  }
  bytes(): Uint8Array {
    return new Uint8Array([...this.out, 0x2e]);
  }
}

function archive(
  top: string,
  pkl: Uint8Array,
  storages: Record<string, Uint8Array> = {},
): Uint8Array {
  const files: Record<string, Uint8Array> = {
    [`${top}/data.pkl`]: pkl,
    [`${top}/version`]: new TextEncoder().encode("3\n"),
  };
  for (const [k, v] of Object.entries(storages)) files[`${top}/data/${k}`] = v;
  return zipSync(files, { level: 0 });
}

Deno.test("strided, offset and int64 views come out contiguous", () => {
  const f = new Float32Array([0, 1, 2, 3, 4, 5, 6, 7]);
  const pkl = new P().op(0x7d).mark()
    // storage 0 holds 8 floats; t = storage[1:7].view(2, 3).T  → size [3, 2], stride [1, 3]
    .str("t").tensor("FloatStorage", "0", 8, 1, [3, 2], [1, 3])
    .str("row").tensor("FloatStorage", "0", 8, 4, [2], [1])
    .str("bcast").tensor("FloatStorage", "0", 8, 2, [2, 2], [0, 1])
    .str("idx").tensor("LongStorage", "1", 2, 0, [2], [1])
    .op(0x75).bytes();
  const bytes = archive("any_name", pkl, {
    "0": new Uint8Array(f.buffer),
    "1": new Uint8Array(new BigInt64Array([-3n, 1n << 40n]).buffer),
  });
  const { stateDict, epoch } = readPth(bytes);
  assert.equal(epoch, undefined);
  assert.deepEqual(stateDict.t.shape, [3, 2]);
  assert.deepEqual([...stateDict.t.data], [1, 4, 2, 5, 3, 6]);
  assert.deepEqual([...stateDict.row.data], [4, 5]);
  assert.deepEqual([...stateDict.bcast.data], [2, 3, 2, 3]);
  assert.equal(stateDict.idx.dtype, "int64");
  assert.deepEqual([...stateDict.idx.data], [-3n, 1n << 40n]);
});

Deno.test("forbidden globals are refused, by name and file", () => {
  // os.system("ls") via GLOBAL + REDUCE
  const evil = new P().global("os", "system").str("ls").op(0x85).reduce().bytes();
  assert.throws(
    () => readPth(archive("x", evil)),
    /refusing to load global "os\.system" from x\/data\.pkl: only tensors, OrderedDict and numpy scalars are allowed/,
  );
  // builtins.eval via STACK_GLOBAL
  const evil2 = new P().str("builtins").str("eval").op(0x93).bytes();
  assert.throws(
    () => unpickle(evil2, { source: "t.pkl" }),
    /refusing to load global "builtins\.eval" from t\.pkl/,
  );
  // torch globals are not whitelisted for a bare unpickle
  const torchy = new P().global("torch._utils", "_rebuild_tensor_v2").bytes();
  assert.throws(
    () => unpickle(torchy),
    /refusing to load global "torch\._utils\._rebuild_tensor_v2"/,
  );
});

Deno.test("malformed pickles and archives throw specific errors", () => {
  assert.throws(
    () => unpickle(new Uint8Array([0x80, 2, 0x69])),
    /unsupported pickle opcode 0x69 \(INST\)/,
  );
  assert.throws(
    () => unpickle(new Uint8Array([0x80, 2, 0x58, 9, 0, 0, 0, 0x61])),
    /truncated pickle/,
  );
  assert.throws(
    () => unpickle(new Uint8Array([0x80, 2, 0x68, 3, 0x2e])),
    /memo key 3 is not defined/,
  );
  assert.throws(() => readPth(new Uint8Array([0x80, 2, 0x7d, 0x2e])), /not a zip archive/);
  assert.throws(
    () => readPth(zipSync({ "a/other.bin": new Uint8Array(1) })),
    /no data\.pkl in the archive/,
  );
  const view = new P().op(0x7d).str("w").tensor("FloatStorage", "0", 4, 2, [3], [1]).op(0x73)
    .bytes();
  assert.throws(
    () => readPth(archive("m", view, { "0": new Uint8Array(16) })),
    /tensor on storage "0" \(offset 2, size \[3\], stride \[1\]\) reads elements 2\.\.4 but the storage holds 4/,
  );
  assert.throws(() => readPth(archive("m", view)), /archive entry m\/data\/0 is missing/);
  const notDict = new P().op(0x5d).bytes();
  assert.throws(
    () => readPth(archive("m", notDict)),
    /expected a dict at the top level, got a list/,
  );
});

// Round trip of the `.pth` writer (io/pth_write.ts, io/pickle_write.ts, io/zip.ts) through the
// reader (io/pth.ts), fuzzed with fast-check under a fixed, printed seed: any state dict of any
// dtype, shape (empty and scalar included), key and bit pattern comes back bit for bit, plain or
// wrapped in the reference trainer's checkpoint dict; and pickled values read back equal.

import assert from "node:assert/strict";
import fc from "fast-check";
import type { HostTensor } from "./host_tensor.ts";
import { readPth } from "./pth.ts";
import { writePth } from "./pth_write.ts";
import { pickle, PickleCall, PickleTuple } from "./pickle_write.ts";
import { unpickle } from "./pickle.ts";
import { hostTensorArb } from "../tests/helpers.ts";

const SEED = Number(Deno.env.get("FC_SEED") ?? 20261202);
const tensorArb = hostTensorArb(5);

const bytesOf = (t: HostTensor): Uint8Array =>
  new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);

function run(prop: fc.IProperty<[Record<string, HostTensor>, ...unknown[]]>, numRuns: number) {
  try {
    fc.assert(prop, { seed: SEED, numRuns });
  } catch (e) {
    if (e instanceof Error) e.message = `[replay with FC_SEED=${SEED}] ${e.message}`;
    throw e;
  }
}

Deno.test(`writePth → readPth round-trips any state dict bit for bit (FC_SEED=${SEED})`, () => {
  run(
    fc.property(
      fc.dictionary(fc.string({ minLength: 1, maxLength: 16, unit: "grapheme" }), tensorArb, {
        maxKeys: 6,
      }),
      fc.option(
        fc.record({ epoch: fc.integer({ min: 0, max: 1000 }), global_step: fc.nat() }),
        { nil: undefined },
      ),
      (sd, checkpoint) => {
        const bytes = writePth(sd, { checkpoint });
        // A dict of tensors only is read as the state dict itself; an empty one is not.
        if (Object.keys(sd).length === 0 && !checkpoint) {
          assert.throws(() => readPth(bytes), /no state dict found/);
          return;
        }
        const back = readPth(bytes);
        if (checkpoint) {
          assert.equal(back.epoch, checkpoint.epoch);
          assert.equal(back.globalStep, checkpoint.global_step);
        }
        assert.deepEqual(Object.keys(back.stateDict), Object.keys(sd));
        for (const [k, t] of Object.entries(sd)) {
          const g = back.stateDict[k];
          assert.equal(g.dtype, t.dtype, k);
          assert.deepEqual(g.shape, t.shape, k);
          assert.deepEqual(bytesOf(g), bytesOf(t), k);
        }
      },
    ),
    150,
  );
});

Deno.test(`pickle → unpickle round-trips plain values (FC_SEED=${SEED})`, () => {
  const leaf = fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }).filter((b) =>
      b > BigInt(Number.MAX_SAFE_INTEGER) || b < BigInt(Number.MIN_SAFE_INTEGER)
    ),
    fc.double({ noNaN: true }).filter((d) => !Number.isInteger(d)),
    fc.string({ unit: "grapheme" }),
  );
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: "small" }, leaf, tie("list"), tie("dict")),
    list: fc.array(tie("value"), { maxLength: 4 }),
    dict: fc.dictionary(fc.string({ maxLength: 6 }), tie("value"), {
      maxKeys: 4,
      noNullPrototype: true,
    }),
  }));
  fc.assert(
    fc.property(value, (v) => {
      assert.deepEqual(unpickle(pickle(v)), v);
    }),
    { seed: SEED, numRuns: 200 },
  );
  assert.deepEqual(unpickle(pickle(new PickleTuple([1, "a"]))), [1, "a"]);
  assert.deepEqual(
    unpickle(pickle(new PickleCall("collections.OrderedDict", [], [["x", 1.5]]))),
    { x: 1.5 },
  );
});

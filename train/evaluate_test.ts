/**
 * `evaluate` takes radii in input units (`eps`) or in units of 1/255 (`eps255`), with the same
 * results and keys either way, and refuses both at once.
 */
import assert from "node:assert/strict";
import { memory, scope } from "../tensor/scope.ts";
import { randomKey } from "../tensor/random.ts";
import { flatten, linearNormalized } from "../layers/basic.ts";
import { serial } from "../layers/layer.ts";
import type { Dataset } from "../data/mod.ts";
import { evaluate } from "./evaluate.ts";
import { dispose } from "../tensor/scope.ts";

Deno.test("evaluate: eps in input units and eps255 agree; both at once is an error", async () => {
  const before = memory().tensors;
  const net = serial(flatten(), linearNormalized({ features: 3 }));
  const params = scope(() => net.init(randomKey(0), [1, 2, 2]).params);
  const n = 64;
  const images = Float32Array.from({ length: n * 4 }, (_, i) => ((i * 7919) % 101) / 100);
  const ds: Dataset = {
    name: "toy",
    images,
    labels: Int32Array.from({ length: n }, (_, i) => i % 3),
    n,
    shape: [1, 2, 2],
    numClasses: 3,
  };
  const w = net.lastWeight(params);
  const a = await evaluate(net.apply, params, ds, { eps: [9 / 255, 36 / 255], lastWeight: w });
  const b = await evaluate(net.apply, params, ds, { eps255: [9, 36], lastWeight: w });
  assert.deepEqual(Object.keys(a.certified), ["9", "36"]);
  assert.deepEqual(a, b);
  assert.ok(a.certified["9"] >= a.certified["36"]);
  await assert.rejects(
    () => evaluate(net.apply, params, ds, { eps: [0.1], eps255: [36] }),
    /evaluate: pass the radii once, as eps \(input units/,
  );
  dispose(params);
  assert.equal(memory().tensors, before, "live tensors back to baseline");
});

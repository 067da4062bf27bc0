/**
 * saveParams / loadParams round trips for custom networks (typed serial, a custom layer without
 * `shapes`, the reference network), the refusal of another network's bytes, and the file helpers.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dispose, memory, scope } from "../tensor/scope.ts";
import { add, cast, zeros } from "../tensor/ops.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { randomKey } from "../tensor/random.ts";
import { flattenTree } from "../tensor/tree.ts";
import { flatten, linearNormalized, sumPool } from "../layers/basic.ts";
import { type Layer, serial } from "../layers/layer.ts";
import { lipschitzNetwork } from "../layers/network.ts";
import { sllConv, sllDense } from "../layers/sll.ts";
import { loadParams, saveParams } from "./params.ts";
import { loadParamsFile, saveParamsFile } from "./params_file.ts";
import { readSafetensors } from "./safetensors.ts";

function sameLeaves(a: unknown, b: unknown): void {
  const fa = flattenTree(a), fb = flattenTree(b);
  assert.deepEqual(Object.keys(fb).sort(), Object.keys(fa).sort());
  for (const k of Object.keys(fa)) {
    assert.deepEqual([...fb[k].shape], [...fa[k].shape], k);
    assert.equal(fb[k].dtype, fa[k].dtype, k);
    assert.deepEqual(Array.from(fb[k].dataSync()), Array.from(fa[k].dataSync()), k);
  }
}

async function baseline(fn: () => Promise<void>): Promise<void> {
  const before = memory().tensors;
  await fn();
  assert.equal(memory().tensors, before, "live tensors back to baseline");
}

const net = serial(
  sllConv({ inner: 3 }),
  sumPool({ size: 2, divisor: 2 }),
  flatten(),
  sllDense({ inner: 5 }),
  linearNormalized({ features: 3 }),
);

Deno.test("saveParams/loadParams: a typed serial round-trips, bit for bit", () =>
  baseline(async () => {
    const params = scope(() => net.init(randomKey(4), [2, 4, 4]).params);
    const bytes = await saveParams(params, { run: "test" });
    const file = readSafetensors(bytes);
    assert.deepEqual(file.metadata, { run: "test" });
    assert.deepEqual(Object.keys(file.tensors).sort(), Object.keys(flattenTree(params)).sort());
    const again = loadParams(net, [2, 4, 4], bytes);
    const w: Tensor = again[4].weight; // typed like net's parameters
    assert.deepEqual([...w.shape], [3, 8]);
    sameLeaves(params, again);
    const f64 = loadParams(net, [2, 4, 4], bytes, { dtype: "float64" });
    assert.equal(f64[0].kernel.dtype, "float64");
    dispose([params, again, f64]);
  }));

Deno.test("saveParams/loadParams: float64 leaves and a custom layer without shapes", () =>
  baseline(async () => {
    const custom: Layer<{ b: Tensor }> = {
      init: (_k, inShape) => ({ outShape: [...inShape], params: { b: zeros([...inShape]) } }),
      apply: (p, x) => add(x, p.b),
    };
    const s = serial(flatten(), custom);
    const params = scope(() => {
      const p = s.init(randomKey(0), [1, 3]).params;
      return [p[0], { b: cast(add(p[1].b, 0.25), "float64") }] as typeof p;
    });
    const bytes = await saveParams(params);
    assert.equal(readSafetensors(bytes).tensors["1.b"].dtype, "float64");
    const again = loadParams(s, [1, 3], bytes, { dtype: "float64" });
    sameLeaves(params, again);
    dispose([params, again]);
  }));

Deno.test("loadParams: bytes of another network are refused with the differences", () =>
  baseline(async () => {
    const params = scope(() => net.init(randomKey(1), [2, 4, 4]).params);
    const bytes = await saveParams(params);
    dispose(params);
    assert.throws(() => loadParams(net, [3, 4, 4], bytes), {
      name: "TypeError",
      message:
        /^loadParams: the saved parameters do not match the layer for input \[3, 4, 4\]:\n {2}shape mismatches: 0\.kernel: expected \[3,3,3,3\], got \[3,2,3,3\]/,
    });
    assert.throws(
      () => loadParams(serial(flatten(), linearNormalized({ features: 3 })), [2, 4, 4], bytes),
      /missing keys: 1\.weight \[3,32\], 1\.bias \[3\]\n {2}unexpected keys: .*0\.kernel \[3,2,3,3\]/,
    );
    assert.throws(() => loadParams(net, [2, 4, 4], new Uint8Array(3)), /not a safetensors file/);
  }));

Deno.test("saveParamsFile/loadParamsFile: the reference network through a file", () =>
  baseline(async () => {
    const ref = lipschitzNetwork({
      inputShape: [1, 8, 8],
      numClasses: 3,
      nConv: 1,
      nDense: 1,
      width: 2,
      convInnerDim: 2,
      denseInnerDim: 4,
      mean: [0.5],
    });
    const params = scope(() => ref.init(randomKey(2)).params);
    const dir = await Deno.makeTempDir();
    try {
      const path = join(dir, "sub", "net.safetensors");
      await saveParamsFile(path, params);
      const again = await loadParamsFile(path, ref, [1, 8, 8]);
      sameLeaves(params, again);
      dispose(again);
      await assert.rejects(
        () => loadParamsFile(join(dir, "none.safetensors"), ref, [1, 8, 8]),
        /loadParamsFile: cannot read .*none\.safetensors/,
      );
    } finally {
      dispose(params);
      await Deno.remove(dir, { recursive: true });
    }
  }));

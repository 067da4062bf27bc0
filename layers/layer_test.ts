/**
 * The layer contract: `shapes` agrees with `init` for every layer of the library, `serial` is
 * typed per layer and finds the certificate weight structurally, and parameter trees come back
 * from flat state dicts by their known shapes.
 */
import assert from "node:assert/strict";
import { memory, scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { add, ones, zeros } from "../tensor/ops.ts";
import { normal, randomKey } from "../tensor/random.ts";
import { flattenTree, mapTree } from "../tensor/tree.ts";
import { aolConv, aolDense } from "./aol.ts";
import {
  flatten,
  groupSort,
  linearNormalized,
  maxMin,
  paddingChannels,
  poolingLinear,
  sumPool,
} from "./basic.ts";
import { cplConv, cplDense } from "./cpl.ts";
import { type Layer, layerShapes, serial } from "./layer.ts";
import { lipschitzNetwork, presets } from "./network.ts";
import { orthogonalDense } from "./orthogonal.ts";
import { sllConv, sllDense } from "./sll.ts";
import { paramsFromStateDict } from "./state_dict.ts";
import { leakFreeTest } from "../tests/helpers.ts";

function t(name: string, fn: () => void): void {
  leakFreeTest(name, () => {
    scope(fn);
  });
}

// deno-lint-ignore no-explicit-any
const every: [string, Layer<any>, number[]][] = [
  ["sllConv", sllConv({ inner: 5 }), [3, 6, 6]],
  ["sllConv kernel 5", sllConv({ inner: 2, kernel: 5 }), [4, 7, 7]],
  ["sllDense", sllDense({ inner: 9 }), [6]],
  ["aolDense", aolDense({ features: 4 }), [7]],
  ["aolConv", aolConv({ features: 4, kernel: 5 }), [2, 6, 6]],
  ["cplDense", cplDense({ inner: 3 }), [5]],
  ["cplConv", cplConv({ inner: 3 }), [2, 4, 4]],
  ["orthogonalDense", orthogonalDense({ features: 3 }), [5]],
  ["linearNormalized", linearNormalized({ features: 3 }), [8]],
  ["paddingChannels", paddingChannels({ features: 4 }), [1, 4, 4]],
  ["sumPool", sumPool(), [2, 8, 8]],
  ["flatten", flatten(), [2, 3, 3]],
  ["poolingLinear", poolingLinear({ features: 2 }), [7]],
  ["maxMin", maxMin(), [4]],
  ["groupSort", groupSort({ groupSize: 3 }), [6]],
  [
    "serial",
    serial(
      sllConv({ inner: 2 }),
      sumPool({ size: 2, divisor: 2 }),
      flatten(),
      sllDense({
        inner: 3,
      }),
    ),
    [2, 4, 4],
  ],
];

for (const [name, layer, inShape] of every) {
  t(`${name}: shapes() is what init() returns, nothing drawn`, () => {
    const before = memory().tensors;
    const s = layer.shapes!(inShape);
    assert.equal(memory().tensors, before, "shapes() creates no tensor");
    const r = layer.init(randomKey(1), inShape);
    assert.deepEqual(s.outShape, r.outShape);
    assert.deepEqual(s.params, mapTree(r.params, (v) => [...v.shape]));
    const y = layer.apply(r.params, normal(randomKey(2), [2, ...inShape]));
    assert.deepEqual([...y.shape], [2, ...r.outShape]);
  });
}

t("layerShapes runs init once for a custom layer without shapes", () => {
  const custom: Layer<{ b: Tensor }> = {
    init: (_key, inShape) => ({ outShape: [...inShape], params: { b: zeros([...inShape]) } }),
    apply: (p, x) => add(x, p.b),
  };
  const before = memory().tensors;
  const s = layerShapes(custom, [3]);
  assert.equal(memory().tensors, before, "the drawn parameters are freed");
  assert.deepEqual(s, { outShape: [3], params: { b: [3] } });
  assert.deepEqual(serial(flatten(), custom).shapes([1, 3]).params, [{}, { b: [3] }]);
});

t("serial: typed parameter tuple and the certificate weight found structurally", () => {
  const net = serial(flatten(), sllDense({ inner: 4 }), linearNormalized({ features: 3 }));
  const { params } = net.init(randomKey(0), [1, 2, 2]);
  const w: Tensor = params[2].weight; // type-checks: entry 2 is linearNormalized's
  const q: Tensor = params[1].q;
  assert.deepEqual([...w.shape], [3, 4]);
  assert.deepEqual([...q.shape], [4]);
  assert.equal(net.lastWeight(params), params[2].weight);
  // a last layer with no normalised-row bound gives none, whatever its leaves are called
  const aol = serial(sllDense({ inner: 4 }), aolDense({ features: 3 }));
  assert.equal(aol.lastWeight(aol.init(randomKey(0), [4]).params), null);
  // nesting: the inner serial's last layer is asked
  const nested = serial(
    flatten(),
    serial(sllDense({ inner: 2 }), linearNormalized({ features: 2 })),
  );
  const np = nested.init(randomKey(0), [4]).params;
  assert.equal(nested.lastWeight(np), np[1][1].weight);
  assert.throws(() => net.apply([params[0]] as unknown as typeof params, ones([1, 1, 2, 2])), {
    name: "TypeError",
    message: /serial: expected 3 parameter entries \(one per layer\), got 1/,
  });
});

t("lipschitzNetwork: a serial whose state-dict shapes come from its layers", () => {
  const net = lipschitzNetwork({
    ...presets.tiny,
    inputShape: [1, 8, 8],
    numClasses: 3,
    mean: [0.5],
  });
  const { params } = net.init(randomKey(3));
  const fromInit = mapTree(net.toStateDict(params), (v) => [...v.shape]);
  assert.deepEqual({ ...net.stateDictShapes }, fromInit);
  assert.equal(net.layers.length, params.length);
  assert.equal(net.lastWeight(params), net.toStateDict(params)["module.model.model.7.weight"]);
  assert.deepEqual(net.inShapes[1], [presets.tiny.width, 8, 8]);
});

t("paramsFromStateDict: rebuilds a tree from its shapes and lists every difference", () => {
  const layer = serial(sllDense({ inner: 3 }), linearNormalized({ features: 2 }));
  const { params } = layer.init(randomKey(0), [4]);
  const shapes = layer.shapes([4]).params;
  const again = paramsFromStateDict<typeof params>(shapes, flattenTree(params));
  assert.equal(again[1].weight, params[1].weight); // same dtype: the very tensor
  const flat = flattenTree(params);
  const bad = { ...flat, "1.weight": zeros([3, 4]), extra: zeros([1]) } as Record<string, Tensor>;
  delete bad["0.q"];
  assert.throws(() => paramsFromStateDict(shapes, bad, { what: "loading x" }), {
    name: "TypeError",
    message:
      /^loading x:\n {2}missing keys: 0\.q \[3\]\n {2}unexpected keys: extra \[1\]\n {2}shape mismatches: 1\.weight: expected \[2,4\], got \[3,4\]$/,
  });
  const f64 = paramsFromStateDict<typeof params>(shapes, flat, { dtype: "float64" });
  assert.equal(f64[0].weight.dtype, "float64");
});

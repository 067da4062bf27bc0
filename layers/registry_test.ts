/**
 * The layer registry: every entry builds its convolution and dense layer with the promised
 * shapes; the adapters (channel change, stride by pixel unshuffle) stay 1-Lipschitz for every
 * registered layer; orthogonal entries preserve distances; unknown names list the registered.
 */
import assert from "node:assert/strict";
import {
  convLayer,
  denseLayer,
  diracInit,
  firstChannels,
  getLayerEntry,
  hasRefresh,
  LAYER_REGISTRY,
  layerNames,
  pixelUnshuffle,
  refreshLayers,
  spatialPad,
} from "./registry.ts";
import { cplDense } from "./cpl.ts";
import { aolConv, aolDense } from "./aol.ts";
import { serial } from "./layer.ts";
import { sllDense } from "./sll.ts";
import { normal, randomKey, split } from "../tensor/random.ts";
import { norm, sub, tensor } from "../tensor/ops.ts";
import { dispose, keep, scope } from "../tensor/scope.ts";
import { isOneLipschitz } from "../testing.ts";
import { leakFreeTest } from "../tests/helpers.ts";

leakFreeTest("registry: names are unique, lower case, and carry paper and title", () => {
  const names = layerNames();
  assert.equal(new Set(names).size, names.length, `duplicate names in ${names}`);
  for (const e of LAYER_REGISTRY) {
    assert.match(e.name, /^[a-z][a-z0-9-]*$/, e.name);
    assert.ok(e.paper.length > 5 && e.title.length > 2, e.name);
  }
  for (const n of ["sll", "aol", "cpl"]) assert.ok(names.includes(n), n);
  assert.throws(() => getLayerEntry("nope"), (e: Error) => {
    assert.ok(e instanceof RangeError);
    for (const n of names) assert.ok(e.message.includes(n), e.message);
    return true;
  });
});

leakFreeTest(
  "registry: every entry builds square conv and dense layers of the stated shapes",
  () => {
    scope(() => {
      for (const e of LAYER_REGISTRY) {
        for (const kernel of [1, 3]) {
          const c = e.conv({ channels: 4, kernel });
          const { params, outShape } = c.init(randomKey(1), [4, 6, 6]);
          assert.deepEqual(outShape, [4, 6, 6], `${e.name} conv k${kernel}`);
          assert.deepEqual(c.apply(params, normal(randomKey(2), [2, 4, 6, 6])).shape, [2, 4, 6, 6]);
        }
        const d = e.dense({ features: 6 });
        const { params, outShape } = d.init(randomKey(3), [6]);
        assert.deepEqual(outShape, [6], `${e.name} dense`);
        assert.deepEqual(d.apply(params, normal(randomKey(4), [3, 6])).shape, [3, 6]);
      }
    });
  },
);

leakFreeTest(
  "registry: pixelUnshuffle is PyTorch's index map (a permutation); spatialPad keeps the pixels",
  async () => {
    const x = tensor(Array.from({ length: 2 * 4 * 4 }, (_, i) => i), { shape: [1, 2, 4, 4] });
    const y = scope(() => pixelUnshuffle({ factor: 2 }).apply({}, x));
    const got = await y.data();
    // out[c·4 + i·2 + j, h, w] = in[c, 2h + i, 2w + j]
    for (let c = 0; c < 2; c++) {
      for (let i = 0; i < 2; i++) {
        for (let j = 0; j < 2; j++) {
          for (let h = 0; h < 2; h++) {
            for (let w = 0; w < 2; w++) {
              const o = ((c * 4 + i * 2 + j) * 2 + h) * 2 + w;
              assert.equal(got[o], c * 16 + (2 * h + i) * 4 + 2 * w + j);
            }
          }
        }
      }
    }
    dispose([x, y]);
    const z = scope(() =>
      spatialPad({ size: 6 }).apply({}, tensor([1, 2, 3, 4], { shape: [1, 1, 2, 2] }))
    );
    assert.deepEqual([...await z.data()].filter((v) => v !== 0), [1, 2, 3, 4]);
    assert.deepEqual(z.shape, [1, 1, 6, 6]);
    z.dispose();
    assert.throws(() => firstChannels({ features: 5 }).init(randomKey(0), [4, 2, 2]), RangeError);
  },
);

leakFreeTest(
  "registry: refreshLayers walks nested serials and leaves stateless layers alone",
  () => {
    scope(() => {
      const net = serial(sllDense({ inner: 3 }), serial(cplDense({ inner: 3 })));
      assert.ok(hasRefresh(net));
      assert.ok(!hasRefresh(sllDense({ inner: 3 })));
      const { params } = net.init(randomKey(0), [4]);
      const r = refreshLayers(net, params, 3);
      assert.equal(r[0], params[0]); // untouched
      assert.notEqual(r[1][0].u, params[1][0].u);
      assert.equal(r[1][0].weight, params[1][0].weight);
      const plain = serial(sllDense({ inner: 3 }));
      const p2 = plain.init(randomKey(0), [4]).params;
      assert.equal(refreshLayers(plain, p2, 3), p2);
    });
  },
);

// The adapters around every registered layer: channels up and down, stride 2, and dense widths.
for (const e of LAYER_REGISTRY) {
  const specs = [
    { cin: 2, cout: 3, stride: 2, kernel: 3 },
    { cin: 4, cout: 2, stride: 1, kernel: 1 },
  ];
  for (const spec of specs) {
    const layer = convLayer(e.name, spec);
    leakFreeTest(`1-Lipschitz: convLayer ${e.name} ${JSON.stringify(spec)}`, async () => {
      const out = layer.shapes!([spec.cin, 4, 4]).outShape;
      assert.deepEqual(out, [spec.cout, 4 / spec.stride, 4 / spec.stride]);
      const r = await isOneLipschitz(layer, {
        inShape: [spec.cin, 4, 4],
        numRuns: 2,
        seed: 1501,
        name: `convLayer ${e.name}`,
        prepare: (p) => refreshLayers(layer, p, 300),
      });
      console.log(`  ${r.verdict}: ${r.summary}`);
    });
  }
  const dense = denseLayer(e.name, { inFeatures: 5, features: 3 });
  leakFreeTest(`1-Lipschitz: denseLayer ${e.name} 5 → 3`, async () => {
    assert.deepEqual(dense.shapes!([5]).outShape, [3]);
    const r = await isOneLipschitz(dense, {
      inShape: [5],
      numRuns: 2,
      seed: 1502,
      name: `denseLayer ${e.name}`,
      prepare: (p) => refreshLayers(dense, p, 300),
    });
    console.log(`  ${r.verdict}: ${r.summary}`);
  });
  if (e.orthogonal) {
    leakFreeTest(`orthogonal: ${e.name} conv and dense preserve distances`, async () => {
      const [k0, k1, k2, k3] = split(randomKey(15), 4);
      const conv = e.conv({ channels: 4, kernel: 3 });
      const dense = e.dense({ features: 6 });
      const pc = keep(scope(() => conv.init(k0, [4, 5, 5]).params));
      const pd = keep(scope(() => dense.init(k1, [6]).params));
      const [a, b] = scope(() => {
        const x = normal(k2, [2, 4, 5, 5]), y = normal(k3, [2, 4, 5, 5]);
        const xd = normal(k2, [2, 6]), yd = normal(k3, [2, 6]);
        return [
          [norm(sub(conv.apply(pc, x), conv.apply(pc, y))), norm(sub(x, y))],
          [norm(sub(dense.apply(pd, xd), dense.apply(pd, yd))), norm(sub(xd, yd))],
        ];
      });
      for (const [f, d] of [a, b]) {
        const [fv, dv] = [(await f.data())[0], (await d.data())[0]];
        assert.ok(Math.abs(fv - dv) <= 1e-4 * dv, `${e.name}: ${fv} vs ${dv}`);
      }
      dispose([pc, pd, a, b]);
    });
  }
}

leakFreeTest(
  "diracInit: AOL starts as the identity map (conv and dense), as the authors' init",
  async () => {
    const [x, yc, xd, yd] = scope(() => {
      const conv = diracInit(aolConv({ features: 3 }));
      const dense = diracInit(aolDense({ features: 4 }));
      const x = normal(randomKey(5), [2, 3, 4, 4]), xd = normal(randomKey(6), [2, 4]);
      return [
        x,
        conv.apply(conv.init(randomKey(7), [3, 4, 4]).params, x),
        xd,
        dense.apply(dense.init(randomKey(8), [4]).params, xd),
      ];
    });
    for (const [a, b] of [[x, yc], [xd, yd]]) {
      const [av, bv] = [await a.data(), await b.data()];
      av.forEach((v, i) => assert.ok(Math.abs(v - bv[i]) < 1e-6, `${i}: ${v} vs ${bv[i]}`));
    }
    dispose([x, yc, xd, yd]);
  },
);

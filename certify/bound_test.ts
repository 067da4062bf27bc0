/**
 * The network-level certified Lipschitz bound: for every layer whose 1-Lipschitz proof needs a
 * converged iteration (CPL, LiResNet power iterations; SOC's truncated series) a stale state
 * gives a measured Jacobian norm above 1 and a bound at or above it; the iteration-based layers
 * proved for ANY iteration count (Björck, BCOP, AOC, LOT) stay ≤ 1 at one iteration; every
 * registered layer's ConvNet is 1 by construction (CPL/LiResNet: finite, ≥ 1); bad bounds are
 * rejected.
 */
import assert from "node:assert/strict";
import { certifiedLipschitzBound, describeLipschitzBound } from "./bound.ts";
import { certifiedAccuracy, margins } from "./margins.ts";
import { estimateLipschitz } from "./lipschitz.ts";
import { cplConv, cplDense, type CplParams } from "../layers/cpl.ts";
import { liresnetBlock, liresnetDense, type LiresnetParams } from "../layers/liresnet.ts";
import { socConv, socDense } from "../layers/soc.ts";
import { socTaylorBound } from "../layers/soc_bound.ts";
import { orthogonalDense } from "../layers/orthogonal.ts";
import { lotConv, lotDense } from "../layers/lot.ts";
import { bcopConv } from "../layers/bcop.ts";
import { aocConv } from "../layers/aoc.ts";
import { maxMin } from "../layers/basic.ts";
import { type AnyLayer, defineLayer, type Layer, serial } from "../layers/layer.ts";
import { convNet } from "../layers/convnet.ts";
import { layerNames, refreshLayers } from "../layers/registry.ts";
import { add, conv2d, div, mul, norm, reshape, tensor } from "../tensor/ops.ts";
import { convSpectralBound, denseSpectralBound } from "./gram.ts";
import { normal, randomKey } from "../tensor/random.ts";
import { dispose, keep, scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { leakFreeTest } from "../tests/helpers.ts";
import { drawParams } from "../tests/layer_checks.ts";

/** The largest local Jacobian norm of `layer` over a few points of `inShape` (float64). */
async function measured<P>(
  layer: Layer<P>,
  params: P,
  inShape: readonly number[],
  scale = 1,
): Promise<number> {
  const x = scope(() => mul(normal(randomKey(3), [4, ...inShape], "float64"), scale));
  try {
    const norms = await estimateLipschitz((z) => layer.apply(params, z), x, { iterations: 60 });
    return Math.max(...norms);
  } finally {
    x.dispose();
  }
}

leakFreeTest(
  "bound: CPL with a stale power-iteration state exceeds 1; the bound covers it",
  async () => {
    // dense: W = diag(3, 1, 0.5, 0.2), u between the first two axes: σ̂² = (0.09·9 + 1)/1.09 < 9
    const dense = cplDense({ iterations: 0 });
    const { params: p0 } = drawParams(dense, [4], 1);
    const stale: CplParams = scope(() => ({
      weight: tensor([[3, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0.5, 0], [0, 0, 0, 0.2]], {
        dtype: "float64",
      }),
      bias: tensor([[50, 50, 50, 50]], { dtype: "float64" }), // every ReLU active near 0
      u: tensor([[0.3 / Math.sqrt(1.09), 1 / Math.sqrt(1.09), 0, 0]], { dtype: "float64" }),
    }));
    // conv: a random kernel and a random (unconverged) u, no iterations inside apply
    const conv = cplConv({ inner: 3, iterations: 0 });
    const { params: c0 } = drawParams(conv, [2, 5, 5], 2);
    const cStale: CplParams = scope(() => ({
      ...c0,
      bias: add(mul(c0.bias, 0), 100),
      u: ((u: Tensor) => div(u, norm(u)))(normal(randomKey(7), c0.u.shape, "float64")), // unit
    }));
    try {
      const exact = (2 * 9) / ((0.09 * 9 + 1) / 1.09) - 1; // ‖I − (2/σ̂²)WᵀW‖ = 2σ²/σ̂² − 1
      const m = await measured(dense, stale, [4], 0.1);
      assert.ok(Math.abs(m - exact) < 1e-6 * exact, `measured ${m}, exact ${exact}`);
      const b = await certifiedLipschitzBound(dense, stale, [4]);
      assert.ok(b.bound >= m && b.bound < exact * (1 + 1e-9), `bound ${b.bound} vs ${m}`);
      assert.match(b.text, /cplDense power iteration ×\d+\.\d{4} over 1 layer\)$/);
      const mc = await measured(conv, cStale, [2, 5, 5], 0.1);
      const bc = await certifiedLipschitzBound(conv, cStale, [2, 5, 5]);
      assert.ok(mc > 1.05, `a stale conv u must be visibly above 1, measured ${mc}`);
      assert.ok(bc.bound >= mc, `conv bound ${bc.bound} below the measured ${mc}`);
      // refreshed: the dense bound is 1 up to the Gram slack; the conv one is finite and ≥ 1
      const fresh = scope(() => dense.refresh(stale, 300));
      const bf = await certifiedLipschitzBound(dense, fresh, [4]);
      assert.ok(bf.bound >= 1 && bf.bound < 1 + 1e-6, describeLipschitzBound(bf));
      dispose(fresh.u);
    } finally {
      dispose([p0, stale, c0, { b: cStale.bias, u: cStale.u }]);
    }
  },
);

leakFreeTest("bound: LiResNet blocks with a stale σ exceed 1; the bound covers it", async () => {
  for (
    const [block, inShape] of [
      [liresnetBlock({ iterations: 0 }), [2, 4, 4]],
      [liresnetDense({ iterations: 0 }), [5]],
    ] as const
  ) {
    const { params } = drawParams(block as Layer<LiresnetParams>, inShape, 4);
    const stale: LiresnetParams = scope(() => ({
      ...params,
      weight: mul(params.weight, 40),
      u: normal(randomKey(9), params.u.shape, "float64"),
    }));
    try {
      const m = await measured(block as Layer<LiresnetParams>, stale, inShape);
      const b = await certifiedLipschitzBound(block, stale, inShape);
      assert.ok(m > 1.01, `a stale u must be visibly above 1, measured ${m}`);
      assert.ok(b.bound >= m, `bound ${b.bound} below the measured ${m}`);
      assert.match(b.text, /liresnet(Block|Dense) power iteration/);
    } finally {
      dispose([params, { w: stale.weight, u: stale.u }]);
    }
  }
});

leakFreeTest(
  "bound: SOC's truncated series outside its proven range is bounded above 1",
  async () => {
    assert.equal(socTaylorBound(12, 0.7), 1); // the defaults are proved
    assert.equal(socTaylorBound(4, 2.8), 1); // |1 + iλ − λ²/2 − iλ³/6 + λ⁴/24|² = 1 − λ⁶/72 + λ⁸/576
    assert.ok(socTaylorBound(4, 2.9) > 1);
    assert.ok(socTaylorBound(3, 1.8) > 1); // n = 3 holds only up to √3
    for (
      const [layer, inShape] of [
        [socDense({ features: 6, terms: 1, correction: 1.5 }), [6]],
        [socConv({ features: 3, terms: 2, correction: 1.5 }), [3, 4, 4]],
      ] as const
    ) {
      const { params } = drawParams(layer as AnyLayer, inShape, 5);
      try {
        const m = await measured(layer as AnyLayer, params, inShape);
        const b = await certifiedLipschitzBound(layer, params, inShape);
        assert.ok(m > 1.01, `a truncated series must be above 1, measured ${m}`);
        assert.ok(b.bound >= m, `bound ${b.bound} below the measured ${m}`);
        assert.match(b.text, /soc(Dense|Conv) series truncated at \d terms/);
      } finally {
        dispose(params);
      }
    }
  },
);

leakFreeTest(
  "bound: Björck, BCOP, AOC and LOT are ≤ 1 after one iteration (not only converged)",
  async () => {
    const cases: [AnyLayer, number[]][] = [
      [orthogonalDense({ features: 6, iterations: 1 }), [6]],
      [orthogonalDense({ features: 6, iterations: 0 }), [6]],
      [lotDense({ features: 6, iterations: 1 }), [6]],
      [lotConv({ features: 3, iterations: 1, padding: "circular" }), [3, 4, 4]],
      [bcopConv({ features: 4, iterations: 1 }), [4, 5, 5]],
      [aocConv({ features: 4, iterations: 1 }), [4, 4, 4]],
    ];
    for (const [layer, inShape] of cases) {
      const { params } = drawParams(layer, inShape, 6);
      try {
        const m = await measured(layer, params, inShape);
        assert.ok(m <= 1 + 1e-9, `measured ${m} > 1 for ${JSON.stringify(inShape)}`);
        const b = await certifiedLipschitzBound(layer, params, inShape);
        assert.equal(b.bound, 1);
        assert.equal(b.text, "1.0000 (by construction)");
      } finally {
        dispose(params);
      }
    }
  },
);

leakFreeTest(
  "bound: every registered layer's ConvNet: 1 by construction, CPL/LiResNet finite ≥ 1",
  async () => {
    const inShape: [number, number, number] = [1, 8, 8];
    for (const layer of layerNames()) {
      const net = convNet({
        layer,
        inputShape: inShape,
        numClasses: 3,
        mean: [0.5],
        baseWidth: 2,
        blocks: 2,
        layersPerBlock: 1,
      });
      const params = keep(scope(() => net.refresh(net.init(randomKey(0)).params, 200)));
      try {
        const b = await certifiedLipschitzBound(net, params, inShape);
        if (layer === "cpl" || layer === "liresnet") {
          // converged up to the torus slack of the zero-padded convolutions' Gram bounds
          assert.ok(b.bound >= 1 && b.bound < 1.5, `${layer}: ${b.text}`);
          assert.ok(b.claims.length > 0, `${layer}: ${b.text}`);
        } else {
          assert.equal(b.bound, 1, `${layer}: ${b.text}`);
          assert.equal(b.text, "1.0000 (by construction)", layer);
        }
      } finally {
        dispose(params);
      }
    }
    // a serial of dense CPLs and LiResNets, converged: 1 within 1e-5 (dense Gram bounds are tight)
    const net = serial(cplDense({}), maxMin(), liresnetDense(), cplDense({ inner: 3 }));
    const params = keep(scope(() => refreshLayers(net, net.init(randomKey(1), [4]).params, 500)));
    try {
      const b = await certifiedLipschitzBound(net, params, [4]);
      assert.ok(b.bound >= 1 && b.bound < 1 + 1e-5, b.text);
    } finally {
      dispose(params);
    }
  },
);

leakFreeTest(
  "bound: non-finite and < 1 bounds are rejected; no finite bound certifies nothing",
  async () => {
    const logits = tensor([[2, 0]]);
    try {
      for (const lipschitz of [0.5, 0, -1, NaN, Infinity]) {
        await assert.rejects(
          certifiedAccuracy(logits, [0], null, [0.1], { lipschitz }),
          (e: Error) => e instanceof RangeError && /finite and ≥ 1/.test(e.message),
          String(lipschitz),
        );
        await assert.rejects(margins(logits, null, { lipschitz }), RangeError);
      }
      // a layer whose claim cannot be bounded (a zero scale): Infinity and a one-line reason
      const broken = defineLayer<Record<string, never>>({
        setup: (s) => ({ outShape: [...s], params: {} }),
        apply: (_p, x: Tensor) => x,
        lipschitzClaim: () => ({
          reason: "test scale",
          operators: [],
          scalars: [tensor([0])],
          bound: (_n, [s]) => (s > 0 ? 1 / s : Infinity),
        }),
      });
      const b = await certifiedLipschitzBound(serial(broken, maxMin()), [{}, {}], [2]);
      assert.equal(b.bound, Infinity);
      assert.match(b.text, /^no finite bound \(test scale: .*certifies nothing$/);
    } finally {
      logits.dispose();
    }
  },
);

leakFreeTest(
  "convSpectralBound with the padding given: ≥ the explicit operator's norm",
  async () => {
    // the zero-padded convolution as an explicit matrix (rows: conv of each basis image), its norm
    // bounded by the dense Gram bound; the smaller torus must never go below it
    for (
      const [c, h, w, ks, p] of [
        [3, 1, 3, 3, 1],
        [2, 2, 2, 3, 1],
        [2, 5, 7, 3, 1],
        [2, 4, 4, 3, 0],
        [
          2,
          4,
          5,
          3,
          2,
        ],
        [1, 6, 6, 5, 2],
        [2, 3, 4, 5, 1],
      ] as const
    ) {
      const k = normal(randomKey(c * 100 + h * 10 + w + p), [c, c, ks, ks], "float64");
      const n = c * h * w;
      const m = scope(() => {
        const eye = tensor(Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0)), {
          shape: [n, c, h, w],
          dtype: "float64",
        });
        const rows = conv2d(eye, k, { padding: p });
        return reshape(rows, [n, rows.size / n]);
      });
      try {
        const exact = await denseSpectralBound(m);
        const loose = await convSpectralBound(k, [h, w]);
        const tight = await convSpectralBound(k, [h, w], { padding: [p, p] });
        const what = `c ${c}, ${h}×${w}, k ${ks}, padding ${p}`;
        assert.ok(tight >= exact * (1 - 1e-12), `${what}: ${tight} below the exact ${exact}`);
        assert.ok(loose >= exact * (1 - 1e-12), `${what}: ${loose} below the exact ${exact}`);
      } finally {
        dispose([k, m]);
      }
    }
    const k3 = tensor([[[[1, 2, 3]]]]);
    await assert.rejects(
      convSpectralBound(k3, [2, 2], { padding: [0, 3] }),
      /padding must be two integers in \[0, k − 1\]/,
    );
    k3.dispose();
  },
);

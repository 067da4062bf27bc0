/**
 * 1-Lipschitz property of every layer of layers/ and of whole networks: `isOneLipschitz` draws
 * parameters (badly scaled W, K, q included) and searches for violating pairs, with its DEFAULT
 * search, in float64 and in float32 (no false alarm from rounding).
 * Shapes stay small: the CPU conv is plain TypeScript.
 */
import assert from "node:assert/strict";
import {
  aolConv,
  aolDense,
  cplConv,
  cplDense,
  flatten,
  groupSort,
  linearNormalized,
  lipschitzNetwork,
  maxMin,
  orthogonalDense,
  paddingChannels,
  poolingLinear,
  serial,
  sllConv,
  sllDense,
  spaceToDepthLayer,
  sumPool,
} from "../layers/mod.ts";
import {
  aolConvKernel,
  aolDenseWeight,
  type AolParams,
  bjorck,
  type CplParams,
  type Layer,
  type LinearParams,
  normalizeRows,
} from "../layers/mod.ts";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  convSpectralBound,
  denseSpectralBound,
  isOneLipschitz,
  type LipschitzBound,
  type OneLipschitzOptions,
} from "../testing.ts";
import { leakFreeTest } from "./helpers.ts";

/** A certified bound of a layer's linear part `make(params)` (a dense weight or a conv kernel). */
function boundOf<P>(make: (p: P) => Tensor, convSize?: [number, number]): LipschitzBound<P> {
  return async (p: P) => {
    const w = scope(() => make(p));
    try {
      return convSize ? await convSpectralBound(w, convSize) : await denseSpectralBound(w);
    } finally {
      w.dispose();
    }
  };
}

function lipTest<P>(name: string, layer: Layer<P>, options: OneLipschitzOptions<P>): void {
  for (const dtype of ["float64", "float32"] as const) {
    leakFreeTest(`1-Lipschitz (${dtype}): ${name}`, async () => {
      // float32 checks rounding (no false alarm) on fewer draws than the float64 search
      const runs = dtype === "float32" ? { numRuns: Math.min(options.numRuns ?? 8, 4) } : {};
      const r = await isOneLipschitz(layer, { seed: 20240601, name, dtype, ...options, ...runs });
      console.log(`  ${r.verdict}: ${r.summary}`);
      // with a certified bound of its linear part the layer is PROVED 1-Lipschitz for every draw
      if (options.bound) assert.equal(r.verdict, "proved", r.summary);
    });
  }
}

lipTest("sllConv paper", sllConv({ inner: 4 }), { inShape: [3, 5, 5] });
lipTest("sllConv reference", sllConv({ inner: 4, qMode: "reference" }), {
  inShape: [3, 5, 5],
});
lipTest("sllConv kernel 5", sllConv({ inner: 3, kernel: 5 }), { inShape: [2, 6, 6] });
lipTest("sllDense", sllDense({ inner: 5 }), { inShape: [7] });
lipTest("sllDense wide inner", sllDense({ inner: 12 }), { inShape: [4] });
lipTest("paddingChannels", paddingChannels({ features: 5 }), { inShape: [2, 4, 4] });
lipTest("sumPool", sumPool(), { inShape: [2, 8, 8] });
lipTest("spaceToDepthLayer", spaceToDepthLayer({ factor: 2 }), { inShape: [2, 6, 4] });
lipTest("flatten", flatten(), { inShape: [2, 3, 3] });
lipTest("poolingLinear mean", poolingLinear({ features: 3 }), { inShape: [10] });
lipTest("poolingLinear max", poolingLinear({ features: 3, agg: "max" }), { inShape: [9] });
lipTest("poolingLinear trunc", poolingLinear({ features: 3, agg: "trunc" }), { inShape: [9] });
lipTest("linearNormalized per logit", serial(linearNormalized({ features: 1 })), {
  inShape: [6],
  bound: boundOf((p: LinearParams[]) => normalizeRows(p[0].weight)),
});
lipTest("aolDense", aolDense({ features: 5 }), {
  inShape: [7],
  bound: boundOf((p: AolParams) => aolDenseWeight(p.weight)),
});
lipTest("aolConv", aolConv({ features: 4 }), {
  inShape: [3, 5, 5],
  bound: boundOf((p: AolParams) => aolConvKernel(p.weight), [5, 5]),
});
const cplD = cplDense({ inner: 9 });
lipTest("cplDense", cplD, {
  inShape: [6],
  prepare: (p: CplParams) => cplD.refresh(p, 300),
});
const cplC = cplConv({ inner: 3 });
lipTest("cplConv", cplC, {
  inShape: [2, 4, 4],
  numRuns: 6,
  prepare: (p: CplParams) => cplC.refresh(p, 300),
});
lipTest("orthogonalDense square", orthogonalDense({ features: 6 }), {
  inShape: [6],
  bound: boundOf((p: LinearParams) => bjorck(p.weight, 20)),
});
lipTest("orthogonalDense wide", orthogonalDense({ features: 3, iterations: 5 }), {
  inShape: [7],
  bound: boundOf((p: LinearParams) => bjorck(p.weight, 5)),
});
lipTest("orthogonalDense tall", orthogonalDense({ features: 7 }), {
  inShape: [3],
  bound: boundOf((p: LinearParams) => bjorck(p.weight, 20)),
});
lipTest("maxMin", maxMin(), { inShape: [6] });
lipTest("maxMin conv", maxMin(), { inShape: [4, 2, 2] });
lipTest("groupSort 3", groupSort({ groupSize: 3 }), { inShape: [9] });
lipTest(
  "serial mixed stack",
  serial(aolDense({ features: 6 }), maxMin(), sllDense({ inner: 4 })),
  { inShape: [5] },
);

// The SLL network minus its last layer is 1-Lipschitz; with linearNormalized each logit is.
const small = {
  inputShape: [1, 8, 8] as [number, number, number],
  numClasses: 1,
  nConv: 2,
  nDense: 2,
  width: 3,
  convInnerDim: 2,
  denseInnerDim: 5,
  mean: [0.5],
};
lipTest("lipschitzNetwork (paper q, one logit)", lipschitzNetwork(small), {
  inShape: [1, 8, 8],
  numRuns: 6,
});
lipTest(
  "lipschitzNetwork (space-to-depth 2, one logit)",
  lipschitzNetwork({ ...small, width: 4, spaceToDepth: 2 }),
  { inShape: [1, 8, 8], numRuns: 6 },
);
lipTest(
  "lipschitzNetwork (reference q, one logit)",
  lipschitzNetwork({ ...small, qMode: "reference" }),
  { inShape: [1, 8, 8], numRuns: 6 },
);

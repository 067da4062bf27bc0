/**
 * A gallery of subtly broken layers that `isOneLipschitz` must reject with DEFAULT options, each
 * over 5 seeds: direction-specific (a dense map 16→4 with orthonormal rows scaled by 1.01–1.05),
 * far from zero (1-Lipschitz near 0, slope 1.1 only beyond 100), spatial overlap (an AOL rescaling
 * that ignores the kernel's spatial overlap; a conv normalised by its Frobenius norm), and a whole
 * map vs per logit (`linearNormalized` 64→10). Also: failures explain themselves (ratio, labelled
 * counterexample, fast-check's cause), and an exception of the layer is reported as such.
 */
import assert from "node:assert/strict";
import {
  abs,
  add,
  clip,
  conv2d,
  div,
  matmul,
  maximum,
  mul,
  norm,
  relu,
  reshape,
  sub,
  sum,
  swapLast,
  type Tensor,
  tensor,
} from "../tensor/mod.ts";
import { normal, randomKey, split } from "../tensor/random.ts";
import { memory, scope } from "../tensor/scope.ts";
import { bjorck, type Layer, linearNormalized, safeRsqrt } from "../layers/mod.ts";
import { convSpectralBound, denseSpectralBound } from "../certify/gram.ts";
import { estimateLipschitz } from "../certify/lipschitz.ts";
import { isOneLipschitz, LipschitzViolation } from "../testing.ts";

const SEEDS = [1, 2, 3, 4, 5];

type W = { weight: Tensor };

/** y = c·Qx with Q [4, 16] orthonormal rows: ratio c only along Q's 4-dim row space. */
function scaledOrthonormal(c: number, outputs = 4): Layer<W> {
  return {
    init: (key, inShape) => ({
      outShape: [outputs],
      params: { weight: scope(() => mul(bjorck(normal(key, [outputs, inShape[0]]), 40), c)) },
    }),
    apply: (p, x) => matmul(x, swapLast(p.weight)),
  };
}

/** Identity plus 0.1·(x − clip(x, ±100)): slope 1.1 only where a coordinate exceeds 100. */
function farCoordinates(): Layer<Record<never, never>> {
  return {
    init: (_k, s) => ({ outShape: [...s], params: {} }),
    apply: (_p, x) => add(x, mul(sub(x, clip(x, -100, 100)), 0.1)),
  };
}

/** x·(1 + 0.1·relu(‖x‖ − 100)/‖x‖): radial slope 1.1 only for ‖x‖ > 100. */
function farRadial(): Layer<Record<never, never>> {
  return {
    init: (_k, s) => ({ outShape: [...s], params: {} }),
    apply: (_p, x) => {
      const axes = x.shape.map((_, i) => i).slice(1);
      const n = maximum(norm(x, axes, true), 1e-30);
      return add(x, mul(div(x, n), mul(relu(sub(n, 100)), 0.1)));
    },
  };
}

/** An orthogonal 8×8 map followed by farRadial: the violation lives far out, in any direction. */
function farAfterOrthogonal(): Layer<W> {
  const far = farRadial();
  return {
    init: (key, s) => ({
      outShape: [...s],
      params: { weight: bjorck(normal(key, [s[0], s[0]]), 40) },
    }),
    apply: (p, x) => far.apply({}, matmul(x, swapLast(p.weight))),
  };
}

/**
 * AOL-style conv that ignores the spatial overlap: d_i = (Σ_j |Σ_{o,a,b} P_oia·P_oja|)^(−1/2)
 * rescales as if the taps never overlapped (the correct AOL uses conv(Pᵀ, Pᵀ, pad k−1)).
 */
function aolNoOverlap(cout: number): Layer<W> {
  return {
    init: (key, s) => ({
      outShape: [cout, s[1], s[2]],
      params: { weight: normal(key, [cout, s[0], 3, 3]) },
    }),
    apply: (p, x) => {
      const [o, c] = p.weight.shape;
      const flat = reshape(swapLast(reshape(p.weight, [o, c, 9])), [o * 9, c]); // rows (o, tap)
      const g = matmul(swapLast(flat), flat); // [c, c], no cross-tap terms
      const d = safeRsqrt(sum(abs(g), 1));
      return conv2d(x, mul(p.weight, reshape(d, [1, c, 1, 1])), { padding: 1 });
    },
  };
}

/** A conv whose kernel is divided by its Frobenius norm (‖K‖_F = 1 does not make ‖conv‖ ≤ 1). */
function frobeniusConv(cout: number): Layer<W> {
  return {
    init: (key, s) => ({
      outShape: [cout, s[1], s[2]],
      params: { weight: normal(key, [cout, s[0], 3, 3]) },
    }),
    apply: (p, x) => conv2d(x, div(p.weight, norm(p.weight)), { padding: 1 }),
  };
}

async function caught<P>(name: string, layer: Layer<P>, inShape: number[]): Promise<void> {
  const before = memory().tensors;
  for (const seed of SEEDS) {
    const t0 = performance.now();
    const err = await isOneLipschitz(layer, { inShape, seed, name }).then(
      (r) => assert.fail(`${name} (seed ${seed}) passed: ${r.summary}`),
      (e) => e,
    );
    assert.ok(err instanceof LipschitzViolation, `${name}: ${err}`);
    const c = err.counterexample;
    assert.ok(c.ratio > 1, `${name}: ratio ${c.ratio}`);
    console.log(
      `  ${name}, seed ${seed}: caught in ${
        ((performance.now() - t0) / 1000).toFixed(2)
      } s by ${c.search}, ratio ${c.ratio.toFixed(4)}, ‖x‖ ${c.inputNorm.toExponential(2)}`,
    );
  }
  assert.equal(memory().tensors, before, "live tensors back to baseline");
}

for (const c of [1.01, 1.03, 1.05]) {
  Deno.test(`gallery: dense 16→4, orthonormal rows ×${c} (direction-specific)`, async () => {
    await caught(`orthonormal×${c}`, scaledOrthonormal(c), [16]);
  });
}

Deno.test("gallery: a float32 weight held by the layer (not a parameter), 16→4 ×1.02", async () => {
  // not dtype-generic: the float64 default falls back to float32 and still catches it
  const q = scope(() => mul(bjorck(normal(randomKey(9), [4, 16]), 40), 1.02));
  const fixed: Layer<Record<never, never>> = {
    init: () => ({ outShape: [4], params: {} }),
    apply: (_p, x) => matmul(x, swapLast(q)),
  };
  await caught("fixed float32 weight ×1.02", fixed, [16]);
  const ok = await isOneLipschitz(fixed, { inShape: [16], seed: 1, scales: [1] }).then(
    () => null,
    (e) => e as LipschitzViolation,
  );
  assert.equal(ok?.counterexample.dtype, "float32");
  q.dispose();
});

Deno.test("gallery: slope 1.1 only where a coordinate exceeds 100 (far from zero)", async () => {
  await caught("far coordinates", farCoordinates(), [16]);
});

Deno.test("gallery: radial slope 1.1 only for ‖x‖ > 100, alone and after a rotation", async () => {
  await caught("far radial", farRadial(), [16]);
  await caught("far radial after rotation", farAfterOrthogonal(), [8]);
});

Deno.test("gallery: AOL rescaling that ignores the kernel's spatial overlap", async () => {
  const layer = aolNoOverlap(4);
  const p = layer.init(randomKey(0), [3, 8, 8]).params;
  // its true constant on 8×8 inputs, between a power-method lower bound and a certified bound
  const k = scope(() => {
    const [o, c] = p.weight.shape;
    const flat = reshape(swapLast(reshape(p.weight, [o, c, 9])), [o * 9, c]);
    const d = safeRsqrt(sum(abs(matmul(swapLast(flat), flat)), 1));
    return mul(p.weight, reshape(d, [1, c, 1, 1]));
  });
  const x = normal(randomKey(1), [1, 3, 8, 8]);
  const [lo] = await estimateLipschitz((z) => layer.apply(p, z), x, { iterations: 200 });
  const hi = await convSpectralBound(k, [8, 8]);
  console.log(`  true constant in [${lo.toFixed(4)}, ${hi.toFixed(4)}]`);
  assert.ok(lo > 1.05 && lo <= hi * (1 + 1e-6), `${lo} ≤ ${hi}`);
  for (const t of [p.weight, k, x]) t.dispose();
  await caught("AOL without overlap", layer, [3, 8, 8]);
  await caught("AOL without overlap, 1 channel", aolNoOverlap(1), [1, 6, 6]);
});

Deno.test("gallery: conv normalised by its Frobenius norm", async () => {
  await caught("Frobenius conv 1→1", frobeniusConv(1), [1, 8, 8]);
  await caught("Frobenius conv 2→2", frobeniusConv(2), [2, 5, 5]);
});

Deno.test("gallery: linearNormalized 64→10 as a whole map (each logit is 1-Lipschitz)", async () => {
  const layer = linearNormalized({ features: 10 });
  const p = layer.init(randomKey(0), [64]).params;
  const w = scope(() => div(p.weight, norm(p.weight, 1, true)));
  const b = await denseSpectralBound(w);
  console.log(`  whole-map constant ≤ ${b.toFixed(4)}`);
  assert.ok(b > 1.2, `${b}`);
  for (const t of [p.weight, p.bias, w]) t.dispose();
  await caught("linearNormalized 64→10", layer, [64]);
});

Deno.test("a failure explains itself: ratio, labelled counterexample, fast-check's cause", async () => {
  const before = memory().tensors;
  const err = await isOneLipschitz(scaledOrthonormal(1.02), {
    inShape: [16],
    seed: 7,
    name: "Q×1.02",
  })
    .then(() => null, (e) => e);
  assert.ok(err instanceof LipschitzViolation);
  assert.match(
    err.message,
    /^isOneLipschitz\(Q×1\.02\) failed \(fast-check seed 7, run \d+\): ‖f\(x\)−f\(y\)‖\/‖x−y‖ = 1\.02\d* > 1 .*found by (jacobian power iteration|gradient ascent|random pairs).*parameter scales \{weight×[\d.e+-]+\}, input scale .*distance ‖x−y‖ = .*worst ratio found 1\.0\d*\. Replay with \{ seed: 7 \}/,
  );
  const c = err.counterexample;
  assert.equal(c.seed, 7);
  assert.equal(c.dtype, "float64");
  assert.equal(c.x.length, 16);
  // the reported pair is the pair measured
  const ratio = Math.hypot(...c.x.map((v, i) => v - c.y[i]));
  assert.ok(Math.abs(ratio - c.distance) <= 1e-9 * c.distance, `${ratio} vs ${c.distance}`);
  assert.ok(err.cause instanceof Error, "fast-check's error is the cause");
  assert.match((err.cause as Error).message, /Property failed/);
  assert.ok(err.worstRatio >= c.ratio);
  assert.equal(memory().tensors, before);
});

Deno.test("an exception in the layer is an error of the layer, never a violation", async () => {
  const before = memory().tensors;
  const dense: Layer<W> = {
    init: (key) => ({ outShape: [3], params: { weight: normal(key, [3, 4]) } }),
    apply: (p, x) => matmul(x, swapLast(p.weight)),
  };
  // wrong inShape: the layer's own TypeError, with its message and cause
  const e1 = await isOneLipschitz(dense, { inShape: [5], seed: 1, name: "dense" }).then(
    () => null,
    (e) => e,
  );
  assert.ok(e1 instanceof TypeError && !(e1 instanceof LipschitzViolation), String(e1));
  assert.match(
    e1.message,
    /isOneLipschitz\(dense\): the layer threw in apply .*not a Lipschitz violation.*matmul/,
  );
  assert.ok(e1.cause instanceof TypeError);
  // a throw in init keeps a custom cause chain
  const root = new Error("disk full");
  const failing: Layer<W> = {
    init: () => {
      throw new RangeError("cannot init", { cause: root });
    },
    apply: (p, x) => matmul(x, p.weight),
  };
  const e2 = await isOneLipschitz(failing, { inShape: [4], seed: 2 }).then(() => null, (e) => e);
  assert.ok(e2 instanceof RangeError, String(e2));
  assert.match(e2.message, /threw in init \(inShape \[4\]\).*RangeError: cannot init/);
  assert.equal((e2.cause as Error).cause, root);
  // a bad inShape argument is our TypeError before anything runs
  await assert.rejects(isOneLipschitz(dense, { inShape: [0] }), TypeError);
  assert.equal(memory().tensors, before);
});

Deno.test("a certified bound proves; an unsound one is caught", async () => {
  const before = memory().tensors;
  const q = scaledOrthonormal(0.999);
  // with the default parameter scales (up to 1e3) the map is not 1-Lipschitz: the bound says so
  // (it is > 1, no proof) and the search finds the violation
  await assert.rejects(
    isOneLipschitz(q, { inShape: [16], seed: 3, bound: (p) => denseSpectralBound(p.weight) }),
    LipschitzViolation,
  );
  const proved = await isOneLipschitz(q, {
    inShape: [16],
    seed: 3,
    scales: [1e-3, 0.1, 1],
    bound: (p) => denseSpectralBound(p.weight),
  });
  assert.equal(proved.verdict, "proved", proved.summary);
  assert.ok(proved.bound! <= 1 && proved.bound! > 0.99, proved.summary);
  assert.match(proved.summary, /^proved ≤ 0\.99/);
  const lying = await isOneLipschitz(q, { inShape: [16], seed: 3, scales: [1], bound: () => 0.5 })
    .then(() => null, (e) => e);
  assert.ok(lying instanceof LipschitzViolation, String(lying));
  assert.equal(lying.counterexample.kind, "unsound bound");
  assert.match(lying.message, /above the certified bound 0\.5 supplied \(the bound is unsound\)/);
  assert.equal(memory().tensors, before);
});

Deno.test("gram bounds: exact on known spectra, never below the truth", async () => {
  const before = memory().tensors;
  const t = tensor([[3, 0], [0, 1]], { dtype: "float64" });
  const b = await denseSpectralBound(t);
  assert.ok(b >= 3 && b < 3 * (1 + 1e-12), `${b}`);
  const [kq] = split(randomKey(4), 1);
  const qm = scope(() => bjorck(normal(kq, [6, 6], "float64"), 60));
  const bq = await denseSpectralBound(qm);
  assert.ok(bq >= 1 - 1e-12 && bq < 1 + 1e-10, `orthogonal: ${bq}`);
  // a random matrix: the bound is above the power-method estimate and close to it
  const m = normal(randomKey(5), [7, 5], "float64");
  const x5 = normal(randomKey(6), [1, 5], "float64");
  const [lo] = await estimateLipschitz((z) => matmul(z, swapLast(m)), x5, { iterations: 500 });
  const hi = await denseSpectralBound(m);
  assert.ok(lo <= hi && hi < lo * 1.01, `${lo} ≤ ${hi}`);
  // a conv: the certified bound is ≥ the zero-padded operator's norm on that size, for padding 0–2
  const k = normal(randomKey(7), [3, 2, 3, 3], "float64");
  const hk = await convSpectralBound(k, [6, 6]);
  const x6 = normal(randomKey(8), [1, 2, 6, 6], "float64");
  for (const padding of [0, 1, 2]) {
    const [lk] = await estimateLipschitz((z) => conv2d(z, k, { padding }), x6, { iterations: 60 });
    assert.ok(lk <= hk, `padding ${padding}: ${lk} ≤ ${hk}`);
    if (padding === 2) assert.ok(hk < lk * 1.05, `full conv: ${hk} close to ${lk}`);
  }
  await assert.rejects(convSpectralBound(k, [6]), RangeError);
  await assert.rejects(denseSpectralBound(k), TypeError);
  for (const x of [t, qm, m, k, x5, x6]) x.dispose();
  assert.equal(memory().tensors, before);
});

// Tests of the CPU elementwise fuser against the unfused kernels: random programs of elementwise
// ops (broadcasting, int32 compare/where/cast, float64, NaN/±Inf/±0) agree bit for bit (NaN
// payloads aside), gradients of an SLL network agree bit for bit, an array read by a pending
// value survives its tensor's disposal and the pool's reuse, and nothing stays pinned or live.
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  abs,
  add,
  broadcastTo,
  cast,
  crossEntropy,
  dispose,
  div,
  exp,
  greater,
  keep,
  lessEqual,
  log,
  maximum,
  minimum,
  mul,
  neg,
  scope,
  sign,
  sqrt,
  sub,
  type Tensor,
  tensor,
  where,
} from "../../tensor/mod.ts";
import { setCpuFusion } from "./backend.ts";
import { fusionStats, pinnedArrays, setWasmFusionMin } from "./fusion.ts";
import { check, leakFreeTest } from "../../tests/helpers.ts";
import { lipschitzNetwork } from "../../layers/mod.ts";
import { valueAndGrad } from "../../autodiff/autodiff.ts";
import { randomKey, uniform } from "../../tensor/random.ts";
import { leaves } from "../../tensor/tree.ts";
import type { DType } from "../dtype.ts";

/** Runs `f` with fusion on or off (on: its loops as WebAssembly SIMD or JS), restoring both. */
function withFusion<T>(on: boolean, f: () => T, loop: "simd" | "js" = "simd"): T {
  const was = setCpuFusion(on);
  const min = setWasmFusionMin(loop === "simd" ? 0 : Infinity);
  try {
    return f();
  } finally {
    setCpuFusion(was);
    setWasmFusionMin(min);
  }
}

/** Bit-for-bit equality of two host arrays (any NaN equals any NaN). */
function assertSameBits(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths`);
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) && Number.isNaN(b[i])) continue;
    assert.ok(Object.is(a[i], b[i]), `${what}: element ${i} is ${a[i]} fused, ${b[i]} unfused`);
  }
}

const SHAPES: number[][] = [[2, 3, 4], [1, 3, 1], [], [2, 1, 4], [3, 4], [2, 3, 4]];
const special = fc.oneof(
  fc.float({ noDefaultInfinity: false, noNaN: false }),
  fc.constantFrom(0, -0, 1, -1, 0.5, Infinity, -Infinity, NaN),
);

type Op = { kind: number; a: number; b: number; c: number; drop: boolean };
const opArb = fc.record({
  kind: fc.nat(17),
  a: fc.nat(),
  b: fc.nat(),
  c: fc.nat(),
  drop: fc.boolean(),
});

/** Builds the program's values from leaves; returns the tensors to read (the rest disposed). */
function program(
  leafData: number[][],
  ops: Op[],
  dtype: DType,
  readEarly: boolean,
): Float64Array[] {
  return scope(() => {
    const vals: Tensor[] = SHAPES.map((s, i) =>
      tensor(leafData[i].slice(0, s.reduce((x, y) => x * y, 1)), { shape: s, dtype })
    );
    const early: Float64Array[] = [];
    for (const op of ops) {
      const alive = vals.filter((t) => !t.isDisposed);
      const x = alive[op.a % alive.length], y = alive[op.b % alive.length];
      const z = alive[op.c % alive.length];
      const f = (t: Tensor): Tensor => (t.dtype === "int32" ? cast(t, dtype) : t);
      let r: Tensor;
      switch (op.kind) {
        case 0:
          r = add(f(x), f(y));
          break;
        case 1:
          r = sub(f(x), f(y));
          break;
        case 2:
          r = mul(f(x), f(y));
          break;
        case 3:
          r = div(f(x), f(y));
          break;
        case 4:
          r = maximum(f(x), f(y));
          break;
        case 5:
          r = minimum(f(x), f(y));
          break;
        case 6:
          r = greater(f(x), f(y)); // int32
          break;
        case 7:
          r = lessEqual(f(x), f(y));
          break;
        case 8:
          r = where(x.dtype === "int32" ? x : greater(x, 0), f(y), f(z));
          break;
        case 9:
          r = neg(f(x));
          break;
        case 10:
          r = exp(f(x));
          break;
        case 11:
          r = log(f(x));
          break;
        case 12:
          r = sqrt(f(x));
          break;
        case 13:
          r = abs(f(x));
          break;
        case 14:
          r = sign(f(x));
          break;
        case 15:
          r = cast(f(x), "int32");
          break;
        case 16:
          r = broadcastTo(f(x), [2, 3, 4]);
          break;
        default:
          r = add(cast(x, "int32"), cast(y, "int32")); // int32 arithmetic
      }
      vals.push(r);
      if (readEarly && op.drop) early.push(Float64Array.from(r.dataSync()));
      if (op.drop && !readEarly) x.dispose(); // its pending consumers must still see it
    }
    const live = vals.filter((t) => !t.isDisposed);
    return [...early, ...live.map((t) => Float64Array.from(t.dataSync()))];
  });
}

leakFreeTest(
  "fusion: random elementwise programs agree with the unfused kernels bit for bit",
  () => {
    check(
      fc.property(
        fc.array(fc.array(special, { minLength: 24, maxLength: 24 }), {
          minLength: SHAPES.length,
          maxLength: SHAPES.length,
        }),
        fc.array(opArb, { minLength: 1, maxLength: 40 }),
        fc.constantFrom<DType>("float32", "float32", "float64"),
        fc.boolean(),
        (leafData, ops, dtype, readEarly) => {
          const fused = withFusion(true, () => program(leafData, ops, dtype, readEarly));
          const plain = withFusion(false, () => program(leafData, ops, dtype, readEarly));
          assert.equal(fused.length, plain.length);
          fused.forEach((v, i) => assertSameBits(v, plain[i], `value ${i}`));
          assert.equal(pinnedArrays(), 0, "arrays still pinned after the scope");
        },
      ),
      60,
    );
  },
);

leakFreeTest("fusion: a chain runs as one loop, and its inputs outlive their tensors", () => {
  const n = 1 << 15; // pooled size
  const loops0 = fusionStats.loops;
  const out = withFusion(true, () =>
    scope(() => {
      const a = tensor(Float32Array.from({ length: n }, (_, i) => i));
      const b = tensor(Float32Array.from({ length: n }, () => 2));
      const r = keep(neg(mul(add(a, b), b))); // pending until kept
      return r;
    }));
  assert.equal(fusionStats.loops - loops0, 1, "one loop for add → mul → neg");
  const late = withFusion(true, () =>
    scope(() => {
      const a = tensor(Float32Array.from({ length: n }, (_, i) => i));
      const r = mul(a, 3); // pending, reading a's array
      a.dispose(); // a's array must not go back to the pool yet
      const other = tensor(new Float32Array(n).fill(-7)); // would reuse a freed array
      assert.equal(pinnedArrays(), 2, "a and the scalar are pinned");
      return keep([r, other]);
    }));
  const v = out.dataSync(), w = late[0].dataSync();
  for (let i = 0; i < n; i += 997) {
    assert.equal(v[i], -(i + 2) * 2);
    assert.equal(w[i], 3 * i);
  }
  dispose([out, late]);
  assert.equal(pinnedArrays(), 0);
});

leakFreeTest(
  "fusion: SLL network loss and gradients agree with the unfused kernels bit for bit",
  () => {
    const net = lipschitzNetwork({
      inputShape: [1, 8, 8],
      numClasses: 4,
      nConv: 2,
      nDense: 2,
      width: 4,
      convInnerDim: 3,
      denseInnerDim: 16,
      mean: [0.5],
    });
    const params = keep(scope(() => net.init(randomKey(3)).params));
    const x = keep(uniform(randomKey(4), [5, 1, 8, 8], 0, 1));
    const y = keep(tensor([0, 1, 2, 3, 1], { dtype: "int32" }));
    const lossAndGrad = valueAndGrad((p: typeof params) => crossEntropy(net.apply(p, x), y));
    const run = (on: boolean) =>
      withFusion(on, () =>
        scope(() => {
          const [l, g] = lossAndGrad(params);
          return [l.dataSync(), ...leaves(g).map((t) => t.dataSync())];
        }));
    const fused = run(true), plain = run(false);
    fused.forEach((v, i) => assertSameBits(v, plain[i], `output ${i}`));
    dispose([params, x, y]);
  },
);

/**
 * tensor/complex.ts against float64 host references: products, conjugate transpose, solves and
 * the Newton–Schulz inverse square root, then gradient checks through each composite.
 */
import assert from "node:assert/strict";
import {
  ceye,
  cinverse,
  cinvSqrtNewtonSchulz,
  cmatmul,
  cmul,
  complex,
  conj,
  csolve,
  ctranspose,
  imag,
  real,
  realEmbedding,
} from "./complex.ts";
import { add, mul, tensor } from "./ops.ts";
import { scope } from "./scope.ts";
import type { Tensor } from "./tensor.ts";
import { assertClose, leakFreeTest } from "../tests/helpers.ts";
import { f64, gradCheck, hostCMatmul, hostComplex, interleave } from "../tests/spectral_helpers.ts";

function t(name: string, fn: () => void): void {
  leakFreeTest(`complex: ${name}`, () => scope(fn));
}
const arr = (x: Tensor): number[] => Array.from(x.dataSync());

t("complex/real/imag/conj/cmul match host arithmetic, with broadcasting", () => {
  const a = f64(1, [3, 4, 2]), b = f64(2, [4, 2]);
  const av = arr(a), bv = arr(b);
  const want: number[] = [];
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 4; j++) {
      const [ar, ai] = [av[(i * 4 + j) * 2], av[(i * 4 + j) * 2 + 1]];
      const [br, bi] = [bv[j * 2], bv[j * 2 + 1]];
      want.push(ar * br - ai * bi, ar * bi + ai * br);
    }
  }
  assertClose(arr(cmul(a, b)), want, { rtol: 1e-14, atol: 1e-15 });
  assertClose(arr(conj(a)), av.map((v, i) => (i % 2 ? -v : v)), { rtol: 0, atol: 0 });
  assertClose(arr(complex(real(a), imag(a))), av, { rtol: 0, atol: 0 });
  assert.throws(() => cmul(f64(1, [3]), b), /cmul: expected a complex tensor \[\.\.\., 2\]/);
});

t("cmatmul and ctranspose match host complex matrices (batched, broadcast batch)", () => {
  const a = f64(3, [2, 3, 4, 2]), b = f64(4, [4, 5, 2]);
  const got = arr(cmatmul(a, b)), av = arr(a), bb = hostComplex(arr(b), 4, 5);
  for (let i = 0; i < 2; i++) {
    const ai = hostComplex(av.slice(i * 24, i * 24 + 24), 3, 4);
    assertClose(got.slice(i * 30, i * 30 + 30), interleave(hostCMatmul(ai, bb)), {
      rtol: 1e-13,
      atol: 1e-14,
    });
  }
  const h = arr(ctranspose(f64(5, [3, 4, 2]))), src = arr(f64(5, [3, 4, 2]));
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 4; j++) {
      assert.equal(h[(j * 3 + i) * 2], src[(i * 4 + j) * 2]);
      assert.equal(h[(j * 3 + i) * 2 + 1], -src[(i * 4 + j) * 2 + 1]);
    }
  }
  // the real embedding is a homomorphism: E(AB) = E(A)E(B)
  const c = f64(6, [4, 3, 2]);
  const lhs = arr(realEmbedding(cmatmul(f64(3, [3, 4, 2]), c)));
  const e1 = realEmbedding(f64(3, [3, 4, 2])), e2 = realEmbedding(c);
  const m = arr(e1), n = arr(e2), prod: number[] = [];
  for (let i = 0; i < 6; i++) {
    for (let j = 0; j < 6; j++) {
      let s = 0;
      for (let k = 0; k < 8; k++) s += m[i * 8 + k] * n[k * 6 + j];
      prod.push(s);
    }
  }
  assertClose(lhs, prod, { rtol: 1e-13, atol: 1e-14 });
});

t("csolve solves A·X = B and cinverse(A)·A = I (float64 residuals)", () => {
  const n = 4;
  // A = M + 3I: well conditioned, complex, batched over 2 matrices
  const a = add(f64(7, [2, n, n, 2]), mul(ceye(n, "float64"), 3));
  const b = f64(8, [2, n, 3, 2]);
  const x = csolve(a, b);
  assertClose(arr(cmatmul(a, x)), arr(b), { rtol: 1e-10, atol: 1e-11 });
  const inv = cinverse(a);
  const eye = arr(ceye(n, "float64"));
  assertClose(arr(cmatmul(inv, a)).slice(0, 32), eye, { rtol: 0, atol: 1e-10 });
  assertClose(arr(cmatmul(inv, a)).slice(32), eye, { rtol: 0, atol: 1e-10 });
  // 1×1 by hand: 4 / 2i = −2i
  assertClose(
    arr(csolve(tensor([[[0, 2]]], { dtype: "float64" }), tensor([[[4, 0]]], { dtype: "float64" }))),
    [0, -2],
    {
      rtol: 0,
      atol: 1e-12,
    },
  );
});

t("cinvSqrtNewtonSchulz: Z·S·Z = I for Hermitian positive definite S", () => {
  const n = 3;
  const m = f64(9, [2, n, n, 2]);
  const s = add(cmatmul(ctranspose(m), m), mul(ceye(n, "float64"), 0.5)); // S = M*M + I/2
  const z = cinvSqrtNewtonSchulz(s, 30);
  const zsz = arr(cmatmul(cmatmul(z, s), z));
  const eye = arr(ceye(n, "float64"));
  assertClose(zsz, [...eye, ...eye], { rtol: 0, atol: 1e-9 });
  // Z is Hermitian
  assertClose(arr(ctranspose(z)), arr(z), { rtol: 0, atol: 1e-10 });
  // scalar: 4^(−1/2) = 1/2
  assertClose(arr(cinvSqrtNewtonSchulz(tensor([[[4, 0]]], { dtype: "float64" }), 10)), [0.5, 0], {
    rtol: 0,
    atol: 1e-12,
  });
  assert.throws(() => cinvSqrtNewtonSchulz(f64(1, [2, 3, 2]), 3), /must be square/);
  assert.throws(() => cinvSqrtNewtonSchulz(s, -1), RangeError);
});

t("gradients: cmul, cmatmul, ctranspose, csolve and the Newton–Schulz root (float64)", () => {
  gradCheck((a, b) => cmul(conj(a), b), [f64(11, [3, 2]), f64(12, [2, 3, 2])]);
  gradCheck((a, b) => cmatmul(ctranspose(a), b), [f64(13, [2, 3, 2]), f64(14, [2, 4, 2])]);
  const eye3 = mul(ceye(3, "float64"), 3);
  gradCheck((a, b) => csolve(add(a, eye3), b), [f64(15, [2, 3, 3, 2]), f64(16, [3, 2, 2])]);
  gradCheck((a) => cinverse(add(a, eye3)), [f64(17, [3, 3, 2])], { rtol: 1e-5 });
  gradCheck(
    (m) => cinvSqrtNewtonSchulz(add(cmatmul(ctranspose(m), m), ceye(3, "float64")), 12),
    [f64(18, [3, 3, 2])],
    { rtol: 1e-5 },
  );
});

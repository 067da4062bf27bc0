/**
 * Complex arithmetic on the [..., 2] representation (a real tensor whose last axis holds
 * (re, im)): products, conjugate transpose, batched matrix products, solves through the real
 * embedding [[Ar, −Ai], [Ai, Ar]], and the Newton–Schulz inverse square root. Every function is
 * a composite of real primitives, so gradients come for free and the dtype is the input's.
 * @module
 */
import { fmt } from "../kernels/shape.ts";
import type { DType } from "../kernels/dtype.ts";
import type { Tensor } from "./tensor.ts";
import { tensor } from "./create.ts";
import { add, div, mul, neg, sqrt, sub } from "./prims/elementwise.ts";
import { matmul } from "./prims/linalg.ts";
import { concat, expandDims, reshape, slice, swapLast } from "./prims/layout.ts";
import { sum } from "./prims/reduce.ts";
import { solve } from "./prims/solve.ts";

function checkComplex(z: Tensor, op: string, minRank = 1): void {
  if (z.rank < minRank || z.shape[z.rank - 1] !== 2) {
    throw new TypeError(
      `${op}: expected a complex tensor [..., 2] of rank ≥ ${minRank} (last axis re, im), got ${
        fmt(z.shape)
      }`,
    );
  }
}

/** z[..., i] with the last axis dropped. */
function part(z: Tensor, i: 0 | 1): Tensor {
  const lead = z.shape.slice(0, -1);
  return reshape(slice(z, [...lead.map(() => 0), i], [...lead, 1]), lead);
}

/**
 * The complex tensor re + i·im as [..., 2] (re and im of equal shape and dtype).
 *
 * @example
 * ```ts
 * import { complex, tensor } from "@sll/sll";
 * const z = complex(tensor([1, 2]), tensor([0, -1])); // [[1, 0], [2, -1]]
 * ```
 */
export function complex(re: Tensor, im: Tensor): Tensor {
  if (re.shape.length !== im.shape.length || re.shape.some((d, i) => d !== im.shape[i])) {
    throw new TypeError(
      `complex: re ${fmt(re.shape)} and im ${fmt(im.shape)} must have the same shape`,
    );
  }
  return concat([expandDims(re, -1), expandDims(im, -1)], -1);
}

/**
 * The real part of a complex [..., 2] tensor (shape [...]).
 *
 * @example
 * ```ts
 * import { real, tensor } from "@sll/sll";
 * const r = real(tensor([[1, 5], [2, 6]])); // [1, 2]
 * ```
 */
export function real(z: Tensor): Tensor {
  checkComplex(z, "real");
  return part(z, 0);
}

/**
 * The imaginary part of a complex [..., 2] tensor (shape [...]).
 *
 * @example
 * ```ts
 * import { imag, tensor } from "@sll/sll";
 * const i = imag(tensor([[1, 5], [2, 6]])); // [5, 6]
 * ```
 */
export function imag(z: Tensor): Tensor {
  checkComplex(z, "imag");
  return part(z, 1);
}

/**
 * Complex conjugate re − i·im.
 *
 * @example
 * ```ts
 * import { conj, tensor } from "@sll/sll";
 * const c = conj(tensor([[1, 2]])); // [[1, -2]]
 * ```
 */
export function conj(z: Tensor): Tensor {
  checkComplex(z, "conj");
  return complex(part(z, 0), neg(part(z, 1)));
}

/**
 * Elementwise complex product (ar·br − ai·bi) + i(ar·bi + ai·br), broadcasting the leading axes.
 *
 * @example
 * ```ts
 * import { cmul, tensor } from "@sll/sll";
 * const p = cmul(tensor([[0, 1]]), tensor([[0, 1]])); // i·i = [[-1, 0]]
 * ```
 */
export function cmul(a: Tensor, b: Tensor): Tensor {
  checkComplex(a, "cmul");
  checkComplex(b, "cmul");
  const ar = part(a, 0), ai = part(a, 1), br = part(b, 0), bi = part(b, 1);
  return complex(sub(mul(ar, br), mul(ai, bi)), add(mul(ar, bi), mul(ai, br)));
}

/**
 * Conjugate transpose A* of a batch of complex matrices [..., m, n, 2] → [..., n, m, 2].
 *
 * @example
 * ```ts
 * import { ctranspose, tensor } from "@sll/sll";
 * const h = ctranspose(tensor([[[1, 1], [2, 0]]])); // [[[1, -1]], [[2, 0]]]
 * ```
 */
export function ctranspose(a: Tensor): Tensor {
  checkComplex(a, "ctranspose", 3);
  return complex(swapLast(part(a, 0)), neg(swapLast(part(a, 1))));
}

/**
 * Batched complex matrix product [..., m, k, 2] · [..., k, n, 2] → [..., m, n, 2], batch axes
 * broadcast as `matmul`'s: (ArBr − AiBi) + i(ArBi + AiBr). Done as ONE real matmul without
 * moving `a`: viewed as [..., m, 2k] (re, im interleaved), it multiplies the [..., 2k, 2n]
 * matrix whose row pairs are (Br, Bi) and (−Bi, Br) interleaved, and the [..., m, 2n] result is
 * the product interleaved — so put the larger operand first.
 *
 * @example
 * ```ts
 * import { cmatmul, tensor } from "@sll/sll";
 * const a = tensor([[[0, 1]]]); // the 1×1 matrix [i]
 * const p = cmatmul(a, a); // [[[-1, 0]]]
 * ```
 */
export function cmatmul(a: Tensor, b: Tensor): Tensor {
  checkComplex(a, "cmatmul", 3);
  checkComplex(b, "cmatmul", 3);
  const [m, k] = a.shape.slice(-3, -1), [kb, n] = b.shape.slice(-3, -1);
  if (k !== kb) {
    throw new TypeError(
      `cmatmul: inner sizes differ: a ${fmt(a.shape)} is m×k = ${m}×${k}, b ${
        fmt(b.shape)
      } is ${kb}×${n}; b needs k rows`,
    );
  }
  // i·B: (re, im) → (−im, re), a 2×2 rotation of the last axis
  const rot = tensor([0, 1, -1, 0], { shape: [2, 2], dtype: b.dtype });
  const ib = matmul(b, rot);
  const lead = b.shape.slice(0, -3);
  const rows = concat([expandDims(b, -3), expandDims(ib, -3)], -3); // [..., k, 2, n, 2]
  const bb = reshape(rows, [...lead, 2 * k, 2 * n]);
  const y = matmul(reshape(a, [...a.shape.slice(0, -3), m, 2 * k]), bb);
  return reshape(y, [...y.shape.slice(0, -1), n, 2]);
}

/**
 * The n×n complex identity [n, n, 2] in `dtype`.
 *
 * @example
 * ```ts
 * import { ceye } from "@sll/sll";
 * const i2 = ceye(2); // [[[1,0],[0,0]],[[0,0],[1,0]]]
 * ```
 */
export function ceye(n: number, dtype: DType = "float32"): Tensor {
  if (!(Number.isInteger(n) && n >= 0)) {
    throw new RangeError(`ceye: n must be a non-negative integer, got ${n}`);
  }
  const v = new Array<number>(n * n * 2).fill(0);
  for (let i = 0; i < n; i++) v[(i * n + i) * 2] = 1;
  return tensor(v, { shape: [n, n, 2], dtype });
}

/**
 * The real embedding of complex matrices [..., m, n, 2] → [..., 2m, 2n] = [[Ar, −Ai], [Ai, Ar]]:
 * the real matrix acting on [xr; xi] as A acts on x. It maps products to products and A* to
 * the transpose, so singular values are those of A, each twice.
 *
 * @example
 * ```ts
 * import { realEmbedding, tensor } from "@sll/sll";
 * const e = realEmbedding(tensor([[[1, 2]]])); // [[1, -2], [2, 1]]
 * ```
 */
export function realEmbedding(a: Tensor): Tensor {
  checkComplex(a, "realEmbedding", 3);
  const ar = part(a, 0), ai = part(a, 1);
  return concat([concat([ar, neg(ai)], -1), concat([ai, ar], -1)], -2);
}

/**
 * Solves A·X = B for complex A [..., n, n, 2] and B [..., n, k, 2] (batch axes broadcast), by
 * the real solve of [[Ar, −Ai], [Ai, Ar]]·[Xr; Xi] = [Br; Bi].
 *
 * @example
 * ```ts
 * import { csolve, tensor } from "@sll/sll";
 * const x = csolve(tensor([[[0, 2]]]), tensor([[[4, 0]]])); // 4 / 2i = −2i: [[[0, -2]]]
 * ```
 */
export function csolve(a: Tensor, b: Tensor): Tensor {
  checkComplex(a, "csolve", 3);
  checkComplex(b, "csolve", 3);
  const n = a.shape[a.rank - 2];
  if (a.shape[a.rank - 3] !== n || b.shape[b.rank - 3] !== n) {
    throw new TypeError(
      `csolve: A must be [..., n, n, 2] and B [..., n, k, 2], got A ${fmt(a.shape)} and B ${
        fmt(b.shape)
      }`,
    );
  }
  const x = solve(realEmbedding(a), concat([part(b, 0), part(b, 1)], -2)); // [..., 2n, k]
  const lead = x.shape.slice(0, -2), k = x.shape[x.rank - 1];
  const xr = slice(x, [...lead.map(() => 0), 0, 0], [...lead, n, k]);
  const xi = slice(x, [...lead.map(() => 0), n, 0], [...lead, n, k]);
  return complex(xr, xi);
}

/**
 * The inverse of complex matrices [..., n, n, 2]: `csolve(a, I)`.
 *
 * @example
 * ```ts
 * import { cinverse, tensor } from "@sll/sll";
 * const inv = cinverse(tensor([[[0, 2]]])); // 1 / 2i = −i/2: [[[0, -0.5]]]
 * ```
 */
export function cinverse(a: Tensor): Tensor {
  checkComplex(a, "cinverse", 3);
  return csolve(a, ceye(a.shape[a.rank - 2], a.dtype));
}

/**
 * Frobenius norm of each complex matrix of [..., m, n, 2], shape [..., 1, 1, 1] (ready to
 * broadcast against the matrices).
 *
 * @example
 * ```ts
 * import { cfrobenius, tensor } from "@sll/sll";
 * const f = cfrobenius(tensor([[[3, 4]]])); // [[[5]]]
 * ```
 */
export function cfrobenius(a: Tensor): Tensor {
  checkComplex(a, "cfrobenius", 3);
  return sqrt(sum(mul(a, a), [-3, -2, -1], true));
}

/**
 * The inverse square root S^(−1/2) of Hermitian positive definite matrices S [..., n, n, 2] by
 * `iterations` coupled Newton–Schulz steps (Higham 2008; as LOT, Xu et al. 2022): with
 * S̃ = S/‖S‖_F, Y₀ = S̃, Z₀ = I, T = (3I − Z·Y)/2, Y ← Y·T, Z ← T·Z; then Z → S̃^(−1/2) and
 * S^(−1/2) ≈ Z/√‖S‖_F. Converges for every S ≻ 0 (the eigenvalues of S̃ lie in (0, 1]),
 * quadratically once they are near 1; ‖S‖_F must not be 0.
 *
 * @example
 * ```ts
 * import { cinvSqrtNewtonSchulz, tensor } from "@sll/sll";
 * const r = cinvSqrtNewtonSchulz(tensor([[[4, 0]]]), 10); // ≈ [[[0.5, 0]]]
 * ```
 */
export function cinvSqrtNewtonSchulz(s: Tensor, iterations: number): Tensor {
  checkComplex(s, "cinvSqrtNewtonSchulz", 3);
  const n = s.shape[s.rank - 2];
  if (s.shape[s.rank - 3] !== n) {
    throw new TypeError(
      `cinvSqrtNewtonSchulz: S must be square [..., n, n, 2], got ${fmt(s.shape)}`,
    );
  }
  if (!(Number.isInteger(iterations) && iterations >= 0)) {
    throw new RangeError(
      `cinvSqrtNewtonSchulz: iterations must be a non-negative integer, got ${iterations}`,
    );
  }
  const norm = cfrobenius(s);
  const eye = ceye(n, s.dtype), eye3 = mul(eye, 3);
  let y = div(s, norm), z: Tensor = eye;
  for (let t = 0; t < iterations; t++) {
    const tt = mul(sub(eye3, cmatmul(z, y)), 0.5);
    y = cmatmul(y, tt);
    z = cmatmul(tt, z);
  }
  return div(z, sqrt(norm));
}

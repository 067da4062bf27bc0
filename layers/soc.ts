/**
 * Skew orthogonal convolution (SOC; Singla & Feizi — "Skew Orthogonal Convolutions", ICML 2021):
 * y = exp(L)·x + b with L = conv(·, A) − convT(·, A), a skew-symmetric convolution, exp(L) by its
 * truncated Taylor series, with the invertible downsampling of layers/basic.ts (space-to-depth) for
 * stride 2, and the certified kernel-norm bound that rescales A.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import {
  abs,
  add,
  conv2d,
  div,
  matmul,
  max,
  maximum,
  minimum,
  mul,
  pad,
  reshape,
  reverse,
  slice,
  sqrt,
  sub,
  sum,
  swapLast,
  transpose,
} from "../tensor/ops.ts";
import { xavierNormal, zerosInit } from "./init.ts";
import {
  defineLayer,
  expectShape,
  type Layer,
  type LayerSetup,
  type LipschitzClaim,
} from "./layer.ts";
import { socTaylorBound } from "./soc_bound.ts";
import { spaceToDepth } from "./basic.ts";

export { spaceToDepth };

/** The claim of a truncated series that is not provably non-expansive (none when it is). */
function taylorClaim(
  name: string,
  terms: number,
  correction: number,
): { lipschitzClaim?: () => LipschitzClaim } {
  const b = socTaylorBound(terms, correction);
  if (b <= 1) return {};
  const reason = `${name} series truncated at ${terms} terms`;
  return { lipschitzClaim: () => ({ reason, operators: [], scalars: [], bound: () => b }) };
}

/**
 * The kernel of the adjoint convolution: conv(·, kernelTranspose(A)) = convT(·, A) for odd square
 * kernels with "same" padding (channels swapped, taps flipped).
 *
 * @example
 * ```ts
 * import { normal, randomKey } from "@sll/sll";
 * const at = kernelTranspose(normal(randomKey(0), [4, 3, 3, 3])); // [3, 4, 3, 3]
 * ```
 */
export function kernelTranspose(a: Tensor): Tensor {
  return reverse(reverse(transpose(a, [1, 0, 2, 3]), 2), 3);
}

/** √‖MᵀM‖_∞ and √‖MMᵀ‖_∞ (max absolute row sums), both ≥ ‖M‖₂; the smaller one. */
function matrixNormBound(m: Tensor): Tensor {
  const left = max(sum(abs(matmul(swapLast(m), m)), 1));
  const right = max(sum(abs(matmul(m, swapLast(m))), 1));
  return sqrt(minimum(left, right));
}

/**
 * A certified upper bound of the operator norm of conv(·, A) with zero padding, A [co, ci, k, k]:
 * SOC's "fantastic four" bound √(k·k)·min_i ‖R_i‖₂ over the four reshapes of A (Singla & Feizi,
 * ICLR 2021), each ‖R_i‖₂ bounded by {@linkcode matrixNormBound} instead of the authors' power
 * iteration, so the bound never falls below the truth and needs no state. Differentiable.
 *
 * @example
 * ```ts
 * import { normal, randomKey } from "@sll/sll";
 * const s = fantasticFourBound(normal(randomKey(0), [4, 4, 3, 3])); // scalar ≥ ‖conv‖₂
 * ```
 */
export function fantasticFourBound(a: Tensor): Tensor {
  const [co, ci, kh, kw] = a.shape;
  const reshapes = [
    reshape(transpose(a, [0, 2, 1, 3]), [co * kh, ci * kw]),
    reshape(transpose(a, [0, 3, 1, 2]), [co * kw, ci * kh]),
    reshape(a, [co, ci * kh * kw]),
    reshape(transpose(a, [0, 2, 3, 1]), [co * kh * kw, ci]),
  ];
  const best = reshapes.map(matrixNormBound).reduce((m, r) => minimum(m, r));
  return mul(best, Math.sqrt(kh * kw));
}

/** Configuration of {@linkcode socConv}. Input channels are inferred from `inShape`. */
export interface SocConvConfig {
  /** Output channels. */
  features: number;
  /** Odd kernel size (default 3); padding k//2. */
  kernel?: number;
  /** 1 or 2 (default 1); 2 applies {@linkcode spaceToDepth} first, as SOC does. */
  stride?: 1 | 2;
  /**
   * Taylor terms of exp(L) (default 12, the evaluation terms of the authors' current code,
   * lipnn's `eval_terms`; they train with 5). When every |Σ_{i≤n}(iλ)^i/i!| ≤ 1 on
   * λ ∈ [0, correction] (checked exactly by `socTaylorBound`: 12 terms at 0.7 are; n ≡ 0 or 3
   * (mod 4) for small enough corrections) the layer is provably 1-Lipschitz; otherwise it
   * declares the certified bound 1 + Σ_{k>n} c^k/k! (`lipschitzClaim`; 5 terms: ~1.8e-4 at the
   * default correction).
   */
  terms?: number;
  /** ‖L‖ is rescaled to at most this (default 0.7, SOC's `correction`). */
  correction?: number;
  /** Add a bias (default true). */
  bias?: boolean;
}

/** Parameters of {@linkcode socConv}. */
export type SocParams = {
  /** A [m, m, k, k], m = max(C·stride², features): L = A − Aᵀ (as a convolution). */
  kernel: Tensor;
  /** b [1, features, 1, 1] (all zero and unused when `bias: false`). */
  bias: Tensor;
};

/**
 * The rescaled skew-symmetric kernel of SOC: L = c·(A − Aᵀ)/σ, σ ≥ ‖conv(·, A − Aᵀ)‖₂
 * ({@linkcode fantasticFourBound}), so ‖conv(·, L)‖₂ ≤ c.
 *
 * @example
 * ```ts
 * import { normal, randomKey } from "@sll/sll";
 * const l = socSkewKernel(normal(randomKey(0), [4, 4, 3, 3])); // ‖conv(·, l)‖ ≤ 0.7
 * ```
 */
export function socSkewKernel(a: Tensor, correction = 0.7): Tensor {
  const skew = sub(a, kernelTranspose(a));
  return mul(skew, div(correction, maximum(fantasticFourBound(skew), 1e-12)));
}

/**
 * Skew orthogonal convolution (Singla & Feizi, ICML 2021): y = Σ_{i=0}^{terms} Lⁱx/i! + b with
 * L the skew-symmetric convolution of {@linkcode socSkewKernel}, so exp(L) is orthogonal and the
 * truncated series is orthogonal to ‖L‖^(terms+1)/(terms+1)!. Channels as SOC: the input is
 * zero-padded to m = max(C·s², features) channels and the output cut to `features`; stride 2 by
 * invertible downsampling first. Orthogonal when features = C·s², 1-Lipschitz always (see
 * `terms`). Defaults: kernel 3, correction 0.7, bias on, A Xavier-normal, b = 0.
 * Input [B, C, H, W] → [B, features, H/s, W/s].
 *
 * @example
 * ```ts
 * import { normal, randomKey, socConv } from "@sll/sll";
 * const layer = socConv({ features: 4 });
 * const { params } = layer.init(randomKey(0), [4, 8, 8]);
 * const y = layer.apply(params, normal(randomKey(1), [2, 4, 8, 8]));
 * ```
 */
export function socConv(config: SocConvConfig): Layer<SocParams> {
  const cout = config.features;
  const ks = config.kernel ?? 3;
  const s = config.stride ?? 1;
  const terms = config.terms ?? 12;
  const correction = config.correction ?? 0.7;
  const useBias = config.bias ?? true;
  if (!(Number.isInteger(ks) && ks % 2 === 1)) {
    throw new RangeError(`socConv: kernel must be an odd integer, got ${ks}`);
  }
  if (s !== 1 && s !== 2) throw new RangeError(`socConv: stride must be 1 or 2, got ${s}`);
  if (!(Number.isInteger(terms) && terms >= 1)) {
    throw new RangeError(`socConv: terms must be a positive integer, got ${terms}`);
  }
  if (!(correction > 0 && correction <= 2)) {
    throw new RangeError(`socConv: correction must be in (0, 2], got ${correction}`);
  }
  if (!(Number.isInteger(cout) && cout >= 1)) {
    throw new RangeError(`socConv: features must be a positive integer, got ${cout}`);
  }
  const pad0 = Math.floor(ks / 2);
  return defineLayer<SocParams>({
    ...taylorClaim("socConv", terms, correction),
    setup(inShape: readonly number[]): LayerSetup<SocParams> {
      expectShape("socConv", inShape, [null, null, null]);
      const [c, h, w] = inShape;
      if (h % s !== 0 || w % s !== 0) {
        throw new RangeError(`socConv: spatial size ${h}×${w} is not divisible by stride ${s}`);
      }
      const m = Math.max(c * s * s, cout);
      return {
        outShape: [cout, h / s, w / s],
        params: {
          kernel: { shape: [m, m, ks, ks], init: xavierNormal },
          bias: { shape: [1, cout, 1, 1], init: zerosInit },
        },
      };
    },
    apply(params: SocParams, x: Tensor): Tensor {
      const m = params.kernel.shape[0];
      expectShape("socConv", x.shape, [null, null, null, null], "input");
      let z = spaceToDepth(x, s);
      const c = z.shape[1];
      if (c > m) {
        throw new TypeError(
          `socConv: input has ${
            x.shape[1]
          } channels but the kernel [${params.kernel.shape}] takes at most ${m / (s * s)}`,
        );
      }
      if (c < m) z = pad(z, [[0, 0], [0, m - c], [0, 0], [0, 0]]);
      const l = socSkewKernel(params.kernel, correction);
      // y = Σ_i Lⁱx/i!, term_i = conv(term_{i−1}, L)/i
      let term = z, y = z;
      for (let i = 1; i <= terms; i++) {
        term = div(conv2d(term, l, { padding: pad0 }), i);
        y = add(y, term);
      }
      if (cout < m) y = slice(y, [0, 0, 0, 0], [y.shape[0], cout, y.shape[2], y.shape[3]]);
      return useBias ? add(y, params.bias) : y;
    },
  });
}

/** Configuration of {@linkcode socDense}. Input features are inferred from `inShape`. */
export interface SocDenseConfig {
  /** Output features. */
  features: number;
  /** Taylor terms of exp(L) (default 12; see {@linkcode SocConvConfig.terms}). */
  terms?: number;
  /** ‖L‖ is rescaled to at most this (default 0.7). */
  correction?: number;
  /** Add a bias (default true). */
  bias?: boolean;
}

/**
 * The dense form of SOC: y = Σ_{i=0}^{terms} Lⁱx/i! + b with L = c·(A − Aᵀ)/σ a skew-symmetric
 * matrix, σ ≥ ‖A − Aᵀ‖₂ (the 1×1 case of {@linkcode socSkewKernel}), on m = max(D, features)
 * features (input zero-padded, output cut). Orthogonal when features = D. Input [B, D].
 *
 * @example
 * ```ts
 * import { normal, randomKey, socDense } from "@sll/sll";
 * const layer = socDense({ features: 8 });
 * const { params } = layer.init(randomKey(0), [8]);
 * const y = layer.apply(params, normal(randomKey(1), [4, 8]));
 * ```
 */
export function socDense(config: SocDenseConfig): Layer<SocParams> {
  const out = config.features;
  const terms = config.terms ?? 12;
  const correction = config.correction ?? 0.7;
  const useBias = config.bias ?? true;
  if (!(Number.isInteger(terms) && terms >= 1)) {
    throw new RangeError(`socDense: terms must be a positive integer, got ${terms}`);
  }
  if (!(Number.isInteger(out) && out >= 1)) {
    throw new RangeError(`socDense: features must be a positive integer, got ${out}`);
  }
  return defineLayer<SocParams>({
    ...taylorClaim("socDense", terms, correction),
    setup(inShape: readonly number[]): LayerSetup<SocParams> {
      expectShape("socDense", inShape, [null]);
      const m = Math.max(inShape[0], out);
      return {
        outShape: [out],
        params: {
          kernel: { shape: [m, m], init: xavierNormal },
          bias: { shape: [out], init: zerosInit },
        },
      };
    },
    apply(params: SocParams, x: Tensor): Tensor {
      const m = params.kernel.shape[0];
      if (x.rank !== 2 || x.shape[1] > m) {
        throw new TypeError(`socDense: input must be [B, D] with D ≤ ${m}, got [${x.shape}]`);
      }
      const z = x.shape[1] < m ? pad(x, [[0, 0], [0, m - x.shape[1]]]) : x;
      const l = reshape(socSkewKernel(reshape(params.kernel, [m, m, 1, 1]), correction), [m, m]);
      const lt = swapLast(l); // row vectors: term_i = term_{i−1}·Lᵀ/i
      let term = z, y = z;
      for (let i = 1; i <= terms; i++) {
        term = div(matmul(term, lt), i);
        y = add(y, term);
      }
      if (out < m) y = slice(y, [0, 0], [y.shape[0], out]);
      return useBias ? add(y, params.bias) : y;
    },
  });
}

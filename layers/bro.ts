/**
 * Block reflector orthogonal layers (BRO; Lai et al. — "Enhancing Certified Robustness via Block
 * Reflector Orthogonal Layers and Logit Annealing Loss", ICML 2025): W = I − 2V(VᵀV)⁻¹Vᵀ, the
 * reflection through the column space of a free n×r matrix V, orthogonal and symmetric for every
 * full-rank V — per frequency of the 2-D DFT for the convolution.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import {
  add,
  div,
  matmul,
  mul,
  reshape,
  slice,
  sub,
  sum,
  swapLast,
  tensor,
} from "../tensor/ops.ts";
import { cmatmul, csolve, ctranspose } from "../tensor/complex.ts";
import { solve } from "../tensor/prims/solve.ts";
import type { PRNGKey } from "../tensor/random.ts";
import { normal } from "../tensor/random.ts";
import { fanInUniform, fans, zerosInit } from "./init.ts";
import { defineLayer, expectShape, type Layer, type LayerSetup, type ParamSpec } from "./layer.ts";
import {
  applyFourier,
  eye,
  fourierGrid,
  fourierKernel,
  spectralGeometry,
  type SpectralPadding,
} from "./fourier.ts";
import { spaceToDepth } from "./soc.ts";

/** Parameters of the BRO layers (the reference's names: `weight` for the conv, V for both). */
export type BroParams = {
  /** V: [n, r] (dense) or [max(cin, cout), r, k, k] (conv). */
  weight: Tensor;
  /** b: [out]. */
  bias: Tensor;
};

/** How V is drawn: "identity" (the reference's default `id_init`) or "random". */
export type BroInit = "identity" | "random";

/** V [n, r] (or [n, r, k, k]) with identity rows (and centre tap): the reference's `id_init`. */
function identityInit(_key: PRNGKey, shape: readonly number[]): Tensor {
  const [n, r] = shape, k = shape.length === 4 ? shape[2] : 1;
  const v = new Array<number>(n * r * k * k).fill(0);
  const c = Math.floor(k / 2);
  for (let i = 0; i < Math.min(n, r); i++) v[((i * r + i) * k + c) * k + c] = 1;
  return tensor(v, { shape: [...shape] });
}

/**
 * The block reflector I − 2V(VᵀV + εI)⁻¹Vᵀ of real V [..., n, r], ε = `eps`·mean(diag VᵀV) (the
 * reference's 1e-5 relative ridge) + 1e-30 (ours, so that V = 0 gives I rather than a singular
 * solve). With the ridge the eigenvalues 1 − 2σ²/(σ² + ε) stay in [−1, 1]: the result is
 * 1-Lipschitz for every V, rank-deficient or zero.
 *
 * @example
 * ```ts
 * import { blockReflector, normal, randomKey } from "@sll/sll";
 * const w = blockReflector(normal(randomKey(0), [6, 3]), 0); // orthogonal, symmetric
 * ```
 */
export function blockReflector(v: Tensor, eps = 1e-5): Tensor {
  const n = v.shape[v.rank - 2], r = v.shape[v.rank - 1];
  const vt = swapLast(v);
  let s = matmul(vt, v);
  if (eps > 0) {
    const ridge = add(mul(div(sum(mul(v, v), [-2, -1], true), r), eps), TINY);
    s = add(s, mul(ridge, eye(r, v.dtype)));
  }
  return sub(eye(n, v.dtype), mul(matmul(v, solve(s, vt)), 2));
}

/**
 * The complex block reflector I − 2V(V*V + εI)⁻¹V* of V [..., n, r, 2] (see
 * {@linkcode blockReflector}), unitary and Hermitian for full-rank V and ε = 0.
 *
 * @example
 * ```ts
 * import { cblockReflector, normal, randomKey } from "@sll/sll";
 * const w = cblockReflector(normal(randomKey(0), [4, 2, 2]), 0); // unitary
 * ```
 */
export function cblockReflector(v: Tensor, eps = 1e-5): Tensor {
  const n = v.shape[v.rank - 3], r = v.shape[v.rank - 2];
  const vh = ctranspose(v);
  let s = cmatmul(vh, v);
  const eyeR = complexEye(r, v.dtype);
  if (eps > 0) {
    const ridge = add(mul(div(sum(mul(v, v), [-3, -2, -1], true), r), eps), TINY);
    s = add(s, mul(ridge, eyeR));
  }
  return sub(complexEye(n, v.dtype), mul(cmatmul(v, csolve(s, vh)), 2));
}

function complexEye(n: number, dtype: Tensor["dtype"]): Tensor {
  const v = new Array<number>(n * n * 2).fill(0);
  for (let i = 0; i < n; i++) v[(i * n + i) * 2] = 1;
  return tensor(v, { shape: [n, n, 2], dtype });
}

/** Absolute floor of the ridge: keeps the Gram matrix of V = 0 invertible. */
const TINY = 1e-30;

/** The reference's `mask_mapping`: the rank r of V from a fraction of the channels. */
function maskMapping(channels: number, level: number): number {
  if (!(level >= 0 && level <= 1)) {
    throw new RangeError(`bro: rankFraction must be in [0, 1], got ${level}`);
  }
  if (level === 0) return 1;
  if (level === 1) return channels - 1;
  return Math.max(1, Math.floor(channels * level));
}

function vInit(init: BroInit, fanInOf: (shape: readonly number[]) => number): ParamSpec["init"] {
  if (init === "identity") return identityInit;
  if (init === "random") {
    return (key, shape) => fanInUniform(key, shape, fanInOf(shape)); // kaiming_uniform(a=√5)
  }
  throw new RangeError(`bro: init must be "identity" or "random", got ${init}`);
}

/** Configuration of {@linkcode broDense}. Input features are inferred from `inShape`. */
export interface BroDenseConfig {
  /** Output features. */
  features: number;
  /** r = ⌊rankFraction·n⌋ columns of V, n = max(in, features) (default 0.5, the reference's). */
  rankFraction?: number;
  /** V's init (default "identity", the reference's `id_init`; "random": N(0, 1)/n). */
  init?: BroInit;
  /** Relative ridge ε of the Gram matrix (default 1e-5, the reference's; 0 for exact). */
  eps?: number;
}

/**
 * BRO dense layer (Lai et al., 2025; their `BROLinear` without its built-in activation):
 * y = W[:features, :in]·x + b with W = I − 2V(VᵀV)⁻¹Vᵀ of size n = max(in, features), V [n, r].
 * Orthogonal for in = features, a sub-block of an orthogonal matrix (1-Lipschitz) otherwise.
 * Defaults as the reference: r = n/2, V = [I; 0] (identity init), ε = 1e-5, b = 0.
 * Input [B, in] → [B, features].
 *
 * @example
 * ```ts
 * import { broDense, normal, randomKey } from "@sll/sll";
 * const layer = broDense({ features: 8 });
 * const { params } = layer.init(randomKey(0), [8]);
 * const y = layer.apply(params, normal(randomKey(1), [4, 8]));
 * ```
 */
export function broDense(config: BroDenseConfig): Layer<BroParams> {
  const out = config.features, eps = config.eps ?? 1e-5;
  const init = config.init ?? "identity";
  const random = (key: PRNGKey, shape: readonly number[]): Tensor =>
    div(normal(key, shape), shape[0]);
  return defineLayer<BroParams>({
    setup(inShape: readonly number[]): LayerSetup<BroParams> {
      expectShape("broDense", inShape, [null]);
      const n = Math.max(inShape[0], out);
      const r = Math.min(n, maskMapping(n, config.rankFraction ?? 0.5));
      return {
        outShape: [out],
        params: {
          weight: { shape: [n, r], init: init === "random" ? random : vInit(init, () => n) },
          bias: { shape: [out], init: zerosInit },
        },
      };
    },
    apply(params: BroParams, x: Tensor): Tensor {
      const n = params.weight.shape[0], d = x.shape[1];
      let w = blockReflector(params.weight, eps);
      if (out !== n || d !== n) w = slice(w, [0, 0], [out, d]);
      return add(matmul(x, swapLast(w)), params.bias);
    },
  });
}

/** Configuration of {@linkcode broConv}. Input channels are inferred from `inShape`. */
export interface BroConvConfig {
  /** Output channels. */
  features: number;
  /** Kernel size k of V (default 3). */
  kernel?: number;
  /** 1 (default) or 2 (space-to-depth to 4·cin channels first, as the reference). */
  stride?: 1 | 2;
  /**
   * "zero" (default, the reference: zero-pad k//2, apply on the padded grid, crop; 1-Lipschitz)
   * or "circular" (exactly orthogonal for cin = cout).
   */
  padding?: SpectralPadding;
  /**
   * Rank fraction of V when cin = cout (default 1: r = cin − 1, the reference's `mask_level`);
   * otherwise r = min(cin, cout).
   */
  rankFraction?: number;
  /** V's init (default "identity", the reference's `id_init`; "random": kaiming-uniform). */
  init?: BroInit;
  /** Relative ridge ε of the per-frequency Gram matrix (default 1e-5; 0 for exact). */
  eps?: number;
}

/**
 * BRO convolution (Lai et al., 2025; their `BRO`): V a conv kernel [n, r, k, k],
 * n = max(cin, cout); at each frequency ω, W(ω) = I − 2V̂(V̂*V̂)⁻¹V̂* (n×n unitary), and
 * y = irfft2(W(ω)[:cout, :cin]·rfft2(x)) + b. Orthogonal for cin = cout with circular padding;
 * 1-Lipschitz always. Defaults as the reference: kernel 3, zero padding, r = cin − 1 when
 * cin = cout (else min(cin, cout)), identity init, ε = 1e-5, b ~ U(±1/√(r·k²)).
 * Input [B, C, H, W] → [B, features, H/stride, W/stride].
 *
 * @example
 * ```ts
 * import { broConv, normal, randomKey } from "@sll/sll";
 * const layer = broConv({ features: 4 });
 * const { params } = layer.init(randomKey(0), [4, 8, 8]);
 * const y = layer.apply(params, normal(randomKey(1), [2, 4, 8, 8]));
 * ```
 */
export function broConv(config: BroConvConfig): Layer<BroParams> {
  const cout = config.features, k0 = config.kernel ?? 3, stride = config.stride ?? 1;
  const padding = config.padding ?? "zero", eps = config.eps ?? 1e-5;
  const init = config.init ?? "identity";
  return defineLayer<BroParams>({
    setup(inShape: readonly number[]): LayerSetup<BroParams> {
      const g = spectralGeometry("broConv", inShape, k0, stride, padding, false);
      const n = Math.max(g.cin, cout);
      const r = g.cin === cout
        ? Math.max(1, Math.min(n, maskMapping(g.cin, config.rankFraction ?? 1)))
        : Math.min(g.cin, cout);
      const wShape = [n, r, g.kernel, g.kernel];
      return {
        outShape: [cout, ...g.size],
        params: {
          weight: { shape: wShape, init: vInit(init, (s) => fans(s)[0]) },
          bias: {
            shape: [cout],
            init: (key, s) => fanInUniform(key, s, fans(wShape)[0]),
          },
        },
      };
    },
    apply(params: BroParams, x: Tensor): Tensor {
      const xs = stride === 2 ? spaceToDepth(x, 2) : x;
      const cin = xs.shape[1], n = params.weight.shape[0];
      const border = padding === "zero" ? Math.floor(params.weight.shape[2] / 2) : 0;
      // V̂(ω) [H, Wf, n, r, 2]: the plain rfft2 of the zero-padded V, as the reference
      const v = fourierKernel(params.weight, fourierGrid(xs, border), false);
      let w = cblockReflector(v, eps);
      if (cout !== n || cin !== n) {
        const lead = w.shape.slice(0, 2);
        w = slice(w, [0, 0, 0, 0, 0], [...lead, cout, cin, 2]);
      }
      return add(applyFourier(w, xs, border), reshape(params.bias, [1, cout, 1, 1]));
    },
  });
}

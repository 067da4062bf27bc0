/**
 * Adaptive orthogonal convolution (AOC; Boissin, Mamalet, Fel, Picard, Massena, Serrurier — "An
 * Adaptive Orthogonal Convolution Scheme for Efficient and Flexible CNN Architectures", 2025, as
 * in orthogonium's `AdaptiveOrthoConv2d`): one explicit k×k kernel with native stride s and
 * channel groups, made by composing a BCOP kernel of size k − s + 1 (stride 1) with an RKO s×s
 * kernel (stride s, its [out, in·s²] matrix orthogonalised by Björck). Every factor has norm ≤ 1,
 * so the layer is 1-Lipschitz always and orthogonal once Björck has converged.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { add, concat, conv2d, pad, reshape, reverse, slice, transpose } from "../tensor/ops.ts";
import { normal } from "../tensor/random.ts";
import { zerosInit } from "./init.ts";
import { defineLayer, expectShape, type Layer, type LayerSetup } from "./layer.ts";
import { bjorck } from "./orthogonal.ts";
import { bcopKernel } from "./bcop.ts";

/** Parameters of {@linkcode aocConv} (a leading axis of size `groups` on every free matrix). */
export type AocParams = {
  /** BCOP's free H per group [g, n, n], n = max(mid, C/g). */
  orthogonal: Tensor;
  /** BCOP's free projector matrices per group [g, 2(k−s), n, ⌊n/2⌋] (size 0 when k = s). */
  projectors: Tensor;
  /** RKO's free matrix per group [g, features/g, mid·s²]. */
  rko: Tensor;
  /** b [1, features, 1, 1] (zeros and unused when `bias: false`). */
  bias: Tensor;
};

/** Configuration of {@linkcode aocConv}. Input channels are inferred from `inShape`. */
export interface AocConvConfig {
  /** Output channels (divisible by `groups`). */
  features: number;
  /** Kernel size k ≥ stride (default 3). */
  kernel?: number;
  /** Stride s ≤ k (default 1); the output is H/s × W/s. */
  stride?: number;
  /** Channel groups (default 1), as `nn.Conv2d`'s `groups`. */
  groups?: number;
  /** Björck iterations per matrix (default 20). */
  iterations?: number;
  /** "circular" (default, orthogonium's `padding_mode`): exactly orthogonal; "zeros": not at borders. */
  padding?: "circular" | "zeros";
  /** Add a bias (default true). */
  bias?: boolean;
}

/** Pads the last two axes by [lo, hi] each, circularly (lo, hi ≤ the axis sizes). */
function circular(x: Tensor, lo: number, hi: number): Tensor {
  const wrap = (t: Tensor, axis: number): Tensor => {
    const n = t.shape[axis];
    const part = (start: number, size: number): Tensor =>
      slice(
        t,
        t.shape.map((_, i) => (i === axis ? start : 0)),
        t.shape.map((d, i) => (i === axis ? size : d)),
      );
    const parts = [...(lo > 0 ? [part(n - lo, lo)] : []), t, ...(hi > 0 ? [part(0, hi)] : [])];
    return parts.length === 1 ? t : concat(parts, axis);
  };
  return wrap(wrap(x, 2), 3);
}

/**
 * The kernel of conv(conv(·, k1), k2): K[o, i] = Σ_m k2[o, m] ∗ k1[m, i] (full 2-d convolution
 * of the taps), size k1 + k2 − 1.
 */
function composeKernels(k1: Tensor, k2: Tensor): Tensor {
  const s = k2.shape[2];
  const flipped = reverse(reverse(k2, 2), 3);
  const k = conv2d(transpose(k1, [1, 0, 2, 3]), flipped, { padding: [s - 1, k2.shape[3] - 1] });
  return transpose(k, [1, 0, 2, 3]);
}

/**
 * Adaptive orthogonal convolution (Boissin et al., 2025): y = conv(pad(x), K, stride s) + b with
 * one explicit kernel K [features, C/g, k, k] per group: BCOP (layers/bcop.ts) of size k − s + 1
 * on mid = max(C/g, features/(g·s²)) channels, composed with RKO, an s×s stride-s kernel whose
 * [features/g, mid·s²] matrix is Björck-orthogonalised. Orthogonal (norm-preserving when
 * features ≥ C·s², gradient-norm-preserving when features ≤ C·s²) with circular padding once
 * Björck has converged; 1-Lipschitz always. Defaults: kernel 3, stride 1, groups 1, 20 Björck
 * iterations, circular padding, bias on; free matrices N(0, 1), b = 0.
 * Input [B, C, H, W] → [B, features, H/s, W/s].
 *
 * @example
 * ```ts
 * import { aocConv, normal, randomKey } from "@sll/sll";
 * const layer = aocConv({ features: 8, stride: 2 });
 * const { params } = layer.init(randomKey(0), [4, 8, 8]); // outShape [8, 4, 4]
 * const y = layer.apply(params, normal(randomKey(1), [2, 4, 8, 8]));
 * ```
 */
export function aocConv(config: AocConvConfig): Layer<AocParams> {
  const cout = config.features;
  const k = config.kernel ?? 3;
  const s = config.stride ?? 1;
  const g = config.groups ?? 1;
  const iterations = config.iterations ?? 20;
  const useBias = config.bias ?? true;
  const zeroPad = (config.padding ?? "circular") === "zeros";
  const int = (v: number): boolean => Number.isInteger(v) && v >= 1;
  if (!int(k) || !int(s) || s > k) {
    throw new RangeError(
      `aocConv: needs integers kernel ≥ stride ≥ 1, got kernel ${k}, stride ${s}`,
    );
  }
  if (!int(g) || !int(cout) || cout % g !== 0) {
    throw new RangeError(`aocConv: features ${cout} must be a positive multiple of groups ${g}`);
  }
  if (!(Number.isInteger(iterations) && iterations >= 0)) {
    throw new RangeError(`aocConv: iterations must be an integer ≥ 0, got ${iterations}`);
  }
  if (config.padding !== undefined && !["zeros", "circular"].includes(config.padding)) {
    throw new RangeError(`aocConv: padding must be "circular" or "zeros", got ${config.padding}`);
  }
  const kb = k - s + 1; // BCOP kernel size
  const lo = Math.floor((kb - 1) / 2), hi = kb - 1 - lo; // "same" for the stride-1 part
  const sizes = (c: number): { ci: number; co: number; mid: number; n: number } => {
    const ci = c / g, co = cout / g;
    const mid = Math.max(ci, Math.ceil(co / (s * s)));
    return { ci, co, mid, n: Math.max(mid, ci) };
  };
  return defineLayer<AocParams>({
    setup(inShape: readonly number[]): LayerSetup<AocParams> {
      expectShape("aocConv", inShape, [null, null, null]);
      const [c, h, w] = inShape;
      if (c % g !== 0) {
        throw new RangeError(`aocConv: ${c} input channels are not divisible by groups ${g}`);
      }
      if (h % s !== 0 || w % s !== 0 || (!zeroPad && (h < hi || w < hi))) {
        throw new RangeError(
          `aocConv: spatial size ${h}×${w} must be divisible by stride ${s}${
            zeroPad ? "" : ` and ≥ the circular padding ${hi}`
          }`,
        );
      }
      const { co, mid, n } = sizes(c);
      if (kb > 1 && n < 2) {
        throw new RangeError(`aocConv: the BCOP part needs ≥ 2 channels per group, got ${n}`);
      }
      return {
        outShape: [cout, h / s, w / s],
        params: {
          orthogonal: { shape: [g, n, n], init: normal },
          projectors: { shape: [g, 2 * (kb - 1), n, Math.floor(n / 2)], init: normal },
          rko: { shape: [g, co, mid * s * s], init: normal },
          bias: { shape: [1, cout, 1, 1], init: zerosInit },
        },
      };
    },
    apply(params: AocParams, x: Tensor): Tensor {
      expectShape("aocConv", x.shape, [null, null, null, null], "input");
      const { ci, co, mid, n } = sizes(x.shape[1]);
      if (params.orthogonal.shape[1] !== n || params.rko.shape[1] !== co) {
        throw new TypeError(
          `aocConv: input [${x.shape}] does not match the parameters (H [${params.orthogonal.shape}])`,
        );
      }
      const kernels: Tensor[] = [];
      for (let j = 0; j < g; j++) {
        const pick = (t: Tensor): Tensor =>
          reshape(
            slice(t, t.shape.map((_, i) => (i === 0 ? j : 0)), [1, ...t.shape.slice(1)]),
            t.shape.slice(1),
          );
        // BCOP part [mid, ci, kb, kb]: a square n-channel kernel, cut to mid outputs, ci inputs
        let k1 = bcopKernel(pick(params.orthogonal), pick(params.projectors), kb, iterations);
        if (mid < n || ci < n) k1 = slice(k1, [0, 0, 0, 0], [mid, ci, kb, kb]);
        // RKO part [co, mid, s, s]: an orthogonalised [co, mid·s²] matrix
        const k2 = reshape(bjorck(pick(params.rko), iterations), [co, mid, s, s]);
        let kj = composeKernels(k1, k2);
        if (g > 1) kj = pad(kj, [[0, 0], [j * ci, (g - 1 - j) * ci], [0, 0], [0, 0]]);
        kernels.push(kj);
      }
      const kernel = g > 1 ? concat(kernels, 0) : kernels[0];
      // grouped convolution as one block-diagonal kernel [features, C, k, k]
      const xp = zeroPad ? pad(x, [[0, 0], [0, 0], [lo, hi], [lo, hi]]) : circular(x, lo, hi);
      const y = conv2d(xp, kernel, { stride: s });
      return useBias ? add(y, params.bias) : y;
    },
  });
}

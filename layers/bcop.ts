/**
 * Block convolution orthogonal parameterisation (BCOP; Li, Haque, Anil, Lucas, Grosse, Jacobsen —
 * "Preventing Gradient Attenuation in Lipschitz Constrained Convolutional Networks", NeurIPS
 * 2019): a k×k kernel built as H·Π_i (P_i + (I − P_i)z₁)·Π_i (Q_i + (I − Q_i)z₂) from an
 * orthogonal H and symmetric projectors P = UUᵀ, U with orthonormal columns, all by Björck
 * (layers/orthogonal.ts). Each factor has norm ≤ 1 after ANY number of Björck steps (their
 * singular values stay in [0, 1]), so the layer is 1-Lipschitz always, orthogonal once converged.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import {
  add,
  concat,
  conv2d,
  matmul,
  pad,
  reshape,
  slice,
  sub,
  swapLast,
  tensor,
  transpose,
} from "../tensor/ops.ts";
import { normal } from "../tensor/random.ts";
import { zerosInit } from "./init.ts";
import { defineLayer, expectShape, type Layer, type LayerSetup } from "./layer.ts";
import { bjorck } from "./orthogonal.ts";
import { spaceToDepth } from "./soc.ts";

/** Parameters of {@linkcode bcopConv}. */
export type BcopParams = {
  /** Free matrix of H [m, m] (m = max(C·s², features)). */
  orthogonal: Tensor;
  /** Free matrices of the 2(k−1) projectors, [2(k−1), m, ⌊m/2⌋]. */
  projectors: Tensor;
  /** b [1, features, 1, 1] (zeros and unused when `bias: false`). */
  bias: Tensor;
};

/** Configuration of {@linkcode bcopConv}. Input channels are inferred from `inShape`. */
export interface BcopConvConfig {
  /** Output channels. */
  features: number;
  /** Kernel size k ≥ 1 (default 3); "same" padding k//2 for odd k. */
  kernel?: number;
  /** 1 or 2 (default 1); 2 applies invertible downsampling first (as BCOP and SOC). */
  stride?: 1 | 2;
  /** Björck iterations per matrix (default 20, LConvNet's `bjorck_iters`). */
  iterations?: number;
  /**
   * "zeros" (default, the authors'): 1-Lipschitz, orthogonal except at the borders;
   * "circular": exactly orthogonal on every H×W ≥ k (the circulant of a paraunitary kernel).
   */
  padding?: "zeros" | "circular";
  /** Add a bias (default true). */
  bias?: boolean;
}

/**
 * Circular padding of the last two axes by p on each side (p ≤ the axis size).
 *
 * @example
 * ```ts
 * import { circularPad, reshape, arange } from "@sll/sll";
 * const y = circularPad(reshape(arange(9), [1, 1, 3, 3]), 1); // [1, 1, 5, 5]
 * ```
 */
export function circularPad(x: Tensor, p: number): Tensor {
  if (p === 0) return x;
  const wrap = (t: Tensor, axis: number): Tensor => {
    const n = t.shape[axis];
    if (p > n) {
      throw new RangeError(`circularPad: padding ${p} exceeds axis ${axis} of size ${n}`);
    }
    const at = (start: number): Tensor =>
      slice(
        t,
        t.shape.map((_, i) => (i === axis ? start : 0)),
        t.shape.map((d, i) => (i === axis ? p : d)),
      );
    return concat([at(n - p), t, at(0)], axis);
  };
  return wrap(wrap(x, x.rank - 2), x.rank - 1);
}

function identity(n: number, dtype: Tensor["dtype"]): Tensor {
  return tensor(Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0)), {
    shape: [n, n],
    dtype,
  });
}

/**
 * The BCOP kernel [m, m, k, k] of the parameters: H = bjorck(orthogonal), then for each of the
 * k−1 row and k−1 column steps, K ← K·P + z·K·(I − P) along that axis, P = UUᵀ, U = bjorck of
 * the step's free matrix.
 *
 * @example
 * ```ts
 * import { bcopKernel, normal, randomKey } from "@sll/sll";
 * const k = bcopKernel(normal(randomKey(0), [4, 4]), normal(randomKey(1), [4, 4, 2]), 3);
 * ```
 */
export function bcopKernel(
  orthogonal: Tensor,
  projectors: Tensor,
  kernel: number,
  iterations = 20,
): Tensor {
  const m = orthogonal.shape[0], half = projectors.shape[2];
  const eye = identity(m, orthogonal.dtype);
  // K taps-first [kh, kw, m, m]: y = Σ_taps K[a, b]·x(shifted); start from H (1×1)
  let k = reshape(bjorck(orthogonal, iterations), [1, 1, m, m]);
  const steps = kernel - 1;
  for (let i = 0; i < 2 * steps; i++) {
    const u = bjorck(reshape(slice(projectors, [i, 0, 0], [1, m, half]), [m, half]), iterations);
    const p = matmul(u, swapLast(u));
    const axis = i < steps ? 0 : 1; // k−1 row steps, then k−1 column steps
    const widths = (lo: number, hi: number): [number, number][] =>
      [0, 1, 2, 3].map((a) => (a === axis ? [lo, hi] : [0, 0]));
    // K ← K·P + z·K·(I − P): a paraunitary 2-tap factor, norm ≤ 1 for 0 ≤ P ≤ I
    k = add(pad(matmul(k, p), widths(0, 1)), pad(matmul(k, sub(eye, p)), widths(1, 0)));
  }
  return transpose(k, [2, 3, 0, 1]);
}

/**
 * BCOP convolution (Li et al., NeurIPS 2019): y = conv(x, K) + b with K = {@linkcode bcopKernel}
 * on m = max(C·s², features) channels (input zero-padded to m channels, output cut to
 * `features`, as the authors); stride 2 by invertible downsampling first. 1-Lipschitz for every
 * parameter value; orthogonal (with `padding: "circular"`, or away from the borders) once Björck
 * has converged and features = C·s². Defaults: kernel 3, 20 Björck iterations, zero padding,
 * bias on; free matrices N(0, 1), b = 0. Input [B, C, H, W] → [B, features, H/s, W/s].
 *
 * @example
 * ```ts
 * import { bcopConv, normal, randomKey } from "@sll/sll";
 * const layer = bcopConv({ features: 4 });
 * const { params } = layer.init(randomKey(0), [4, 8, 8]);
 * const y = layer.apply(params, normal(randomKey(1), [2, 4, 8, 8]));
 * ```
 */
export function bcopConv(config: BcopConvConfig): Layer<BcopParams> {
  const cout = config.features;
  const ks = config.kernel ?? 3;
  const s = config.stride ?? 1;
  const iterations = config.iterations ?? 20;
  const circular = (config.padding ?? "zeros") === "circular";
  const useBias = config.bias ?? true;
  if (!(Number.isInteger(ks) && ks % 2 === 1)) {
    throw new RangeError(`bcopConv: kernel must be an odd integer, got ${ks}`);
  }
  if (s !== 1 && s !== 2) throw new RangeError(`bcopConv: stride must be 1 or 2, got ${s}`);
  if (!(Number.isInteger(iterations) && iterations >= 0)) {
    throw new RangeError(`bcopConv: iterations must be an integer ≥ 0, got ${iterations}`);
  }
  if (config.padding !== undefined && !["zeros", "circular"].includes(config.padding)) {
    throw new RangeError(`bcopConv: padding must be "zeros" or "circular", got ${config.padding}`);
  }
  const p0 = Math.floor(ks / 2);
  return defineLayer<BcopParams>({
    setup(inShape: readonly number[]): LayerSetup<BcopParams> {
      expectShape("bcopConv", inShape, [null, null, null]);
      const [c, h, w] = inShape;
      if (h % s !== 0 || w % s !== 0) {
        throw new RangeError(`bcopConv: spatial size ${h}×${w} is not divisible by stride ${s}`);
      }
      const m = Math.max(c * s * s, cout);
      if (m < 2 && ks > 1) {
        throw new RangeError(`bcopConv: needs ≥ 2 channels for a ${ks}×${ks} kernel, got ${m}`);
      }
      return {
        outShape: [cout, h / s, w / s],
        params: {
          orthogonal: { shape: [m, m], init: normal },
          projectors: { shape: [2 * (ks - 1), m, Math.floor(m / 2)], init: normal },
          bias: { shape: [1, cout, 1, 1], init: zerosInit },
        },
      };
    },
    apply(params: BcopParams, x: Tensor): Tensor {
      expectShape("bcopConv", x.shape, [null, null, null, null], "input");
      const m = params.orthogonal.shape[0];
      let z = spaceToDepth(x, s);
      const c = z.shape[1];
      if (c > m) {
        throw new TypeError(
          `bcopConv: input has ${x.shape[1]} channels but the parameters take at most ${
            m / (s * s)
          }`,
        );
      }
      if (c < m) z = pad(z, [[0, 0], [0, m - c], [0, 0], [0, 0]]);
      const k = bcopKernel(params.orthogonal, params.projectors, ks, iterations);
      let y = circular ? conv2d(circularPad(z, p0), k) : conv2d(z, k, { padding: p0 });
      if (cout < m) y = slice(y, [0, 0, 0, 0], [y.shape[0], cout, y.shape[2], y.shape[3]]);
      return useBias ? add(y, params.bias) : y;
    },
  });
}

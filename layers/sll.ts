/**
 * SDP-based Lipschitz Layers (SLL; Araujo, Havens, Delattre, Allauzen, Hu — "A Unified Algebraic
 * Perspective on Lipschitz Neural Networks", ICLR 2023): residual layers
 * y = x − 2·Wᵀ(t ⊙ relu(Wx + b)) whose rescaling t makes them 1-Lipschitz for any W, b, q.
 * Parameters are named as the reference PyTorch code (`kernel|weight`, `bias`, `q`) with the same
 * shapes, so its state dicts map one-to-one.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import {
  abs,
  add,
  conv2d,
  convTranspose2d,
  div,
  equal,
  exp,
  matmul,
  matmulT,
  mul,
  neg,
  pad,
  relu,
  reshape,
  slice,
  stopGradient,
  sub,
  sum,
  where,
} from "../tensor/ops.ts";
import { normal } from "../tensor/random.ts";
import { fanInUniform, fans, xavierNormal } from "./init.ts";
import {
  defineLayer,
  expectShape,
  type Layer,
  type LayerSetup,
  type PreparedForward,
} from "./layer.ts";
import { keep, scope } from "../tensor/scope.ts";
import { recording } from "../tensor/trace.ts";

/**
 * How q enters the SLL rescaling. `"paper"`: t_i = 1/Σ_j A_ij·exp(q_j − q_i) (Theorem 3 of the
 * paper). `"reference"`: what the reference PyTorch conv layer computes — both exponentials act
 * on the same axis, so q cancels (t_i = 1/Σ_j A_ij) and its gradient is 0. The dense layer of the
 * reference follows the paper, so both modes agree there. Both modes are 1-Lipschitz.
 */
export type QMode = "paper" | "reference";

/** Parameters of {@linkcode sllConv}: kernel [inner, C, k, k], bias [1, inner, 1, 1], q [inner]. */
export type SllConvParams = {
  /** K [inner, C, k, k] (OIHW), C the input (= output) channels. */
  kernel: Tensor;
  /** b [1, inner, 1, 1]. */
  bias: Tensor;
  /** q [inner]; the rescaling uses exp(q). */
  q: Tensor;
};

/** Parameters of {@linkcode sllDense}: weight [inner, D], bias [1, inner], q [inner]. */
export type SllDenseParams = {
  /** W [inner, D], D the input (= output) features. */
  weight: Tensor;
  /** b [1, inner]. */
  bias: Tensor;
  /** q [inner]; the rescaling uses exp(q). */
  q: Tensor;
};

/**
 * 1/s elementwise, with 0 where s = 0; the denominator is selected before dividing so the
 * gradient stays finite (0) there.
 *
 * @example
 * ```ts
 * import { tensor } from "@sll/sll";
 * const t = safeInverse(tensor([2, 0])); // [0.5, 0]
 * ```
 */
export function safeInverse(s: Tensor): Tensor {
  const isZero = equal(s, 0);
  return where(isZero, 0, div(1, where(isZero, 1, s)));
}

/**
 * Σ_j A_ij·exp(q_j − q_i) (paper) or Σ_j A_ij (reference), for A [n, n], q [n]. The paper's sum
 * is exp(−q_i)·(A·exp(q))_i (as the reference code writes it): a matrix–vector product, so no
 * [n, n] ratio matrix is built and differentiated (for `small`'s 2048×2048 Gram matrices that
 * was ten passes over n² elements per layer and step).
 */
function weightedRowSums(a: Tensor, q: Tensor | null): Tensor {
  if (q === null) return sum(a, 1);
  const n = q.shape[0];
  return mul(exp(neg(q)), reshape(matmul(a, exp(reshape(q, [n, 1]))), [n]));
}

/**
 * The SLL conv rescaling t [inner]: with G = conv2d(K, K, padding k−1) (the kernel [inner, C,
 * k, k] taken as a batch of `inner` images of C channels, convolved with itself as weight)
 * and A_ij = Σ_{u,v} |G_ijuv|, t_i = 1/Σ_j A_ij·exp(q_j − q_i) ("paper") or 1/Σ_j A_ij
 * ("reference"); 0 where the sum is 0.
 *
 * @example
 * ```ts
 * import { randomKey } from "@sll/sll";
 * const layer = sllConv({ inner: 6 });
 * const { params } = layer.init(randomKey(0), [4, 8, 8]);
 * const t = sllConvT(params, "paper"); // [6]
 * ```
 */
export function sllConvT(params: SllConvParams, qMode: QMode = "paper"): Tensor {
  const k = params.kernel;
  const g = conv2d(k, k, { padding: [k.shape[2] - 1, k.shape[3] - 1] }); // [inner, inner, 2k−1, 2k−1]
  const a = sum(abs(g), [2, 3]);
  return safeInverse(weightedRowSums(a, qMode === "paper" ? params.q : null));
}

/**
 * The SLL dense rescaling t [inner]: t_i = 1/Σ_j |WWᵀ|_ij·exp(q_j − q_i), 0 where the sum is 0
 * (the same in both q modes).
 *
 * @example
 * ```ts
 * import { randomKey } from "@sll/sll";
 * const layer = sllDense({ inner: 6 });
 * const { params } = layer.init(randomKey(0), [4]);
 * const t = sllDenseT(params); // [6]
 * ```
 */
export function sllDenseT(params: SllDenseParams): Tensor {
  const w = params.weight;
  if (!recording()) return safeInverse(weightedRowSums(abs(matmulT(w, w, false, true)), params.q));
  // Under autodiff, the Gram matrix's cotangent is made symmetric where it arises, so the
  // Gram's own vjp is one product dG·W with no [n, n] transpose and sum: G = W·sg(W)ᵀ (the
  // second factor cut from the trace; the same storage, so still one triangle), and the row
  // sums A·e, A = |G|, get the term Aᵀ·e − sg(Aᵀ·e): exactly 0 in value (G is symmetric, so
  // Aᵀ·e = A·e), whose cotangent e·uᵀ is the mirror of A·e's u·eᵀ — together (S + Sᵀ), the
  // cotangent W·Wᵀ's vjp needs. Tested against the plain formula's gradients.
  const n = w.shape[0];
  const a = abs(matmulT(w, stopGradient(w), false, true));
  const e = exp(reshape(params.q, [n, 1]));
  const mirror = matmulT(a, stopGradient(e), true, false);
  const rows = add(matmul(a, e), sub(mirror, stopGradient(mirror)));
  return safeInverse(mul(exp(neg(params.q)), reshape(rows, [n])));
}

function checkPositiveInt(name: string, what: string, v: unknown): number {
  if (!(typeof v === "number" && Number.isInteger(v) && v > 0)) {
    throw new RangeError(`${name}: ${what} must be a positive integer, got ${String(v)}`);
  }
  return v;
}

function checkQMode(name: string, q: unknown): QMode {
  if (q === undefined) return "paper";
  if (q !== "paper" && q !== "reference") {
    throw new RangeError(`${name}: qMode must be "paper" or "reference", got ${JSON.stringify(q)}`);
  }
  return q;
}

function checkKeys(name: string, config: object, allowed: readonly string[]): void {
  const extra = Object.keys(config).filter((k) => !allowed.includes(k));
  if (extra.length > 0) {
    throw new TypeError(
      `${name}: unknown option${extra.length > 1 ? "s" : ""} ${extra.join(", ")} (expected ${
        allowed.join(", ")
      }; input sizes are inferred from inShape)`,
    );
  }
}

/**
 * The SLL fold: −2·t ⊙ W with t scaling axis 0 (the rows of W [inner, D], or the output
 * channels of K [inner, C, k, k]). It carries the rewrite
 * x − 2·Wᵀ(t ⊙ h) = x + (−2t ⊙ W)ᵀh (dense) and x − 2·convT(t ⊙ h, K) = x + convT(h, −2t ⊙ K)
 * (conv), so the rescaling and the sign cost one pass over the small weight instead of three
 * passes over activations (forward and backward). Tested against the literal formula.
 *
 * @example
 * ```ts
 * import { ones, sllFold, tensor } from "@sll/sll";
 * const w = sllFold(ones([2, 3]), tensor([1, 0.5])); // [[−2, −2, −2], [−1, −1, −1]]
 * ```
 */
export function sllFold(w: Tensor, t: Tensor): Tensor {
  const shape = w.shape.map((d, i) => (i === 0 ? d : 1));
  // −2 joins t (a vector), not W: one pass over W forward and backward; exact either way
  return mul(w, reshape(mul(t, -2), shape));
}

/** Configuration of {@linkcode sllConv}. Channels are inferred from `inShape` (C in = C out). */
export interface SllConvConfig {
  /** Inner channels of K (the reference's `conv_inner_dim`). */
  inner: number;
  /** Odd kernel size (default 3); padding k//2 keeps the spatial size. */
  kernel?: number;
  /** How q enters t (default "paper"); see {@linkcode QMode}. */
  qMode?: QMode;
}

/**
 * SLL convolution (Araujo et al., ICLR 2023):
 * y = x − 2·convT(t ⊙ relu(conv(x, K) + b), K), t from {@linkcode sllConvT}; computed as
 * x + convT(relu(conv(x, K) + b), {@linkcode sllFold}(K, t)).
 * Lipschitz constant ≤ 1 for every K, b, q (the SDP condition of the paper's Theorem 3).
 * Init as the reference: K Xavier-normal, b U(±1/√(C·k²)), q N(0, 1).
 * Input [B, C, H, W] → output of the same shape (C from `inShape`).
 *
 * @example
 * ```ts
 * import { normal, randomKey, sllConv } from "@sll/sll";
 * const layer = sllConv({ inner: 6 });
 * const { params } = layer.init(randomKey(0), [4, 8, 8]);
 * const y = layer.apply(params, normal(randomKey(1), [2, 4, 8, 8]));
 * ```
 */
export function sllConv(config: SllConvConfig): Layer<SllConvParams> {
  const name = "sllConv";
  checkKeys(name, config, ["inner", "kernel", "qMode"]);
  const inner = checkPositiveInt(name, "inner", config.inner);
  const ks = checkPositiveInt(name, "kernel", config.kernel ?? 3);
  if (ks % 2 !== 1) throw new RangeError(`${name}: kernel must be odd, got ${ks}`);
  const qMode = checkQMode(name, config.qMode);
  const pad = Math.floor(ks / 2);
  return defineLayer<SllConvParams>({
    setup(inShape: readonly number[]): LayerSetup<SllConvParams> {
      expectShape(name, inShape, [null, null, null]);
      const shape = [inner, inShape[0], ks, ks];
      return {
        outShape: [...inShape],
        params: {
          kernel: { shape, init: xavierNormal },
          bias: { shape: [1, inner, 1, 1], init: (k, s) => fanInUniform(k, s, fans(shape)[0]) },
          q: { shape: [inner], init: normal },
        },
      };
    },
    apply(params: SllConvParams, x: Tensor): Tensor {
      return applyFolded(params, sllFold(params.kernel, sllConvT(params, qMode)), x);
    },
    // evaluation: t (a Gram convolution of the kernel) once for every batch that follows
    prepare: (params: SllConvParams): PreparedForward =>
      preparedWith(params, () => sllFold(params.kernel, sllConvT(params, qMode)), applyFolded),
  });

  function applyFolded(params: SllConvParams, folded: Tensor, x: Tensor): Tensor {
    const k = params.kernel;
    expectShape(name, x.shape, [null, k.shape[1], null, null], "input");
    const z = relu(add(conv2d(x, k, { padding: pad }), params.bias));
    return add(x, convTranspose2d(z, folded, { padding: pad }));
  }
}

/**
 * The SLL convolution of `x` [B, c, H, W] zero-padded on the channel axis to the kernel's C
 * channels (a network's channel padding followed by its first SLL convolution): the y of
 * `sllConv(…).apply(params, pad(x))` within float32 rounding, with the convolution of the padded
 * input (and so its filter gradient) reading only the c real channels, K[:, :c] — the padded
 * channels are zero and add exact zeros. For the default fmnist network (1 channel padded to 8)
 * that is 7/8 of two of the eleven convolutions of a training step.
 *
 * @example
 * ```ts
 * import { normal, randomKey, sllConv, sllConvOfPadded } from "@sll/sll";
 * const { params } = sllConv({ inner: 6 }).init(randomKey(0), [4, 8, 8]);
 * const y = sllConvOfPadded(params, normal(randomKey(1), [2, 1, 8, 8])); // [2, 4, 8, 8]
 * ```
 */
export function sllConvOfPadded(params: SllConvParams, x: Tensor, qMode: QMode = "paper"): Tensor {
  const name = "sllConvOfPadded";
  const k = params.kernel;
  const [inner, C, kh, kw] = k.shape;
  if (x.rank !== 4 || !(x.shape[1] >= 1 && x.shape[1] <= C)) {
    throw new TypeError(
      `${name}: input must be [B, c, H, W] with 1 ≤ c ≤ ${C} (the kernel's channels), got [${x.shape}]`,
    );
  }
  const c = x.shape[1], p = Math.floor(kh / 2);
  const folded = sllFold(k, sllConvT(params, checkQMode(name, qMode)));
  const real = c === C ? k : slice(k, [0, 0, 0, 0], [inner, c, kh, kw]);
  const z = relu(add(conv2d(x, real, { padding: p }), params.bias));
  const padded = c === C ? x : pad(x, [[0, 0], [0, C - c], [0, 0], [0, 0]]);
  return add(padded, convTranspose2d(z, folded, { padding: p }));
}

/** A forward with the folded weight computed once and kept until `dispose`. */
function preparedWith<P>(
  params: P,
  fold: () => Tensor,
  applyFolded: (params: P, folded: Tensor, x: Tensor) => Tensor,
): PreparedForward {
  const folded = keep(scope(fold));
  return {
    apply: (x: Tensor): Tensor => applyFolded(params, folded, x),
    dispose: (): void => folded.dispose(),
  };
}

/** Configuration of {@linkcode sllDense}. Features are inferred from `inShape` (D in = D out). */
export interface SllDenseConfig {
  /** Rows of W (the reference's `dense_inner_dim`). */
  inner: number;
}

/**
 * SLL dense layer (Araujo et al., ICLR 2023): y = x − 2·Wᵀ(t ⊙ relu(Wx + b)),
 * t_i = 1/Σ_j |WWᵀ|_ij·exp(q_j − q_i) (the paper's formula, which the reference's dense layer
 * also follows, so it has no q mode); computed as x + (relu(Wx + b) ⊙ −2t)·W in training and
 * as x + relu(Wx + b)·{@linkcode sllFold}(W, t) in a prepared forward (t folded into W once).
 * Lipschitz constant ≤ 1 for every W, b, q.
 * Init as the reference: W Xavier-normal, b U(±1/√D), q N(0, 1). Input [B, D] → [B, D].
 *
 * @example
 * ```ts
 * import { normal, randomKey, sllDense } from "@sll/sll";
 * const layer = sllDense({ inner: 32 });
 * const { params } = layer.init(randomKey(0), [16]);
 * const y = layer.apply(params, normal(randomKey(1), [8, 16]));
 * ```
 */
export function sllDense(config: SllDenseConfig): Layer<SllDenseParams> {
  const name = "sllDense";
  checkKeys(name, config, ["inner"]);
  const inner = checkPositiveInt(name, "inner", config.inner);
  return defineLayer<SllDenseParams>({
    setup(inShape: readonly number[]): LayerSetup<SllDenseParams> {
      expectShape(name, inShape, [null]);
      const d = inShape[0];
      return {
        outShape: [d],
        params: {
          weight: { shape: [inner, d], init: xavierNormal },
          bias: { shape: [1, inner], init: (k, s) => fanInUniform(k, s, d) },
          q: { shape: [inner], init: normal },
        },
      };
    },
    // training: −2t scales the activations h [B, inner] rather than W [inner, D] (a batch is
    // smaller than W here), so no folded weight is built forward and, backward, the gradients
    // of W and t take no pass over W-sized arrays (W·diag-scaling and Σ_j dF_ij·W_ij are gone)
    apply(params: SllDenseParams, x: Tensor): Tensor {
      const w = params.weight;
      expectShape(name, x.shape, [null, w.shape[1]], "input");
      const s = reshape(mul(sllDenseT(params), -2), [1, w.shape[0]]);
      const h = relu(add(matmulT(x, w, false, true), params.bias));
      return add(x, matmul(mul(h, s), w));
    },
    // evaluation: t (the Gram matrix W·Wᵀ, most of a forward's work) once for every batch
    prepare: (params: SllDenseParams): PreparedForward =>
      preparedWith(params, () => sllFold(params.weight, sllDenseT(params)), applyFolded),
  });

  function applyFolded(params: SllDenseParams, folded: Tensor, x: Tensor): Tensor {
    const w = params.weight;
    expectShape(name, x.shape, [null, w.shape[1]], "input");
    const h = relu(add(matmulT(x, w, false, true), params.bias));
    return add(x, matmul(h, folded));
  }
}

/**
 * The Householder activation (Singla, Singla, Feizi — "Improved deterministic l2 robustness on
 * CIFAR-10 and CIFAR-100", ICLR 2022; deel-torchlip's `HouseHolder`): per pair of channels
 * (x, y) = (channel i, channel i + C/2), a learned reflection applied on one side of its mirror
 * line. Continuous and orthogonal on each side, hence 1-Lipschitz with ‖f(z)‖ = ‖z‖ and an
 * orthogonal Jacobian almost everywhere (gradient-norm preserving).
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import {
  add,
  cast,
  concat,
  div,
  full,
  greater,
  mul,
  sign,
  slice,
  sub,
  where,
} from "../tensor/ops.ts";
import { defineLayer, type Layer, type LayerSetup } from "./layer.ts";

/**
 * [sin θ, cos θ] elementwise, a composite (there is no trigonometric primitive): θ reduced to
 * r ∈ [−π, π] by a rounded multiple of 2π (cut from the gradient: dr/dθ = 1), then r/4 through
 * Taylor polynomials of degree 14/15 (error < 1e-16 on |r/4| ≤ π/4) and two double-angle steps.
 *
 * @example
 * ```ts
 * import { tensor } from "@sll/sll";
 * const [s, c] = sinCos(tensor([0, Math.PI / 2])); // [0, 1], [1, 0]
 * ```
 */
export function sinCos(theta: Tensor): [Tensor, Tensor] {
  const turns = div(theta, 2 * Math.PI);
  // round half away from zero via truncation of turns ± 0.5
  const k = cast(cast(add(turns, mul(sign(turns), 0.5)), "int32"), theta.dtype);
  const q = mul(sub(theta, mul(k, 2 * Math.PI)), 0.25);
  const q2 = mul(q, q);
  // Horner: sin q = q(1 − q²/3!(1 − q²/(4·5)(1 − …))), cos q = 1 − q²/2!(1 − q²/(3·4)(…))
  let s: Tensor = full(q.shape, 1, theta.dtype), c: Tensor = full(q.shape, 1, theta.dtype);
  for (let n = 7; n >= 1; n--) {
    s = sub(1, mul(s, div(q2, (2 * n) * (2 * n + 1))));
    c = sub(1, mul(c, div(q2, (2 * n - 1) * (2 * n))));
  }
  s = mul(s, q);
  for (let i = 0; i < 2; i++) {
    // sin 2a = 2 sin a cos a, cos 2a = 1 − 2 sin² a
    [s, c] = [mul(mul(s, c), 2), sub(1, mul(mul(s, s), 2))];
  }
  return [s, c];
}

/** Parameters of {@linkcode householder}: one angle per channel pair. */
export type HouseholderParams = {
  /** θ [1, C/2, 1, 1] for images, [1, D/2] for vectors. */
  theta: Tensor;
};

/** Configuration of {@linkcode householder}. */
export interface HouseholderConfig {
  /** Initial angle of every pair (default π/2, as the authors and deel-torchlip). */
  theta?: number;
}

/**
 * Householder activation of order 1 (Singla et al., ICLR 2022): with (x, y) the first and second
 * halves of the channels and θ per pair, s = x·sin(θ/2) − y·cos(θ/2) (signed distance to the
 * mirror line at angle θ/2); where s > 0 the pair is reflected,
 * (x, y) ↦ (x·cos θ + y·sin θ, x·sin θ − y·cos θ), else kept. On the line the reflection is the
 * identity, so the map is continuous; each piece is orthogonal, so it is 1-Lipschitz and keeps
 * norms. θ = π/2 sorts each pair (min in the first half, max in the second): MaxMin up to the
 * pairing. Input [B, C, H, W] or [B, D], C (D) even.
 *
 * @example
 * ```ts
 * import { householder, normal, randomKey } from "@sll/sll";
 * const act = householder();
 * const { params } = act.init(randomKey(0), [4, 8, 8]);
 * const y = act.apply(params, normal(randomKey(1), [2, 4, 8, 8]));
 * ```
 */
export function householder(config: HouseholderConfig = {}): Layer<HouseholderParams> {
  const theta0 = config.theta ?? Math.PI / 2;
  return defineLayer<HouseholderParams>({
    setup(inShape: readonly number[]): LayerSetup<HouseholderParams> {
      if (!(inShape.length === 1 || inShape.length === 3) || inShape[0] % 2 !== 0) {
        throw new TypeError(
          `householder: input shape must be [C, H, W] or [D] with an even C or D, got [${inShape}]`,
        );
      }
      const shape = inShape.length === 3 ? [1, inShape[0] / 2, 1, 1] : [1, inShape[0] / 2];
      return {
        outShape: [...inShape],
        params: { theta: { shape, init: (_k, s) => full(s, theta0) } },
      };
    },
    apply(params: HouseholderParams, z: Tensor): Tensor {
      const p = params.theta.shape[1];
      if (z.rank !== params.theta.rank || z.shape[1] !== 2 * p) {
        throw new TypeError(
          `householder: input [${z.shape}] must have ${
            2 * p
          } channels on axis 1 and rank ${params.theta.rank} (θ is [${params.theta.shape}])`,
        );
      }
      const half = (at: number): Tensor =>
        slice(
          z,
          z.shape.map((_, i) => (i === 1 ? at : 0)),
          z.shape.map((d, i) => (i === 1 ? p : d)),
        );
      const x = half(0), y = half(p);
      const t = params.theta;
      const [sh, ch] = sinCos(mul(t, 0.5));
      const reflect = greater(sub(mul(x, sh), mul(y, ch)), 0);
      // sin θ = 2 sin(θ/2) cos(θ/2), cos θ = 1 − 2 sin²(θ/2)
      const s = mul(mul(sh, ch), 2), c = sub(1, mul(mul(sh, sh), 2));
      const a = where(reflect, add(mul(x, c), mul(y, s)), x);
      const b = where(reflect, sub(mul(x, s), mul(y, c)), y);
      return concat([a, b], 1);
    },
  });
}

/**
 * The layer contract shared by every 1-Lipschitz layer: a pair of pure functions
 * `init(key, inShape) -> { outShape, params }` and `apply(params, x) -> y`, configuration captured
 * by the constructor (never in the parameter tree), plus `serial` to compose them.
 * Shapes passed to `init` exclude the batch axis: `[C, H, W]` for images, `[D]` for vectors.
 * @module
 */
import type { PRNGKey } from "../tensor/random.ts";
import { split } from "../tensor/random.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { Tree } from "../tensor/tree.ts";

/** A parameter tree: nested plain objects/arrays whose leaves are tensors (tensor/tree.ts). */
export type Params = Tree;

/** What `init` returns: the per-example output shape and the fresh parameters. */
export interface Initialized<P = Params> {
  /** Output shape without the batch axis. */
  outShape: number[];
  /** The parameter tree (plain object, `{}` for parameterless layers). */
  params: P;
}

/**
 * A layer: two pure functions over an explicit parameter tree.
 *
 * @example
 * ```ts
 * import { randomKey, zeros } from "@sll/sll";
 * import { sllDense, type Layer } from "@sll/sll";
 * const layer: Layer = sllDense({ features: 4, inner: 8 });
 * const { params } = layer.init(randomKey(0), [4]);
 * const y = layer.apply(params, zeros([2, 4]));
 * ```
 */
export interface Layer<P = Params> {
  /** Draws parameters for per-example input shape `inShape` (no batch axis). */
  init(key: PRNGKey, inShape: readonly number[]): Initialized<P>;
  /** Applies the layer to a batch `x` (batch axis first). */
  apply(params: P, x: Tensor): Tensor;
}

/**
 * Shape check shared by the layers: a readable TypeError naming the layer and the shapes
 * (`null` matches any size).
 *
 * @example
 * ```ts
 * expectShape("sllConv", [8, 28, 28], [8, null, null]); // ok
 * ```
 */
export function expectShape(
  name: string,
  got: readonly number[],
  want: readonly (number | null)[],
  what = "input shape",
): void {
  const ok = got.length === want.length && want.every((d, i) => d === null || d === got[i]);
  if (!ok) {
    const w = want.map((d) => (d === null ? "*" : String(d))).join(", ");
    throw new TypeError(`${name}: ${what} must be [${w}], got [${got.join(", ")}]`);
  }
}

/**
 * Composes layers left to right; params are an array with one entry per layer. The Lipschitz
 * constant of the composition is at most the product of the layers' constants (1 for 1-Lipschitz
 * layers).
 *
 * @example
 * ```ts
 * import { flatten, randomKey, serial, sllDense, zeros } from "@sll/sll";
 * const net = serial(flatten(), sllDense({ features: 16, inner: 32 }));
 * const { params, outShape } = net.init(randomKey(0), [1, 4, 4]); // outShape [16]
 * const y = net.apply(params, zeros([2, 1, 4, 4]));
 * ```
 */
// deno-lint-ignore no-explicit-any
export function serial(...layers: Layer<any>[]): Layer<Params[]> {
  return {
    init(key: PRNGKey, inShape: readonly number[]): Initialized<Params[]> {
      const keys = layers.length > 0 ? split(key, layers.length) : [];
      let shape = [...inShape];
      const params: Params[] = [];
      layers.forEach((l, i) => {
        const r = l.init(keys[i], shape);
        params.push(r.params as Params);
        shape = r.outShape;
      });
      return { outShape: shape, params };
    },
    apply(params: Params[], x: Tensor): Tensor {
      if (!Array.isArray(params) || params.length !== layers.length) {
        throw new TypeError(
          `serial: expected ${layers.length} parameter entries (one per layer), got ${
            Array.isArray(params) ? params.length : typeof params
          }`,
        );
      }
      return layers.reduce((h, l, i) => l.apply(params[i], h), x);
    },
  };
}

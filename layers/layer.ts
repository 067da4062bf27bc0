/**
 * The layer contract shared by every 1-Lipschitz layer: a pair of pure functions
 * `init(key, inShape) -> { outShape, params }` and `apply(params, x) -> y`, configuration captured
 * by the constructor (never in the parameter tree), plus `defineLayer` (init and parameter shapes
 * from one declaration) and the typed `serial` composition.
 * Shapes passed to `init` exclude the batch axis: `[C, H, W]` for images, `[D]` for vectors.
 * @module
 */
import { type PRNGKey, randomKey, split } from "../tensor/random.ts";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { mapTree, type Tree } from "../tensor/tree.ts";

/** A parameter tree: nested plain objects/arrays whose leaves are tensors (tensor/tree.ts). */
export type Params = Tree;

/** A parameter tree with every tensor leaf replaced by its shape. */
export type ShapeTree<P> = P extends Tensor ? number[]
  : { -readonly [K in keyof P]: ShapeTree<P[K]> };

/** What `init` returns: the per-example output shape and the fresh parameters. */
export interface Initialized<P = Params> {
  /** Output shape without the batch axis. */
  outShape: number[];
  /** The parameter tree (plain object, `{}` for parameterless layers). */
  params: P;
}

/** What `shapes` returns: `init`'s output shape and parameter shapes, nothing drawn. */
export interface LayerShapes<P = Params> {
  /** Output shape without the batch axis. */
  outShape: number[];
  /** The parameter tree's structure with each leaf's shape. */
  params: ShapeTree<P>;
}

/**
 * A layer: two pure functions over an explicit parameter tree, and two optional structural
 * facts about it.
 *
 * @example
 * ```ts
 * import { randomKey, sllDense, type Layer, type SllDenseParams, zeros } from "@sll/sll";
 * const layer: Layer<SllDenseParams> = sllDense({ inner: 8 });
 * const { params } = layer.init(randomKey(0), [4]);
 * const y = layer.apply(params, zeros([2, 4]));
 * ```
 */
export interface Layer<P = Params> {
  /** Draws parameters for per-example input shape `inShape` (no batch axis). */
  init(key: PRNGKey, inShape: readonly number[]): Initialized<P>;
  /** Applies the layer to a batch `x` (batch axis first). */
  apply(params: P, x: Tensor): Tensor;
  /**
   * The shapes `init` would return for `inShape`, without drawing anything. Optional for custom
   * layers: {@linkcode layerShapes} runs `init` once instead when it is missing.
   */
  shapes?(inShape: readonly number[]): LayerShapes<P>;
  /**
   * For a last layer whose logit differences f_i − f_j are ‖ŵ_i − ŵ_j‖-Lipschitz, ŵ the rows of
   * this weight normalised to unit L2 norm (as `linearNormalized`): that weight, for the margin
   * certificate. `null` (or no method) when the layer gives no such bound.
   */
  lastWeight?(params: P): Tensor | null;
  /**
   * Optional: a forward for repeated inference with the parameter-only work done once (the SLL
   * layers' rescaling t). Same outputs as `apply(params, ·)`; not for gradients. The caller
   * disposes it when done. {@linkcode prepareLayer} falls back to `apply` without it.
   */
  prepare?(params: P): PreparedForward;
  /**
   * Optional, for a layer that is 1-Lipschitz only when an iteration has converged (CPL's and
   * LiResNet's power iterations, SOC's truncated series): what a certified bound of its constant
   * for `params` on inputs of per-example shape `inShape` needs. certify/'s
   * `certifiedLipschitzBound` evaluates it; a layer without it is 1-Lipschitz by construction.
   */
  lipschitzClaim?(params: P, inShape: readonly number[]): LipschitzClaim;
}

/** A linear operator whose spectral norm a {@linkcode LipschitzClaim} needs bounded from above. */
export type ClaimOperator =
  | { /** A matrix W [out, in] (x ↦ Wx). */ kind: "dense"; weight: Tensor }
  | {
    /** A kernel [out, in, kh, kw] applied with zero padding ≤ k − 1 to inputs of `inSize`. */
    kind: "conv";
    weight: Tensor;
    /** Spatial size [H, W] of the inputs. */
    inSize: [number, number];
    /** The zero padding [top, left] when known (a tighter bound); any ≤ k − 1 otherwise. */
    padding?: [number, number];
  };

/**
 * A layer's declaration of what its certified Lipschitz bound is made of (layers/ states it,
 * certify/ proves it): certified upper bounds `norms[i]` ≥ ‖operators[i]‖₂ and the exact values
 * of `scalars` (one-element tensors read back) go into `bound`, which must be non-decreasing in
 * every norm. The caller disposes every tensor in it.
 */
export interface LipschitzClaim {
  /** What the bound is about, e.g. "CPL power iteration". */
  reason: string;
  /** Operators whose certified spectral norms `bound` takes (possibly none). */
  operators: ClaimOperator[];
  /** One-element tensors `bound` takes as numbers, e.g. the σ̂² `apply` divides by. */
  scalars: Tensor[];
  /** A bound of the layer's Lipschitz constant from the operators' norm bounds and scalars. */
  bound(norms: readonly number[], scalars: readonly number[]): number;
}

/** A forward pass with parameter-only work done once; `dispose` frees the tensors it holds. */
export interface PreparedForward {
  /** The layer (or network) applied to a batch `x`. */
  apply(x: Tensor): Tensor;
  /** Frees what preparing computed. */
  dispose(): void;
}

/**
 * `layer.prepare(params)` when the layer has one, else a forward that calls `layer.apply`.
 *
 * @example
 * ```ts
 * import { prepareLayer, randomKey, sllDense, zeros } from "@sll/sll";
 * const layer = sllDense({ inner: 8 });
 * const { params } = layer.init(randomKey(0), [4]);
 * const f = prepareLayer(layer, params); // t computed once here
 * const y = f.apply(zeros([2, 4]));
 * f.dispose();
 * ```
 */
export function prepareLayer<P>(layer: Layer<P>, params: P): PreparedForward {
  return layer.prepare?.(params) ?? {
    apply: (x: Tensor): Tensor => layer.apply(params, x),
    dispose: (): void => {},
  };
}

/** The parameter type of a layer. */
export type ParamsOf<L> = L extends Layer<infer P> ? P : never;

/** How one parameter is drawn: its shape and its initialiser. */
export interface ParamSpec {
  /** Shape of the parameter. */
  shape: number[];
  /** Draws the parameter of shape `shape` from `key`. */
  init(key: PRNGKey, shape: readonly number[]): Tensor;
}

/** What a {@linkcode LayerDefinition}'s `setup` declares for one input shape. */
export interface LayerSetup<P> {
  /** Output shape without the batch axis. */
  outShape: number[];
  /** One {@linkcode ParamSpec} per parameter, in the order keys are split for them. */
  params: { [K in keyof P]: ParamSpec };
}

/** The pieces {@linkcode defineLayer} builds a layer from. */
export interface LayerDefinition<P> {
  /** Validates `inShape` and declares the output shape and every parameter (no numbers drawn). */
  setup(inShape: readonly number[]): LayerSetup<P>;
  /** The forward map. */
  apply(params: P, x: Tensor): Tensor;
  /** See {@linkcode Layer.lastWeight}. */
  lastWeight?(params: P): Tensor | null;
  /** See {@linkcode Layer.prepare}. */
  prepare?(params: P): PreparedForward;
  /** See {@linkcode Layer.lipschitzClaim}. */
  lipschitzClaim?(params: P, inShape: readonly number[]): LipschitzClaim;
}

/**
 * A layer whose `init` and `shapes` both come from one `setup` declaration, so parameter shapes
 * are never kept beside `init` by hand. `init` splits its key once, one key per declared
 * parameter in declaration order.
 *
 * @example
 * ```ts
 * import { add, defineLayer, normal, randomKey, zeros, type Tensor } from "@sll/sll";
 * const shift = defineLayer<{ b: Tensor }>({
 *   setup: (inShape) => ({ outShape: [...inShape], params: { b: { shape: [...inShape], init: normal } } }),
 *   apply: (p, x) => add(x, p.b), // a translation: 1-Lipschitz
 * });
 * const { params } = shift.init(randomKey(0), [3]);
 * console.log(shift.shapes!([3]).params.b); // [3]
 * ```
 */
export function defineLayer<P>(definition: LayerDefinition<P>): Layer<P> {
  const layer: Layer<P> = {
    init(key: PRNGKey, inShape: readonly number[]): Initialized<P> {
      const s = definition.setup(inShape);
      const names = Object.keys(s.params) as (keyof P & string)[];
      const keys = names.length > 0 ? split(key, names.length) : [];
      const params: Record<string, Tensor> = {};
      names.forEach((n, i) => {
        const spec: ParamSpec = s.params[n];
        params[n] = spec.init(keys[i], spec.shape);
      });
      return { outShape: s.outShape, params: params as P };
    },
    apply: definition.apply,
    ...(definition.prepare ? { prepare: definition.prepare } : {}),
    shapes(inShape: readonly number[]): LayerShapes<P> {
      const s = definition.setup(inShape);
      const params: Record<string, number[]> = {};
      for (const [n, spec] of Object.entries<ParamSpec>(s.params)) params[n] = [...spec.shape];
      return { outShape: s.outShape, params: params as ShapeTree<P> };
    },
  };
  if (definition.lastWeight) layer.lastWeight = definition.lastWeight;
  if (definition.lipschitzClaim) layer.lipschitzClaim = definition.lipschitzClaim;
  return layer;
}

/**
 * The output and parameter shapes of `layer` for `inShape`: its `shapes` when it has one, else
 * `init` is run once (inside a scope, every tensor freed) and its shapes are read.
 *
 * @example
 * ```ts
 * import { layerShapes, sllConv } from "@sll/sll";
 * layerShapes(sllConv({ inner: 5 }), [8, 16, 16]).params.kernel; // [5, 8, 3, 3]
 * ```
 */
export function layerShapes<P>(layer: Layer<P>, inShape: readonly number[]): LayerShapes<P> {
  if (layer.shapes) return layer.shapes(inShape);
  return scope(() => {
    const r = layer.init(randomKey(0), inShape); // any key: only the shapes are read

    const params = mapTree(r.params, (t) => [...t.shape]) as unknown as ShapeTree<P>;
    return { outShape: [...r.outShape], params };
  });
}

/**
 * Shape check shared by the layers: a readable TypeError naming the layer and the shapes
 * (`null` matches any size).
 *
 * @example
 * ```ts
 * import { expectShape } from "@sll/sll";
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

/** A layer of any parameter type (what `serial` composes). */
// deno-lint-ignore no-explicit-any
export type AnyLayer = Layer<any>;

/** The parameter tuple of a `serial` of layers `Ls`: one entry per layer, typed. */
export type SerialParams<Ls extends readonly AnyLayer[]> = {
  -readonly [K in keyof Ls]: ParamsOf<Ls[K]>;
};

/** What {@linkcode serial} returns: a layer over a tuple of its layers' parameters. */
export interface Serial<Ps extends readonly unknown[]> extends Layer<Ps> {
  /** The composed layers, in order (entry i's parameters are `params[i]`). */
  readonly layers: readonly AnyLayer[];
  /** Output and parameter shapes for `inShape` (each layer's `shapes`, or its `init` once). */
  shapes(inShape: readonly number[]): LayerShapes<Ps>;
  /** The last layer's certificate weight (see {@linkcode Layer.lastWeight}), or `null`. */
  lastWeight(params: Ps): Tensor | null;
  /** Every layer prepared in turn (see {@linkcode Layer.prepare}); disposing frees them all. */
  prepare(params: Ps): PreparedForward;
}

/**
 * Composes layers left to right; params are a tuple with one entry per layer, typed by the
 * layers (`params[2].weight` type-checks when layer 2 has a weight). The Lipschitz constant of
 * the composition is at most the product of the layers' constants (1 for 1-Lipschitz layers).
 *
 * @example
 * ```ts
 * import { flatten, linearNormalized, randomKey, serial, sllDense, zeros } from "@sll/sll";
 * const net = serial(flatten(), sllDense({ inner: 32 }), linearNormalized({ features: 3 }));
 * const { params, outShape } = net.init(randomKey(0), [1, 4, 4]); // outShape [3]
 * const w = params[2].weight; // [3, 16]
 * const y = net.apply(params, zeros([2, 1, 4, 4]));
 * ```
 */
export function serial<Ls extends readonly AnyLayer[]>(...layers: Ls): Serial<SerialParams<Ls>> {
  type Ps = SerialParams<Ls>;
  const check = (params: unknown): Params[] => {
    if (!Array.isArray(params) || params.length !== layers.length) {
      throw new TypeError(
        `serial: expected ${layers.length} parameter entries (one per layer), got ${
          Array.isArray(params) ? params.length : typeof params
        }`,
      );
    }
    return params;
  };
  return {
    layers,
    init(key: PRNGKey, inShape: readonly number[]): Initialized<Ps> {
      const keys = layers.length > 0 ? split(key, layers.length) : [];
      let shape = [...inShape];
      const params: unknown[] = [];
      layers.forEach((l, i) => {
        const r = l.init(keys[i], shape);
        params.push(r.params);
        shape = r.outShape;
      });
      return { outShape: shape, params: params as Ps };
    },
    apply(params: Ps, x: Tensor): Tensor {
      const ps = check(params);
      return layers.reduce((h, l, i) => l.apply(ps[i], h), x);
    },
    prepare(params: Ps): PreparedForward {
      const ps = check(params), parts: PreparedForward[] = [];
      try {
        layers.forEach((l, i) => parts.push(prepareLayer(l, ps[i])));
      } catch (e) {
        parts.forEach((p) => p.dispose());
        throw e;
      }
      return {
        apply: (x: Tensor): Tensor => parts.reduce((h, p) => p.apply(h), x),
        dispose: (): void => parts.forEach((p) => p.dispose()),
      };
    },
    shapes(inShape: readonly number[]): LayerShapes<Ps> {
      let shape = [...inShape];
      const params: unknown[] = [];
      for (const l of layers) {
        const r = layerShapes(l, shape);
        params.push(r.params);
        shape = r.outShape;
      }
      return { outShape: shape, params: params as ShapeTree<Ps> };
    },
    lastWeight(params: Ps): Tensor | null {
      const ps = check(params);
      const last = layers[layers.length - 1];
      return last?.lastWeight ? last.lastWeight(ps[ps.length - 1]) : null;
    },
  };
}

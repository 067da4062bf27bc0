/**
 * Parameter trees from flat, path-keyed state dicts (ours: "3.kernel"; the reference's:
 * "module.model.model.3.kernel"), rebuilt from the layers' known shapes — never by drawing a
 * fresh network to copy into. One check lists every missing, unexpected and mismatched key.
 * Shape trees: each leaf is a shape (an array of numbers; `[]` is a scalar's), nodes are plain
 * objects and arrays of nodes.
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import type { DType } from "../kernels/dtype.ts";
import { cast, tensor } from "../tensor/ops.ts";
import type { ShapeTree } from "./layer.ts";

/** A state-dict value: a Tensor, or a host tensor record as `io/` reads it (float32/float64). */
export type StateDictValue = Tensor | {
  dtype: string;
  shape: readonly number[];
  data: ArrayLike<number> | BigInt64Array;
};

/** Options of `fromStateDict` and {@linkcode paramsFromStateDict}. */
export interface FromStateDictOptions {
  /** dtype of the created parameters (default float32; float64 for gradient checks). */
  dtype?: DType;
  /** Key prefix before each tree path (default "" here; "module.model.model." for networks). */
  prefix?: string;
}

/** Options of {@linkcode paramsFromStateDict}. */
export interface ParamsFromStateDictOptions extends FromStateDictOptions {
  /** Keys to skip without complaint (the reference's `alpha` entries, say). */
  ignore?: (key: string) => boolean;
  /** Start of the error message (what was being loaded, from where). */
  what?: string;
}

function isShape(v: unknown): v is readonly number[] {
  return Array.isArray(v) && v.every((d) => typeof d === "number");
}

/** Visits every shape leaf of `tree` with its dotted path. */
function forEachShape(
  tree: unknown,
  f: (shape: readonly number[], path: string) => void,
  path = "",
): void {
  if (isShape(tree)) return f(tree, path);
  const entries = Array.isArray(tree)
    ? tree.map((v, i) => [String(i), v] as const)
    : Object.entries(tree as Record<string, unknown>);
  for (const [k, v] of entries) forEachShape(v, f, path ? `${path}.${k}` : k);
}

function mapShapes(
  tree: unknown,
  f: (shape: readonly number[], path: string) => unknown,
  path = "",
): unknown {
  if (isShape(tree)) return f(tree, path);
  const at = (k: string): string => (path ? `${path}.${k}` : k);
  if (Array.isArray(tree)) return tree.map((v, i) => mapShapes(v, f, at(String(i))));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(tree as Record<string, unknown>)) {
    out[k] = mapShapes(v, f, at(k));
  }
  return out;
}

/**
 * Every parameter's shape by `prefix` + tree path.
 *
 * @example
 * ```ts
 * import { stateDictShapesOf } from "@sll/sll";
 * stateDictShapesOf([{}, { kernel: [5, 8, 3, 3] }], "m."); // { "m.1.kernel": [5, 8, 3, 3] }
 * ```
 */
export function stateDictShapesOf(
  shapes: unknown,
  prefix = "",
): Readonly<Record<string, readonly number[]>> {
  const out: Record<string, readonly number[]> = {};
  forEachShape(shapes, (s, p) => (out[prefix + p] = Object.freeze([...s])));
  return Object.freeze(out);
}

function toTensor(key: string, v: StateDictValue, dtype: DType): Tensor {
  if (v instanceof Tensor) return v.dtype === dtype ? v : cast(v, dtype);
  if (v.dtype !== "float32" && v.dtype !== "float64") {
    throw new TypeError(
      `${key} has dtype ${v.dtype}; convert it to float32 first (io's toFloat32)`,
    );
  }
  return tensor(v.data as ArrayLike<number>, { shape: v.shape, dtype });
}

/**
 * The parameter tree of shape tree `shapes` (a layer's `shapes(inShape).params`) with each leaf
 * taken from `stateDict[prefix + path]`. Throws one TypeError listing missing keys, unexpected
 * keys and shape mismatches, before creating any tensor.
 *
 * @example
 * ```ts
 * import { paramsFromStateDict, type SllDenseParams, sllDense, tensor } from "@sll/sll";
 * const { params: shapes } = sllDense({ inner: 1 }).shapes!([2]);
 * const p = paramsFromStateDict<SllDenseParams>(shapes, {
 *   weight: tensor([[1, 0]]), bias: tensor([[0]]), q: tensor([0]),
 * });
 * ```
 */
export function paramsFromStateDict<P>(
  shapes: ShapeTree<P>,
  stateDict: Readonly<Record<string, StateDictValue>>,
  options: ParamsFromStateDictOptions = {},
): P {
  const prefix = options.prefix ?? "";
  const dtype = options.dtype ?? "float32";
  const expected = stateDictShapesOf(shapes, prefix);
  const missing: string[] = [];
  const unexpected: string[] = [];
  const wrong: string[] = [];
  for (const k of Object.keys(stateDict)) {
    if (options.ignore?.(k)) continue;
    const want = expected[k];
    if (want === undefined) unexpected.push(`${k} [${stateDict[k].shape}]`);
    else if (stateDict[k].shape.join() !== want.join()) {
      wrong.push(`${k}: expected [${want}], got [${stateDict[k].shape}]`);
    }
  }
  for (const [k, s] of Object.entries(expected)) {
    if (!Object.hasOwn(stateDict, k)) missing.push(`${k} [${s}]`);
  }
  if (missing.length || unexpected.length || wrong.length) {
    const parts = [
      missing.length ? `missing keys: ${missing.join(", ")}` : "",
      unexpected.length ? `unexpected keys: ${unexpected.join(", ")}` : "",
      wrong.length ? `shape mismatches: ${wrong.join("; ")}` : "",
    ].filter((p) => p);
    throw new TypeError(
      `${options.what ?? "paramsFromStateDict: the state dict does not match the shapes"}:\n  ${
        parts.join("\n  ")
      }`,
    );
  }
  return mapShapes(shapes, (_s, p) => toTensor(prefix + p, stateDict[prefix + p], dtype)) as P;
}

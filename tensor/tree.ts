/**
 * Parameter trees: nested plain objects and arrays whose leaves are tensors. Helpers to map,
 * flatten by path (as checkpoints store them) and rebuild.
 * @module
 */
import { Tensor } from "./tensor.ts";

/** A tree of tensors: nested plain objects/arrays whose leaves are tensors. */
export type Tree = Tensor | readonly Tree[] | { readonly [key: string]: Tree };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

/**
 * Maps every tensor leaf; other leaves (numbers, strings, null) are kept as they are.
 *
 * @example
 * ```ts
 * import { mapTree, mul, tensor } from "@sll/sll";
 * const doubled = mapTree({ a: tensor([1]), b: [tensor([2])] }, (t) => mul(t, 2));
 * ```
 */
export function mapTree<T>(tree: T, f: (t: Tensor, path: string) => unknown, path = ""): T {
  if (tree instanceof Tensor) return f(tree, path) as T;
  if (Array.isArray(tree)) {
    return tree.map((v, i) => mapTree(v, f, path ? `${path}.${i}` : `${i}`)) as T;
  }
  if (isPlainObject(tree)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(tree)) out[k] = mapTree(v, f, path ? `${path}.${k}` : k);
    return out as T;
  }
  return tree;
}

/**
 * Tensor leaves by dotted path (`"0.kernel"`, `"layers.3.q"`), in a stable order.
 *
 * @example
 * ```ts
 * import { flattenTree, tensor } from "@sll/sll";
 * const flat = flattenTree({ w: tensor([1]), b: [tensor([2])] }); // { w: …, "b.0": … }
 * ```
 */
export function flattenTree(tree: unknown): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  mapTree(tree, (t, p) => (out[p] = t));
  return out;
}

/**
 * Rebuilds `template`'s structure with leaves looked up by path (missing paths throw,
 * naming them).
 *
 * @example
 * ```ts
 * import { flattenTree, tensor, unflattenTree } from "@sll/sll";
 * const tpl = { w: tensor([1]) };
 * const again = unflattenTree(tpl, flattenTree(tpl));
 * ```
 */
export function unflattenTree<T>(template: T, leaves: Record<string, Tensor>): T {
  return mapTree(template, (_t, p) => {
    const v = leaves[p];
    if (!v) throw new Error(`unflattenTree: no tensor for path "${p}"`);
    return v;
  });
}

/** Tensor leaves in tree order. */
export function leaves(tree: unknown): Tensor[] {
  return Object.values(flattenTree(tree));
}

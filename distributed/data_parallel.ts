/**
 * Data-parallel pieces over a World: the gradient tree averaged over ranks in ONE flat
 * all-reduce (with a few extra scalars riding along: the loss, a stop request), a parameter
 * tree broadcast from rank 0, a JSON value broadcast from rank 0, and a check that a value is
 * the same on every rank. With one process each is the identity.
 * @module
 */
import { concat, keep, mapTree, reshape, scope, type Tensor, tensor } from "../tensor/mod.ts";
import { leaves } from "../tensor/tree.ts";
import type { World } from "./world.ts";

/** All leaves of `tree` as one host Float32Array (leaf order), with `extra` free slots after. */
async function flatten(tree: unknown, extra: number): Promise<Float32Array> {
  const ls = leaves(tree);
  const total = ls.reduce((s, t) => s + t.size, 0);
  const out = new Float32Array(total + extra);
  if (ls.length === 0) return out;
  // one device read instead of one per leaf
  const flat = scope(() => concat(ls.map((t) => reshape(t, [t.size])), 0));
  try {
    out.set(await flat.data() as Float32Array, 0);
  } finally {
    flat.dispose();
  }
  return out;
}

/** A tree shaped like `template` whose leaves are read from `flat` in leaf order. */
function unflatten<T>(template: T, flat: Float32Array): T {
  let offset = 0;
  return keep(mapTree(template, (t: Tensor) => {
    const n = t.size;
    const v = tensor(flat.subarray(offset, offset + n), { shape: [...t.shape] });
    offset += n;
    return v;
  }));
}

/**
 * Averages a gradient tree over the ranks of `world`: every leaf is copied into one flat
 * float32 buffer, followed by `extras`, summed in ONE in-place all-reduce and divided by the
 * number of ranks. Returns new (kept) gradient tensors — dispose them — and the averaged
 * extras. A NaN on any rank becomes a NaN on every rank, so all ranks see it at the same step.
 *
 * @example
 * ```ts ignore
 * import { averageOverRanks } from "./data_parallel.ts";
 * const { tree: g, extras: [loss] } = await averageOverRanks(world, grads, [lossValue]);
 * ```
 */
export async function averageOverRanks<T>(
  world: World,
  tree: T,
  extras: readonly number[] = [],
): Promise<{ tree: T; extras: number[] }> {
  const flat = await flatten(tree, extras.length);
  const base = flat.length - extras.length;
  extras.forEach((v, i) => (flat[base + i] = v));
  world.allReduce(flat, "sum");
  const n = world.size;
  if (n !== 1) { for (let i = 0; i < flat.length; i++) flat[i] /= n; }
  return { tree: unflatten(tree, flat.subarray(0, base)), extras: [...flat.subarray(base)] };
}

/**
 * Rank 0's values of a tensor tree on every rank: returns a new kept tree (dispose the old
 * one) whose leaves hold rank 0's numbers; every rank must pass a tree of the same structure
 * and shapes. With one process it returns `tree` itself.
 *
 * @example
 * ```ts ignore
 * import { broadcastTree } from "./data_parallel.ts";
 * const p = await broadcastTree(world, params); // rank 0's parameters everywhere
 * ```
 */
export async function broadcastTree<T>(world: World, tree: T): Promise<T> {
  if (world.size === 1) return tree;
  const flat = world.isRoot
    ? await flatten(tree, 0)
    : new Float32Array(leaves(tree).reduce((s, t) => s + t.size, 0));
  checkSame(world, [flat.length], "the parameter count");
  world.broadcast(flat, 0);
  return unflatten(tree, flat);
}

/**
 * Rank 0's JSON-serialisable value on every rank (its length, then its UTF-8 bytes).
 *
 * @example
 * ```ts ignore
 * import { broadcastJson } from "./data_parallel.ts";
 * const config = broadcastJson(world, world.isRoot ? resolved : undefined);
 * ```
 */
export function broadcastJson<T>(world: World, value: T): T {
  if (world.size === 1) return value;
  const bytes = world.isRoot ? new TextEncoder().encode(JSON.stringify(value)) : new Uint8Array();
  const len = new Int32Array([bytes.length]);
  world.broadcast(len, 0);
  const buf = world.isRoot ? bytes : new Uint8Array(len[0]);
  world.broadcast(buf, 0);
  return world.isRoot ? value : JSON.parse(new TextDecoder().decode(buf)) as T;
}

/**
 * Throws on every rank when `values` differ between ranks (compared exactly, via all-reduced
 * max of v and of −v), naming `what`.
 *
 * @example
 * ```ts ignore
 * import { checkSame } from "./data_parallel.ts";
 * checkSame(world, [stepsPerEpoch], "the steps per epoch");
 * ```
 */
export function checkSame(world: World, values: readonly number[], what: string): void {
  if (world.size === 1) return;
  const hi = Float64Array.from(values);
  const lo = Float64Array.from(values, (v) => -v);
  world.allReduce(hi, "max");
  world.allReduce(lo, "max");
  for (let i = 0; i < values.length; i++) {
    if (hi[i] !== -lo[i]) {
      throw new Error(
        `${what} differs between the ${world.size} ranks (from ${-lo[i]} to ${hi[i]}; this ` +
          `rank ${world.rank}: ${values[i]}); start every rank with the same command, data ` +
          `and backend`,
      );
    }
  }
}

/**
 * A 64-bit-float checksum of a tensor tree's values (sum of value·(1 + i mod 7)), for
 * `checkSame` across ranks: equal trees give equal sums bit for bit.
 *
 * @example
 * ```ts ignore
 * import { checkSame, treeChecksum } from "./data_parallel.ts";
 * checkSame(world, [await treeChecksum(params)], "the parameters");
 * ```
 */
export async function treeChecksum(tree: unknown): Promise<number> {
  const flat = await flatten(tree, 0);
  let s = 0;
  for (let i = 0; i < flat.length; i++) s += flat[i] * (1 + (i % 7));
  return s;
}

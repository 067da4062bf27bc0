/**
 * Mini-batches over a host Dataset: optional shuffling and augmentation, both derived from one
 * key and the epoch number, so (key, epoch) fixes the order and the augmented pixels exactly.
 * `prefetchBatches` prepares batch k+1 in a macrotask while the consumer awaits on batch k.
 * Batches are fresh copies: consumers may keep or mutate them.
 * @module
 */

import type { Dataset } from "./dataset.ts";
import type { Augment, BatchShape } from "./augment.ts";
import { type KeyData, permutationHost, splitKey, threefry2x32 } from "../tensor/prng.ts";

/** One mini-batch. */
export interface Batch {
  /** Images, `size`·C·H·W values (NCHW). */
  x: Float32Array;
  /** Labels, `size` values. */
  y: Int32Array;
  /** Number of examples (the last batch may be smaller unless `dropLast`). */
  size: number;
  /** Position of this batch in the epoch, from 0. */
  index: number;
  /** [size, C, H, W]. */
  shape: [number, number, number, number];
}

/** Options of `batches` and `prefetchBatches`. */
export interface BatchOptions {
  /** Examples per batch. */
  batchSize: number;
  /** Shuffles (and drives augmentation) when given; without it the order is 0..n-1. */
  key?: KeyData;
  /** Epoch number mixed into the key (default 0): same key and epoch, same batches. */
  epoch?: number;
  /** Drop the last incomplete batch (default false). */
  dropLast?: boolean;
  /** Shuffle when a key is given (default true); false keeps order but still augments. */
  shuffle?: boolean;
  /** Applied to each batch with its own key; must keep the batch length. Needs `key`. */
  augment?: Augment;
  /** Only this rank's share of the epoch's order (see `shardOrder`); default the whole order. */
  shard?: { rank: number; size: number };
}

const EPOCH_TAG = 0x45504f43; // "EPOC": a counter word no other derivation uses

/**
 * The key of one epoch: a deterministic function of (key, epoch), independent of `splitKey`.
 *
 * @example
 * ```ts
 * import { epochKey, keyFromSeed } from "@sll/sll/data";
 * epochKey(keyFromSeed(0), 3); // two uint32 words
 * ```
 */
export function epochKey(key: KeyData, epoch: number): KeyData {
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0xffffffff) {
    throw new RangeError(`epochKey: epoch must be an integer in [0, 2^32), got ${epoch}`);
  }
  return threefry2x32(key[0], key[1], EPOCH_TAG, epoch);
}

/**
 * Number of batches per epoch.
 *
 * @example
 * ```ts
 * import { numBatches } from "@sll/sll/data";
 * numBatches(10, 4); // 3
 * numBatches(10, 4, true); // 2
 * ```
 */
export function numBatches(n: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

/**
 * The example order of one epoch: a permutation of 0..n-1 drawn from (key, epoch), or the
 * identity without a key.
 *
 * @example
 * ```ts
 * import { epochOrder, keyFromSeed } from "@sll/sll/data";
 * epochOrder(5, keyFromSeed(1), 0); // a permutation of [0, 1, 2, 3, 4]
 * ```
 */
export function epochOrder(n: number, key?: KeyData, epoch = 0): Int32Array {
  if (key === undefined) return Int32Array.from({ length: n }, (_, i) => i);
  return permutationHost(splitKey(epochKey(key, epoch), 2)[0], n);
}

/**
 * Rank `rank`'s share of an epoch order split over `size` processes, as PyTorch's
 * DistributedSampler (drop_last false): the order is padded with its own first entries to a
 * multiple of `size`, and the rank takes every `size`-th entry from position `rank`. Batch k of
 * every rank together is then batch k of one process with `size` times the batch size.
 *
 * @example
 * ```ts
 * import { shardOrder } from "@sll/sll/data";
 * shardOrder(Int32Array.from([5, 3, 1, 4, 0]), 1, 2); // [3, 4, 5]
 * ```
 */
export function shardOrder(order: Int32Array, rank: number, size: number): Int32Array {
  if (!Number.isInteger(size) || size < 1 || !Number.isInteger(rank) || rank < 0 || rank >= size) {
    throw new RangeError(`shardOrder: rank ${rank} of ${size} is not a rank of 0..size-1`);
  }
  if (size === 1) return order;
  const per = Math.ceil(order.length / size);
  const out = new Int32Array(order.length === 0 ? 0 : per);
  for (let i = 0; i < out.length; i++) out[i] = order[(rank + i * size) % order.length];
  return out;
}

/** Returns a function building batch i of the epoch described by `opts`. */
function batchMaker(
  ds: Dataset,
  opts: BatchOptions,
): { count: number; make: (i: number) => Batch } {
  const { batchSize } = opts;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(
      `batches(${ds.name}): batchSize must be a positive integer, got ${batchSize}`,
    );
  }
  if (opts.augment && opts.key === undefined) {
    throw new TypeError(
      `batches(${ds.name}): augment needs a key; pass key (and shuffle: false to keep the order)`,
    );
  }
  const epoch = opts.epoch ?? 0;
  const shuffle = opts.key !== undefined && (opts.shuffle ?? true);
  const full = shuffle ? epochOrder(ds.n, opts.key, epoch) : epochOrder(ds.n);
  const order = opts.shard ? shardOrder(full, opts.shard.rank, opts.shard.size) : full;
  const rank = opts.shard?.rank ?? 0;
  const augKey = opts.key === undefined ? undefined : splitKey(epochKey(opts.key, epoch), 2)[1];
  const [c, h, w] = ds.shape;
  const per = c * h * w;
  const count = numBatches(order.length, batchSize, opts.dropLast);
  const make = (index: number): Batch => {
    const start = index * batchSize;
    const size = Math.min(batchSize, order.length - start);
    let x: Float32Array = new Float32Array(size * per);
    const y = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      const j = order[start + i];
      x.set(ds.images.subarray(j * per, (j + 1) * per), i * per);
      y[i] = ds.labels[j];
    }
    const shape: [number, number, number, number] = [size, c, h, w];
    if (opts.augment && augKey) {
      // batch key = splitKey(augKey, count)[index], without materialising all of them; each
      // rank of a sharded epoch draws its own (rank 0's are those of one process)
      const k = threefry2x32(augKey[0], augKey[1], rank, index);
      const out = opts.augment(x, shape as BatchShape, k);
      if (out.length !== x.length) {
        throw new RangeError(
          `batches(${ds.name}): augment returned ${out.length} values for a batch of ` +
            `${x.length}; augmentations must keep the shape [${shape.join(", ")}]`,
        );
      }
      x = out;
    }
    return { x, y, size, index, shape };
  };
  return { count, make };
}

/**
 * Iterates over the mini-batches of one epoch (synchronously).
 *
 * @example
 * ```ts
 * import { batches, keyFromSeed } from "@sll/sll/data";
 * const ds = {
 *   name: "toy", images: new Float32Array(10), labels: new Int32Array(10), n: 10,
 *   shape: [1, 1, 1] as [number, number, number], numClasses: 1,
 * };
 * for (const b of batches(ds, { batchSize: 4, key: keyFromSeed(0), epoch: 2 })) {
 *   console.log(b.index, b.size); // 0 4, 1 4, 2 2
 * }
 * ```
 */
export function* batches(ds: Dataset, opts: BatchOptions): Generator<Batch, void, undefined> {
  const { count, make } = batchMaker(ds, opts);
  for (let i = 0; i < count; i++) yield make(i);
}

/** A computation started in a macrotask that can also be forced synchronously. */
class Pending<T> {
  #done = false;
  #value?: T;
  #error?: unknown;
  #timer: ReturnType<typeof setTimeout>;
  constructor(private readonly f: () => T) {
    this.#timer = setTimeout(() => this.#run(), 0);
  }
  #run(): void {
    if (this.#done) return;
    this.#done = true;
    try {
      this.#value = this.f();
    } catch (e) {
      this.#error = e;
    }
  }
  take(): T {
    clearTimeout(this.#timer);
    this.#run();
    if (this.#error !== undefined) throw this.#error;
    return this.#value as T;
  }
  cancel(): void {
    clearTimeout(this.#timer);
    this.#done = true;
  }
}

/**
 * Like `batches`, but batch k+1 (gather, copy, augmentation) is prepared in a timer task as soon
 * as batch k is handed out, so it runs while the consumer awaits (e.g. a GPU readback). If the
 * consumer asks before that task ran, the batch is built on the spot; results are identical to
 * `batches`. Leaving the loop early cancels the pending work.
 *
 * @example
 * ```ts
 * import { prefetchBatches } from "@sll/sll/data";
 * const ds = {
 *   name: "toy", images: new Float32Array(10), labels: new Int32Array(10), n: 10,
 *   shape: [1, 1, 1] as [number, number, number], numClasses: 1,
 * };
 * for await (const b of prefetchBatches(ds, { batchSize: 4 })) console.log(b.index);
 * ```
 */
export async function* prefetchBatches(
  ds: Dataset,
  opts: BatchOptions,
): AsyncGenerator<Batch, void, undefined> {
  const { count, make } = batchMaker(ds, opts);
  let pending = count > 0 ? new Pending(() => make(0)) : undefined;
  try {
    for (let i = 0; i < count; i++) {
      const current = pending!.take();
      pending = i + 1 < count ? new Pending(() => make(i + 1)) : undefined;
      yield current;
    }
  } finally {
    pending?.cancel();
  }
}

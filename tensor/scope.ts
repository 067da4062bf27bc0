/**
 * Memory scopes: `scope(fn)` frees what `fn` created except what its result reaches, `keep` and
 * `dispose` act on trees, `memory()` reports live tensors and bytes. A tensor a live trace
 * recorded outlives its scope (the pullback reads it) and moves to the enclosing one.
 * @module
 */
import type { BackendName } from "../kernels/prims.ts";
import { activeBackend } from "./backend.ts";
import {
  forEachTensor,
  liveStats,
  type MemoryInfo,
  peakBytes,
  scopeFrames,
  type Tensor,
} from "./tensor.ts";
import { pinnedByTrace } from "./trace.ts";

/**
 * Live tensors and bytes on the current backend (or the one named).
 *
 * @example
 * ```ts
 * import { memory, scope, tensor } from "@sll/sll";
 * const before = memory().tensors;
 * scope(() => tensor([1, 2, 3]));
 * console.log(memory().tensors === before); // true
 * ```
 */
export function memory(backend: BackendName = activeBackend().name): MemoryInfo {
  const s = liveStats(backend);
  return { tensors: s.tensors, bytes: s.bytes };
}

/**
 * The most bytes of live tensors on the current backend (or the one named) since the last
 * {@linkcode resetPeakMemory} (or the start): what a computation needed at its peak, its
 * intermediates included.
 *
 * @example
 * ```ts
 * import { peakMemory, resetPeakMemory, scope, tensor } from "@sll/sll";
 * resetPeakMemory();
 * scope(() => tensor(new Float32Array(1024)));
 * console.log(peakMemory().bytes >= 4096); // true
 * ```
 */
export function peakMemory(backend: BackendName = activeBackend().name): { bytes: number } {
  return { bytes: Math.max(peakBytes.get(backend) ?? 0, liveStats(backend).bytes) };
}

/**
 * Restarts {@linkcode peakMemory}'s high-water mark at the bytes live now.
 *
 * @example
 * ```ts
 * import { peakMemory, resetPeakMemory } from "@sll/sll";
 * resetPeakMemory();
 * const base = peakMemory().bytes;
 * ```
 */
export function resetPeakMemory(backend: BackendName = activeBackend().name): void {
  peakBytes.set(backend, liveStats(backend).bytes);
}

/** @internal Lists a new tensor in the innermost scope; returns it. */
export function register(t: Tensor): Tensor {
  scopeFrames[scopeFrames.length - 1]?.add(t);
  return t;
}

/**
 * Runs `fn` synchronously and disposes every tensor created inside except those reachable from
 * its result, which move to the enclosing scope. Throws if `fn` returns a Promise.
 *
 * @example
 * ```ts
 * import { add, scope, tensor } from "@sll/sll";
 * const y = scope(() => add(tensor([1, 2]), tensor([3, 4]))); // the inputs are freed
 * ```
 */
export function scope<T>(fn: () => T): T {
  const frame = new Set<Tensor>();
  scopeFrames.push(frame);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopeFrames.pop();
    for (const t of frame) if (!t.kept) t.dispose();
    throw e;
  }
  scopeFrames.pop();
  if (result instanceof Promise) {
    for (const t of frame) if (!t.kept) t.dispose();
    throw new TypeError(
      "scope: fn returned a Promise; scope() only tracks synchronous work. Await outside, or use keep()/dispose() explicitly",
    );
  }
  const keepSet = new Set<Tensor>();
  forEachTensor(result, (t) => keepSet.add(t));
  const parent = scopeFrames[scopeFrames.length - 1];
  for (const t of frame) {
    // tensors an active trace recorded must outlive this scope: the pullback reads them
    if (keepSet.has(t) || t.kept || pinnedByTrace(t)) {
      if (parent && !t.kept) parent.add(t);
    } else {
      t.dispose();
    }
  }
  return result;
}

/**
 * Marks every tensor of a tree as kept: no scope will dispose it. Returns the tree.
 *
 * @example
 * ```ts
 * import { keep, scope, tensor } from "@sll/sll";
 * const params = scope(() => keep({ w: tensor([1, 2]) }));
 * ```
 */
export function keep<T>(tree: T): T {
  forEachTensor(tree, (t) => {
    const r = t.ref("keep");
    r.backend.settle?.(r.storage); // a long-lived value: compute it now, not at its next use
    t.kept = true;
    for (const s of scopeFrames) s.delete(t);
  });
  return tree;
}

/**
 * Disposes every tensor of a tree. Returns the tree.
 *
 * @example
 * ```ts
 * import { dispose, tensor } from "@sll/sll";
 * dispose({ a: tensor([1]), b: [tensor([2])] });
 * ```
 */
export function dispose<T>(tree: T): T {
  forEachTensor(tree, (t) => t.dispose());
  return tree;
}

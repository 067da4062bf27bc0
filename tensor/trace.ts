/**
 * The tape of reverse-mode autodiff: the stack of active traces and what each records. A trace
 * tracks the ids of tensors that depend on its inputs; every primitive applied to a tracked
 * tensor appends a node holding its typed pullback. Autodiff (one level up) walks the nodes.
 * @module
 */
import type { Tensor } from "./tensor.ts";

/**
 * Cotangents of a node's inputs from the cotangent `g` of its output (null: not differentiable
 * there, or not needed). `needs[i]` says whether input i is traced.
 */
export type NodePullback = (g: Tensor, needs: readonly boolean[]) => (Tensor | null)[];

/** One recorded primitive application. */
export interface TapeNode {
  /** The primitive's name (for error messages). */
  prim: string;
  /** Its inputs, in order. */
  inputs: Tensor[];
  /** Its output. */
  output: Tensor;
  /** The primitive's vjp rule bound to these inputs, output and params. */
  pullback: NodePullback;
  /** Cotangents may have the broadcast shape and are summed back to each input's shape. */
  broadcasts: boolean;
}

/** An active trace: which tensors depend on the traced inputs, and the nodes producing them. */
export interface Trace {
  /** Ids of the tensors that depend on the traced inputs. */
  tracked: Set<number>;
  /** Recorded nodes, in the order they ran. */
  nodes: TapeNode[];
  /** Inputs and outputs of recorded nodes: scopes must not free them while the trace lives. */
  pinned: Set<Tensor>;
}

const traces: Trace[] = [];
let paused = 0;

/** @internal Starts recording into `trace` (until `endTrace`). */
export function beginTrace(trace: Trace): void {
  traces.push(trace);
}

/** @internal Stops recording into `trace`. */
export function endTrace(trace: Trace): void {
  traces.splice(traces.lastIndexOf(trace), 1);
}

/** @internal True when some active trace depends on `t`. */
export function isTracked(t: Tensor): boolean {
  for (const tr of traces) if (tr.tracked.has(t.id)) return true;
  return false;
}

/** @internal True when an active trace recorded `t` (its pullback will read it). */
export function pinnedByTrace(t: Tensor): boolean {
  for (const tr of traces) if (tr.pinned.has(t)) return true;
  return false;
}

/** @internal Runs fn with recording switched off (used by stopGradient). */
export function untraced<T>(fn: () => T): T {
  paused++;
  try {
    return fn();
  } finally {
    paused--;
  }
}

/**
 * @internal Records `node` on every active trace that tracks one of its inputs (none while
 * paused).
 */
export function record(node: TapeNode): void {
  if (paused) return;
  for (const tr of traces) {
    if (node.inputs.some((x) => tr.tracked.has(x.id))) {
      tr.nodes.push(node);
      tr.tracked.add(node.output.id);
      for (const x of node.inputs) tr.pinned.add(x);
      tr.pinned.add(node.output);
    }
  }
}

/** @internal True when some trace is active and recording is not paused. */
export function recording(): boolean {
  return traces.length > 0 && paused === 0;
}

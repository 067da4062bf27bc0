/**
 * Elementwise fusion on WebGPU: elementwise ops (unary, binary, compare, where, cast, and
 * broadcastTo), their WGSL read from the shared `ELEMENTWISE` table, are recorded as pending
 * values (`Fused`) instead of dispatched; a pending value runs as one `fusedKernel` dispatch
 * when it is needed (read, kept, or used by any other op). One-element uploads become constants.
 * Invariant: a pending value counts once among the `readers` of each leaf buffer it reads.
 * @module
 */
import type { DType } from "../dtype.ts";
import { fusableExprIn } from "../fusable.ts";
import type { OutInfo, PrimName, PrimParams } from "../prims.ts";
import { fmt, sameShape, sizeOf } from "../shape.ts";
import type { CommandBatcher } from "./batcher.ts";
import { PARAMS_WINDOW } from "./batcher.ts";
import type { Arg } from "./context.ts";
import {
  broadcastView,
  FUSED_CONST,
  type FusedConst,
  fusedKernel,
  type FusedNode,
  type View,
} from "./map.wgsl.ts";
import type { BufferPool } from "./pool.ts";
import { BYTES, type Fused, type GpuStorage, pendingStorage } from "./storage.ts";

/** Most operations one fused kernel evaluates (bounds the work a pending value can repeat). */
const MAX_FUSED_NODES = 24;
/** Most input buffers of one fused kernel (and at most the adapter's storage bindings − 1). */
const MAX_FUSED_LEAVES = 8;

/**
 * The scalar WGSL expression (operands a, b, c in input order, each read through a broadcast
 * view of the output) of an elementwise primitive or broadcastTo, or null for every other
 * primitive. These are what the backend fuses.
 *
 * @example
 * ```ts
 * import { elementwiseExpr } from "./fusion.ts";
 * elementwiseExpr("compare", { op: "lt" }, [], "int32"); // "select(0i, 1i, a < b)"
 * ```
 */
export function elementwiseExpr<P extends PrimName>(
  prim: P,
  params: PrimParams[P],
  inputs: readonly Arg[],
  outDType: DType,
): string | null {
  return fusableExprIn("wgsl", prim, params, outDType, inputs[0]?.dtype ?? outDType);
}

function sameView(a: View, b: View): boolean {
  return a.offset === b.offset && a.dtype === b.dtype && sameShape(a.strides, b.strides);
}

/** Records elementwise ops as pending values and computes them when they are needed. */
export class Fuser {
  /** Elementwise ops recorded as pending values since creation. */
  fusedOps = 0;
  readonly #pool: BufferPool;
  readonly #batcher: CommandBatcher;
  readonly #maxLeaves: number;

  /** A fuser allocating from `pool` and dispatching through `batcher`. */
  constructor(pool: BufferPool, batcher: CommandBatcher, maxStorageBuffers: number) {
    this.#pool = pool;
    this.#batcher = batcher;
    this.#maxLeaves = Math.min(MAX_FUSED_LEAVES, maxStorageBuffers - 1);
  }

  /** A one-element upload as a constant of the kernels that use it: no buffer, no write. */
  scalar(value: number, dtype: DType): GpuStorage {
    return pendingStorage({
      shape: [],
      dtype,
      leaves: [],
      views: [],
      consts: [{ value, dtype }],
      nodes: [{ expr: "a", args: [FUSED_CONST] }],
      ops: [{ prim: "upload", inputs: [] }],
    });
  }

  /** Computes a pending value into a buffer of its own (in the current batch); else nothing. */
  settle(s: GpuStorage): void {
    const e = s.expr;
    if (!e) return;
    const o = this.#pool.alloc(s.bytes);
    const what = e.ops.map((op) =>
      `${op.prim} ${op.inputs.map((x) => `${x.dtype}${fmt(x.shape)}`).join(", ")}`
    );
    this.#batcher.dispatch(
      what.length === 1 ? what[0] : `fused (${what.join("; ")})`,
      fusedKernel(e.nodes, e.views, e.consts, e.shape, e.dtype),
      e.leaves,
      o,
    );
    s.buffer = o.buffer;
    s.cls = o.cls;
    s.batch = o.batch;
    s.expr = null;
    this.#pool.dropReaders(e.leaves);
  }

  /**
   * Records an elementwise op as a pending value instead of dispatching it. Pending inputs with
   * the output's shape, and pending scalars of any shape, are inlined (their nodes copied,
   * shared subexpressions merged) within MAX_FUSED_NODES nodes, the binding budget and the
   * Params window; any other pending input is materialised first and read as a buffer,
   * broadcast as needed.
   */
  fuse(prim: PrimName, expr: string, inputs: Arg[], out: OutInfo): GpuStorage {
    this.#pool.checkBytes(sizeOf(out.shape) * BYTES); // fail at the op, not later where it runs
    const r = out.shape.length;
    const maxLeaves = this.#maxLeaves;
    // Params words: n and the dims, per input an offset and r strides, one per constant
    const words = (nLeaves: number, nConsts: number) => 1 + r + nLeaves * (1 + r) + nConsts;
    let leaves: GpuStorage[] = [];
    let views: View[] = [];
    let consts: FusedConst[] = [];
    let nodes: FusedNode[] = [];
    let ops: Fused["ops"] = [];
    // node keys for merging shared subexpressions; built only once a second source needs it
    let index: Map<string, number> | null = null;
    const keyOf = (nd: FusedNode) => `${nd.expr}(${nd.args})`;
    const leafOf = (s: GpuStorage, v: View): number => {
      for (let k = 0; k < leaves.length; k++) {
        if (leaves[k] === s && sameView(views[k], v)) return -(k + 1);
      }
      leaves.push(s);
      views.push(v);
      return -leaves.length;
    };
    const constOf = (c: FusedConst): number => {
      let k = consts.findIndex((d) => d.dtype === c.dtype && Object.is(d.value, c.value));
      if (k < 0) k = consts.push(c) - 1;
      return FUSED_CONST + k;
    };
    const nodeOf = (nd: FusedNode, op: Fused["ops"][number]): number => {
      index ??= new Map(nodes.map((x, j) => [keyOf(x), j]));
      const key = keyOf(nd);
      let j = index.get(key);
      if (j === undefined) {
        index.set(key, j = nodes.length);
        nodes.push(nd);
        ops.push(op);
      }
      return j;
    };
    const args = inputs.map((x, i) => {
      const s = x.storage, e = s.expr;
      const rest = inputs.length - 1 - i; // later inputs may each need a binding
      if (
        e && (
          (e.leaves.length === 0 && sizeOf(e.shape) === 1) || // a scalar: any shape
          (sameShape(e.shape, out.shape) && sameShape(x.shape, out.shape))
        ) &&
        nodes.length + e.nodes.length < MAX_FUSED_NODES &&
        leaves.length + e.leaves.length + rest <= maxLeaves &&
        words(leaves.length + e.leaves.length + rest, consts.length + e.consts.length) <=
          PARAMS_WINDOW / 4
      ) {
        if (nodes.length === 0 && leaves.length === 0 && consts.length === 0) {
          // the first source: its nodes and leaves are already distinct, copy them as they are
          nodes = e.nodes.slice();
          ops = e.ops.slice();
          leaves = e.leaves.slice();
          views = e.views.slice();
          consts = e.consts.slice();
          return nodes.length - 1;
        }
        const lmap = e.leaves.map((l, k) => leafOf(l, e.views[k]));
        const cmap = e.consts.map(constOf);
        const nmap: number[] = [];
        e.nodes.forEach((nd, j) =>
          nmap.push(nodeOf({
            expr: nd.expr,
            args: nd.args.map((a) =>
              a < 0 ? lmap[-a - 1] : a >= FUSED_CONST ? cmap[a - FUSED_CONST] : nmap[a]
            ),
          }, e.ops[j]))
        );
        return nmap[nmap.length - 1];
      }
      this.settle(s);
      return leafOf(s, broadcastView(x.shape, out.shape, x.dtype));
    });
    const op = { prim, inputs: inputs.map((x) => ({ dtype: x.dtype, shape: x.shape })) };
    if (index) nodeOf({ expr, args }, op);
    else { // one source or none: no key index to consult (the common chain case)
      nodes.push({ expr, args });
      ops.push(op);
    }
    for (const l of leaves) l.readers++;
    this.fusedOps++;
    return pendingStorage({
      shape: out.shape,
      dtype: out.dtype,
      leaves,
      views,
      consts,
      nodes,
      ops,
    });
  }
}

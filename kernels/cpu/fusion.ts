/**
 * Elementwise fusion on the CPU, as WebGPU's (kernels/webgpu/fusion.ts): elementwise ops (unary,
 * binary, compare, where, cast, broadcastTo), their JS read from the shared `ELEMENTWISE` table,
 * are recorded as `Pending` values; a pending value runs as ONE generated loop over its inputs
 * (`new Function`, cached by structure) when it is needed — read, kept, or used by an op that
 * is not fused. Every intermediate is rounded to its dtype (Math.fround / ToInt32) as the
 * unfused kernels' stores do, so fused and unfused results agree bit for bit (NaN payloads
 * aside). Invariant: an array read by a pending value is never handed back to the host pool
 * before that value has run or been dropped (`pins`).
 * @module
 */
import type { DType, TypedArray } from "../dtype.ts";
import { fusableExprIn } from "../fusable.ts";
import type { KernelArg, KernelName, OutInfo, PrimParams } from "../prims.ts";
import { sameShape, sizeOf } from "../shape.ts";
import { allocKernelF32, allocUninit, releaseArray } from "./host_pool.ts";
import { planBroadcast } from "./strided.ts";
import { runWasmLoop, type WasmNode } from "./fusion_wasm.ts";

/** Outputs with at least this many elements run as WebAssembly SIMD when the tree allows. */
let wasmMinElements = 1024;

/**
 * @internal Sets the size from which fused loops run as WebAssembly SIMD (0: always, Infinity:
 * never — the JS loop); returns the previous value. For tests of both paths.
 */
export function setWasmFusionMin(n: number): number {
  const was = wasmMinElements;
  wasmMinElements = n;
  return was;
}

/** Most operations one fused loop evaluates (bounds the work a pending value can repeat). */
const MAX_FUSED_NODES = 32;
/** Most distinct input arrays of one fused loop. */
const MAX_FUSED_LEAVES = 12;

/** One operand of a pending value: another pending value, or an array seen with `shape`. */
interface Source {
  s: Pending | TypedArray;
  shape: readonly number[];
}

/** An elementwise value not computed yet (or computed: `data`), over its operands. */
export class Pending {
  /** The computed values, once run. */
  data: TypedArray | null = null;
  /** Holders: its tensor storage (until freed) and each pending value that inlines it. */
  refs = 1;
  /** Whether its tensor storage is still alive (it may be read again). */
  live = true;
  /** Operation count of its expression tree (with repeats). */
  readonly nodes: number;
  /** Whether the tree holds a transcendental (exp, log): recomputing it is not cheap. */
  readonly costly: boolean;
  /** The op's scalar JS expression over a, b, c. */
  readonly expr: string;
  /** The op for the SIMD loop: a primitive name, "cmp:<op>", "cast" or "copy". */
  readonly op: string;
  /** The dtype of its operands (of the selected values for `where`). */
  readonly inDType: DType;
  /** `where`: the condition's dtype. */
  readonly condDType?: DType;
  /** Operands in order (a, b, c); emptied once run. */
  inputs: Source[];
  /** Output shape and dtype. */
  readonly shape: readonly number[];
  /** Output element type. */
  readonly dtype: DType;

  /** A pending value of `expr` over `inputs` (already held for it). */
  constructor(
    expr: string,
    op: { op: string; inDType: DType; condDType?: DType },
    inputs: Source[],
    shape: readonly number[],
    dtype: DType,
    costly: boolean,
  ) {
    this.expr = expr;
    this.op = op.op;
    this.inDType = op.inDType;
    this.condDType = op.condDType;
    this.inputs = inputs;
    this.shape = shape;
    this.dtype = dtype;
    let n = 1, c = costly;
    for (const x of inputs) {
      if (x.s instanceof Pending) {
        n += x.s.nodes;
        c ||= x.s.costly;
      }
    }
    this.nodes = n;
    this.costly = c;
  }
}

/** CPU storage: a host array, or a pending elementwise value. */
export type CpuStorage = TypedArray | Pending;

// arrays read by pending values: how many hold each, and those freed meanwhile
const pins = new Map<TypedArray, number>();
const freedWhilePinned = new Set<TypedArray>();

function pin(a: TypedArray): void {
  pins.set(a, (pins.get(a) ?? 0) + 1);
}

function unpin(a: TypedArray): void {
  const n = (pins.get(a) ?? 0) - 1;
  if (n > 0) {
    pins.set(a, n);
    return;
  }
  pins.delete(a);
  if (freedWhilePinned.delete(a)) releaseArray(a);
}

/** @internal Arrays currently read by pending values (0 once they have all run or dropped). */
export function pinnedArrays(): number {
  return pins.size;
}

/** Hands a host array back to the pool, or later when pending values still read it. */
export function freeArray(a: TypedArray): void {
  if (pins.has(a)) freedWhilePinned.add(a);
  else releaseArray(a);
}

function dropSource(x: Source): void {
  if (x.s instanceof Pending) release(x.s);
  else unpin(x.s);
}

function release(p: Pending): void {
  if (--p.refs > 0) return;
  if (p.data) freeArray(p.data);
  for (const x of p.inputs) dropSource(x);
  p.inputs = [];
}

/** Frees CPU storage (a pending value may live on in the values that inline it). */
export function freeStorage(s: CpuStorage): void {
  if (s instanceof Pending) {
    s.live = false;
    release(s);
  } else {
    freeArray(s);
  }
}

/** Counts of fused work since load, for tests and benchmarks. */
export const fusionStats: { recorded: number; loops: number; simd: number; ms: number } = {
  recorded: 0,
  loops: 0,
  simd: 0,
  ms: 0,
};

/** @internal Per loop shape and code, its runs and milliseconds (set to a Map to profile). */
export const fusionProfile: { loops: Map<string, { n: number; ms: number }> | null } = {
  loops: null,
};

/**
 * The scalar JS expression (operands a, b, c) of an elementwise primitive or broadcastTo, or
 * null for every other primitive (those are not fused).
 *
 * @example
 * ```ts
 * import { fusableExpr } from "./fusion.ts";
 * fusableExpr("compare", { op: "lt" }, "int32", "float32"); // "+(a < b)"
 * ```
 */
export function fusableExpr<P extends KernelName>(
  prim: P,
  params: PrimParams[P],
  outDType: DType,
  inDType: DType,
): string | null {
  return fusableExprIn("js", prim, params, outDType, inDType);
}

/** The computed array of CPU storage: runs a pending value's loop first if needed. */
export function materialize(s: CpuStorage): TypedArray {
  if (!(s instanceof Pending)) return s;
  if (!s.data) run(s);
  return s.data!;
}

/**
 * Records an elementwise op as a pending value. A pending operand of the output's shape is
 * inlined (its tree becomes part of this one) unless that would exceed MAX_FUSED_NODES, or it
 * is costly (exp/log) and may be used again — then it runs once and is read as an array, as is
 * every operand that is broadcast.
 */
export function record<P extends KernelName>(
  prim: P,
  params: PrimParams[P],
  expr: string,
  inputs: KernelArg<CpuStorage>[],
  out: OutInfo,
): Pending {
  let nodes = 1;
  const srcs: Source[] = inputs.map((x) => {
    const s = x.storage;
    if (
      s instanceof Pending && !s.data &&
      sameShape(s.shape, out.shape) && sameShape(x.shape, out.shape) &&
      !(s.costly && s.live) && nodes + s.nodes <= MAX_FUSED_NODES
    ) {
      nodes += s.nodes;
      s.refs++;
      return { s, shape: x.shape };
    }
    const a = materialize(s);
    pin(a);
    return { s: a, shape: x.shape };
  });
  fusionStats.recorded++;
  const op = prim === "compare"
    ? `cmp:${(params as PrimParams["compare"]).op}`
    : prim === "broadcastTo"
    ? "copy"
    : prim;
  const kind = prim === "where"
    ? { op, inDType: inputs[1].dtype, condDType: inputs[0].dtype }
    : { op, inDType: inputs[0].dtype };
  return new Pending(expr, kind, srcs, out.shape, out.dtype, prim === "exp" || prim === "log");
}

type Loop = (o: TypedArray, rows: number, inner: number, ...leaves: unknown[]) => void;
const loops = new Map<string, Loop>();

/** Rounds a JS number as a store into an array of `dtype` would. */
function rounded(e: string, dtype: DType): string {
  return dtype === "float32" ? `Math.fround(${e})` : dtype === "int32" ? `((${e}) | 0)` : e;
}

/** Runs a pending value: one generated loop over the arrays its tree reads. */
function run(root: Pending): void {
  // topological order of the tree's pending nodes (shared ones once), and its distinct leaves
  const order: Pending[] = [];
  const seen = new Map<Pending, number>();
  const leafArrays: TypedArray[] = [];
  const leafShapes: (readonly number[])[] = [];
  const leafOf = (a: TypedArray, shape: readonly number[]): number => {
    for (let k = 0; k < leafArrays.length; k++) {
      if (leafArrays[k] === a && sameShape(leafShapes[k], shape)) return k;
    }
    leafArrays.push(a);
    leafShapes.push(shape);
    return leafArrays.length - 1;
  };
  const args = new Map<Pending, number[]>(); // operand k ≥ 0: node k; −(k + 1): leaf k
  const visit = (p: Pending): number => {
    const done = seen.get(p);
    if (done !== undefined) return done;
    const ids = p.inputs.map((x) =>
      x.s instanceof Pending && !x.s.data
        ? visit(x.s)
        : -(leafOf(x.s instanceof Pending ? x.s.data! : x.s, x.shape) + 1)
    );
    args.set(p, ids);
    seen.set(p, order.length);
    order.push(p);
    return order.length - 1;
  };
  visit(root);
  if (leafArrays.length > MAX_FUSED_LEAVES) {
    // too many distinct inputs for one loop: run the operands first (each within the bound)
    for (const x of root.inputs) if (x.s instanceof Pending) materialize(x.s);
    return run(root);
  }
  const plan = planBroadcast(leafShapes, root.shape);
  const n = sizeOf(root.shape);
  // float32 outputs of the SIMD loop: in the wasm kernels' memory where possible (no copy out,
  // and the next kernel or loop reads them in place)
  const o = root.dtype === "float32" && n >= wasmMinElements
    ? allocKernelF32(n)
    : allocUninit(root.dtype, n);
  const t0 = performance.now();
  const wasmNodes: WasmNode[] = order.map((p) => ({
    op: p.op,
    inDType: p.inDType,
    dtype: p.dtype,
    args: args.get(p)!,
    condDType: p.condDType,
  }));
  const simd = n >= wasmMinElements && runWasmLoop(wasmNodes, leafArrays, plan, o);
  if (!simd && n > 0) {
    const f = jsLoop(order, args, leafArrays, plan, root);
    f(o, plan.rows, plan.inner, ...leafArgs(leafArrays, plan));
  }
  finish(root, o, t0, leafShapes, order, simd);
}

function leafArgs(leaves: TypedArray[], plan: { rowOffsets: Int32Array[] }): unknown[] {
  const call: unknown[] = [];
  for (let k = 0; k < leaves.length; k++) call.push(leaves[k], plan.rowOffsets[k]);
  return call;
}

/** The generated JS loop of a tree (cached by its code and array types). */
function jsLoop(
  order: Pending[],
  args: Map<Pending, number[]>,
  leafArrays: TypedArray[],
  plan: { innerStrides: number[] },
  root: Pending,
): Loop {
  const L = leafArrays.length;
  const rowHead: string[] = [];
  const inLoop: string[] = [];
  for (let k = 0; k < L; k++) {
    if (plan.innerStrides[k] === 1) {
      rowHead.push(`const p${k} = r${k}[r];`);
      inLoop.push(`const l${k} = x${k}[p${k} + j];`);
    } else {
      rowHead.push(`const l${k} = x${k}[r${k}[r]];`);
    }
  }
  const body = order.map((p, i) => {
    const names = args.get(p)!.map((a) => (a >= 0 ? `n${a}` : `l${-a - 1}`));
    const binds = names.map((n, k) => `${"abc"[k]} = ${n}`).join(", ");
    const e = p === root ? p.expr : rounded(p.expr, p.dtype);
    return `let n${i}; { const ${binds}; n${i} = ${e}; }`;
  });
  const code = `let i = 0;
for (let r = 0; r < rows; r++) {
  ${rowHead.join(" ")}
  for (let j = 0; j < inner; j++, i++) {
    ${inLoop.join(" ")}
    ${body.join("\n    ")}
    o[i] = n${order.length - 1};
  }
}`;
  const key = code + leafArrays.map((a) => a.constructor.name).join() + root.dtype;
  let f = loops.get(key);
  if (!f) {
    const params = ["o", "rows", "inner"];
    for (let k = 0; k < L; k++) params.push(`x${k}`, `r${k}`);
    f = new Function(...params, code) as Loop;
    loops.set(key, f);
  }
  return f;
}

/** Books a finished loop and lets go of the operands it no longer needs. */
function finish(
  root: Pending,
  o: TypedArray,
  t0: number,
  leafShapes: (readonly number[])[],
  order: Pending[],
  simd: boolean,
): void {
  const ms = performance.now() - t0;
  fusionStats.loops++;
  if (simd) fusionStats.simd++;
  fusionStats.ms += ms;
  if (fusionProfile.loops) {
    const k = `${simd ? "simd" : "js"} [${root.shape}] ${
      leafShapes.map((s) => `[${s}]`).join(",")
    } ${order.map((p) => p.expr).join("; ")}`;
    const e = fusionProfile.loops.get(k) ?? { n: 0, ms: 0 };
    e.n++;
    e.ms += ms;
    fusionProfile.loops.set(k, e);
  }
  root.data = o;
  // its operands are no longer needed by it
  for (const x of root.inputs) dropSource(x);
  root.inputs = [];
}

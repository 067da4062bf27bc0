/**
 * Dispatch: `apply(prim, rule, inputs, params)` runs one primitive — its shape rule, the current
 * backend's kernel, registration in the innermost scope and, when an input is traced, a tape
 * node with the rule's vjp bound as a typed pullback. The engine knows no primitive: the family
 * files (tensor/prims/) pass their rules in. Also host uploads and moves between backends.
 * @module
 */
import { type DType, isFloat, itemSize, toArray, type TypedArray } from "../kernels/dtype.ts";
import type {
  AliasName,
  BackendName,
  KernelArg,
  KernelName,
  OutInfo,
  PrimName,
  PrimParams,
} from "../kernels/prims.ts";
import { fmt, sizeOf } from "../kernels/shape.ts";
import { activeBackend, getOrCreateBackend } from "./backend.ts";
import { register } from "./scope.ts";
import { forEachTensor, newStorage, type StorageRef, Tensor } from "./tensor.ts";
import { record, recording } from "./trace.ts";

/** Shape/dtype view of an input, as a shape rule sees it. */
export interface Abstract {
  /** Dimensions. */
  shape: readonly number[];
  /** Element type. */
  dtype: DType;
}

/**
 * One primitive's rule: shape/dtype rule and vjp, written in the primitive's family file.
 * `alias: true` is required exactly on the primitives backends have no kernel for (AliasName).
 */
export type PrimRule<P extends PrimName> =
  & RuleBody<P>
  & (P extends AliasName ? { /** The output shares the input's storage. */ alias: true }
    : { /** Only alias primitives skip the kernel. */ alias?: never });

/** The parts of a rule every primitive has. */
export interface RuleBody<P extends PrimName> {
  /** Output shape and dtype; throws TypeError/RangeError naming the shapes. */
  shape(inputs: Abstract[], params: PrimParams[P]): OutInfo;
  /**
   * Cotangents of the inputs (null: not differentiable there, or not needed). `needs[i]` says
   * whether input i is traced: rules skip the work for the others. Absent: not differentiable.
   */
  vjp?(
    g: Tensor,
    inputs: Tensor[],
    out: Tensor,
    params: PrimParams[P],
    needs: readonly boolean[],
  ): (Tensor | null)[];
  /**
   * The inputs broadcast against each other (numpy rules): the vjp returns cotangents of the
   * output's shape and autodiff sums each back to its input's shape (`unbroadcast`).
   */
  broadcasts?: boolean;
}

/** A table of rules for some primitives, typed so each name gets its own rule. */
export type RuleTable<N extends PrimName> = { [P in N]: PrimRule<P> };

/** Applies primitive `prim` with its `rule` to `inputs`: shape rule, kernel, scope, trace. */
export function apply<P extends PrimName>(
  prim: P,
  rule: PrimRule<P>,
  inputs: Tensor[],
  params: PrimParams[P],
): Tensor {
  const refs = inputs.map((x) => x.ref(prim));
  const b = refs.length ? refs[0].backend : activeBackend();
  for (let i = 1; i < refs.length; i++) {
    if (refs[i].backend !== b) {
      throw new Error(
        `${prim}: inputs live on different backends (${b.name} and ${
          refs[i].backend.name
        }); move them with toBackend()`,
      );
    }
  }
  const out = rule.shape(inputs, params);
  if (!b.dtypes.includes(out.dtype)) {
    // e.g. cast to float64 on WebGPU: refuse rather than compute wrong numbers
    throw new TypeError(
      `${prim}: the ${b.name} backend has no ${out.dtype} tensors (it stores ${
        b.dtypes.join(", ")
      }); use the cpu backend for ${out.dtype} (await setBackend("cpu")) or stay in float32`,
    );
  }
  let ref: StorageRef;
  if (rule.alias) {
    ref = refs[0];
    ref.refs++;
  } else {
    const args: KernelArg[] = inputs.map((x, i) => ({
      storage: refs[i].storage,
      shape: x.shape,
      dtype: x.dtype,
    }));
    let storage: unknown;
    try {
      // not an alias, so a kernel primitive (RuleTable puts `alias: true` on every AliasName)
      storage = b.run(prim as KernelName, args, params as PrimParams[KernelName], out);
    } catch (e) {
      if (e instanceof Error && !e.message.startsWith(prim)) {
        e.message = `${prim} on ${
          inputs.map((x) => `${x.dtype}${fmt(x.shape)}`).join(", ")
        }: ${e.message}`;
      }
      throw e;
    }
    ref = newStorage(b, storage, sizeOf(out.shape) * itemSize(out.dtype));
  }
  const t = register(new Tensor(ref, out.shape, out.dtype, prim));
  const vjp = rule.vjp;
  if (vjp && recording() && isFloat(out.dtype)) {
    record({
      prim,
      inputs,
      output: t,
      pullback: (g, needs) => vjp(g, inputs, t, params, needs),
      broadcasts: rule.broadcasts ?? false,
    });
  }
  return t;
}

/**
 * `bind(prim, inputs, params)` over a family's rule table: `apply` with the rule looked up, as
 * each family file's wrappers call it.
 */
export function binder<N extends PrimName>(
  rules: RuleTable<N>,
): <P extends N>(prim: P, inputs: Tensor[], params: PrimParams[P]) => Tensor {
  return (prim, inputs, params) => apply(prim, rules[prim], inputs, params);
}

const ARRAY_TYPES: Record<DType, unknown> = {
  float32: Float32Array,
  int32: Int32Array,
  float64: Float64Array,
};

/** @internal Wraps host data as a new tensor on the current backend. */
export function fromHost(
  data: TypedArray,
  shape: readonly number[],
  dtype: DType,
  op = "tensor",
): Tensor {
  const b = activeBackend();
  if (!b.dtypes.includes(dtype)) {
    throw new TypeError(
      `${op}: the ${b.name} backend has no ${dtype} tensors (it stores ${
        b.dtypes.join(", ")
      }); use float32, or the cpu backend for float64`,
    );
  }
  const arr = data.constructor === ARRAY_TYPES[dtype] ? data : toArray(dtype, data);
  const ref = newStorage(b, b.upload(arr, dtype), sizeOf(shape) * itemSize(dtype));
  return register(new Tensor(ref, shape, dtype, op));
}

/**
 * @internal Wraps `storage`, made by the backend that holds `like` (a CPU fast path's output
 * array), as a new tensor of `shape` and `dtype`, registered in the innermost scope; the
 * tensor owns the storage from then on.
 */
export function fromStorage(
  like: Tensor,
  storage: unknown,
  shape: readonly number[],
  dtype: DType,
  op: string,
): Tensor {
  const b = like.ref(op).backend;
  const ref = newStorage(b, storage, sizeOf(shape) * itemSize(dtype));
  return register(new Tensor(ref, shape, dtype, op));
}

/**
 * Copies every tensor of a tree to backend `name` (reading back from the GPU when needed);
 * tensors already there are returned as they are. The originals are left alone.
 *
 * @example
 * ```ts
 * import { tensor, toBackend } from "@sll/sll";
 * const onCpu = await toBackend({ w: tensor([1, 2]) }, "cpu");
 * ```
 */
export async function toBackend<T>(tree: T, name: BackendName): Promise<T> {
  const target = await getOrCreateBackend(name);
  const moved = new Map<Tensor, Tensor>();
  const todo: Tensor[] = [];
  forEachTensor(tree, (t) => todo.push(t));
  for (const t of todo) {
    if (moved.has(t)) continue;
    const r = t.ref("toBackend");
    if (r.backend === target) {
      moved.set(t, t);
      continue;
    }
    if (!target.dtypes.includes(t.dtype)) {
      throw new TypeError(`toBackend: the ${name} backend has no ${t.dtype} tensors; cast() first`);
    }
    const data = await t.data();
    const ref = newStorage(target, target.upload(data, t.dtype), t.size * itemSize(t.dtype));
    moved.set(t, register(new Tensor(ref, t.shape, t.dtype, "toBackend")));
  }
  const rebuild = (v: unknown): unknown => {
    if (v instanceof Tensor) return moved.get(v);
    if (Array.isArray(v)) return v.map(rebuild);
    if (v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rebuild(x)]));
    }
    return v;
  };
  return rebuild(tree) as T;
}

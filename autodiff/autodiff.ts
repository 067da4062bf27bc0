/**
 * Reverse-mode autodiff on the eager tape: `vjp`, `grad`, `valueAndGrad` over parameter trees.
 * A trace records every primitive whose inputs depend on the traced leaves, each with its vjp
 * rule bound as a typed pullback; the pullback here walks them backwards (the rules are written
 * with ops, so nested differentiation records on outer traces) and sums cotangents per tensor.
 * @module
 */
import { forEachTensor, Tensor } from "../tensor/tensor.ts";
import { scope } from "../tensor/scope.ts";
import { beginTrace, endTrace, type Trace } from "../tensor/trace.ts";
import { onesLike, zerosLike } from "../tensor/create.ts";
import { add } from "../tensor/prims/elementwise.ts";
import { unbroadcast } from "../tensor/prims/reduce.ts";
import { fmt } from "../kernels/shape.ts";
import { mapTree } from "../tensor/tree.ts";

/** A pullback: maps output cotangents (a tree shaped like the output) to input cotangents. */
export type Pullback<Args extends unknown[]> = (cotangent: unknown) => Args;

/**
 * Runs `f(...primals)` while recording, returning its output and a pullback that maps an output
 * cotangent to cotangents for every primal (trees of the primals' shape; zeros where the output
 * does not depend on a leaf). Call it inside `scope()`: the intermediates it records live until
 * that scope ends.
 *
 * @example
 * ```ts
 * import { mul, scope, tensor, vjp } from "@sll/sll";
 * scope(() => {
 *   const [y, pullback] = vjp((x) => mul(x, x), tensor([3]));
 *   const [dx] = pullback(tensor([1])); // [6]
 * });
 * ```
 */
export function vjp<Args extends unknown[], Out>(
  f: (...primals: Args) => Out,
  ...primals: Args
): [Out, Pullback<Args>] {
  return record("vjp", f, primals);
}

/** `vjp` under the name of the public function called (`vjp`, `grad`, `valueAndGrad`). */
function record<Args extends unknown[], Out>(
  op: string,
  f: (...primals: Args) => Out,
  primals: Args,
): [Out, Pullback<Args>] {
  const trace: Trace = { tracked: new Set(), nodes: [], pinned: new Set() };
  forEachTensor(primals, (t) => {
    t.ref(op);
    if (t.dtype !== "int32") trace.tracked.add(t.id);
  });
  beginTrace(trace);
  let out: Out;
  try {
    out = f(...primals);
  } finally {
    endTrace(trace);
  }
  const outLeaves: Tensor[] = [];
  forEachTensor(out, (t) => outLeaves.push(t));
  const pullback = (cotangent: unknown): Args => {
    const cts: Tensor[] = [];
    forEachTensor(cotangent, (t) => cts.push(t));
    if (cts.length !== outLeaves.length) {
      throw new TypeError(
        `${op}: the cotangent has ${cts.length} tensors but the output has ${outLeaves.length}; pass a tree shaped like the output`,
      );
    }
    const grads = new Map<number, Tensor>();
    const accumulate = (t: Tensor, g: Tensor): void => {
      const prev = grads.get(t.id);
      grads.set(t.id, prev ? add(prev, g) : g);
    };
    outLeaves.forEach((t, i) => {
      if (cts[i].shape.length !== t.shape.length || cts[i].shape.some((d, j) => d !== t.shape[j])) {
        throw new TypeError(
          `${op}: cotangent ${i} has shape ${fmt(cts[i].shape)} but the output has ${fmt(t.shape)}`,
        );
      }
      accumulate(t, cts[i]);
    });
    for (let n = trace.nodes.length - 1; n >= 0; n--) {
      const node = trace.nodes[n];
      const g = grads.get(node.output.id);
      if (!g) continue;
      const needs = node.inputs.map((x) => trace.tracked.has(x.id));
      node.pullback(g, needs).forEach((ct, i) => {
        const x = node.inputs[i];
        if (!ct || !trace.tracked.has(x.id)) return;
        // a broadcasting primitive's cotangent has the output's shape: sum it back
        if (node.broadcasts) ct = unbroadcast(ct, x.shape);
        if (ct.shape.length !== x.shape.length || ct.shape.some((d, j) => d !== x.shape[j])) {
          throw new Error(
            `vjp rule of ${node.prim} gave a cotangent of shape ${
              fmt(ct.shape)
            } for input ${i} of shape ${fmt(x.shape)} (a bug in the rule)`,
          );
        }
        accumulate(x, ct);
      });
    }
    return mapTree(primals, (t) => grads.get(t.id) ?? zerosLike(t)) as Args;
  };
  return [out, pullback];
}

function checkScalar(v: unknown, what: string): Tensor {
  if (!(v instanceof Tensor) || v.size !== 1) {
    throw new TypeError(
      `${what}: f must return a scalar tensor (one element), got ${
        v instanceof Tensor ? `shape ${fmt(v.shape)}` : typeof v
      }; reduce it with sum() or mean()`,
    );
  }
  return v;
}

/**
 * `valueAndGrad(f)(params, ...rest)` returns `[f(params, ...rest), ∂f/∂params]`, the gradient
 * a tree shaped like `params`. `f` must return a scalar tensor. Intermediates are freed.
 *
 * @example
 * ```ts
 * import { mul, sum, tensor, valueAndGrad } from "@sll/sll";
 * const [loss, g] = valueAndGrad((p: { w: ReturnType<typeof tensor> }) => sum(mul(p.w, p.w)))({ w: tensor([1, 2]) });
 * ```
 */
export function valueAndGrad<P, R extends unknown[]>(
  f: (params: P, ...rest: R) => Tensor,
): (params: P, ...rest: R) => [Tensor, P] {
  return namedValueAndGrad("valueAndGrad", f);
}

function namedValueAndGrad<P, R extends unknown[]>(
  op: string,
  f: (params: P, ...rest: R) => Tensor,
): (params: P, ...rest: R) => [Tensor, P] {
  return (params: P, ...rest: R) =>
    scope(() => {
      const [out, pb] = record(op, (p: P) => f(p, ...rest), [params]);
      const y = checkScalar(out, op);
      const [g] = pb(onesLike(y));
      return [y, g] as [Tensor, P];
    });
}

/**
 * `grad(f)(params, ...rest)` is the gradient of scalar `f` with respect to its first argument.
 *
 * @example
 * ```ts
 * import { grad, mul, sum, tensor } from "@sll/sll";
 * const g = grad((x: ReturnType<typeof tensor>) => sum(mul(x, x)))(tensor([1, 2])); // [2, 4]
 * ```
 */
export function grad<P, R extends unknown[]>(
  f: (params: P, ...rest: R) => Tensor,
): (params: P, ...rest: R) => P {
  const vg = namedValueAndGrad("grad", f);
  return (params: P, ...rest: R) =>
    scope(() => {
      const [, g] = vg(params, ...rest);
      return g;
    });
}

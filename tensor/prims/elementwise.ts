/**
 * The elementwise family: unary maths (neg, exp, log, sqrt, abs, sign), binary arithmetic with
 * numpy broadcasting (add, sub, mul, div, maximum, minimum), compare, where and cast — their
 * shape/dtype rules, vjps written with these same ops, and the public wrappers. Binary rules
 * are `broadcasts`: their cotangents have the output's shape and autodiff sums them back.
 * @module
 */
import { checkDType, type DType, toArray } from "../../kernels/dtype.ts";
import type { CompareOp, ElementwiseParams, PrimParams } from "../../kernels/prims.ts";
import { broadcastShapes } from "../../kernels/shape.ts";
import { type Abstract, binder, fromHost, type RuleTable } from "../engine.ts";
import type { Tensor } from "../tensor.ts";
import { isTracked } from "../trace.ts";
import { checkTensor, floatOnly, sameDType } from "./checks.ts";

/** A tensor or a plain number (converted to a scalar of the other operand's dtype). */
export type TensorLike = Tensor | number;

const unaryShape = (op: string, float = true) => ([x]: Abstract[]) => {
  if (float) floatOnly(op, x);
  return { shape: [...x.shape], dtype: x.dtype };
};

const binaryShape = (op: string) => ([a, b]: Abstract[]) => ({
  shape: broadcastShapes(a.shape, b.shape),
  dtype: sameDType(op, [a, b]),
});

/** The elementwise rules. */
export const ELEMENTWISE_RULES: RuleTable<keyof ElementwiseParams> = {
  neg: { shape: unaryShape("neg", false), vjp: (g) => [neg(g)] },
  exp: { shape: unaryShape("exp"), vjp: (g, _x, y) => [mul(g, y)] },
  log: { shape: unaryShape("log"), vjp: (g, [x]) => [div(g, x)] },
  sqrt: { shape: unaryShape("sqrt"), vjp: (g, _x, y) => [div(g, mul(y, 2))] },
  abs: { shape: unaryShape("abs", false), vjp: (g, [x]) => [mul(g, sign(x))] },
  sign: { shape: unaryShape("sign", false) },
  add: {
    shape: binaryShape("add"),
    broadcasts: true,
    vjp: (g, _x, _y, _p, n) => [n[0] ? g : null, n[1] ? g : null],
  },
  sub: {
    shape: binaryShape("sub"),
    broadcasts: true,
    vjp: (g, _x, _y, _p, n) => [n[0] ? g : null, n[1] ? neg(g) : null],
  },
  mul: {
    shape: binaryShape("mul"),
    broadcasts: true,
    vjp: (g, [a, b], _y, _p, n) => [n[0] ? mul(g, b) : null, n[1] ? mul(g, a) : null],
  },
  div: {
    shape: binaryShape("div"),
    broadcasts: true,
    vjp: (g, [_a, b], y, _p, n) => [n[0] ? div(g, b) : null, n[1] ? neg(div(mul(g, y), b)) : null],
  },
  maximum: {
    shape: binaryShape("maximum"),
    broadcasts: true,
    // ties split the gradient evenly, as in JAX and PyTorch
    vjp: (g, [a, b]) => {
      const wa = add(cast(greater(a, b), g.dtype), mul(cast(equal(a, b), g.dtype), 0.5));
      return [mul(g, wa), mul(g, sub(1, wa))];
    },
  },
  minimum: {
    shape: binaryShape("minimum"),
    broadcasts: true,
    vjp: (g, [a, b]) => {
      const wa = add(cast(less(a, b), g.dtype), mul(cast(equal(a, b), g.dtype), 0.5));
      return [mul(g, wa), mul(g, sub(1, wa))];
    },
  },
  compare: {
    shape: ([a, b]) => ({
      shape: broadcastShapes(a.shape, b.shape),
      dtype: (sameDType("compare", [a, b]), "int32"),
    }),
  },
  where: {
    shape: ([c, a, b]) => {
      if (c.dtype !== "int32") {
        throw new TypeError(`where: condition must be int32 (from a comparison), got ${c.dtype}`);
      }
      return {
        shape: broadcastShapes(c.shape, a.shape, b.shape),
        dtype: sameDType("where", [a, b]),
      };
    },
    broadcasts: true,
    vjp: (g, [c], _y, _p, n) => [null, n[1] ? where(c, g, 0) : null, n[2] ? where(c, 0, g) : null],
  },
  cast: {
    shape: ([x], p) => ({ shape: [...x.shape], dtype: p.dtype }),
    vjp: (g, [x]) => [x.dtype === "int32" ? null : cast(g, x.dtype)],
  },
};

const bind = binder(ELEMENTWISE_RULES);

/** Runs `fn`; scalar temporaries are freed on error, or after it unless a trace recorded them. */
function withTemps(temps: Tensor[], fn: () => Tensor): Tensor {
  let y: Tensor;
  try {
    y = fn();
  } catch (e) {
    for (const t of temps) t.dispose();
    throw e;
  }
  if (!isTracked(y)) { for (const t of temps) t.dispose(); }
  return y;
}

/** Runs a binary primitive, converting numbers to scalars and freeing them when untraced. */
function binaryOp<P extends keyof ElementwiseParams>(
  op: P,
  a: TensorLike,
  b: TensorLike,
  params: PrimParams[P],
): Tensor {
  if (typeof a === "number" && typeof b === "number") {
    a = fromHost(toArray("float32", [a]), [], "float32");
  }
  const temps: Tensor[] = [];
  const like = (typeof a === "number" ? b : a) as Tensor;
  checkTensor(like, op);
  const conv = (v: TensorLike): Tensor => {
    if (typeof v !== "number") return checkTensor(v, op);
    const t = fromHost(toArray(like.dtype, [v]), [], like.dtype, "scalar");
    temps.push(t);
    return t;
  };
  const ta = conv(a), tb = conv(b);
  return withTemps(temps, () => bind(op, [ta, tb], params));
}

/** −x. @example `neg(tensor([1, -2]))` */
export function neg(x: Tensor): Tensor {
  return bind("neg", [checkTensor(x, "neg")], {});
}
/** eˣ. @example `exp(tensor([0, 1]))` */
export function exp(x: Tensor): Tensor {
  return bind("exp", [checkTensor(x, "exp")], {});
}
/** Natural logarithm. @example `log(tensor([1, 2]))` */
export function log(x: Tensor): Tensor {
  return bind("log", [checkTensor(x, "log")], {});
}
/** Square root. @example `sqrt(tensor([4, 9]))` */
export function sqrt(x: Tensor): Tensor {
  return bind("sqrt", [checkTensor(x, "sqrt")], {});
}
/** |x|. @example `abs(tensor([-1, 2]))` */
export function abs(x: Tensor): Tensor {
  return bind("abs", [checkTensor(x, "abs")], {});
}
/** −1, 0 or 1 (zero gradient). @example `sign(tensor([-3, 0, 2]))` */
export function sign(x: Tensor): Tensor {
  return bind("sign", [checkTensor(x, "sign")], {});
}
/** a + b with broadcasting. @example `add(tensor([1, 2]), 1)` */
export function add(a: TensorLike, b: TensorLike): Tensor {
  return binaryOp("add", a, b, {});
}
/** a − b with broadcasting. @example `sub(tensor([1, 2]), tensor([1]))` */
export function sub(a: TensorLike, b: TensorLike): Tensor {
  return binaryOp("sub", a, b, {});
}
/** a · b elementwise with broadcasting. @example `mul(tensor([1, 2]), 3)` */
export function mul(a: TensorLike, b: TensorLike): Tensor {
  return binaryOp("mul", a, b, {});
}
/** a / b with broadcasting. @example `div(tensor([1, 2]), 2)` */
export function div(a: TensorLike, b: TensorLike): Tensor {
  return binaryOp("div", a, b, {});
}
/** Elementwise maximum (ties split the gradient). @example `maximum(tensor([1, 5]), 3)` */
export function maximum(a: TensorLike, b: TensorLike): Tensor {
  return binaryOp("maximum", a, b, {});
}
/** Elementwise minimum (ties split the gradient). @example `minimum(tensor([1, 5]), 3)` */
export function minimum(a: TensorLike, b: TensorLike): Tensor {
  return binaryOp("minimum", a, b, {});
}

function compareOp(op: CompareOp): (a: TensorLike, b: TensorLike) => Tensor {
  return (a, b) => binaryOp("compare", a, b, { op });
}
/** a == b as int32 0/1. @example `equal(tensor([1, 2]), 2)` */
export const equal: (a: TensorLike, b: TensorLike) => Tensor = compareOp("eq");
/** a != b as int32 0/1. @example `notEqual(tensor([1, 2]), 2)` */
export const notEqual: (a: TensorLike, b: TensorLike) => Tensor = compareOp("ne");
/** a < b as int32 0/1. @example `less(tensor([1, 2]), 2)` */
export const less: (a: TensorLike, b: TensorLike) => Tensor = compareOp("lt");
/** a <= b as int32 0/1. @example `lessEqual(tensor([1, 2]), 2)` */
export const lessEqual: (a: TensorLike, b: TensorLike) => Tensor = compareOp("le");
/** a > b as int32 0/1. @example `greater(tensor([1, 2]), 1)` */
export const greater: (a: TensorLike, b: TensorLike) => Tensor = compareOp("gt");
/** a >= b as int32 0/1. @example `greaterEqual(tensor([1, 2]), 2)` */
export const greaterEqual: (a: TensorLike, b: TensorLike) => Tensor = compareOp("ge");

/**
 * cond ? a : b elementwise (cond int32, nonzero = true), broadcasting all three.
 *
 * @example
 * ```ts
 * import { greater, tensor, where } from "@sll/sll";
 * const x = tensor([-1, 2]);
 * const y = where(greater(x, 0), x, 0); // relu
 * ```
 */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  checkTensor(cond, "where", "condition");
  const like = typeof a === "number" ? (typeof b === "number" ? null : b) : a;
  const dtype = like ? like.dtype : "float32";
  const temps: Tensor[] = [];
  const conv = (v: TensorLike): Tensor => {
    if (typeof v !== "number") return checkTensor(v, "where");
    const t = fromHost(toArray(dtype, [v]), [], dtype, "scalar");
    temps.push(t);
    return t;
  };
  const ta = conv(a), tb = conv(b);
  return withTemps(temps, () => bind("where", [cond, ta, tb], {}));
}

/** Converts to `dtype` (float → int32 truncates). @example `cast(tensor([1.7]), "int32")` */
export function cast(x: Tensor, dtype: DType): Tensor {
  checkTensor(x, "cast");
  return bind("cast", [x], { dtype: checkDType(dtype, "cast") });
}

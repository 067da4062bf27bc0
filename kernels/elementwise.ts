/**
 * The one table of elementwise operations (`ELEMENTWISE`): per name its kind, its scalar
 * expression in JavaScript (the CPU kernels) and in WGSL (the WebGPU kernels and the WebGPU
 * fuser), and what it gives on NaN. Both backends read their expressions from here, so each
 * rule is written once; `elementwise_test.ts` checks that the two agree bit for bit on NaN,
 * ±Inf and ±0 for every entry.
 * @module
 */
import type { DType } from "./dtype.ts";
import type { BinaryName, CompareOp, UnaryName } from "./prims.ts";

/** The shape of an elementwise operation's operands. */
export type ElementwiseKind = "unary" | "binary" | "compare" | "select" | "cast";

/**
 * What an operation gives when a float operand is NaN: `propagate` NaN (0 when the output is
 * int32, as a cast to int32 gives), `zero` 0, `false` 0 and `true` 1 (comparisons), `select`
 * the selected operand as it is (where: NaN passes through only when chosen).
 */
export type NanRule = "propagate" | "zero" | "false" | "true" | "select";

/** One entry of `ELEMENTWISE`. */
export interface ElementwiseOp {
  /** Operands: unary (a), binary and compare (a, b), select (a = condition, b, c), cast (a). */
  kind: ElementwiseKind;
  /** JS expression over a, b, c for an output of dtype `out` and inputs of dtype `input`. */
  js(out: DType, input: DType): string;
  /** WGSL expression over a, b, c, of the output's type (`out`), inputs of type `input`. */
  wgsl(out: DType, input: DType): string;
  /** Result when a float operand is NaN. */
  nan: NanRule;
}

/** Names of the elementwise operations: the primitives, with `compare` by its operator. */
export type ElementwiseName = UnaryName | BinaryName | CompareOp | "where" | "cast";

const same = (e: string) => (): string => e;

/**
 * The WGSL test "x is NaN" for an f32 expression, on its bits: shader compilers may fold
 * `x != x` to false (Mesa's does, treating float comparisons as ordered), so every WGSL kernel
 * that must see NaN tests it this way.
 *
 * @example
 * ```ts
 * import { wgslIsNan } from "./elementwise.ts";
 * wgslIsNan("v"); // "((bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u)"
 * ```
 */
export function wgslIsNan(x: string): string {
  return `((bitcast<u32>(${x}) & 0x7fffffffu) > 0x7f800000u)`;
}
const isNan = wgslIsNan;

const cmp = (js: string, wgsl: string, nan: NanRule): ElementwiseOp => ({
  kind: "compare",
  js: same(`+(a ${js} b)`),
  // `ne` is the one comparison true on NaN; on the bits, since compilers may fold it away
  wgsl: (_t, input) =>
    nan === "true" && input !== "int32"
      ? `select(0i, 1i, a ${wgsl} b || ${isNan("a")} || ${isNan("b")})`
      : `select(0i, 1i, a ${wgsl} b)`,
  nan,
});

/** Largest float32 below 2³¹ (the clamp bound of a float → int32 cast). */
const I32_MAX_F32 = "2147483520.0";

/**
 * Every elementwise operation, by name. Casts to int32 truncate toward zero and saturate at
 * the int32 range (±Inf included), NaN → 0; maximum/minimum propagate NaN from either operand
 * (as PyTorch); sign(NaN) is 0; comparisons with NaN are false except `ne`.
 *
 * @example
 * ```ts
 * import { ELEMENTWISE } from "./elementwise.ts";
 * ELEMENTWISE.maximum.js("float32", "float32"); // "(a > b || a !== a ? a : b)"
 * ```
 */
export const ELEMENTWISE: { readonly [N in ElementwiseName]: ElementwiseOp } = {
  neg: { kind: "unary", js: same("-a"), wgsl: same("-a"), nan: "propagate" },
  exp: { kind: "unary", js: same("Math.exp(a)"), wgsl: same("exp(a)"), nan: "propagate" },
  log: { kind: "unary", js: same("Math.log(a)"), wgsl: same("log(a)"), nan: "propagate" },
  sqrt: { kind: "unary", js: same("Math.sqrt(a)"), wgsl: same("sqrt(a)"), nan: "propagate" },
  abs: { kind: "unary", js: same("Math.abs(a)"), wgsl: same("abs(a)"), nan: "propagate" },
  sign: {
    kind: "unary",
    js: same("(a > 0 ? 1 : a < 0 ? -1 : 0)"),
    // both comparisons are false on NaN and ±0, so sign(±0) = sign(NaN) = +0 (a select chain
    // may be rewritten to the driver's sign(), which keeps -0 and NaN's sign bit)
    wgsl: (t) =>
      t === "int32" ? "select(select(0i, -1i, a < 0i), 1i, a > 0i)" : "f32(a > 0.0) - f32(a < 0.0)",
    nan: "zero",
  },
  add: { kind: "binary", js: same("a + b"), wgsl: same("a + b"), nan: "propagate" },
  sub: { kind: "binary", js: same("a - b"), wgsl: same("a - b"), nan: "propagate" },
  mul: { kind: "binary", js: same("a * b"), wgsl: same("a * b"), nan: "propagate" },
  div: { kind: "binary", js: same("a / b"), wgsl: same("a / b"), nan: "propagate" },
  maximum: {
    kind: "binary",
    js: same("(a > b || a !== a ? a : b)"),
    wgsl: (t) => t === "int32" ? "max(a, b)" : `select(b, a, a > b || ${isNan("a")})`,
    nan: "propagate",
  },
  minimum: {
    kind: "binary",
    js: same("(a < b || a !== a ? a : b)"),
    wgsl: (t) => t === "int32" ? "min(a, b)" : `select(b, a, a < b || ${isNan("a")})`,
    nan: "propagate",
  },
  eq: cmp("===", "==", "false"),
  ne: cmp("!==", "!=", "true"),
  lt: cmp("<", "<", "false"),
  le: cmp("<=", "<=", "false"),
  gt: cmp(">", ">", "false"),
  ge: cmp(">=", ">=", "false"),
  where: {
    kind: "select",
    js: same("(a !== 0 ? b : c)"),
    wgsl: same("select(c, b, a != 0i)"),
    nan: "select",
  },
  cast: {
    kind: "cast",
    js: (to, from) =>
      to !== "int32" || from === "int32"
        ? "a"
        : "(a !== a ? 0 : a >= 2147483648 ? 2147483647 : a <= -2147483648 ? -2147483648 : Math.trunc(a))",
    wgsl: (to, from) =>
      to === from
        ? "a"
        : to === "int32"
        ? `select(select(i32(clamp(a, -2147483648.0, ${I32_MAX_F32})), 2147483647i, a >= 2147483648.0), 0i, ${
          isNan("a")
        })`
        : "f32(a)",
    nan: "propagate",
  },
};

/**
 * The names of one kind, in table order (derived from `ELEMENTWISE`, never listed twice).
 *
 * @example
 * ```ts
 * import { elementwiseNames } from "./elementwise.ts";
 * elementwiseNames("compare"); // ["eq", "ne", "lt", "le", "gt", "ge"]
 * ```
 */
export function elementwiseNames(kind: ElementwiseKind): ElementwiseName[] {
  return (Object.keys(ELEMENTWISE) as ElementwiseName[]).filter((n) =>
    ELEMENTWISE[n].kind === kind
  );
}

/**
 * The primitive table: every family's rules gathered into one object typed over `PrimName`, so
 * a primitive without a rule is a compile error, and the list of names derived from it. Used by
 * the cross-module test tables; the families' own wrappers bind their rules directly.
 * @module
 */
import type { PrimName, PrimParams } from "../../kernels/prims.ts";
import { binder, type RuleTable } from "../engine.ts";
import type { Tensor } from "../tensor.ts";
import { CONV_RULES } from "./conv.ts";
import { ELEMENTWISE_RULES } from "./elementwise.ts";
import { FFT_RULES } from "./fft.ts";
import { INDEX_RULES } from "./index.ts";
import { LAYOUT_RULES } from "./layout.ts";
import { LINALG_RULES } from "./linalg.ts";
import { POOL_RULES } from "./pool.ts";
import { REDUCE_RULES } from "./reduce.ts";
import { SOLVE_RULES } from "./solve.ts";

/** Every primitive's rule, by name. */
export const PRIMS: RuleTable<PrimName> = {
  ...ELEMENTWISE_RULES,
  ...REDUCE_RULES,
  ...LINALG_RULES,
  ...LAYOUT_RULES,
  ...INDEX_RULES,
  ...CONV_RULES,
  ...POOL_RULES,
  ...FFT_RULES,
  ...SOLVE_RULES,
};

/** Every primitive name, in table order (derived from `PRIMS`). */
export const PRIM_NAMES: readonly PrimName[] = Object.keys(PRIMS) as PrimName[];

/** Applies any primitive by name with its rule (tests drive primitives through this). */
export const bindPrim: <P extends PrimName>(
  prim: P,
  inputs: Tensor[],
  params: PrimParams[P],
) => Tensor = binder(PRIMS);

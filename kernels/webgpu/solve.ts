/**
 * solve on WebGPU (float32): Gauss–Jordan with partial pivoting over a temporary augmented work
 * buffer, 2n + 2 dispatches for n × n systems (load, pivot and eliminate per column, finish).
 * A singular system (a pivot exactly zero) yields NaN for its x: WebGPU cannot throw
 * synchronously, so callers check the values they read back.
 * @module
 */
import { sizeOf } from "../shape.ts";
import { checkGrid, floatOnly, type GpuKernel, label } from "./context.ts";
import { type SolveGeom, solvePhaseKernel, workStride } from "./solve.wgsl.ts";
import { BYTES } from "./storage.ts";
import { LOOP_BUDGET } from "./wgsl.ts";

/** solve: x = op(a)⁻¹·b per system of the batch. */
export const solveKernel: GpuKernel<"solve"> = (ctx, [a, b], p, out) => {
  floatOnly("solve", a);
  const r = b.shape.length;
  const g: SolveGeom = {
    batch: sizeOf(b.shape.slice(0, -2)),
    n: b.shape[r - 2],
    k: b.shape[r - 1],
    transA: p.transA,
  };
  const o = ctx.alloc(Math.max(sizeOf(out.shape), 1) * BYTES);
  if (g.batch * g.n * g.k === 0) return o;
  if (2 * g.n + g.k > LOOP_BUDGET) {
    throw new RangeError(
      `solve: ${g.n}×${g.n} systems with ${g.k} right-hand sides exceed the webgpu kernel's loop budget of ${LOOP_BUDGET} (2n + k); use the cpu backend`,
    );
  }
  const lbl = label("solve", [a, b]);
  const w = ctx.alloc(g.batch * workStride(g) * BYTES);
  const run = (k: ReturnType<typeof solvePhaseKernel>, what: string, ins: typeof a.storage[]) => {
    checkGrid(lbl, k);
    ctx.dispatch(`${lbl} (${what})`, k, ins, what === "finish" ? o : w);
  };
  run(solvePhaseKernel("load", g, 0), "load", [a.storage, b.storage]);
  for (let c = 0; c < g.n; c++) {
    run(solvePhaseKernel("pivot", g, c), "pivot", []);
    run(solvePhaseKernel("eliminate", g, c), "eliminate", []);
  }
  run(solvePhaseKernel("finish", g, 0), "finish", [w]);
  ctx.release(w);
  return o;
};

/**
 * Backend conformance: every primitive, forward and backward (through `vjp`), on the shapes and
 * parameters of the shared case table (tests/prim_cases.ts, also fed to the gradient check),
 * WebGPU float32 against the CPU in float64. The table is typed over PrimName (a missing row
 * does not compile) and a test walks PRIM_NAMES (a missing row fails at run time too).
 * Tolerance, per element:
 * |gpu − cpu| ≤ 1e-4·|cpu| + 1e-4·(1 + max|cpu|) — float32 rounding of sums of up to ~100 terms.
 * Without a WebGPU adapter the suite FAILS with instructions; it never skips.
 */
import fc from "fast-check";
import assert from "node:assert/strict";
import type { PrimName } from "../kernels/prims.ts";
import { initWebGpu, setBackend } from "../tensor/backend.ts";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { bindPrim, PRIM_NAMES, PRIMS } from "../tensor/prims/mod.ts";
import { tensor } from "../tensor/ops.ts";
import { vjp } from "../autodiff/autodiff.ts";
import { assertClose, checkAsync, FC_SEED, leakFreeTest } from "./helpers.ts";
import { describeCase, PRIM_CASES, type PrimCase, vals } from "./prim_cases.ts";

// ----- running a case ----------------------------------------------------------------------------

/** Forward output and input cotangents (null where not differentiable) on one backend. */
function runOn<P extends PrimName>(
  prim: P,
  c: PrimCase<P>,
  float: "float64" | "float32",
): Tensor[] {
  return scope(() => {
    const xs = c.inputs.map((x) =>
      tensor(x.values, { shape: x.shape, dtype: x.int ? "int32" : float })
    );
    const f = (...a: Tensor[]) => bindPrim(prim, a, c.params);
    const y = f(...xs);
    const res = [y];
    if (PRIMS[prim].vjp && y.dtype !== "int32") {
      const [y2, pb] = vjp(f, ...xs);
      const ct = tensor(vals(c.seed + 99, y2.size), { shape: y2.shape, dtype: float });
      const gs = pb(ct) as Tensor[];
      gs.forEach((g, i) => {
        if (!c.inputs[i].int) res.push(g);
      });
    }
    return res;
  });
}

async function readAll(ts: Tensor[]): Promise<number[][]> {
  const out = await Promise.all(ts.map((t) => t.data()));
  ts.forEach((t) => t.dispose());
  return out.map((d) => Array.from(d));
}

let adapterError: Error | null = null;
try {
  await initWebGpu();
} catch (e) {
  adapterError = e as Error;
}

function requireAdapter(): void {
  if (adapterError) {
    throw new Error(
      `backend conformance needs a WebGPU adapter and found none — this suite fails rather than skips. ${adapterError.message}`,
    );
  }
}

async function checkPrim<P extends PrimName>(prim: P): Promise<void> {
  requireAdapter();
  await checkAsync(
    fc.asyncProperty(PRIM_CASES[prim], async (c) => {
      await setBackend("cpu");
      const ref = await readAll(runOn(prim, c, "float64"));
      await setBackend("webgpu");
      const got = await readAll(runOn(prim, c, "float32"));
      await setBackend("cpu");
      assert.equal(
        got.length,
        ref.length,
        `${prim}: ${got.length} outputs, expected ${ref.length}`,
      );
      ref.forEach((e, i) => {
        const scale = e.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        assertClose(got[i], e, {
          rtol: 1e-4,
          atol: 1e-4 * (1 + scale),
          what: `${prim} ${i === 0 ? "forward" : `cotangent of input ${i - 1}`} (${
            describeCase(c as PrimCase<PrimName>)
          }, seed ${FC_SEED})`,
        });
      });
    }),
    20,
  );
}

Deno.test("backend conformance: a WebGPU adapter is present (fails, never skips, without one)", () => {
  requireAdapter();
});

Deno.test("backend conformance: every primitive of PRIM_NAMES has a row", () => {
  const missing = PRIM_NAMES.filter((p) => !(p in PRIM_CASES));
  assert.deepEqual(missing, [], `no row in tests/prim_cases.ts for ${missing.join(", ")}`);
});

for (const prim of PRIM_NAMES) {
  leakFreeTest(
    `backend conformance: ${prim} forward+backward, webgpu f32 vs cpu f64`,
    () => checkPrim(prim),
  );
}

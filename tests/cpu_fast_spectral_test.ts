/**
 * The CPU backend's fast float32 kernels of the spectral primitives (rfft2, irfft2 on the wasm
 * FFT; solve on the wasm SIMD LU) against the same backend in float64 (the TypeScript
 * reference kernels), forward and backward, on the shared case table's rows
 * (tests/prim_cases.ts) and on a larger (64×64) solve batch.
 * Same tolerance as the CPU/WebGPU conformance suite.
 */
import fc from "fast-check";
import assert from "node:assert/strict";
import type { PrimName } from "../kernels/prims.ts";
import { cpuKernelsInUse } from "../kernels/cpu/fast.ts";
const SOLVE_N = 64;
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { bindPrim } from "../tensor/prims/mod.ts";
import { solve, tensor } from "../tensor/ops.ts";
import { vjp } from "../autodiff/autodiff.ts";
import { assertClose, checkAsync, FC_SEED, leakFreeTest } from "./helpers.ts";
import { describeCase, PRIM_CASES, type PrimCase, rng, vals } from "./prim_cases.ts";

/** Forward output and input cotangents on the CPU in `float`. */
async function outputs<P extends PrimName>(
  prim: P,
  c: PrimCase<P>,
  float: "float32" | "float64",
): Promise<number[][]> {
  const ts = scope(() => {
    const xs = c.inputs.map((x) => tensor(x.values, { shape: x.shape, dtype: float }));
    const [y, pb] = vjp((...a: Tensor[]) => bindPrim(prim, a, c.params), ...xs);
    const ct = tensor(vals(c.seed + 99, y.size), { shape: y.shape, dtype: float });
    return [y, ...(pb(ct) as Tensor[])];
  });
  const out = await Promise.all(ts.map((t) => t.data()));
  ts.forEach((t) => t.dispose());
  return out.map((d) => Array.from(d));
}

function close(got: number[][], ref: number[][], what: string): void {
  assert.equal(got.length, ref.length);
  ref.forEach((e, i) => {
    const scale = e.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assertClose(got[i], e, { rtol: 1e-4, atol: 1e-4 * (1 + scale), what: `${what} output ${i}` });
  });
}

/** Says loudly when the fast kernels are off (the comparison is then TS against TS). */
function noteKernels(): void {
  if (cpuKernelsInUse()?.kind === "reference") {
    console.warn("NOTE SLL_CPU_KERNELS=reference: float32 runs the TypeScript kernels here too");
  }
}

for (const prim of ["rfft2", "irfft2", "solve"] as const) {
  leakFreeTest(
    `cpu fast kernels: ${prim} float32 vs float64 reference`,
    () =>
      checkAsync(
        fc.asyncProperty(PRIM_CASES[prim], async (c) => {
          const what = `${prim} (${describeCase(c as PrimCase<PrimName>)}, seed ${FC_SEED})`;
          close(await outputs(prim, c, "float32"), await outputs(prim, c, "float64"), what);
          noteKernels();
        }),
        20,
      ),
  );
}

leakFreeTest(
  `cpu fast kernels: solve of ${SOLVE_N}×${SOLVE_N} systems vs float64`,
  async () => {
    const n = SOLVE_N, batch = 3, r = rng(17);
    const av = Array.from({ length: batch * n * n }, () => r() - 0.5);
    for (let z = 0; z < batch; z++) for (let i = 0; i < n; i++) av[z * n * n + i * (n + 1)] += n;
    const bv = Array.from({ length: batch * n * 2 }, () => r() - 0.5);
    const run = async (dtype: "float32" | "float64"): Promise<number[]> => {
      const x = scope(() =>
        solve(
          tensor(av, { shape: [batch, n, n], dtype }),
          tensor(bv, { shape: [batch, n, 2], dtype }),
        )
      );
      const d = Array.from(await x.data());
      x.dispose();
      return d;
    };
    close([await run("float32")], [await run("float64")], `solve [${batch}, ${n}, ${n}]`);
  },
);

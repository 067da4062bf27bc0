/**
 * The core's conformance cases inside a page (#14 item 4): a handful of primitives (matmul,
 * conv2d, the sum reduction, abs), an elementwise chain, relu and an SLL convolution's vjp,
 * forward and backward, drawn from the shared case table (tests/prim_cases.ts) with a fixed
 * seed. Loaded by web/conformance.html it runs them on the CPU (the page's main thread: one
 * thread) and on WebGPU, shows the differences, and publishes the raw outputs on
 * `globalThis.sllConformance`; tests/browser_page_test.ts runs the same cases in Deno and compares.
 * @module
 */
import fc from "fast-check";
import { vjp } from "../autodiff/autodiff.ts";
import type { PrimName } from "../kernels/prims.ts";
import { sllConv } from "../layers/sll.ts";
import { getBackend, initWebGpu, setBackend } from "../tensor/backend.ts";
import { add, exp, mul, sub } from "../tensor/prims/elementwise.ts";
import { bindPrim, PRIMS } from "../tensor/prims/mod.ts";
import { relu, square, tensor } from "../tensor/ops.ts";
import { memory, scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  type CaseInput,
  describeCase,
  PRIM_CASES,
  type PrimCase,
  vals,
} from "../tests/prim_cases.ts";

/** The fast-check seed of the drawn cases: the page and Deno draw the same ones. */
export const CONFORMANCE_SEED = 20261202;

/** One case: host inputs and the function of them whose output and input cotangents are checked. */
export interface ConformanceCase {
  /** Short name ("matmul #1", "sllConv vjp", …). */
  name: string;
  /** Inputs and params, as text (the test checks both sides drew the same case). */
  describe: string;
  /** The inputs, host values. */
  inputs: CaseInput[];
  /** Seed of the output cotangent. */
  seed: number;
  /** The function checked: forward output, and its vjp for the float inputs. */
  apply: (...xs: Tensor[]) => Tensor;
}

/** The outputs of one case on one backend: forward first, then each float input's cotangent. */
export interface CaseResult {
  /** The case's name. */
  name: string;
  /** The case's description (equal on both sides). */
  describe: string;
  /** Forward output, then the cotangents, row-major. */
  outputs: number[][];
}

/** What a backend's run in the page reports. */
export interface BackendRun {
  /** "cpu" or "webgpu". */
  backend: string;
  /** Every case's outputs, in the order of {@linkcode conformanceCases}. */
  results: CaseResult[];
  /** Live tensors after the run minus before (0 when nothing leaked). */
  leakedTensors: number;
}

function primCases<P extends PrimName>(prim: P, n: number): ConformanceCase[] {
  const drawn = fc.sample(PRIM_CASES[prim] as fc.Arbitrary<PrimCase<P>>, {
    seed: CONFORMANCE_SEED,
    numRuns: n,
  });
  return drawn.map((c, i) => ({
    name: `${prim} #${i + 1}`,
    describe: describeCase(c as PrimCase<PrimName>),
    inputs: c.inputs,
    seed: c.seed,
    apply: (...xs: Tensor[]) => bindPrim(prim, xs, c.params),
  }));
}

const input = (shape: number[], seed: number, kind?: Parameters<typeof vals>[2]): CaseInput => ({
  shape,
  values: vals(seed, shape.reduce((a, b) => a * b, 1), kind),
});

/** An SLL convolution's parameter shapes: cin 2, inner 3, kernel 3. */
const SLL = { cin: 2, inner: 3, kernel: 3 };

/**
 * The cases, the same on every host: drawn from tests/prim_cases.ts with
 * {@linkcode CONFORMANCE_SEED}, plus a chain, relu and an SLL convolution's vjp.
 *
 * @example
 * ```ts
 * import { conformanceCases } from "./conformance.ts";
 * console.log(conformanceCases().map((c) => c.name).join(", "));
 * ```
 */
export function conformanceCases(): ConformanceCase[] {
  const layer = sllConv({ inner: SLL.inner, kernel: SLL.kernel });
  return [
    ...primCases("matmul", 2),
    ...primCases("conv2d", 2),
    ...primCases("sum", 2),
    ...primCases("abs", 1),
    {
      // e^{x/2}·y + (x − y)²: five elementwise ops the WebGPU backend fuses into one kernel
      name: "elementwise chain",
      describe: "e^(x/2)·y + (x − y)² on [3, 7] and [7]",
      inputs: [input([3, 7], 11), input([7], 12)],
      seed: 13,
      apply: (x, y) => add(mul(exp(mul(x, 0.5)), y), square(sub(x, y))),
    },
    {
      name: "relu",
      describe: "relu on [4, 6], values away from 0",
      inputs: [input([4, 6], 21, "awayFromZero")],
      seed: 22,
      apply: (x) => relu(x),
    },
    {
      name: "sllConv vjp",
      describe: `sllConv(inner ${SLL.inner}, kernel ${SLL.kernel}) on x [2, ${SLL.cin}, 5, 5]`,
      inputs: [
        input([2, SLL.cin, 5, 5], 31),
        input([SLL.inner, SLL.cin, SLL.kernel, SLL.kernel], 32),
        input([1, SLL.inner, 1, 1], 33),
        input([SLL.inner], 34),
      ],
      seed: 35,
      apply: (x, kernel, bias, q) => layer.apply({ kernel, bias, q }, x),
    },
  ];
}

/**
 * Runs every case on the current backend with float inputs of `float`: the forward output, then
 * the vjp of a seeded cotangent for each float input.
 *
 * @example
 * ```ts
 * import { runConformance } from "./conformance.ts";
 * const results = await runConformance("float32");
 * console.log(results[0].name, results[0].outputs[0].length);
 * ```
 */
export async function runConformance(float: "float32" | "float64"): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  for (const c of conformanceCases()) {
    const ts = scope(() => {
      const xs = c.inputs.map((x) =>
        tensor(x.values, { shape: x.shape, dtype: x.int ? "int32" : float })
      );
      const [y, pullback] = vjp(c.apply, ...xs);
      const res = [y];
      const prim = c.name.split(" ")[0] as PrimName;
      const differentiable = !(prim in PRIMS) || PRIMS[prim].vjp !== undefined;
      if (differentiable && y.dtype !== "int32") {
        const ct = tensor(vals(c.seed + 99, y.size), { shape: y.shape, dtype: float });
        const gs = pullback(ct) as Tensor[];
        gs.forEach((g, i) => {
          if (!c.inputs[i].int) res.push(g);
        });
      }
      return res;
    });
    const data = await Promise.all(ts.map((t) => t.data()));
    ts.forEach((t) => t.dispose());
    out.push({ name: c.name, describe: c.describe, outputs: data.map((d) => Array.from(d)) });
  }
  return out;
}

/** Runs the cases on `backend` and counts the tensors left alive. */
async function runOn(backend: "cpu" | "webgpu"): Promise<BackendRun> {
  await setBackend(backend);
  const before = memory().tensors;
  const results = await runConformance("float32");
  const leakedTensors = memory().tensors - before;
  return { backend: getBackend(), results, leakedTensors };
}

/** The largest |a − b| over every output of two runs. */
function maxDiff(a: CaseResult, b: CaseResult): number {
  let m = 0;
  a.outputs.forEach((o, i) =>
    o.forEach((v, j) => (m = Math.max(m, Math.abs(v - b.outputs[i][j]))))
  );
  return m;
}

/** The part of a page's document used here (typed locally: Deno's types have no DOM). */
interface PageDocument {
  getElementById(id: string): { textContent: string | null; innerHTML: string } | null;
}

/** The page: run on both backends, show a table, publish the runs. */
async function page(
  doc: PageDocument,
): Promise<{ cpu: BackendRun; webgpu: BackendRun; adapter: string }> {
  const status = doc.getElementById("status")!;
  const cpu = await runOn("cpu");
  status.textContent = "CPU done; WebGPU…";
  const a = await initWebGpu();
  const webgpu = await runOn("webgpu");
  await setBackend("cpu");
  const adapter = [a.vendor, a.architecture, a.description].filter((s) => s).join(" ");
  const rows = cpu.results.map((r, i) =>
    `<tr><td>${r.name}</td><td>${r.outputs.length}</td><td>${
      maxDiff(r, webgpu.results[i]).toExponential(2)
    }</td><td>${r.describe}</td></tr>`
  );
  doc.getElementById("results")!.innerHTML = rows.join("");
  status.textContent = `${cpu.results.length} cases on the CPU and on WebGPU (${adapter}); ` +
    `leaked tensors: cpu ${cpu.leakedTensors}, webgpu ${webgpu.leakedTensors}`;
  return { cpu, webgpu, adapter };
}

const doc = (globalThis as { document?: PageDocument }).document;
if (doc) {
  const done = page(doc);
  (globalThis as Record<string, unknown>).sllConformance = { done };
  done.catch((e: Error) => {
    doc.getElementById("status")!.textContent = `failed: ${e.message}`;
  });
}

/**
 * Shared test helpers: seeded fast-check runs that print their seed, closeness assertions with
 * messages that locate the worst element, and the live-tensor baseline check every test uses.
 * @module
 */
import fc from "fast-check";
import { AssertionError } from "node:assert/strict";
import { memory } from "../tensor/scope.ts";
import type { NetworkConfig } from "../layers/mod.ts";
import {
  hostDataFromBytes,
  type HostDType,
  type HostTensor,
  itemSize,
  numel,
} from "../io/host_tensor.ts";
import type { ModelSpec } from "../train/checkpoint.ts";

/** The fast-check seed of this run: `FC_SEED` when set, else random (printed on failure). */
export const FC_SEED: number = Deno.env.get("FC_SEED")
  ? Number(Deno.env.get("FC_SEED"))
  : (Date.now() ^ (Math.random() * 2 ** 31)) | 0;

/** Runs a fast-check property with the run's seed; a failure names the seed to replay it. */
export function check<Ts>(prop: fc.IProperty<Ts>, numRuns = 25): void {
  try {
    fc.assert(prop, { seed: FC_SEED, numRuns });
  } catch (e) {
    if (e instanceof Error) e.message = `[replay with FC_SEED=${FC_SEED}] ${e.message}`;
    throw e;
  }
}

/** Async variant of `check`. */
export async function checkAsync<Ts>(prop: fc.IAsyncProperty<Ts>, numRuns = 25): Promise<void> {
  try {
    await fc.assert(prop, { seed: FC_SEED, numRuns });
  } catch (e) {
    if (e instanceof Error) e.message = `[replay with FC_SEED=${FC_SEED}] ${e.message}`;
    throw e;
  }
}

/**
 * Asserts |actual − expected| ≤ atol + rtol·|expected| elementwise, naming the worst index.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { rtol = 1e-5, atol = 1e-6, what = "values" }: { rtol?: number; atol?: number; what?: string } =
    {},
): void {
  if (actual.length !== expected.length) {
    throw new AssertionError({
      message: `${what}: length ${actual.length} ≠ expected ${expected.length}`,
    });
  }
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    throw new AssertionError({
      message: `${what}: element ${worst} is ${actual[worst]}, expected ${
        expected[worst]
      } (rtol ${rtol}, atol ${atol})`,
    });
  }
}

/** Norm-wise relative error ‖a − b‖ / max(‖b‖, tiny). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

/**
 * The one leak check: a Deno.test that fails unless live tensors and bytes on every backend
 * return to their values from before the test. `options` are Deno.test's (ignore, sanitizers…).
 */
export function leakFreeTest(
  name: string,
  fn: () => void | Promise<void>,
  options: Omit<Deno.TestDefinition, "name" | "fn"> = {},
): void {
  Deno.test({
    ...options,
    name,
    fn: async () => {
      const before = { cpu: memory("cpu"), webgpu: memory("webgpu") };
      await fn();
      for (const b of ["cpu", "webgpu"] as const) {
        const after = memory(b);
        if (after.tensors !== before[b].tensors || after.bytes !== before[b].bytes) {
          throw new AssertionError({
            message: `${name}: ${b} leaked ${after.tensors - before[b].tensors} tensors / ${
              after.bytes - before[b].bytes
            } bytes`,
          });
        }
      }
    },
  });
}

/**
 * The network of the PyTorch fixtures (tests/fixtures/README.md, `tiny_c1_28`): 1×28×28 input,
 * width 8, 2 SLL conv (inner 5), 2 SLL dense (inner 32), 10 classes, mean 0.1307, q as the
 * reference code applies it.
 */
export const FIXTURE_NETWORK: NetworkConfig = {
  inputShape: [1, 28, 28],
  numClasses: 10,
  nConv: 2,
  nDense: 2,
  width: 8,
  convInnerDim: 5,
  denseInnerDim: 32,
  mean: [0.1307],
  qMode: "reference",
};

/** The fixture network as a checkpoint's model spec (Fashion-MNIST, q as the reference). */
export const FIXTURE_MODEL_SPEC: ModelSpec = {
  dataset: "fashion-mnist",
  inputShape: [1, 28, 28],
  numClasses: FIXTURE_NETWORK.numClasses,
  mean: [...(FIXTURE_NETWORK.mean ?? [])],
  arch: {
    nConv: FIXTURE_NETWORK.nConv,
    nDense: FIXTURE_NETWORK.nDense,
    width: FIXTURE_NETWORK.width,
    convInnerDim: FIXTURE_NETWORK.convInnerDim,
    denseInnerDim: FIXTURE_NETWORK.denseInnerDim,
    qMode: "reference",
  },
};

const HOST_DTYPES: HostDType[] = [
  "float32",
  "float64",
  "int32",
  "int64",
  "uint8",
  "float16",
  "bfloat16",
  "bool",
];

/** Host tensors of every dtype with random bytes and up to 4 axes of size 0..`maxDim`. */
export function hostTensorArb(maxDim: number): fc.Arbitrary<HostTensor> {
  return fc
    .record({
      dtype: fc.constantFrom(...HOST_DTYPES),
      shape: fc.array(fc.integer({ min: 0, max: maxDim }), { maxLength: 4 }),
    })
    .chain(({ dtype, shape }) => {
      const bytes = numel(shape) * itemSize(dtype);
      return fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((raw) => {
        if (dtype === "bool") raw = raw.map((b) => b & 1);
        return { dtype, shape, data: hostDataFromBytes(dtype, raw.slice(), numel(shape)) };
      });
    });
}

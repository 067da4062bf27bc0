/**
 * Random tensors from explicit, splittable keys (Threefry-2x32 as in JAX). All bits are drawn
 * on the host by `prng.ts` and uploaded, so the same key gives the same numbers on every backend.
 * @module
 */
import type { DType } from "../kernels/dtype.ts";
import { checkShape, sizeOf } from "../kernels/shape.ts";
import { fromHost } from "./engine.ts";
import type { Tensor } from "./tensor.ts";
import {
  type KeyData,
  keyFromSeed,
  normalHost,
  permutationHost,
  splitKey,
  uniformHost,
} from "./prng.ts";

/** A PRNG key: two uint32 words. Never reuse a key for two draws: `split` it. */
export type PRNGKey = KeyData;

function checkKey(key: unknown, op: string): KeyData {
  if (
    !Array.isArray(key) || key.length !== 2 ||
    !key.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32)
  ) {
    throw new TypeError(
      `${op}: expected a key from randomKey() or split(), got ${JSON.stringify(key)}`,
    );
  }
  return key as unknown as KeyData;
}

/**
 * A key from an integer seed.
 *
 * @example
 * ```ts
 * import { randomKey, split } from "@sll/sll";
 * const [k1, k2] = split(randomKey(0));
 * ```
 */
export function randomKey(seed: number): PRNGKey {
  return keyFromSeed(seed);
}

/**
 * `n` independent keys derived from `key`.
 *
 * @example
 * ```ts
 * import { randomKey, split } from "@sll/sll";
 * const keys = split(randomKey(1), 4);
 * ```
 */
export function split(key: PRNGKey, n = 2): PRNGKey[] {
  return splitKey(checkKey(key, "split"), n);
}

/**
 * Standard normal samples of `shape`.
 *
 * @example
 * ```ts
 * import { normal, randomKey } from "@sll/sll";
 * const x = normal(randomKey(0), [2, 3]);
 * ```
 */
export function normal(key: PRNGKey, shape: readonly number[], dtype: DType = "float32"): Tensor {
  const s = checkShape(shape, "normal");
  return fromHostCast(normalHost(checkKey(key, "normal"), sizeOf(s)), s, dtype, "normal");
}

function fromHostCast(v: Float64Array, shape: number[], dtype: DType, op: string): Tensor {
  if (dtype === "int32") throw new TypeError(`${op}: dtype must be float32 or float64, got int32`);
  return fromHost(dtype === "float64" ? v : Float32Array.from(v), shape, dtype, op);
}

/**
 * Uniform samples in [lo, hi).
 *
 * @example
 * ```ts
 * import { randomKey, uniform } from "@sll/sll";
 * const w = uniform(randomKey(0), [4, 4], -0.5, 0.5);
 * ```
 */
export function uniform(
  key: PRNGKey,
  shape: readonly number[],
  lo = 0,
  hi = 1,
  dtype: DType = "float32",
): Tensor {
  const s = checkShape(shape, "uniform");
  if (!(hi >= lo)) throw new RangeError(`uniform: need lo ≤ hi, got [${lo}, ${hi})`);
  return fromHostCast(
    uniformHost(checkKey(key, "uniform"), sizeOf(s), lo, hi),
    s,
    dtype,
    "uniform",
  );
}

/**
 * A random permutation of 0..n−1 (int32).
 *
 * @example
 * ```ts
 * import { permutation, randomKey } from "@sll/sll";
 * const order = permutation(randomKey(0), 10);
 * ```
 */
export function permutation(key: PRNGKey, n: number): Tensor {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`permutation: n must be a non-negative integer, got ${n}`);
  }
  return fromHost(permutationHost(checkKey(key, "permutation"), n), [n], "int32", "permutation");
}

/**
 * The CPU backend's pool of large host arrays. Fresh multi-megabyte typed arrays cost page
 * faults on first touch (~1.7 ms for 6 MB here) while reusing one costs a memset; arrays are
 * pooled by (dtype, length) only once their tensor's storage is freed, never while shared.
 * @module
 */
import { type DType, newArray, type TypedArray } from "../dtype.ts";
import { heapAddress, heapArray, isHeapArray, kernelHeapOn } from "./wasm/runtime.ts";

const POOL_MIN_ELEMENTS = 16384;
// `small`'s training step (41M parameters, Adam) frees and reallocates gigabytes of 12–24 MB
// arrays: with 512 MB of pool, 2.2 GB of them were fresh (page faults) every step
const POOL_MAX_BYTES = 3 * 1024 * 1024 * 1024;
const pool = new Map<string, TypedArray[]>();
let pooledBytes = 0;

// float32 arrays in the wasm kernels' memory (wasm/runtime.ts's heap), by length: never dropped,
// since their bytes cannot be given back
const heapPool = new Map<number, Float32Array[]>();

/** Returns a host array to the pool (the caller must hold the only reference). */
export function releaseArray(a: TypedArray): void {
  if (heapAddress(a) !== null) {
    if (!(a instanceof Float32Array) || !isHeapArray(a)) return; // a view into one: not ours
    let list = heapPool.get(a.length);
    if (!list) heapPool.set(a.length, list = []);
    list.push(a);
    return;
  }
  if (a.length < POOL_MIN_ELEMENTS || a.byteOffset !== 0 || a.buffer.byteLength !== a.byteLength) {
    return;
  }
  if (pooledBytes + a.byteLength > POOL_MAX_BYTES) return;
  const key = `${a.constructor.name}:${a.length}`;
  let list = pool.get(key);
  if (!list) pool.set(key, list = []);
  list.push(a);
  pooledBytes += a.byteLength;
}

/** A zero-filled host array of `n` elements of `dtype`, reused from the pool when possible. */
export function allocArray(dtype: DType, n: number): TypedArray {
  const a = pooled(dtype, n);
  return a ? a.fill(0) : fresh(dtype, n);
}

/**
 * A host array of `n` elements of `dtype` whose contents are arbitrary (a pooled one is not
 * cleared): for kernels that write every element, saving allocArray's memset.
 */
export function allocUninit(dtype: DType, n: number): TypedArray {
  return pooled(dtype, n) ?? fresh(dtype, n);
}

/**
 * A float32 array of `n` elements whose contents are arbitrary, placed in the wasm kernels'
 * memory where it can be (large arrays, shared memory): kernels and fused loops then read and
 * write it in place, without copies in and out; elsewhere as {@linkcode allocUninit}. For the
 * outputs of the wasm kernels and loops, which feed the next ones.
 */
export function allocKernelF32(n: number): Float32Array {
  if (n < POOL_MIN_ELEMENTS || !kernelHeapOn()) return allocUninit("float32", n) as Float32Array;
  return heapPool.get(n)?.pop() ?? heapArray(n) ?? allocUninit("float32", n) as Float32Array;
}

/**
 * A zero-filled host array of `n` elements of `dtype`, float32 ones placed as by
 * {@linkcode allocKernelF32}: for outputs that feed the wasm convolutions (the padded input of an
 * SLL network, the gradient out of its pooling).
 */
export function allocArrayForKernels(dtype: DType, n: number): TypedArray {
  return dtype === "float32" && n >= POOL_MIN_ELEMENTS
    ? allocKernelF32(n).fill(0)
    : allocArray(dtype, n);
}

/** As {@linkcode allocArrayForKernels}, contents arbitrary: for kernels that write every element. */
export function allocUninitForKernels(dtype: DType, n: number): TypedArray {
  return dtype === "float32" ? allocKernelF32(n) : allocUninit(dtype, n);
}

/** Counts of large arrays allocated fresh (pool misses), for tests and benchmarks. */
export const poolStats: { fresh: number; freshBytes: number } = { fresh: 0, freshBytes: 0 };

function fresh(dtype: DType, n: number): TypedArray {
  const a = newArray(dtype, n);
  if (n >= POOL_MIN_ELEMENTS) {
    poolStats.fresh++;
    poolStats.freshBytes += a.byteLength;
  }
  return a;
}

function pooled(dtype: DType, n: number): TypedArray | undefined {
  if (n >= POOL_MIN_ELEMENTS) {
    const name = dtype === "float32"
      ? "Float32Array"
      : dtype === "int32"
      ? "Int32Array"
      : "Float64Array";
    const a = pool.get(`${name}:${n}`)?.pop();
    if (a) {
      pooledBytes -= a.byteLength;
      return a;
    }
  }
  return undefined;
}

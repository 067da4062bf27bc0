/**
 * Counter-based, splittable random numbers on the host (Threefry-2x32, 20 rounds, as in JAX).
 * A key is two uint32 words; the same key gives the same numbers on every backend because all
 * bits are drawn here and uploaded. Nothing in this file depends on tensors or backends.
 * @module
 */

/** A PRNG key: two 32-bit words. Keys are values; `split` derives independent children. */
export type KeyData = readonly [number, number];

const ROTATIONS = [13, 15, 26, 6, 17, 29, 16, 24] as const;
const PARITY = 0x1bd11bda;

function rotl(x: number, r: number): number {
  return ((x << r) | (x >>> (32 - r))) >>> 0;
}

/** Threefry-2x32 block: encrypts the counter (c0, c1) under key (k0, k1). */
export function threefry2x32(
  k0: number,
  k1: number,
  c0: number,
  c1: number,
): [number, number] {
  const ks = [k0 >>> 0, k1 >>> 0, (k0 ^ k1 ^ PARITY) >>> 0];
  let x0 = (c0 + ks[0]) >>> 0;
  let x1 = (c1 + ks[1]) >>> 0;
  for (let block = 0; block < 5; block++) {
    for (let r = 0; r < 4; r++) {
      x0 = (x0 + x1) >>> 0;
      x1 = rotl(x1, ROTATIONS[(block % 2) * 4 + r]) ^ x0;
    }
    // key injection after every 4 rounds
    x0 = (x0 + ks[(block + 1) % 3]) >>> 0;
    x1 = (x1 + ks[(block + 2) % 3] + block + 1) >>> 0;
  }
  return [x0, x1];
}

/** Makes a key from an integer seed (any safe integer; the high bits use the second word). */
export function keyFromSeed(seed: number): KeyData {
  if (!Number.isSafeInteger(seed)) {
    throw new RangeError(`randomKey: seed must be a safe integer, got ${seed}`);
  }
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  return [hi, lo];
}

/** Splits a key into `n` independent keys. */
export function splitKey(key: KeyData, n = 2): KeyData[] {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`split: n must be a positive integer, got ${n}`);
  }
  const out: KeyData[] = [];
  for (let i = 0; i < n; i++) out.push(threefry2x32(key[0], key[1], 0, i));
  return out;
}

/** `n` uniformly random uint32 words drawn from `key`. */
export function randomBits(key: KeyData, n: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i += 2) {
    const [a, b] = threefry2x32(key[0], key[1], 0x9e3779b9, i >>> 1);
    out[i] = a;
    if (i + 1 < n) out[i + 1] = b;
  }
  return out;
}

/** `n` floats uniform in [lo, hi) (24 random bits each, so never exactly `hi`). */
export function uniformHost(key: KeyData, n: number, lo = 0, hi = 1): Float64Array {
  const bits = randomBits(key, n);
  const out = new Float64Array(n);
  const scale = hi - lo;
  for (let i = 0; i < n; i++) out[i] = lo + scale * ((bits[i] >>> 8) / 16777216);
  return out;
}

/** `n` standard normal floats (Box–Muller on pairs of uniforms in (0, 1]). */
export function normalHost(key: KeyData, n: number): Float64Array {
  const m = n + (n % 2);
  const bits = randomBits(key, m);
  const out = new Float64Array(n);
  for (let i = 0; i < m; i += 2) {
    const u1 = ((bits[i] >>> 8) + 1) / 16777216; // (0, 1]: log is finite
    const u2 = (bits[i + 1] >>> 8) / 16777216;
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** A uniformly random permutation of 0..n-1 (Fisher–Yates driven by `key`). */
export function permutationHost(key: KeyData, n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  const bits = randomBits(key, 2 * n);
  for (let i = n - 1; i > 0; i--) {
    // 53-bit uniform in [0, 1) from two words: bias-free for any n < 2^31
    const u = (bits[2 * i] * 2097152 + (bits[2 * i + 1] >>> 11)) / 9007199254740992;
    const j = Math.floor(u * (i + 1));
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}

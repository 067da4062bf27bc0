/**
 * Randomness: Threefry-2x32 against the published test vectors; same key same numbers, split keys
 * differ, sane moments, uniform bounds, permutations.
 * @module
 */
import assert from "node:assert/strict";
import { threefry2x32 } from "./prng.ts";
import { scope } from "./scope.ts";
import { normal, permutation, randomKey, split, uniform } from "./random.ts";
import { leakFreeTest } from "../tests/helpers.ts";

Deno.test("Threefry-2x32 matches the published test vectors", () => {
  const hex = (a: number[]) => a.map((x) => x.toString(16).padStart(8, "0")).join(" ");
  assert.equal(hex(threefry2x32(0, 0, 0, 0)), "6b200159 99ba4efe");
  assert.equal(
    hex(threefry2x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff)),
    "1cb996fc bb002be7",
  );
  assert.equal(
    hex(threefry2x32(0x13198a2e, 0x03707344, 0x243f6a88, 0x85a308d3)),
    "c4923a9c 483df7a0",
  );
});

leakFreeTest("random: same key same numbers, split keys differ, sane moments, permutations", () => {
  scope(() => {
    const k = randomKey(42);
    assert.deepEqual(normal(k, [5]).dataSync(), normal(k, [5]).dataSync());
    const [a, b] = split(k);
    assert.notDeepEqual(normal(a, [5]).dataSync(), normal(b, [5]).dataSync());
    const x = Array.from(normal(randomKey(1), [20000]).dataSync());
    const m = x.reduce((s, v) => s + v, 0) / x.length;
    const v = x.reduce((s, y) => s + (y - m) ** 2, 0) / x.length;
    assert.ok(Math.abs(m) < 0.03 && Math.abs(v - 1) < 0.05, `mean ${m} var ${v}`);
    const u = uniform(randomKey(2), [1000], -2, 3).dataSync();
    assert.ok(u.every((t) => t >= -2 && t < 3));
    const p = Array.from(permutation(randomKey(3), 100).dataSync()).sort((q, r) => q - r);
    assert.deepEqual(p, Array.from({ length: 100 }, (_, i) => i));
    assert.throws(() => split([1, 2, 3] as unknown as [number, number]), /split: expected a key/);
  });
});

// The helper web Worker and the single-threaded path run the same kernels and give the same
// bits: each test forces one path, checks through helperDispatches() which path ran, and
// compares. A page's main thread (simulated by a `document` global) never uses the helper.
import assert from "node:assert/strict";
import { conv2d, conv2dFilterGrad, convTranspose2d, gram, setDirectLimit, sgemm } from "./ops.ts";
import {
  helperDispatches,
  setThreads,
  shutdownThreads,
  threadCount,
  threadsReady,
} from "./runtime.ts";

function randomArray(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

const conv = { b: 4, c: 16, h: 16, w: 16, o: 24, kh: 3, kw: 3, stride: 1, padding: 1 };
const x = randomArray(4 * 16 * 16 * 16, 1);
const w = randomArray(24 * 16 * 9, 2);
const gy = randomArray(4 * 24 * 16 * 16, 3);
const a = randomArray(3 * 200 * 180, 4);
const b = randomArray(3 * 180 * 170, 5);
const bt = randomArray(3 * 200 * 170, 7);
const g = randomArray(300 * 260, 6);

/** Every parallel kernel, on inputs large enough to be split between two threads. */
function runAll(): Float32Array[] {
  const out: Float32Array[] = [
    sgemm(a, b, { m: 200, n: 170, k: 180, batch: 3 }),
    sgemm(a, bt, { m: 180, n: 170, k: 200, batch: 3, transA: true }),
    gram(g, { n: 300, k: 260 }),
  ];
  for (const direct of [true, false]) {
    const prev = setDirectLimit(direct ? 1 << 30 : 0);
    try {
      out.push(conv2d(x, w, conv), convTranspose2d(gy, w, conv), conv2dFilterGrad(x, gy, conv));
    } finally {
      setDirectLimit(prev);
    }
  }
  return out;
}

function sameBits(got: Float32Array[], want: Float32Array[], what: string): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) {
    const gb = new Uint32Array(got[i].buffer, got[i].byteOffset, got[i].length);
    const wb = new Uint32Array(want[i].buffer, want[i].byteOffset, want[i].length);
    assert.deepEqual(gb, wb, `${what}: output ${i} differs`);
  }
}

Deno.test("wasm threads: the worker path and the single-threaded path give identical bits", async () => {
  const prev = setThreads(2);
  try {
    assert.equal(await threadsReady(), true, "the helper web Worker did not start under Deno");
    assert.equal(threadCount(), 2);
    const before = helperDispatches();
    const two = runAll();
    const shared = helperDispatches() - before;
    assert.ok(shared >= 9, `the helper shared only ${shared} of the 9 parallel calls`);

    setThreads(1);
    assert.equal(threadCount(), 1);
    const mark = helperDispatches();
    const one = runAll();
    assert.equal(helperDispatches(), mark, "one thread was asked for, but the helper ran");
    sameBits(two, one, "two threads vs one");
  } finally {
    setThreads(prev);
    shutdownThreads();
  }
});

Deno.test("wasm threads: a page's main thread never blocks on the helper; same bits", async () => {
  const prev = setThreads(2);
  const g = globalThis as { document?: unknown };
  try {
    assert.equal(await threadsReady(), true);
    const two = runAll();
    g.document = {}; // what a page's main thread has, where Atomics.wait is forbidden
    assert.equal(threadCount(), 1);
    const mark = helperDispatches();
    const page = runAll();
    assert.equal(helperDispatches(), mark, "a page's main thread used the blocking helper");
    sameBits(page, two, "page main thread vs two threads");
  } finally {
    delete g.document;
    setThreads(prev);
    shutdownThreads();
  }
});

Deno.test("wasm threads: an idle helper closes itself and a later call starts another", async () => {
  const prev = setThreads(2);
  try {
    assert.equal(await threadsReady(), true);
    const one = sgemm(a, b, { m: 200, n: 170, k: 180, batch: 3 });
    await new Promise((r) => setTimeout(r, 1500)); // past the helper's idle close
    const mark = helperDispatches();
    const first = sgemm(a, b, { m: 200, n: 170, k: 180, batch: 3 }); // helper restarting
    assert.equal(await threadsReady(), true);
    const again = sgemm(a, b, { m: 200, n: 170, k: 180, batch: 3 });
    assert.ok(helperDispatches() > mark, "the restarted helper did not serve");
    sameBits([first, again], [one, one], "after a restart");
  } finally {
    setThreads(prev);
    shutdownThreads();
  }
});

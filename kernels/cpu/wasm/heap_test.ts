// Tests of the kernels' heap (runtime.ts): float32 arrays that live in the kernels' shared memory
// are read and written in place by the convolutions, products and fused loops, with the same bits
// as ordinary host arrays copied in; released ones are recycled; growing the memory keeps earlier
// views valid; a fused loop's spilled last vector stays in its array's slack.
import assert from "node:assert/strict";
import {
  conv2d,
  conv2dFilterGrad,
  convTranspose2d,
  sgemm,
  shutdownWasmThreads,
  wasmInfo,
} from "./mod.ts";
import { heapAddress, setKernelHeap } from "./runtime.ts";
import { allocKernelF32, releaseArray } from "../host_pool.ts";
import { runWasmLoop, type WasmNode } from "../fusion_wasm.ts";
import { planBroadcast } from "../strided.ts";
import { randomArray } from "../../../bench/harness.ts";

/** Whether heap arrays exist here; says loudly why not (the tests then check the copy path). */
function heapOrSay(what: string): boolean {
  const x = allocKernelF32(1 << 15);
  if (heapAddress(x) !== null) return true;
  console.warn(
    `${what}: NOT testing in-place heap arrays: the kernels' memory is not shared here ` +
      `(${JSON.stringify(wasmInfo())}); ordinary host arrays were checked instead`,
  );
  return false;
}

function sameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths`);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Object.is(a[i], b[i]), `${what}: element ${i} is ${a[i]} in place, ${b[i]} copied`);
  }
}

Deno.test("heap: kernels read heap inputs in place with the bits of copied ones", () => {
  try {
    // the runtime starts with the first call; the heap exists from then on
    const w = randomArray(8 * 8 * 9, 1, -0.5, 0.5);
    const opts = { b: 24, c: 8, h: 12, w: 13, o: 8, kh: 3, kw: 3, padding: 1 }; // ≥ 16384 elements
    const x = randomArray(24 * 8 * 12 * 13, 2, -1, 1);
    const y = conv2d(x, w, opts); // direct-kernel output: a heap array where possible
    const inHeap = heapOrSay("heap: kernels");
    assert.equal(heapAddress(y) !== null, inHeap, "a conv output is a heap array when it can be");
    const copy = Float32Array.from(y);
    assert.equal(heapAddress(copy), null);
    for (
      const [name, f] of [
        ["conv2d direct", (a: Float32Array) => conv2d(a, w, opts)],
        ["conv2d im2col", (a: Float32Array) => conv2d(a, w, { ...opts, stride: 2 })],
        ["convTranspose2d", (a: Float32Array) => convTranspose2d(a, w, opts)],
        ["conv2dFilterGrad (as x)", (a: Float32Array) => conv2dFilterGrad(a, copy, opts)],
        ["conv2dFilterGrad (as gy)", (a: Float32Array) => conv2dFilterGrad(copy, a, opts)],
        ["sgemm", (a: Float32Array) => sgemm(a, a, { m: 192, n: 192, k: 156, transB: true })],
      ] as const
    ) {
      sameBits(f(y), f(copy), name);
    }
    // with the heap off (as before it), outputs are ordinary arrays with the same bits
    const was = setKernelHeap(false);
    try {
      const plain = conv2d(x, w, opts);
      assert.equal(heapAddress(plain), null);
      sameBits(plain, copy, "conv2d with the heap off");
    } finally {
      setKernelHeap(was);
    }
  } finally {
    shutdownWasmThreads();
  }
});

/** One tiny convolution: brings up the wasm kernels (and with them the heap). */
function startKernels(): void {
  conv2d(new Float32Array(9), new Float32Array(9), {
    b: 1,
    c: 1,
    h: 3,
    w: 3,
    o: 1,
    kh: 3,
    kw: 3,
  });
}

Deno.test("heap: released arrays are recycled and survive the memory growing", () => {
  try {
    startKernels();
    if (!heapOrSay("heap: recycling")) return;
    const n = 20000;
    const a = allocKernelF32(n);
    a.set(randomArray(n, 3, -1, 1));
    const kept = Float32Array.from(a);
    releaseArray(a);
    const b = allocKernelF32(n);
    assert.equal(b, a, "the released heap array comes back for the same length");
    // grow the memory by far more than it held: earlier views keep their values
    const big = Array.from({ length: 4 }, () => allocKernelF32(4 << 20));
    sameBits(b, kept, "after growing");
    // a view into a heap array is never pooled (it would alias its parent)
    const view = big[0].subarray(0, n);
    releaseArray(view);
    assert.notEqual(allocKernelF32(n), view, "a released view is not handed out");
    for (const x of [b, ...big]) releaseArray(x);
  } finally {
    shutdownWasmThreads();
  }
});

Deno.test("heap: a fused loop writes a heap output in place and stays inside its slack", () => {
  try {
    startKernels();
    const inHeap = heapOrSay("heap: fused loop");
    // rows of 4099 (not a whole number of vectors): each row's last vector spills
    const shape = [5, 4099], n = 5 * 4099;
    const a = allocKernelF32(n), out = allocKernelF32(n), next = allocKernelF32(n);
    a.set(randomArray(n, 4, -1, 1));
    next.fill(7);
    const bias = randomArray(4099, 5, -1, 1);
    const nodes: WasmNode[] = [{ op: "add", inDType: "float32", dtype: "float32", args: [-1, -2] }];
    const plan = planBroadcast([shape, [4099]], shape);
    assert.ok(runWasmLoop(nodes, [a, bias], plan, out), "the SIMD loop ran");
    const plainOut = new Float32Array(n);
    assert.ok(runWasmLoop(nodes, [Float32Array.from(a), bias], plan, plainOut));
    sameBits(out, plainOut, "fused add");
    for (let i = 0; i < n; i++) assert.equal(out[i], Math.fround(a[i] + bias[i % 4099]));
    assert.ok(next.every((v) => v === 7), "the next array is untouched");
    if (inHeap) assert.notEqual(heapAddress(out), null);
    for (const x of [a, out, next]) releaseArray(x);
  } finally {
    shutdownWasmThreads();
  }
});

/**
 * The fused elementwise loop as WebAssembly SIMD (4 lanes of float32/int32), for the CPU fuser
 * (fusion.ts): the same tree, node by node, with each operation's exact float32/int32
 * semantics — the results of the JS loop (which rounds every intermediate with Math.fround)
 * bit for bit, NaN payloads aside. Operations without an exact SIMD form here (exp, log,
 * int32 mul/div, float64) return null and the JS loop runs instead. Once the wasm kernels run on a
 * shared memory, the loop runs in theirs: heap arrays (wasm/runtime.ts) are read and written in
 * place and only other inputs are copied into the arena; otherwise inputs are copied into a
 * private linear memory, rows of the broadcast plan are run 4 lanes at a time (a row's last
 * vector may spill into the next row's output, which that row then overwrites; every region
 * is padded by one vector), and the output is copied back.
 * @module
 */
import type { DType, TypedArray } from "../dtype.ts";
import { type FuncBuilder, ModuleBuilder, Op, T } from "./wasm/emit.ts";
import { arena, heapAddress, startedRuntime } from "./wasm/runtime.ts";

/** One operation of a fused tree: its kind, operand dtype, and operands (≥ 0 node, < 0 leaf). */
export interface WasmNode {
  /** Primitive name ("add", "where", …), "cmp:<op>" for a comparison, "cast" or "copy". */
  op: string;
  /** The dtype of its operands (of the values for `where`). */
  inDType: DType;
  /** Output dtype. */
  dtype: DType;
  /** Operand indices: k ≥ 0 is node k, −(k + 1) is leaf k. */
  args: number[];
  /** `where`: the condition's dtype. */
  condDType?: DType;
}

// SIMD opcodes (after 0xfd) this file uses, from the WebAssembly SIMD specification
const S = {
  load: 0x00,
  load32Splat: 0x09,
  store: 0x0b,
  i32x4Splat: 0x11,
  f32x4Splat: 0x13,
  i32x4Eq: 0x37,
  i32x4Ne: 0x38,
  i32x4LtS: 0x39,
  i32x4GtS: 0x3b,
  i32x4LeS: 0x3d,
  i32x4GeS: 0x3f,
  f32x4Eq: 0x41,
  f32x4Ne: 0x42,
  f32x4Lt: 0x43,
  f32x4Gt: 0x44,
  f32x4Le: 0x45,
  f32x4Ge: 0x46,
  and: 0x4e,
  or: 0x50,
  bitselect: 0x52,
  i32x4Abs: 0xa0,
  i32x4Neg: 0xa1,
  i32x4ShrU: 0xad,
  i32x4Add: 0xae,
  i32x4Sub: 0xb1,
  i32x4MinS: 0xb6,
  i32x4MaxS: 0xb8,
  f32x4Abs: 0xe0,
  f32x4Neg: 0xe1,
  f32x4Sqrt: 0xe3,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
  i32x4TruncSatF32x4S: 0xf8,
  f32x4ConvertI32x4S: 0xfa,
} as const;

const FLOAT_CMP: Record<string, number> = {
  eq: S.f32x4Eq,
  ne: S.f32x4Ne,
  lt: S.f32x4Lt,
  le: S.f32x4Le,
  gt: S.f32x4Gt,
  ge: S.f32x4Ge,
};
const INT_CMP: Record<string, number> = {
  eq: S.i32x4Eq,
  ne: S.i32x4Ne,
  lt: S.i32x4LtS,
  le: S.i32x4LeS,
  gt: S.i32x4GtS,
  ge: S.i32x4GeS,
};

/**
 * Emits node `n` (its operands already in locals `val`), leaving its v128 on the stack; false
 * when the operation has no exact SIMD form here.
 */
function emitNode(f: FuncBuilder, n: WasmNode, val: (arg: number) => number): boolean {
  const simd = (...ops: number[]) => ops.forEach((o) => f.simd(o));
  const get = (k: number) => f.get(val(n.args[k]));
  const fl = n.inDType === "float32";
  if (n.inDType !== "float32" && n.inDType !== "int32") return false;
  const bin = (fop: number, iop: number | null): boolean => {
    if (!fl && iop === null) return false;
    get(0), get(1), simd(fl ? fop : iop!);
    return true;
  };
  switch (n.op) {
    case "copy":
      get(0);
      return true;
    case "neg":
      get(0), simd(fl ? S.f32x4Neg : S.i32x4Neg);
      return true;
    case "abs":
      get(0), simd(fl ? S.f32x4Abs : S.i32x4Abs);
      return true;
    case "sqrt":
      if (!fl) return false;
      get(0), simd(S.f32x4Sqrt);
      return true;
    case "add":
      return bin(S.f32x4Add, S.i32x4Add);
    case "sub":
      return bin(S.f32x4Sub, S.i32x4Sub);
    case "mul":
      return bin(S.f32x4Mul, null);
    case "div":
      return bin(S.f32x4Div, null);
    case "maximum":
    case "minimum": {
      if (!fl) return bin(0, n.op === "maximum" ? S.i32x4MaxS : S.i32x4MinS);
      // (a > b || a !== a) ? a : b   (a < b for minimum): NaN in a propagates, else b
      get(0), get(1), get(0), get(1), simd(n.op === "maximum" ? S.f32x4Gt : S.f32x4Lt);
      get(0), get(0), simd(S.f32x4Ne, S.or, S.bitselect);
      return true;
    }
    case "sign":
      // (a > 0 ? 1 : a < 0 ? −1 : 0): masks select the constants' bits, else +0
      if (fl) {
        f.f32x4Const(1), get(0), f.f32x4Const(0), simd(S.f32x4Gt, S.and);
        f.f32x4Const(-1), get(0), f.f32x4Const(0), simd(S.f32x4Lt, S.and, S.or);
      } else {
        get(0), f.i32(0), simd(S.i32x4Splat, S.i32x4GtS), f.i32(31), simd(S.i32x4ShrU);
        get(0), f.i32(0), simd(S.i32x4Splat, S.i32x4LtS, S.or);
      }
      return true;
    case "where": {
      // cond !== 0 ? b : c (the condition's own dtype decides the test)
      get(1), get(2), get(0);
      if (n.condDType === "float32") f.f32x4Const(0), simd(S.f32x4Ne);
      else f.i32(0), simd(S.i32x4Splat, S.i32x4Ne);
      simd(S.bitselect);
      return true;
    }
    case "cast":
      get(0);
      if (n.inDType === n.dtype) return true;
      simd(n.dtype === "int32" ? S.i32x4TruncSatF32x4S : S.f32x4ConvertI32x4S);
      return true;
    default:
      if (n.op.startsWith("cmp:")) {
        const c = (fl ? FLOAT_CMP : INT_CMP)[n.op.slice(4)];
        get(0), get(1), simd(c), f.i32(31), simd(S.i32x4ShrU); // all-ones mask → 1
        return true;
      }
      return false;
  }
}

/** A compiled loop: (rows, inner, out byte address, per leaf: base address, row-offsets address). */
type WasmLoop = (...args: number[]) => void;

let memory: WebAssembly.Memory | null | undefined; // created on first use
const compiled = new Map<string, WasmLoop | null>();

function buildLoop(
  nodes: readonly WasmNode[],
  leafTypes: readonly DType[],
  strides: readonly number[],
  mem: WebAssembly.Memory,
  shared: boolean,
): WasmLoop | null {
  const L = leafTypes.length;
  const params = Array<typeof T.i32>(3 + 2 * L).fill(T.i32);
  const m = new ModuleBuilder().importMemory({
    module: "env",
    name: "memory",
    min: 1,
    max: 65536,
    shared,
  });
  let ok = true;
  m.func("run", params, [], (f) => {
    const rows = 0, inner = 1, out = 2;
    const base = (k: number) => 3 + 2 * k, offs = (k: number) => 4 + 2 * k;
    const r = f.local(T.i32), jb = f.local(T.i32), bytes = f.local(T.i32), orow = f.local(T.i32);
    const rp = leafTypes.map(() => f.local(T.i32));
    const lv = leafTypes.map(() => f.local(T.v128));
    const nv = nodes.map(() => f.local(T.v128));
    const val = (a: number) => (a >= 0 ? nv[a] : lv[-a - 1]);
    f.get(inner).i32(4).op(Op.i32_mul).set(bytes);
    f.forRange(r, () => f.i32(0), rows, 1, () => {
      f.get(out).get(r).get(bytes).op(Op.i32_mul).op(Op.i32_add).set(orow);
      for (let k = 0; k < L; k++) {
        // row start: base + 4·offsets[r]
        f.get(base(k)).get(offs(k)).get(r).i32(2).op(Op.i32_shl).op(Op.i32_add);
        f.mem(Op.i32_load).i32(2).op(Op.i32_shl).op(Op.i32_add).set(rp[k]);
        if (strides[k] === 0) f.get(rp[k]).simdMem(S.load32Splat, 0, 2).set(lv[k]);
      }
      f.forRange(jb, () => f.i32(0), bytes, 16, () => {
        for (let k = 0; k < L; k++) {
          if (strides[k] === 1) {
            f.get(rp[k]).get(jb).op(Op.i32_add).simdMem(S.load, 0, 0).set(lv[k]);
          }
        }
        nodes.forEach((n, i) => {
          if (!ok) return;
          ok = emitNode(f, n, val);
          if (ok) f.set(nv[i]);
        });
        f.get(orow).get(jb).op(Op.i32_add).get(nv[nodes.length - 1]).simdMem(S.store, 0, 0);
      });
    });
  });
  if (!ok) return null;
  try {
    const bytes = m.build();
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
      env: { memory: mem },
    });
    return inst.exports.run as WasmLoop;
  } catch {
    return null; // no SIMD here: the JS loop
  }
}

/**
 * Runs the fused tree `nodes` (the last is the result) over `leaves` broadcast by the plan
 * (rows × inner, per-leaf inner stride 0|1 and row offsets) into `out`; false (nothing
 * written) when the tree has an operation without an exact SIMD form here.
 */
export function runWasmLoop(
  nodes: readonly WasmNode[],
  leaves: readonly TypedArray[],
  plan: {
    rows: number;
    inner: number;
    innerStrides: readonly number[];
    rowOffsets: readonly Int32Array[];
  },
  out: TypedArray,
): boolean {
  if (out instanceof Float64Array) return false;
  if (leaves.some((a) => a instanceof Float64Array)) return false;
  // the wasm kernels' shared memory once they run: heap arrays (their outputs, and ours) are
  // read and written in place there; otherwise a private memory that everything is copied into
  const rt = startedRuntime();
  const shared = rt !== null && rt.shared;
  if (!shared && memory === undefined) {
    memory = typeof WebAssembly === "object"
      ? new WebAssembly.Memory({ initial: 16, maximum: 65536 })
      : null;
  }
  const mem = shared ? rt.memory : memory;
  if (!mem) return false;
  const leafTypes = leaves.map((a): DType => (a instanceof Int32Array ? "int32" : "float32"));
  const key = nodes.map((n) => `${n.op}/${n.inDType}/${n.condDType}/${n.dtype}(${n.args})`)
    .join(";") +
    "|" +
    leafTypes.map((t, k) => `${t}${plan.innerStrides[k]}`).join() + (shared ? "|shared" : "");
  let loop = compiled.get(key);
  if (loop === undefined) {
    loop = buildLoop(nodes, leafTypes, plan.innerStrides, mem, shared);
    compiled.set(key, loop);
  }
  if (!loop) return false;
  // layout: each leaf (padded by a vector), its row offsets, then the output (padded); heap
  // arrays stay where they are (each has a vector of slack past its end)
  let top = 64;
  const place = shared ? (bytes: number) => arena.alloc(bytes + 16) : (bytes: number) => {
    const at = top;
    top = Math.ceil((at + bytes + 16) / 64) * 64;
    return at;
  };
  if (shared) arena.reset();
  const inPlace = (a: TypedArray): number | null => (shared ? heapAddress(a) : null);
  const leafHeap = leaves.map(inPlace);
  const leafAt = leaves.map((a, k) => leafHeap[k] ?? place(a.byteLength));
  const offAt = plan.rowOffsets.map((o) => place(o.byteLength));
  const outHeap = inPlace(out);
  const outAt = outHeap ?? place(plan.rows * plan.inner * 4);
  if (shared) arena.commit(mem);
  else {
    const need = Math.ceil(top / 65536) - mem.buffer.byteLength / 65536;
    if (need > 0) mem.grow(need);
  }
  const buf = mem.buffer;
  leaves.forEach((a, k) => {
    if (leafHeap[k] !== null) return;
    if (a instanceof Int32Array) new Int32Array(buf, leafAt[k], a.length).set(a);
    else new Float32Array(buf, leafAt[k], a.length).set(a);
  });
  plan.rowOffsets.forEach((o, k) => new Int32Array(buf, offAt[k], o.length).set(o));
  const args: number[] = [plan.rows, plan.inner, outAt];
  for (let k = 0; k < leaves.length; k++) args.push(leafAt[k], offAt[k]);
  loop(...args);
  const n = plan.rows * plan.inner;
  if (outHeap !== null) return true;
  if (out instanceof Int32Array) out.set(new Int32Array(buf, outAt, n));
  else out.set(new Float32Array(buf, outAt, n));
  return true;
}

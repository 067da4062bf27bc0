/**
 * The Adam/AdamW update as one WebAssembly SIMD loop (4 float32 lanes): new parameter, first
 * and second moment from parameter, gradient and moments in one pass, each operation an IEEE
 * float32 operation in the order of the scalar formula (train/adam_cpu.ts's JS loop and the
 * tensor-op formula of train/optimizers.ts), so all three agree bit for bit, NaN payloads aside.
 * The arrays stream through a small private linear memory in chunks that stay in cache.
 * @module
 */
import { ModuleBuilder, Op, T } from "./wasm/emit.ts";

/** Float32 constants of one update (already rounded as the tensor ops would see them). */
export interface AdamLoopConstants {
  /** β1. */
  b1: number;
  /** 1 − β1. */
  c1: number;
  /** β2. */
  b2: number;
  /** 1 − β2. */
  c2: number;
  /** √(1 − β2ᵗ). */
  sqrtBc2: number;
  /** ε. */
  eps: number;
  /** lr / (1 − β1ᵗ). */
  stepSize: number;
  /** Adam's L2 factor on the gradient (0: none). */
  l2: number;
  /** AdamW's decoupled factor on the parameter (null: none). */
  decay: number | null;
}

// SIMD opcodes (after 0xfd), from the WebAssembly SIMD specification
const S = {
  load: 0x00,
  store: 0x0b,
  f32x4Splat: 0x13,
  f32x4Sqrt: 0xe3,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
} as const;

/** Elements per chunk: 4 arrays of 64 KiB stay in the L2 cache. */
const CHUNK = 16384;
const CHUNK_BYTES = CHUNK * 4;

type AdamLoop = (bytes: number, ...constants: number[]) => void;

let memory: WebAssembly.Memory | null | undefined;
const loops = new Map<string, AdamLoop | null>();

/** Builds the loop over the four chunk regions (p, g, m, v at 0, 1, 2, 3 × CHUNK_BYTES). */
function build(l2: boolean, decay: boolean): AdamLoop | null {
  const m = new ModuleBuilder().importMemory({
    module: "env",
    name: "memory",
    min: 1,
    max: 65536,
    shared: false,
  });
  // params: bytes, then b1 c1 b2 c2 sqrtBc2 eps stepSize l2 decay
  const params = [T.i32, ...Array<typeof T.f32>(9).fill(T.f32)];
  m.func("run", params, [], (f) => {
    const simd = (...ops: number[]) => ops.forEach((o) => f.simd(o));
    const splat = (k: number) => {
      const l = f.local(T.v128);
      f.get(k).simd(S.f32x4Splat).set(l);
      return l;
    };
    const [B1, C1, B2, C2, BC2, EPS, STEP, L2, DECAY] = [1, 2, 3, 4, 5, 6, 7, 8, 9].map(splat);
    const j = f.local(T.i32);
    const P = f.local(T.v128), G = f.local(T.v128), M = f.local(T.v128), V = f.local(T.v128);
    const at = (region: number) => f.get(j).i32(region * CHUNK_BYTES).op(Op.i32_add);
    f.forRange(j, () => f.i32(0), 0, 16, () => {
      at(0).simdMem(S.load, 0, 4).set(P);
      at(1).simdMem(S.load, 0, 4).set(G);
      if (l2) f.get(G).get(P).get(L2), simd(S.f32x4Mul, S.f32x4Add), f.set(G);
      // m = m·β1 + g·(1 − β1)
      at(2);
      at(2).simdMem(S.load, 0, 4).get(B1), simd(S.f32x4Mul);
      f.get(G).get(C1), simd(S.f32x4Mul, S.f32x4Add);
      f.tee(M).simdMem(S.store, 0, 4);
      // v = v·β2 + (g·g)·(1 − β2)
      at(3);
      at(3).simdMem(S.load, 0, 4).get(B2), simd(S.f32x4Mul);
      f.get(G).get(G), simd(S.f32x4Mul), f.get(C2), simd(S.f32x4Mul, S.f32x4Add);
      f.tee(V).simdMem(S.store, 0, 4);
      // p = param − (m / (√v / √(1 − β2ᵗ) + ε))·stepSize, param = p·(1 − lr·wd) for AdamW
      at(0);
      f.get(P);
      if (decay) f.get(DECAY), simd(S.f32x4Mul);
      f.get(M).get(V), simd(S.f32x4Sqrt), f.get(BC2), simd(S.f32x4Div);
      f.get(EPS), simd(S.f32x4Add, S.f32x4Div), f.get(STEP), simd(S.f32x4Mul, S.f32x4Sub);
      f.simdMem(S.store, 0, 4);
    });
  });
  try {
    const inst = new WebAssembly.Instance(new WebAssembly.Module(m.build()), {
      env: { memory: memory! },
    });
    return inst.exports.run as AdamLoop;
  } catch {
    return null; // no SIMD here: the caller's JS loop
  }
}

/**
 * Runs one Adam update over float32 arrays of equal length: p, g, m, v in; po, mo, vo out
 * (may not alias the inputs). False (nothing written) where WebAssembly SIMD is unavailable.
 */
export function adamLoopWasm(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  po: Float32Array,
  mo: Float32Array,
  vo: Float32Array,
  c: AdamLoopConstants,
): boolean {
  if (memory === undefined) {
    memory = typeof WebAssembly === "object"
      ? new WebAssembly.Memory({ initial: Math.ceil((4 * CHUNK_BYTES) / 65536), maximum: 65536 })
      : null;
  }
  if (!memory) return false;
  const key = `${c.l2 !== 0}/${c.decay !== null}`;
  let loop = loops.get(key);
  if (loop === undefined) loops.set(key, loop = build(c.l2 !== 0, c.decay !== null));
  if (!loop) return false;
  const buf = memory.buffer;
  const region = [0, 1, 2, 3].map((k) => new Float32Array(buf, k * CHUNK_BYTES, CHUNK));
  const n = p.length;
  for (let s = 0; s < n; s += CHUNK) {
    const e = Math.min(n, s + CHUNK), len = e - s;
    region[0].set(p.subarray(s, e));
    region[1].set(g.subarray(s, e));
    region[2].set(m.subarray(s, e));
    region[3].set(v.subarray(s, e));
    // a last partial vector computes on stale lanes, which are never copied out
    loop(
      Math.ceil(len / 4) * 16,
      c.b1,
      c.c1,
      c.b2,
      c.c2,
      c.sqrtBc2,
      c.eps,
      c.stepSize,
      c.l2,
      c.decay ?? 1,
    );
    po.set(region[0].subarray(0, len), s);
    mo.set(region[2].subarray(0, len), s);
    vo.set(region[3].subarray(0, len), s);
  }
  return true;
}

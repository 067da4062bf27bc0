/**
 * A tiny WebAssembly binary emitter: just enough of the format (types, an imported memory,
 * functions, exports, LEB128, the scalar/SIMD/relaxed-SIMD opcodes our kernels use) to build
 * modules from TypeScript at runtime. No committed .wasm files, no toolchain.
 * Invariant: every builder produces a module that `WebAssembly.validate` accepts.
 * @module
 */

/** Value types (binary encodings). */
export const T = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b } as const;
/** A WebAssembly value type byte. */
export type ValType = typeof T[keyof typeof T];

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (32-bit range). */
export function sleb(n: number): number[] {
  const out: number[] = [];
  n |= 0;
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function str(s: string): number[] {
  const b = new TextEncoder().encode(s);
  return [...uleb(b.length), ...b];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** Scalar opcodes used by the kernels. */
export const Op = {
  unreachable: 0x00,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  br_if: 0x0d,
  return: 0x0f,
  call: 0x10,
  drop: 0x1a,
  select: 0x1b,
  local_get: 0x20,
  local_set: 0x21,
  local_tee: 0x22,
  f32_load: 0x2a,
  f32_store: 0x38,
  i32_load: 0x28,
  i32_store: 0x36,
  i32_const: 0x41,
  f32_const: 0x43,
  i32_eqz: 0x45,
  i32_eq: 0x46,
  i32_ne: 0x47,
  i32_lt_s: 0x48,
  i32_lt_u: 0x49,
  i32_gt_s: 0x4a,
  i32_le_s: 0x4c,
  i32_ge_s: 0x4e,
  i32_ge_u: 0x4f,
  i32_add: 0x6a,
  i32_sub: 0x6b,
  i32_mul: 0x6c,
  i32_div_s: 0x6d,
  i32_and: 0x71,
  i32_or: 0x72,
  i32_shl: 0x74,
  f32_add: 0x92,
  f32_mul: 0x94,
} as const;

/** SIMD opcodes (after the 0xfd prefix). */
export const Simd = {
  v128_load: 0x00,
  v128_load32_splat: 0x09,
  v128_store: 0x0b,
  v128_const: 0x0c,
  i8x16_shuffle: 0x0d,
  f32x4_splat: 0x13,
  f32x4_extract_lane: 0x1f,
  v128_load32_zero: 0x5c,
  f32x4_add: 0xe4,
  f32x4_sub: 0xe5,
  f32x4_mul: 0xe6,
  f32x4_relaxed_madd: 0x105,
} as const;

/** A block type: empty (0x40) or one result value type. */
export type BlockType = 0x40 | ValType;

/**
 * Builds one function body. Locals are declared up front (params first), referenced by index.
 * Methods append instructions and return `this` so bodies read top to bottom.
 */
export class FuncBuilder {
  /** Instruction bytes. */
  readonly code: number[] = [];
  /** Extra local types (after params). */
  readonly locals: ValType[] = [];
  /** Number of parameters. */
  readonly nParams: number;

  constructor(params: readonly ValType[]) {
    this.nParams = params.length;
  }

  /** Declares a new local and returns its index. */
  local(t: ValType): number {
    this.locals.push(t);
    return this.nParams + this.locals.length - 1;
  }

  /** Appends raw opcode bytes. */
  op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }

  /** local.get */
  get(i: number): this {
    return this.op(Op.local_get, ...uleb(i));
  }
  /** local.set */
  set(i: number): this {
    return this.op(Op.local_set, ...uleb(i));
  }
  /** local.tee */
  tee(i: number): this {
    return this.op(Op.local_tee, ...uleb(i));
  }
  /** i32.const */
  i32(n: number): this {
    return this.op(Op.i32_const, ...sleb(n));
  }
  /** f32.const */
  f32(x: number): this {
    const b = new Uint8Array(new Float32Array([x]).buffer);
    return this.op(Op.f32_const, ...b);
  }
  /** A memory instruction with its memarg (alignment as log2, byte offset). */
  mem(opcode: number, offset = 0, alignLog2 = 2): this {
    return this.op(opcode, ...uleb(alignLog2), ...uleb(offset));
  }
  /** A SIMD instruction without immediates. */
  simd(opcode: number): this {
    return this.op(0xfd, ...uleb(opcode));
  }
  /** A SIMD memory instruction with its memarg. */
  simdMem(opcode: number, offset = 0, alignLog2 = 4): this {
    return this.op(0xfd, ...uleb(opcode), ...uleb(alignLog2), ...uleb(offset));
  }
  /** v128.const of four f32 lanes. */
  f32x4Const(x: number): this {
    const b = new Uint8Array(new Float32Array([x, x, x, x]).buffer);
    return this.op(0xfd, ...uleb(Simd.v128_const), ...b);
  }
  /** block … end; `body` emits the contents. */
  block(body: () => void, type: BlockType = 0x40): this {
    this.op(Op.block, type);
    body();
    return this.op(Op.end);
  }
  /** loop … end; `body` emits the contents. */
  loop(body: () => void, type: BlockType = 0x40): this {
    this.op(Op.loop, type);
    body();
    return this.op(Op.end);
  }
  /** if … (else …) end. */
  if(then: () => void, otherwise?: () => void): this {
    this.op(Op.if, 0x40);
    then();
    if (otherwise) {
      this.op(Op.else);
      otherwise();
    }
    return this.op(Op.end);
  }
  /** br to the label `depth` levels out. */
  br(depth: number): this {
    return this.op(Op.br, ...uleb(depth));
  }
  /** br_if to the label `depth` levels out. */
  brIf(depth: number): this {
    return this.op(Op.br_if, ...uleb(depth));
  }

  /**
   * `for (i = start; i < end; i += step) body()` with i32 locals; `end` is a local index.
   * Skips the body entirely when start >= end. Inside `body`, depth 0 is the loop label.
   */
  forRange(i: number, start: () => void, end: number, step: number, body: () => void): this {
    start();
    this.set(i);
    return this.block(() => {
      this.get(i).get(end).op(Op.i32_ge_s).brIf(0);
      this.loop(() => {
        body();
        this.get(i).i32(step).op(Op.i32_add).tee(i).get(end).op(Op.i32_lt_s).brIf(0);
      });
    });
  }

  /** Encoded body (locals + code + end). */
  encode(): number[] {
    const groups: number[][] = [];
    for (const t of this.locals) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    const body = [
      ...uleb(groups.length),
      ...groups.flatMap(([n, t]) => [...uleb(n), t]),
      ...this.code,
      Op.end,
    ];
    return [...uleb(body.length), ...body];
  }
}

interface FuncEntry {
  name: string;
  params: ValType[];
  results: ValType[];
  fn: FuncBuilder;
}

/** Memory import description (pages of 64 KiB). */
export interface MemoryImport {
  module: string;
  name: string;
  min: number;
  max: number;
  shared: boolean;
}

/** Collects functions and an imported memory, then encodes the module. */
export class ModuleBuilder {
  private funcs: FuncEntry[] = [];
  private memory: MemoryImport | undefined;
  private memoryExport: string | undefined;

  /** Imports the linear memory. */
  importMemory(m: MemoryImport): this {
    this.memory = m;
    return this;
  }

  /** Exports the imported memory under `name` (kernels' JS drivers reach it through exports). */
  exportMemory(name: string): this {
    this.memoryExport = name;
    return this;
  }

  /** Adds an exported function; returns its function index. */
  func(
    name: string,
    params: ValType[],
    results: ValType[],
    emit: (f: FuncBuilder) => void,
  ): number {
    const fn = new FuncBuilder(params);
    emit(fn);
    this.funcs.push({ name, params, results, fn });
    return this.funcs.length - 1;
  }

  /** Encodes the module binary. */
  build(): Uint8Array<ArrayBuffer> {
    const section = (id: number, content: number[]): number[] =>
      content.length ? [id, ...uleb(content.length), ...content] : [];
    const types = this.funcs.map((
      f,
    ) => [0x60, ...vec(f.params.map((t) => [t])), ...vec(f.results.map((t) => [t]))]);
    const imports: number[][] = [];
    if (this.memory) {
      const m = this.memory;
      const flags = (m.shared ? 0x02 : 0) | 0x01;
      imports.push([...str(m.module), ...str(m.name), 0x02, flags, ...uleb(m.min), ...uleb(m.max)]);
    }
    const bytes = [
      0x00,
      0x61,
      0x73,
      0x6d,
      0x01,
      0x00,
      0x00,
      0x00,
      ...section(1, vec(types)),
      ...section(2, imports.length ? vec(imports) : []),
      ...section(3, vec(this.funcs.map((_, i) => uleb(i)))),
      ...section(
        7,
        vec([
          ...this.funcs.map((f, i) => [...str(f.name), 0x00, ...uleb(i)]),
          ...(this.memory && this.memoryExport ? [[...str(this.memoryExport), 0x02, 0x00]] : []),
        ]),
      ),
      ...section(10, vec(this.funcs.map((f) => f.fn.encode()))),
    ];
    return new Uint8Array(bytes);
  }
}

// A minimal Python pickle writer (protocol 2), the mirror of io/pickle.ts: None, bools, ints
// (BININT or LONG1), floats (BINFLOAT), str (BINUNICODE), lists, tuples, dicts, calls of named
// globals (GLOBAL + REDUCE, e.g. collections.OrderedDict) and persistent ids (BINPERSID), which
// is what torch.save writes. No memo: every value is written where it appears.

/** A tuple (Python `tuple`); JS arrays are written as lists. */
export class PickleTuple {
  /** The items. */
  readonly items: readonly unknown[];
  /**
   * Wraps `items` as a Python tuple.
   *
   * @example
   * ```ts
   * import { PickleTuple } from "./pickle_write.ts";
   * const t = new PickleTuple([1, 2]);
   * ```
   */
  constructor(items: readonly unknown[]) {
    this.items = items;
  }
}

/** `global(*args)`, optionally followed by dict items (as pickle writes an OrderedDict). */
export class PickleCall {
  /** Dotted name, e.g. `"torch._utils._rebuild_tensor_v2"`. */
  readonly global: string;
  /** Positional arguments. */
  readonly args: readonly unknown[];
  /** Key/value pairs set on the result (SETITEMS), in order. */
  readonly items: readonly (readonly [string, unknown])[];
  /**
   * A call of a named global.
   *
   * @example
   * ```ts
   * import { PickleCall } from "./pickle_write.ts";
   * const od = new PickleCall("collections.OrderedDict", [], [["a", 1]]);
   * ```
   */
  constructor(
    global: string,
    args: readonly unknown[] = [],
    items: readonly (readonly [string, unknown])[] = [],
  ) {
    this.global = global;
    this.args = args;
    this.items = items;
  }
}

/** A named global itself (GLOBAL, not called), e.g. the class `torch.FloatStorage`. */
export class PickleGlobalRef {
  /** Dotted name. */
  readonly name: string;
  /**
   * Refers to the global `name`.
   *
   * @example
   * ```ts
   * import { PickleGlobalRef } from "./pickle_write.ts";
   * const g = new PickleGlobalRef("torch.FloatStorage");
   * ```
   */
  constructor(name: string) {
    this.name = name;
  }
}

/** A persistent id (BINPERSID): the loader resolves it (torch: a storage). */
export class PicklePersistentId {
  /** The id object, pickled first. */
  readonly id: unknown;
  /**
   * Wraps the id object.
   *
   * @example
   * ```ts
   * import { PicklePersistentId, PickleTuple } from "./pickle_write.ts";
   * const pid = new PicklePersistentId(new PickleTuple(["storage", "0"]));
   * ```
   */
  constructor(id: unknown) {
    this.id = id;
  }
}

class Out {
  buf = new Uint8Array(1024);
  n = 0;
  private grow(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const b = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
    b.set(this.buf.subarray(0, this.n));
    this.buf = b;
  }
  byte(...bs: number[]): void {
    this.grow(bs.length);
    for (const b of bs) this.buf[this.n++] = b;
  }
  bytes(b: Uint8Array): void {
    this.grow(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
  }
  u32(x: number): void {
    this.grow(4);
    new DataView(this.buf.buffer).setUint32(this.n, x, true);
    this.n += 4;
  }
}

const enc = new TextEncoder();

function writeValue(o: Out, v: unknown, depth: number): void {
  if (depth > 200) throw new RangeError("pickle: values nested deeper than 200 levels");
  if (v === null || v === undefined) return o.byte(0x4e); // NONE
  if (typeof v === "boolean") return o.byte(v ? 0x88 : 0x89);
  if (typeof v === "number" && Number.isSafeInteger(v) && !Object.is(v, -0)) {
    if (v >= -0x80000000 && v <= 0x7fffffff) {
      o.byte(0x4a); // BININT
      o.u32(v >>> 0);
      return;
    }
    return writeLong(o, BigInt(v));
  }
  if (typeof v === "number") {
    o.byte(0x47); // BINFLOAT, big-endian
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, false);
    return o.bytes(b);
  }
  if (typeof v === "bigint") return writeLong(o, v);
  if (typeof v === "string") {
    const b = enc.encode(v);
    o.byte(0x58); // BINUNICODE
    o.u32(b.length);
    return o.bytes(b);
  }
  if (v instanceof PickleTuple) {
    if (v.items.length === 0) return o.byte(0x29); // EMPTY_TUPLE
    o.byte(0x28); // MARK
    for (const x of v.items) writeValue(o, x, depth + 1);
    return o.byte(0x74); // TUPLE
  }
  if (v instanceof PickleCall) {
    writeGlobal(o, v.global);
    writeValue(o, new PickleTuple(v.args), depth + 1);
    o.byte(0x52); // REDUCE
    return writeItems(o, v.items, depth);
  }
  if (v instanceof PickleGlobalRef) return writeGlobal(o, v.name);
  if (v instanceof PicklePersistentId) {
    writeValue(o, v.id, depth + 1);
    return o.byte(0x51); // BINPERSID
  }
  if (Array.isArray(v)) {
    o.byte(0x5d); // EMPTY_LIST
    if (v.length === 0) return;
    o.byte(0x28);
    for (const x of v) writeValue(o, x, depth + 1);
    return o.byte(0x65); // APPENDS
  }
  const proto = typeof v === "object" ? Object.getPrototypeOf(v) : undefined;
  if (proto === Object.prototype || proto === null) {
    o.byte(0x7d); // EMPTY_DICT
    return writeItems(o, Object.entries(v as Record<string, unknown>), depth);
  }
  const kind = typeof v === "object" ? (v as object).constructor?.name ?? "object" : typeof v;
  throw new TypeError(`pickle: cannot write a value of type ${kind}`);
}

function writeItems(o: Out, items: readonly (readonly [string, unknown])[], depth: number): void {
  if (items.length === 0) return;
  o.byte(0x28); // MARK
  for (const [k, x] of items) {
    writeValue(o, k, depth + 1);
    writeValue(o, x, depth + 1);
  }
  o.byte(0x75); // SETITEMS
}

function writeLong(o: Out, v: bigint): void {
  // LONG1: little-endian two's complement, shortest length that keeps the sign.
  const bytes: number[] = [];
  let x = v;
  for (;;) {
    const b = Number(BigInt.asUintN(8, x));
    bytes.push(b);
    x >>= 8n;
    if ((x === 0n && (b & 0x80) === 0) || (x === -1n && (b & 0x80) !== 0)) break;
  }
  if (bytes.length > 255) throw new RangeError(`pickle: integer ${v} is too large`);
  o.byte(0x8a, bytes.length, ...bytes);
}

function writeGlobal(o: Out, dotted: string): void {
  const dot = dotted.lastIndexOf(".");
  if (dot <= 0 || /[\n]/.test(dotted)) throw new TypeError(`pickle: bad global name "${dotted}"`);
  o.byte(0x63); // GLOBAL "module\nname\n"
  o.bytes(enc.encode(`${dotted.slice(0, dot)}\n${dotted.slice(dot + 1)}\n`));
}

/**
 * Serialises `value` as a protocol-2 pickle. Strings, numbers (integers as ints, others as
 * floats), bigints, booleans, null, arrays (lists), plain objects (dicts with string keys),
 * {@linkcode PickleTuple}, {@linkcode PickleCall}, {@linkcode PickleGlobalRef} and
 * {@linkcode PicklePersistentId}. Throws a
 * TypeError on anything else.
 *
 * @example
 * ```ts
 * import { PickleCall, pickle } from "./pickle_write.ts";
 * const bytes = pickle(new PickleCall("collections.OrderedDict", [], [["epoch", 3]]));
 * ```
 */
export function pickle(value: unknown): Uint8Array {
  const o = new Out();
  o.byte(0x80, 2); // PROTO 2
  writeValue(o, value, 0);
  o.byte(0x2e); // STOP
  return o.buf.slice(0, o.n);
}

// A minimal, safe Python unpickler (protocols 2–5, the opcodes torch.save emits). Nothing is
// ever executed: GLOBAL/STACK_GLOBAL resolve only whitelisted names to TypeScript handlers
// (OrderedDict, numpy scalars/dtypes, _codecs.encode, plus the caller's, e.g. torch rebuilders).
// Values map to JS: dict → plain object (keys stringified), list/tuple → array, bytes →
// Uint8Array, int → number (bigint beyond 2^53), float → number, None → null.

/** A whitelisted Python callable: what GLOBAL pushes and REDUCE/NEWOBJ call. */
export class PickleGlobal {
  /** Dotted Python name, e.g. `"collections.OrderedDict"`. */
  readonly name: string;
  /** Builds the value for `name(*args)`. */
  readonly call: (args: unknown[]) => unknown;
  /**
   * Whitelists `name` with a TypeScript handler in place of the Python callable.
   *
   * @param name Dotted Python name.
   * @param call Builds the value for `name(*args)`; throw to refuse the arguments.
   *
   * @example
   * ```ts
   * import { PickleGlobal } from "@sll/sll/io";
   * const g = new PickleGlobal("collections.OrderedDict", () => ({}));
   * ```
   */
  constructor(name: string, call: (args: unknown[]) => unknown) {
    this.name = name;
    this.call = call;
  }
}

/** A value that accepts pickle's BUILD (Python `__setstate__`). */
export interface PickleBuildable {
  /** Applies the BUILD state to this object. */
  setState(state: unknown): void;
}

/** Options of {@linkcode unpickle}. */
export interface UnpickleOptions {
  /** Names the pickle in error messages (e.g. the archive path of data.pkl). */
  source?: string;
  /** Extra whitelisted globals by dotted name, added to the built-in ones. */
  globals?: Record<string, PickleGlobal>;
  /** Resolves a persistent id (BINPERSID); without it persistent ids are an error. */
  persistentLoad?: (pid: unknown) => unknown;
}

/** Marker for numpy.dtype objects: only enough to decode numpy scalars. */
class NumpyDType implements PickleBuildable {
  byteorder = "=";
  constructor(readonly spec: string) {}
  setState(state: unknown): void {
    // numpy's dtype state: (version, byteorder, subarray, names, fields, elsize, align, flags)
    if (Array.isArray(state) && typeof state[1] === "string") this.byteorder = state[1];
  }
}

function setKey(obj: Record<string, unknown>, key: unknown, value: unknown): void {
  // defineProperty, never `obj[key] =`: a "__proto__" key must stay an ordinary entry.
  Object.defineProperty(obj, keyString(key), {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function keyString(key: unknown): string {
  if (typeof key === "string") return key;
  if (typeof key === "number" || typeof key === "bigint" || typeof key === "boolean") {
    return String(key);
  }
  if (key === null) return "None";
  if (Array.isArray(key)) return `(${key.map(keyString).join(", ")})`;
  throw new TypeError(`unsupported dict key of type ${typeof key} in pickle`);
}

function isDict(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype;
}

function latin1(s: string, what: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) throw new RangeError(`${what}: character U+${c.toString(16)} is not latin-1`);
    out[i] = c;
  }
  return out;
}

function numpyScalar(args: unknown[]): number | bigint | boolean {
  const [dtype, raw] = args;
  if (!(dtype instanceof NumpyDType)) {
    throw new TypeError(`numpy scalar: expected a numpy.dtype as first argument`);
  }
  const bytes = typeof raw === "string"
    ? latin1(raw, "numpy scalar")
    : raw instanceof Uint8Array
    ? raw
    : null;
  if (!bytes) throw new TypeError(`numpy scalar: expected bytes as second argument`);
  const m = /^([<>=|]?)([fiub])(\d+)$/.exec(dtype.spec);
  if (!m) {
    throw new TypeError(
      `numpy scalar: unsupported dtype "${dtype.spec}" (expected f2/f4/f8, i1–i8, u1–u8 or b1)`,
    );
  }
  const [, order, kind, sizeStr] = m;
  const size = Number(sizeStr);
  if (bytes.byteLength !== size) {
    throw new RangeError(
      `numpy scalar of dtype "${dtype.spec}": expected ${size} bytes, got ${bytes.byteLength}`,
    );
  }
  const little = (order || dtype.byteorder) !== ">";
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const key = `${kind}${size}`;
  switch (key) {
    case "f8":
      return v.getFloat64(0, little);
    case "f4":
      return v.getFloat32(0, little);
    case "f2": {
      const bits = v.getUint16(0, little);
      const e = (bits >> 10) & 0x1f, f = bits & 0x3ff, s = bits & 0x8000 ? -1 : 1;
      if (e === 0) return s * f * 2 ** -24;
      if (e === 0x1f) return f ? NaN : s * Infinity;
      return s * (1 + f / 1024) * 2 ** (e - 15);
    }
    case "i1":
      return v.getInt8(0);
    case "i2":
      return v.getInt16(0, little);
    case "i4":
      return v.getInt32(0, little);
    case "u1":
      return v.getUint8(0);
    case "u2":
      return v.getUint16(0, little);
    case "u4":
      return v.getUint32(0, little);
    case "b1":
      return v.getUint8(0) !== 0;
    case "i8":
    case "u8": {
      const b = key === "i8" ? v.getBigInt64(0, little) : v.getBigUint64(0, little);
      return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(b)
        : b;
    }
  }
  throw new TypeError(`numpy scalar: unsupported dtype "${dtype.spec}"`);
}

function ordered(args: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const init = args[0];
  if (Array.isArray(init)) {
    for (const pair of init) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new TypeError("OrderedDict(...): expected a list of (key, value) pairs");
      }
      setKey(out, pair[0], pair[1]);
    }
  } else if (isDict(init)) {
    for (const [k, v] of Object.entries(init)) setKey(out, k, v);
  }
  return out;
}

function codecsEncode(args: unknown[]): Uint8Array {
  const [s, enc = "utf-8"] = args;
  if (typeof s !== "string" || typeof enc !== "string") {
    throw new TypeError("_codecs.encode: expected (str, encoding)");
  }
  const e = enc.toLowerCase().replace(/_/g, "-");
  if (e === "latin1" || e === "latin-1" || e === "iso-8859-1") return latin1(s, "_codecs.encode");
  if (e === "utf-8" || e === "utf8") return new TextEncoder().encode(s);
  throw new TypeError(`_codecs.encode: unsupported encoding "${enc}" (expected latin1 or utf-8)`);
}

const BUILTIN_GLOBALS: Record<string, PickleGlobal> = Object.fromEntries(
  [
    new PickleGlobal("collections.OrderedDict", ordered),
    new PickleGlobal("numpy.core.multiarray.scalar", numpyScalar),
    new PickleGlobal("numpy._core.multiarray.scalar", numpyScalar),
    new PickleGlobal("numpy.dtype", (args) => {
      if (typeof args[0] !== "string") throw new TypeError("numpy.dtype: expected a type string");
      return new NumpyDType(args[0]);
    }),
    new PickleGlobal("_codecs.encode", codecsEncode),
  ].map((g) => [g.name, g]),
);

const OPNAMES: Record<number, string> = {
  0x28: "MARK",
  0x2e: "STOP",
  0x30: "POP",
  0x31: "POP_MARK",
  0x32: "DUP",
  0x46: "FLOAT",
  0x49: "INT",
  0x4a: "BININT",
  0x4b: "BININT1",
  0x4c: "LONG",
  0x4d: "BININT2",
  0x4e: "NONE",
  0x50: "PERSID",
  0x51: "BINPERSID",
  0x52: "REDUCE",
  0x53: "STRING",
  0x54: "BINSTRING",
  0x55: "SHORT_BINSTRING",
  0x56: "UNICODE",
  0x58: "BINUNICODE",
  0x61: "APPEND",
  0x62: "BUILD",
  0x63: "GLOBAL",
  0x64: "DICT",
  0x7d: "EMPTY_DICT",
  0x65: "APPENDS",
  0x67: "GET",
  0x68: "BINGET",
  0x69: "INST",
  0x6a: "LONG_BINGET",
  0x6c: "LIST",
  0x5d: "EMPTY_LIST",
  0x6f: "OBJ",
  0x70: "PUT",
  0x71: "BINPUT",
  0x72: "LONG_BINPUT",
  0x73: "SETITEM",
  0x74: "TUPLE",
  0x29: "EMPTY_TUPLE",
  0x75: "SETITEMS",
  0x47: "BINFLOAT",
  0x80: "PROTO",
  0x81: "NEWOBJ",
  0x82: "EXT1",
  0x83: "EXT2",
  0x84: "EXT4",
  0x85: "TUPLE1",
  0x86: "TUPLE2",
  0x87: "TUPLE3",
  0x88: "NEWTRUE",
  0x89: "NEWFALSE",
  0x8a: "LONG1",
  0x8b: "LONG4",
  0x42: "BINBYTES",
  0x43: "SHORT_BINBYTES",
  0x8c: "SHORT_BINUNICODE",
  0x8d: "BINUNICODE8",
  0x8e: "BINBYTES8",
  0x8f: "EMPTY_SET",
  0x90: "ADDITEMS",
  0x91: "FROZENSET",
  0x92: "NEWOBJ_EX",
  0x93: "STACK_GLOBAL",
  0x94: "MEMOIZE",
  0x95: "FRAME",
  0x96: "BYTEARRAY8",
  0x97: "NEXT_BUFFER",
  0x98: "READONLY_BUFFER",
};

/**
 * Unpickles `bytes` without executing anything: globals resolve only to whitelisted handlers
 * (`collections.OrderedDict`, `numpy.core.multiarray.scalar`, `numpy.dtype`, `_codecs.encode`,
 * plus `options.globals`). Throws on any other global, on unsupported opcodes, and on truncated
 * or malformed input, naming `options.source` and the byte position.
 *
 * @example
 * ```ts
 * import { unpickle } from "@sll/sll/io";
 * // pickle.dumps({"a": 1}, protocol=2)
 * const bytes = new Uint8Array([0x80, 2, 0x7d, 0x71, 0, 0x58, 1, 0, 0, 0, 0x61, 0x71, 1, 0x4b, 1, 0x73, 0x2e]);
 * unpickle(bytes); // { a: 1 }
 * ```
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions = {}): unknown {
  const source = options.source ?? "pickle";
  const globals = { ...BUILTIN_GLOBALS, ...options.globals };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;
  let opPos = 0;

  const fail = (msg: string): never => {
    throw new Error(`${source}: ${msg} (at byte ${opPos})`);
  };
  const need = (n: number): number => {
    if (pos + n > bytes.byteLength) {
      fail(`truncated pickle: needs ${n} more bytes at ${pos} but only ${bytes.byteLength} exist`);
    }
    const p = pos;
    pos += n;
    return p;
  };
  const u8 = () => view.getUint8(need(1));
  const u16 = () => view.getUint16(need(2), true);
  const u32 = () => view.getUint32(need(4), true);
  const u64 = () => {
    const n = view.getBigUint64(need(8), true);
    if (n > BigInt(bytes.byteLength)) fail(`length ${n} exceeds the pickle size`);
    return Number(n);
  };
  const take = (n: number) => {
    const p = need(n);
    return bytes.subarray(p, p + n);
  };
  const str = (n: number) => {
    try {
      return utf8.decode(take(n));
    } catch (e) {
      return fail(`invalid UTF-8 string: ${(e as Error).message}`);
    }
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail("truncated pickle: unterminated text line");
    const s = new TextDecoder("latin1").decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = () => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) {
      fail("stack underflow");
    }
    return stack.pop();
  };
  const top = () => {
    if (stack.length === 0) fail("stack underflow");
    return stack[stack.length - 1];
  };
  const popMark = () => {
    const m = marks.pop();
    if (m === undefined) fail("no MARK on the stack");
    return stack.splice(m!);
  };
  const resolve = (module: string, name: string) => {
    const full = `${module}.${name}`;
    const g = Object.hasOwn(globals, full) ? globals[full] : undefined;
    if (!g) {
      throw new Error(
        `refusing to load global "${full}" from ${source}: only tensors, OrderedDict and ` +
          `numpy scalars are allowed`,
      );
    }
    return g;
  };
  const call = (fn: unknown, args: unknown, op: string) => {
    if (!(fn instanceof PickleGlobal)) fail(`${op} on a value that is not a whitelisted global`);
    if (!Array.isArray(args)) fail(`${op} of ${(fn as PickleGlobal).name}: arguments not a tuple`);
    try {
      return (fn as PickleGlobal).call(args as unknown[]);
    } catch (e) {
      return fail(`${(fn as PickleGlobal).name}(...): ${(e as Error).message}`);
    }
  };
  const appendTo = (list: unknown, items: unknown[]) => {
    if (!Array.isArray(list)) fail("APPEND(S) target is not a list");
    (list as unknown[]).push(...items);
  };
  const setItems = (dict: unknown, items: unknown[]) => {
    if (!isDict(dict)) fail("SETITEM(S) target is not a dict");
    if (items.length % 2) fail("SETITEMS with an odd number of items");
    for (let i = 0; i < items.length; i += 2) {
      try {
        setKey(dict as Record<string, unknown>, items[i], items[i + 1]);
      } catch (e) {
        fail((e as Error).message);
      }
    }
  };
  const memoGet = (i: number) => {
    if (!memo.has(i)) fail(`memo key ${i} is not defined`);
    return memo.get(i);
  };

  while (true) {
    opPos = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail("pickle protocol above 5 is not supported");
        break;
      case 0x95: // FRAME: frames are a streaming hint; the bytes follow inline.
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) fail(`STOP with ${stack.length} values on the stack`);
        return stack[0];
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x7d: // EMPTY_DICT
        stack.push({});
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x74: // TUPLE
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x64: { // DICT
        const d = {};
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: { // TUPLE2
        const b = pop(), a = pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop(), b = pop(), a = pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x61: { // APPEND
        const v = pop();
        appendTo(top(), [v]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        appendTo(top(), items);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop(), k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(view.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
      case 0x8b: { // LONG4: little-endian two's complement of n bytes
        const n = op === 0x8a ? u8() : u32();
        const b = take(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
        if (n > 0 && b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        const safe = v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER);
        stack.push(safe ? Number(v) : v);
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        stack.push(view.getFloat64(need(8), false));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(str(u8()));
        break;
      case 0x58: // BINUNICODE
        stack.push(str(u32()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(str(u64()));
        break;
      case 0x55: // SHORT_BINSTRING (Python 2 str): latin-1 text
        stack.push(new TextDecoder("latin1").decode(take(u8())));
        break;
      case 0x54: // BINSTRING
        stack.push(new TextDecoder("latin1").decode(take(u32())));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(take(u64()).slice());
        break;
      case 0x63: { // GLOBAL "module\nname\n"
        const module = line();
        stack.push(resolve(module, line()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop(), module = pop();
        if (typeof module !== "string" || typeof name !== "string") {
          fail("STACK_GLOBAL needs two strings");
        }
        stack.push(resolve(module as string, name as string));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop(), fn = pop();
        stack.push(call(fn, args, "REDUCE"));
        break;
      }
      case 0x81: { // NEWOBJ: cls.__new__(cls, *args); our handlers construct directly.
        const args = pop(), cls = pop();
        stack.push(call(cls, args, "NEWOBJ"));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const obj = top();
        if (obj !== null && typeof (obj as PickleBuildable).setState === "function") {
          (obj as PickleBuildable).setState(state);
        } else if (isDict(obj)) {
          // OrderedDict attributes (a state dict's `_metadata`): not entries, so dropped.
        } else {
          fail("BUILD on an object that does not accept state");
        }
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) fail("persistent id found but no persistent loader given");
        try {
          stack.push(options.persistentLoad!(pid));
        } catch (e) {
          fail((e as Error).message);
        }
        break;
      }
      default:
        fail(
          `unsupported pickle opcode 0x${op.toString(16).padStart(2, "0")} (${
            OPNAMES[op] ?? "unknown"
          })`,
        );
    }
  }
}

// Reader for PyTorch `torch.save` files (the zip format, PyTorch >= 1.6): `<top>/data.pkl`
// (the object graph), `<top>/data/<key>` (raw storages), `<top>/byteorder` (optional, default
// little) and `<top>/version`; `<top>` is arbitrary. Every zip entry's CRC-32 is verified. The pickle is read by the safe unpickler
// (io/pickle.ts) with torch's tensor rebuilders added to its whitelist; every tensor comes out
// as a contiguous, independent HostTensor honouring storage offset, shape and strides.

import { readZip } from "./zip.ts";
import {
  allocHostData,
  type HostData,
  hostDataFromBytes,
  type HostDType,
  type HostTensor,
  itemSize,
  numel,
} from "./host_tensor.ts";
import { PickleGlobal, unpickle } from "./pickle.ts";

/** What {@linkcode readPth} extracts from a checkpoint. */
export interface PthCheckpoint {
  /** Parameters by name: the top-level dict when it holds only tensors, else its
   * `model_state_dict` or `state_dict` entry. */
  stateDict: Record<string, HostTensor>;
  /** The top-level `epoch` entry, when it is a number. */
  epoch?: number;
  /** The top-level `global_step` entry, when it is a number. */
  globalStep?: number;
  /** The top-level `optimizer_state_dict` (or `optimizer`) entry, as unpickled. */
  optimizer?: unknown;
  /** The whole unpickled object (dicts as plain objects, tensors as HostTensor). */
  raw: unknown;
}

/** Options of {@linkcode readPth}. */
export interface ReadPthOptions {
  /** Names the file in error messages (default: the archive's data.pkl path). */
  source?: string;
}

/** A storage type global (`torch.FloatStorage`, …): fixes the storage dtype. */
class StorageType extends PickleGlobal {
  constructor(name: string, readonly dtype: HostDType, readonly untyped = false) {
    super(name, () => {
      throw new Error(`${name} cannot be constructed from a pickle`);
    });
  }
}

/** A dtype global (`torch.float32`, …), as passed to `_rebuild_tensor_v3`. */
class TorchDType extends PickleGlobal {
  constructor(name: string, readonly dtype: HostDType) {
    super(name, () => {
      throw new Error(`${name} is a dtype, not a callable`);
    });
  }
}

/** A loaded storage: little-endian bytes plus the element type they were saved with. */
interface Storage {
  key: string;
  dtype: HostDType;
  untyped: boolean;
  bytes: Uint8Array;
  /** Typed views of `bytes` by dtype, made once (an unaligned entry is copied once). */
  views: Map<HostDType, HostData>;
}

const STORAGE_TYPES: [string, HostDType][] = [
  ["FloatStorage", "float32"],
  ["DoubleStorage", "float64"],
  ["LongStorage", "int64"],
  ["IntStorage", "int32"],
  ["HalfStorage", "float16"],
  ["BFloat16Storage", "bfloat16"],
  ["ByteStorage", "uint8"],
  ["BoolStorage", "bool"],
];

const TORCH_DTYPES: [string, HostDType][] = [
  ["float32", "float32"],
  ["float64", "float64"],
  ["int64", "int64"],
  ["int32", "int32"],
  ["float16", "float16"],
  ["bfloat16", "bfloat16"],
  ["uint8", "uint8"],
  ["bool", "bool"],
];

function isHostTensor(v: unknown): v is HostTensor {
  if (v === null || typeof v !== "object") return false;
  const t = v as HostTensor;
  return typeof t.dtype === "string" && Array.isArray(t.shape) && ArrayBuffer.isView(t.data);
}

function isDict(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype;
}

function asIntList(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => Number.isSafeInteger(x))) {
    throw new TypeError(`${what} must be a tuple of integers, got ${JSON.stringify(v)}`);
  }
  return v as number[];
}

/**
 * Builds a contiguous tensor from `storage` viewed at `offset` (elements) with `size`/`stride`.
 * For untyped storages `dtype` reinterprets the bytes; typed storages must match it.
 */
function rebuildTensor(
  storage: unknown,
  offsetArg: unknown,
  sizeArg: unknown,
  strideArg: unknown,
  dtypeArg?: HostDType,
): HostTensor {
  if (storage === null || typeof storage !== "object" || !("bytes" in storage)) {
    throw new TypeError("_rebuild_tensor: first argument is not a storage");
  }
  const st = storage as Storage;
  const dtype = dtypeArg ?? st.dtype;
  if (!st.untyped && dtypeArg && dtypeArg !== st.dtype) {
    throw new TypeError(
      `_rebuild_tensor: dtype ${dtypeArg} does not match storage "${st.key}" of ${st.dtype}`,
    );
  }
  if (!Number.isSafeInteger(offsetArg) || (offsetArg as number) < 0) {
    throw new TypeError(`storage offset must be a non-negative integer, got ${offsetArg}`);
  }
  const offset = offsetArg as number;
  const size = asIntList(sizeArg, "size");
  const stride = asIntList(strideArg, "stride");
  if (size.length !== stride.length) {
    throw new RangeError(
      `size [${size.join(", ")}] and stride [${stride.join(", ")}] have different ranks`,
    );
  }
  const n = numel(size);
  const isz = itemSize(dtype);
  const held = Math.floor(st.bytes.byteLength / isz);
  const out = allocHostData(dtype, n);
  const desc = () =>
    `tensor on storage "${st.key}" (offset ${offset}, size [${size.join(", ")}], stride [${
      stride.join(", ")
    }])`;
  if (n === 0) return { dtype, shape: size, data: out };
  let lo = offset, hi = offset;
  for (let d = 0; d < size.length; d++) {
    const span = (size[d] - 1) * stride[d];
    if (span < 0) lo += span;
    else hi += span;
  }
  if (lo < 0 || hi >= held) {
    throw new RangeError(
      `${desc()} reads elements ${lo}..${hi} but the storage holds ${held} ${dtype} elements`,
    );
  }
  let view = st.views.get(dtype);
  if (!view) st.views.set(dtype, view = hostDataFromBytes(dtype, st.bytes, held));
  const src = view as Float32Array; // typed as one kind; dst has the same element type
  const dst = out as Float32Array;
  // Contiguous (row-major) strides: one copy. Otherwise gather with an odometer over the index.
  let contiguous = true;
  for (let d = size.length - 1, expect = 1; d >= 0; d--) {
    if (size[d] !== 1 && stride[d] !== expect) contiguous = false;
    expect *= size[d];
  }
  if (contiguous) {
    dst.set(src.subarray(offset, offset + n));
    return { dtype, shape: size, data: out as HostData };
  }
  const rank = size.length;
  const idx = new Array<number>(rank).fill(0);
  let p = offset;
  for (let i = 0; i < n; i++) {
    dst[i] = src[p];
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      p += stride[d];
      if (idx[d] < size[d]) break;
      p -= stride[d] * size[d];
      idx[d] = 0;
    }
  }
  return { dtype, shape: size, data: out as HostData };
}

function torchGlobals(): Record<string, PickleGlobal> {
  const list: PickleGlobal[] = [
    new PickleGlobal(
      "torch._utils._rebuild_tensor_v2",
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      ([storage, offset, size, stride]) => rebuildTensor(storage, offset, size, stride),
    ),
    new PickleGlobal(
      "torch._utils._rebuild_tensor_v3",
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype[, metadata])
      ([storage, offset, size, stride, , , dtype]) => {
        if (!(dtype instanceof TorchDType)) {
          throw new TypeError("_rebuild_tensor_v3: expected a torch dtype as 7th argument");
        }
        return rebuildTensor(storage, offset, size, stride, dtype.dtype);
      },
    ),
    new PickleGlobal("torch._utils._rebuild_parameter", ([data]) => {
      if (!isHostTensor(data)) throw new TypeError("_rebuild_parameter: expected a tensor");
      return data;
    }),
    new PickleGlobal("torch._utils._rebuild_parameter_with_state", ([data]) => {
      if (!isHostTensor(data)) throw new TypeError("_rebuild_parameter: expected a tensor");
      return data;
    }),
    new StorageType("torch.storage.UntypedStorage", "uint8", true),
    new StorageType("torch.UntypedStorage", "uint8", true),
    ...STORAGE_TYPES.map(([n, d]) => new StorageType(`torch.${n}`, d)),
    ...TORCH_DTYPES.map(([n, d]) => new TorchDType(`torch.${n}`, d)),
  ];
  return Object.fromEntries(list.map((g) => [g.name, g]));
}

function byteSwap(bytes: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(bytes.byteLength);
  for (let i = 0; i + size <= bytes.byteLength; i += size) {
    for (let j = 0; j < size; j++) out[i + j] = bytes[i + size - 1 - j];
  }
  return out;
}

/**
 * Reads a `torch.save` checkpoint (zip format) without Python and without executing pickle
 * code: only tensors, OrderedDict and numpy scalars are accepted. Throws an Error naming the
 * archive entry and the expectation on anything else (a forbidden global, a missing storage, a
 * legacy non-zip file, out-of-range views).
 *
 * @example
 * ```ts
 * import { readPth } from "@sll/sll/io";
 * const bytes = await Deno.readFile("tests/fixtures/tiny_c1_28.ckpt.pth");
 * const { stateDict, epoch } = readPth(bytes);
 * stateDict["module.model.model.1.kernel"].shape; // [5, 8, 3, 3]
 * ```
 */
export function readPth(bytes: Uint8Array, options: ReadPthOptions = {}): PthCheckpoint {
  const name = options.source ?? "checkpoint";
  if (bytes.byteLength < 4 || bytes[0] !== 0x50 || bytes[1] !== 0x4b) {
    throw new Error(
      `${name}: not a zip archive (expected "PK" magic): only the zip torch.save format of ` +
        `PyTorch >= 1.6 is supported; re-save with torch.save(obj, path)`,
    );
  }
  // Every entry's CRC-32 is checked: a flipped byte in a storage is an error, never a model.
  const files = readZip(bytes, name);
  const pkls = Object.keys(files).filter((p) => p === "data.pkl" || p.endsWith("/data.pkl"));
  if (pkls.length === 0) {
    throw new Error(
      `${name}: no data.pkl in the archive (entries: ${
        Object.keys(files).slice(0, 5).join(", ")
      }…); is this a torch.save file?`,
    );
  }
  pkls.sort((a, b) => a.length - b.length);
  const pklPath = pkls[0];
  const top = pklPath.slice(0, pklPath.length - "data.pkl".length);
  const source = options.source ? `${options.source}:${pklPath}` : pklPath;

  const order = files[`${top}byteorder`];
  const orderText = order ? new TextDecoder().decode(order).trim() : "little";
  if (orderText !== "little" && orderText !== "big") {
    throw new Error(`${name}: ${top}byteorder is "${orderText}", expected "little" or "big"`);
  }

  const cache = new Map<string, Storage>();
  const persistentLoad = (pid: unknown): Storage => {
    if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length < 5) {
      throw new TypeError(
        `persistent id ${JSON.stringify(pid)}: expected ('storage', type, key, location, numel)`,
      );
    }
    const [, type, keyArg, , numelArg] = pid;
    if (!(type instanceof StorageType)) {
      throw new TypeError(`persistent id: storage type is not a torch storage class`);
    }
    const key = String(keyArg);
    const cached = cache.get(key);
    if (cached) return cached;
    const entry = files[`${top}data/${key}`];
    if (!entry) throw new Error(`storage "${key}": archive entry ${top}data/${key} is missing`);
    const isz = itemSize(type.dtype);
    const count = Number(numelArg);
    if (!Number.isSafeInteger(count) || count < 0 || count * isz > entry.byteLength) {
      throw new RangeError(
        `storage "${key}": ${type.name} of ${numelArg} elements needs ${
          count * isz
        } bytes but ${top}data/${key} has ${entry.byteLength}`,
      );
    }
    let data = entry.subarray(0, count * isz);
    if (orderText === "big" && !type.untyped && isz > 1) data = byteSwap(data, isz);
    const st: Storage = {
      key,
      dtype: type.dtype,
      untyped: type.untyped,
      bytes: data,
      views: new Map(),
    };
    cache.set(key, st);
    return st;
  };

  const raw = unpickle(files[pklPath], { source, globals: torchGlobals(), persistentLoad });
  if (orderText === "big") {
    for (const st of cache.values()) {
      if (st.untyped) {
        throw new Error(`${name}: big-endian untyped storages are not supported`);
      }
    }
  }

  if (!isDict(raw)) {
    throw new Error(
      `${source}: expected a dict at the top level, got ${
        Array.isArray(raw) ? "a list" : typeof raw
      }`,
    );
  }
  let sd: Record<string, unknown>;
  const values = Object.values(raw);
  if (values.length > 0 && values.every(isHostTensor)) sd = raw;
  else if (isDict(raw.model_state_dict)) sd = raw.model_state_dict;
  else if (isDict(raw.state_dict)) sd = raw.state_dict;
  else {
    throw new Error(
      `${source}: no state dict found: expected a dict of tensors or a dict with ` +
        `"model_state_dict" or "state_dict"; top-level keys: ${Object.keys(raw).join(", ")}`,
    );
  }
  const stateDict: Record<string, HostTensor> = {};
  for (const [k, v] of Object.entries(sd)) {
    if (!isHostTensor(v)) {
      throw new TypeError(`${source}: state dict entry "${k}" is not a tensor`);
    }
    Object.defineProperty(stateDict, k, {
      value: v,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  const out: PthCheckpoint = { stateDict, raw };
  if (typeof raw.epoch === "number") out.epoch = raw.epoch;
  if (typeof raw.global_step === "number") out.globalStep = raw.global_step;
  const opt = Object.hasOwn(raw, "optimizer_state_dict") ? raw.optimizer_state_dict : raw.optimizer;
  if (opt !== undefined) out.optimizer = opt;
  return out;
}

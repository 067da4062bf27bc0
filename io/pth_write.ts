// Writer of PyTorch `torch.save` files (the zip format read by io/pth.ts and by torch.load):
// `<top>/data.pkl` (a protocol-2 pickle whose tensors are `_rebuild_tensor_v2` calls on
// persistent-id storages), `<top>/data/<key>` (raw little-endian storages), `<top>/byteorder`
// and `<top>/version`, as stored zip entries with CRC-32s. Bytes in, bytes out.

import { type HostDType, type HostTensor, numel } from "./host_tensor.ts";
import {
  pickle,
  PickleCall,
  PickleGlobalRef,
  PicklePersistentId,
  PickleTuple,
} from "./pickle_write.ts";
import { writeZip, type ZipEntry } from "./zip.ts";

const STORAGE: Record<HostDType, string> = {
  float32: "torch.FloatStorage",
  float64: "torch.DoubleStorage",
  int64: "torch.LongStorage",
  int32: "torch.IntStorage",
  float16: "torch.HalfStorage",
  bfloat16: "torch.BFloat16Storage",
  uint8: "torch.ByteStorage",
  bool: "torch.BoolStorage",
};

/** Options of {@linkcode writePth}. */
export interface WritePthOptions {
  /** The archive's top folder (default "archive", as torch.save names it). */
  top?: string;
  /**
   * When given, the file holds the reference trainer's checkpoint dict: these entries (e.g.
   * `{ epoch: 3, global_step: 940 }`) plus `model_state_dict`. Otherwise the state dict itself.
   */
  checkpoint?: Record<string, number>;
}

/**
 * Serialises a state dict as a `torch.save` file: `torch.load` returns an OrderedDict of
 * contiguous CPU tensors (or the checkpoint dict of `options.checkpoint`), and
 * {@linkcode readPth} reads it back exactly. Throws a TypeError when a tensor's data does not
 * match its dtype and shape.
 *
 * @example
 * ```ts
 * import { writePth } from "./pth_write.ts";
 * const bytes = writePth({ w: { dtype: "float32", shape: [2], data: new Float32Array([1, 2]) } });
 * ```
 */
export function writePth(
  stateDict: Record<string, HostTensor>,
  options: WritePthOptions = {},
): Uint8Array {
  const top = options.top ?? "archive";
  if (!/^[A-Za-z0-9_.-]+$/.test(top)) {
    throw new TypeError(
      `writePth: top folder "${top}" must be a plain name (letters, digits, _.-)`,
    );
  }
  const entries: ZipEntry[] = [];
  const items: [string, unknown][] = [];
  Object.entries(stateDict).forEach(([name, t], i) => {
    if (!t || !Object.hasOwn(STORAGE, t.dtype)) {
      throw new TypeError(`writePth: tensor "${name}" has unknown dtype "${t?.dtype}"`);
    }
    const n = numel(t.shape);
    if (!ArrayBuffer.isView(t.data) || t.data.length !== n) {
      throw new TypeError(
        `writePth: tensor "${name}" holds ${
          (t.data as ArrayLike<unknown>)?.length
        } elements but shape [${t.shape.join(", ")}] needs ${n}`,
      );
    }
    const key = String(i);
    const d = t.data;
    entries.push({
      name: `${top}/data/${key}`,
      data: new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice(),
    });
    const stride = t.shape.map((_, k) => t.shape.slice(k + 1).reduce((a, b) => a * b, 1));
    const storage = new PicklePersistentId(
      new PickleTuple(["storage", new PickleGlobalRef(STORAGE[t.dtype]), key, "cpu", n]),
    );
    items.push([
      name,
      new PickleCall("torch._utils._rebuild_tensor_v2", [
        storage,
        0,
        new PickleTuple([...t.shape]),
        new PickleTuple(stride),
        false,
        new PickleCall("collections.OrderedDict"),
      ]),
    ]);
  });
  const sd = new PickleCall("collections.OrderedDict", [], items);
  const root = options.checkpoint
    ? Object.assign(Object.create(Object.prototype), options.checkpoint, { model_state_dict: sd })
    : sd;
  const enc = new TextEncoder();
  return writeZip([
    { name: `${top}/data.pkl`, data: pickle(root) },
    ...entries,
    { name: `${top}/byteorder`, data: enc.encode("little") },
    { name: `${top}/version`, data: enc.encode("3\n") },
  ]);
}

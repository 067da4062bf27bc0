/**
 * File formats on host memory: safetensors read/write, PyTorch `.pth` (zip + pickle) reading
 * through a safe unpickler and writing (torch.load reads it), zip with CRC-32 checks, and the
 * {@linkcode HostTensor} record they exchange.
 *
 * @example
 * ```ts
 * import { readPth, writeSafetensors } from "@sll/sll/io";
 * const { stateDict } = readPth(await Deno.readFile("tests/fixtures/tiny_c1_28.ckpt.pth"));
 * const bytes = writeSafetensors(stateDict); // the same tensors as a .safetensors file
 * ```
 * @module
 */

export {
  allocHostData,
  bfloat16ToNumber,
  halfToNumber,
  hostBytes,
  type HostData,
  hostDataFromBytes,
  type HostDType,
  type HostTensor,
  itemSize,
  numel,
  toFloat32,
  toInt32,
} from "./host_tensor.ts";
export { readSafetensors, type Safetensors, writeSafetensors } from "./safetensors.ts";
export { type PthCheckpoint, readPth, type ReadPthOptions } from "./pth.ts";
export { writePth, type WritePthOptions } from "./pth_write.ts";
export { type PickleBuildable, PickleGlobal, unpickle, type UnpickleOptions } from "./pickle.ts";
export {
  pickle,
  PickleCall,
  PickleGlobalRef,
  PicklePersistentId,
  PickleTuple,
} from "./pickle_write.ts";
export { crc32, readZip, writeZip, type ZipEntry } from "./zip.ts";
export { writeFileAtomic } from "./files.ts";
export { loadParams, type LoadParamsOptions, saveParams } from "./params.ts";
export { loadParamsFile, saveParamsFile } from "./params_file.ts";

/**
 * `saveParams`/`loadParams` on files (Deno): the bytes of `params.ts` written atomically (temp
 * file + rename) and read back. Kept apart so the core stays free of file access.
 * @module
 */
import type { AnyLayer, ParamsOf } from "../layers/layer.ts";
import { writeFileAtomic } from "./files.ts";
import { loadParams, type LoadParamsOptions, saveParams } from "./params.ts";

/**
 * Writes a parameter tree to a `.safetensors` file at `path` (atomically).
 *
 * @example
 * ```ts
 * import { randomKey, sllDense } from "@sll/sll";
 * import { loadParamsFile, saveParamsFile } from "@sll/sll/io";
 * const layer = sllDense({ inner: 4 });
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await saveParamsFile(path, layer.init(randomKey(0), [3]).params);
 * const params = await loadParamsFile(path, layer, [3]);
 * await Deno.remove(path);
 * ```
 */
export async function saveParamsFile(
  path: string,
  params: unknown,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, await saveParams(params, metadata));
}

/**
 * Reads the parameters of `layer` for input shape `inShape` from a file written by
 * {@linkcode saveParamsFile} (errors name the file).
 *
 * @example
 * ```ts
 * import { flatten, linearNormalized, randomKey, serial } from "@sll/sll";
 * import { loadParamsFile, saveParamsFile } from "@sll/sll/io";
 * const net = serial(flatten(), linearNormalized({ features: 2 }));
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await saveParamsFile(path, net.init(randomKey(0), [1, 2, 2]).params);
 * const params = await loadParamsFile(path, net, [1, 2, 2]); // params[1].weight: [2, 4]
 * await Deno.remove(path);
 * ```
 */
export async function loadParamsFile<L extends AnyLayer>(
  path: string,
  layer: L,
  inShape: readonly number[],
  options: LoadParamsOptions = {},
): Promise<ParamsOf<L>> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`loadParamsFile: cannot read ${path} (${(e as Error).message})`);
  }
  return loadParams(layer, inShape, bytes, { source: path, ...options });
}

/**
 * Parameters of any network as safetensors bytes: `saveParams` writes every tensor leaf under
 * its tree path ("2.weight"), `loadParams` rebuilds the tree for a layer and input shape from
 * the layer's known parameter shapes (no training config, no fresh init to copy into).
 * Bytes only (browser-clean); `params_file.ts` adds the file helpers for Deno.
 * @module
 */
import type { DType } from "../kernels/dtype.ts";
import { type AnyLayer, layerShapes, type ParamsOf } from "../layers/layer.ts";
import { paramsFromStateDict } from "../layers/state_dict.ts";
import { flattenTree } from "../tensor/tree.ts";
import type { HostTensor } from "./host_tensor.ts";
import { readSafetensors, writeSafetensors } from "./safetensors.ts";

/**
 * Serialises a parameter tree to safetensors bytes, one tensor per leaf keyed by its tree path
 * (as checkpoints store them), plus optional string metadata. float32, float64 and int32 leaves
 * keep their dtype.
 *
 * @example
 * ```ts
 * import { randomKey, saveParams, sllDense } from "@sll/sll";
 * const { params } = sllDense({ inner: 4 }).init(randomKey(0), [3]);
 * const bytes = await saveParams(params, { note: "an example" }); // keys "weight", "bias", "q"
 * ```
 */
export async function saveParams(
  params: unknown,
  metadata?: Record<string, string>,
): Promise<Uint8Array> {
  const host: Record<string, HostTensor> = {};
  for (const [path, t] of Object.entries(flattenTree(params))) {
    const data = await t.data();
    host[path] = { dtype: t.dtype, shape: [...t.shape], data } as HostTensor;
  }
  return writeSafetensors(host, metadata);
}

/** Options of {@linkcode loadParams}. */
export interface LoadParamsOptions {
  /** dtype of the created parameters (default float32). */
  dtype?: DType;
  /** Where the bytes came from, for error messages (default "loadParams"). */
  source?: string;
}

/**
 * The parameters of `layer` (any layer, `serial` or network) for per-example input shape
 * `inShape`, read from safetensors bytes written by {@linkcode saveParams}. Throws a TypeError
 * listing missing, unexpected and mismatched tensors when the bytes belong to another network.
 *
 * @example
 * ```ts
 * import { flatten, linearNormalized, loadParams, randomKey, saveParams, serial } from "@sll/sll";
 * const net = serial(flatten(), linearNormalized({ features: 3 }));
 * const bytes = await saveParams(net.init(randomKey(0), [1, 4, 4]).params);
 * const params = loadParams(net, [1, 4, 4], bytes); // params[1].weight: [3, 16]
 * ```
 */
export function loadParams<L extends AnyLayer>(
  layer: L,
  inShape: readonly number[],
  bytes: Uint8Array,
  options: LoadParamsOptions = {},
): ParamsOf<L> {
  const source = options.source ?? "loadParams";
  let tensors: Record<string, HostTensor>;
  try {
    tensors = readSafetensors(bytes).tensors;
  } catch (e) {
    throw new Error(`${source}: not a safetensors file (${(e as Error).message})`);
  }
  const shapes = layerShapes<ParamsOf<L>>(layer, inShape).params;
  return paramsFromStateDict<ParamsOf<L>>(shapes, tensors, {
    dtype: options.dtype,
    what: `${source}: the saved parameters do not match the layer for input [${
      inShape.join(", ")
    }]`,
  });
}

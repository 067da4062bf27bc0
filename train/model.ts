/**
 * The bridge from a training configuration to the reference network: builds the typed
 * `lipschitzNetwork` from an `Arch`, the dataset's shape and means, and restores its parameters
 * from a checkpoint's leaves by their known shapes. Kept in one place so the loop and the CLI
 * agree on the network.
 * @module
 */
import {
  type LipschitzNetwork,
  lipschitzNetwork,
  type LipschitzParams,
  presets,
} from "../layers/network.ts";
import { paramsFromStateDict, type StateDictValue } from "../layers/state_dict.ts";
import type { Arch } from "./config.ts";

/**
 * Names of the architecture presets (the reference's and the CPU-sized ones).
 *
 * @example
 * ```ts
 * import { presetNames } from "@sll/sll/train";
 * presetNames(); // ["small", "medium", …]
 * ```
 */
export function presetNames(): string[] {
  return Object.keys(presets);
}

/**
 * The explicit sizes of a preset, as an `Arch`. Throws naming the known presets.
 *
 * @example
 * ```ts
 * import { archFromPreset } from "@sll/sll/train";
 * archFromPreset("small"); // { nConv: 20, nDense: 7, width: 45, convInnerDim: 5, … }
 * ```
 */
export function archFromPreset(name: string): Arch {
  const p = (presets as Record<string, Record<string, unknown>>)[name];
  if (!p) {
    throw new RangeError(
      `unknown model preset "${name}", expected one of ${presetNames().join(", ")}`,
    );
  }
  return {
    name,
    nConv: p.nConv as number,
    nDense: p.nDense as number,
    width: p.width as number,
    convInnerDim: p.convInnerDim as number,
    denseInnerDim: p.denseInnerDim as number,
    qMode: (p.qMode as Arch["qMode"] | undefined) ?? "paper",
  };
}

/**
 * Builds the reference network for inputs of shape [C, H, W] and `numClasses` classes.
 *
 * @example
 * ```ts
 * import { randomKey } from "@sll/sll";
 * import { archFromPreset, buildNetwork } from "@sll/sll/train";
 * const net = buildNetwork(archFromPreset("tiny"), [1, 28, 28], 10, [0.286]);
 * const { params } = net.init(randomKey(0));
 * ```
 */
export function buildNetwork(
  arch: Arch,
  inputShape: readonly [number, number, number],
  numClasses: number,
  mean: readonly number[],
): LipschitzNetwork {
  return lipschitzNetwork({
    inputShape: [...inputShape] as [number, number, number],
    numClasses,
    nConv: arch.nConv,
    nDense: arch.nDense,
    width: arch.width,
    convInnerDim: arch.convInnerDim,
    denseInnerDim: arch.denseInnerDim,
    mean: [...mean],
    qMode: arch.qMode,
  });
}

/**
 * Parameters (or an optimizer slot tree) of `network` from a checkpoint's path-keyed leaves
 * ("3.kernel", …), rebuilt from the network's parameter shapes; throws naming every missing,
 * unexpected or mismatched leaf and `source`.
 *
 * @example
 * ```ts
 * import { flattenTree, randomKey } from "@sll/sll";
 * import { archFromPreset, buildNetwork, paramsFromCheckpoint } from "@sll/sll/train";
 * const net = buildNetwork(archFromPreset("tiny"), [1, 28, 28], 10, [0.286]);
 * const saved = flattenTree(net.init(randomKey(0)).params); // what a checkpoint stores
 * const params = paramsFromCheckpoint(net, saved, "memory");
 * ```
 */
export function paramsFromCheckpoint(
  network: LipschitzNetwork,
  leaves: Readonly<Record<string, StateDictValue>>,
  source: string,
): LipschitzParams {
  return paramsFromStateDict<LipschitzParams>(network.shapes().params, leaves, {
    what:
      `${source}: the checkpoint does not match the network architecture; use the architecture flags it was trained with (or its own metadata)`,
  });
}

/**
 * The bridge from a training configuration to a network: builds the reference `lipschitzNetwork`
 * or Prach et al.'s `convNet` (arch.kind "convnet", any registered layer) from an `Arch`, the
 * dataset's shape and means, and restores its parameters from a checkpoint's leaves by their
 * known shapes. Kept in one place so the loop and the CLI agree on the network.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import type { PRNGKey } from "../tensor/random.ts";
import type { AnyLayer, Initialized, Params, PreparedForward } from "../layers/layer.ts";
import { convNet } from "../layers/convnet.ts";
import { lipschitzNetwork, presets } from "../layers/network.ts";
import { paramsFromStateDict, type StateDictValue } from "../layers/state_dict.ts";
import type { Arch } from "./config.ts";

/**
 * Power iterations run on a stateful layer's state (CPL's `u`) before its bound certifies
 * anything: before every evaluation of the trainer and when a checkpoint is loaded.
 */
export const CONVERGE_ITERATIONS = 100;

/** Parameters of a {@linkcode Network}: one entry per top-level layer. */
export type NetworkParams = Params[];

/**
 * What the trainer and the commands run: the reference SLL network or a ConvNet, both a
 * sequence of `layers` over a tuple of parameters.
 */
export interface Network {
  /** The top-level layers; `params[i]` belongs to `layers[i]`. */
  readonly layers: readonly AnyLayer[];
  /** Per-example input shape of each top-level layer. */
  readonly inShapes: readonly (readonly number[])[];
  /** The configuration; `inputShape` is the per-example input. */
  readonly config: { readonly inputShape: readonly number[] };
  /** Draws parameters for `config.inputShape`. */
  init(key: PRNGKey, inShape?: readonly number[]): Initialized<NetworkParams>;
  /** Output shape and the parameter tree with each leaf's shape; nothing drawn. */
  shapes(inShape?: readonly number[]): { outShape: number[]; params: object };
  /** Logits of a batch [B, ...inputShape]. */
  apply(params: NetworkParams, x: Tensor): Tensor;
  /** A forward with the parameter-only work done once (evaluation). */
  prepare(params: NetworkParams): PreparedForward;
  /** The normalised last layer's weight for the certificate, or null (generic √2 bound). */
  lastWeight(params: NetworkParams): Tensor | null;
  /**
   * Present when layers carry state outside the gradient (CPL's power iteration): returns the
   * parameters with it advanced `iterations` steps (the trainer calls it after every update).
   */
  refresh?(params: NetworkParams, iterations?: number): NetworkParams;
}

/**
 * The network family an `Arch` describes: "convnet" when `kind` says so, or when `kind` is
 * absent and a ConvNet field (`layer`, `size`) is given; "sll" otherwise. A RangeError when
 * `kind` is "sll" and a ConvNet field is set (it would do nothing).
 *
 * @example
 * ```ts
 * import { archKind, DEFAULT_CONFIG } from "@sll/sll/train";
 * archKind({ ...DEFAULT_CONFIG.arch, layer: "aol" }); // "convnet"
 * ```
 */
export function archKind(arch: Arch): "sll" | "convnet" {
  const convFields = arch.layer !== undefined || arch.size !== undefined;
  if (arch.kind === "sll" && convFields) {
    throw new RangeError(
      `arch: layer and size (--layer, --size) describe the ConvNet; they need kind "convnet" ` +
        `(--arch convnet), not "sll"`,
    );
  }
  return arch.kind ?? (convFields ? "convnet" : "sll");
}

/**
 * `arch` as a checkpoint records it: a ConvNet's kind, layer and size written out (defaults
 * "sll" and "xs" included), so the file rebuilds its network whatever the defaults become.
 *
 * @example
 * ```ts
 * import { DEFAULT_CONFIG, resolvedArch } from "@sll/sll/train";
 * resolvedArch({ ...DEFAULT_CONFIG.arch, kind: "convnet" }).layer; // "sll"
 * ```
 */
export function resolvedArch(arch: Arch): Arch {
  return archKind(arch) === "convnet"
    ? { ...arch, kind: "convnet", layer: arch.layer ?? "sll", size: arch.size ?? "xs" }
    : arch;
}

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
    ...(p.spaceToDepth === undefined ? {} : { spaceToDepth: p.spaceToDepth as number }),
    qMode: (p.qMode as Arch["qMode"] | undefined) ?? "paper",
  };
}

/**
 * Builds the network of `arch` for inputs of shape [C, H, W] and `numClasses` classes: the
 * reference SLL network, or the ConvNet of `arch.layer` and `arch.size` when `arch.kind` is
 * "convnet" (a RangeError lists the registered layers when the layer is not one of them).
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
): Network {
  if (archKind(arch) === "convnet") {
    const net = convNet({
      layer: arch.layer ?? "sll",
      size: arch.size ?? "xs",
      inputShape: [...inputShape] as [number, number, number],
      numClasses,
      mean: [...mean],
    });
    return net.stateful ? net : { ...net, refresh: undefined };
  }
  return lipschitzNetwork({
    inputShape: [...inputShape] as [number, number, number],
    numClasses,
    nConv: arch.nConv,
    nDense: arch.nDense,
    width: arch.width,
    convInnerDim: arch.convInnerDim,
    denseInnerDim: arch.denseInnerDim,
    spaceToDepth: arch.spaceToDepth,
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
  network: Network,
  leaves: Readonly<Record<string, StateDictValue>>,
  source: string,
): NetworkParams {
  // the shape tree is walked by structure: any network's parameter tuple
  return paramsFromStateDict<unknown>(network.shapes().params, leaves, {
    what:
      `${source}: the checkpoint does not match the network architecture; use the architecture flags it was trained with (or its own metadata)`,
  }) as NetworkParams;
}

/**
 * The bridge from a training configuration to the reference network: builds
 * `lipschitzNetwork` from an `Arch`, the dataset's shape and means, and finds the last layer's
 * weight (for certificates). Kept in one place so the loop and the CLI agree on the network.
 * @module
 */
import { type LipschitzNetwork, lipschitzNetwork, presets } from "../layers/network.ts";
import type { PreparedForward } from "../layers/layer.ts";
import type { Tensor } from "../tensor/mod.ts";
import type { PRNGKey } from "../tensor/random.ts";
import { flattenTree } from "../tensor/tree.ts";
import type { Arch } from "./config.ts";
import type { HostTensor } from "../io/host_tensor.ts";

/** A network built for a dataset: init, forward, and state-dict mapping. */
export interface Network {
  /** Fresh parameters from `key`. */
  init(key: PRNGKey): unknown;
  /** Logits [B, K] of a batch [B, C, H, W] in [0, 1] (the mean shift is inside). */
  apply(params: unknown, x: Tensor): Tensor;
  /** Parameters from a reference state dict (`module.model.model.{i}.kernel`, …). */
  fromStateDict(sd: Record<string, HostTensor>): unknown;
  /** The last (row-normalised) layer's weight [K, F]. */
  lastWeight(params: unknown): Tensor;
  /** A forward for evaluation with the SLL rescalings computed once (dispose when done). */
  prepare(params: unknown): PreparedForward;
  /** The underlying `lipschitzNetwork` (modules, shapes, state-dict mapping). */
  readonly net: LipschitzNetwork;
}

/** Names of the architecture presets (the reference's and the CPU-sized ones). */
export function presetNames(): string[] {
  return Object.keys(presets);
}

/**
 * The explicit sizes of a preset, as an `Arch`. Throws naming the known presets.
 *
 * @example
 * ```ts ignore
 * import { archFromPreset } from "./model.ts";
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
 * ```ts ignore
 * import { buildNetwork } from "./model.ts";
 * const net = buildNetwork(arch, [1, 28, 28], 10, [0.286]);
 * const params = net.init(randomKey(0));
 * ```
 */
export function buildNetwork(
  arch: Arch,
  inputShape: readonly [number, number, number],
  numClasses: number,
  mean: readonly number[],
): Network {
  const net = lipschitzNetwork({
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
  return {
    net,
    init: (key) => net.init(key, [...inputShape]).params,
    // deno-lint-ignore no-explicit-any
    apply: (params, x) => net.apply(params as any, x),
    // deno-lint-ignore no-explicit-any
    prepare: (params) => net.prepare(params as any),
    fromStateDict: (sd) => net.fromStateDict(sd),
    lastWeight(params) {
      const weights = Object.entries(flattenTree(params)).filter(([p]) =>
        p === "weight" || p.endsWith(".weight")
      );
      if (weights.length === 0) throw new Error("buildNetwork: the network has no weight leaf");
      return weights[weights.length - 1][1];
    },
  };
}

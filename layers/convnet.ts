/**
 * The plain configurable network of Prach, Brau, Buttazzo & Lampert ("1-Lipschitz Layers
 * Compared: Memory, Speed, and Certifiable Robustness", CVPR 2024): zero channel padding to the
 * base width w, a 1×1 convolution, then 5 blocks (block i at width w·2^i) of 5 convolutions of
 * any registered layer each followed by MaxMin, each block ending in first-half channels + pixel
 * unshuffle (downsampling by 2, width doubling), a global max pool, a 1×1 head convolution and
 * the first K channels as logits. Every stage is 1-Lipschitz, so the network is; its last layer
 * is not row-normalised, so margins certify with the generic √2 bound (`lastWeight` is null).
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { max, sub, tensor } from "../tensor/ops.ts";
import type { PRNGKey } from "../tensor/random.ts";
import { flatten, maxMin, type NoParams, paddingChannels } from "./basic.ts";
import {
  type AnyLayer,
  defineLayer,
  expectShape,
  type Initialized,
  type Layer,
  type LayerSetup,
  type Params,
  type PreparedForward,
  serial,
} from "./layer.ts";
import {
  firstChannels,
  getLayerEntry,
  hasRefresh,
  pixelUnshuffle,
  refreshLayers,
  spatialPad,
} from "./registry.ts";

/**
 * The sizes of the paper (its `DEFAULT_MODELS`: base width w, 5 blocks of 5 layers, kernel 3),
 * and `tiny`, CPU-sized.
 */
export const CONVNET_SIZES: Readonly<
  Record<"xs" | "s" | "m" | "l" | "tiny", Readonly<ConvNetSizes>>
> = Object.freeze({
  xs: { baseWidth: 16, blocks: 5, layersPerBlock: 5, kernel: 3 },
  s: { baseWidth: 32, blocks: 5, layersPerBlock: 5, kernel: 3 },
  m: { baseWidth: 64, blocks: 5, layersPerBlock: 5, kernel: 3 },
  l: { baseWidth: 128, blocks: 5, layersPerBlock: 5, kernel: 3 },
  // CPU-sized (not in the paper): a few minutes of 2 cores see an epoch of Fashion-MNIST
  tiny: { baseWidth: 8, blocks: 4, layersPerBlock: 2, kernel: 3 },
});

/** A ConvNet size name. */
export type ConvNetSize = keyof typeof CONVNET_SIZES;

/** The numbers that size a ConvNet. */
export interface ConvNetSizes {
  /** Channels of the first block (the input is zero-padded to it). */
  baseWidth: number;
  /** Downsampling blocks (the image side is zero-padded to a multiple of 2^blocks). */
  blocks: number;
  /** Convolutions per block. */
  layersPerBlock: number;
  /** Odd kernel size of the convolutions (the last block's are 1×1, as the paper's). */
  kernel: number;
}

/** Configuration of {@linkcode convNet}. */
export interface ConvNetConfig extends Partial<ConvNetSizes> {
  /** Registered layer name (see `layerNames()`). */
  layer: string;
  /** Size preset (default "xs"); explicit `ConvNetSizes` fields override it. */
  size?: ConvNetSize;
  /** Per-example input [C, H, W]. */
  inputShape: [number, number, number];
  /** Classes (≤ the head's width w·2^blocks). */
  numClasses: number;
  /** Per-channel mean subtracted first. */
  mean: number[];
}

/** Parameters of {@linkcode convNet}: one entry per stage (nested for blocks). */
export type ConvNetParams = Params[];

/**
 * What {@linkcode convNet} returns: a network over a tuple of stage parameters (a `serial` of
 * its stages, with the input mean shift in front).
 */
export interface ConvNet {
  /** The validated configuration with the sizes resolved. */
  readonly config: Readonly<ConvNetConfig & ConvNetSizes & { size: ConvNetSize }>;
  /** The top-level stages; `params[i]` belongs to `layers[i]`. */
  readonly layers: readonly AnyLayer[];
  /** Per-example input shape of each top-level stage. */
  readonly inShapes: readonly (readonly number[])[];
  /** True when the layer carries state that `refresh` advances (CPL's power iteration). */
  readonly stateful: boolean;
  /** Draws parameters for `config.inputShape` (`inShape` must match when given). */
  init(key: PRNGKey, inShape?: readonly number[]): Initialized<ConvNetParams>;
  /** Output shape and parameter shapes for `config.inputShape`; nothing is drawn. */
  shapes(inShape?: readonly number[]): { outShape: number[]; params: object };
  /** Logits [B, numClasses] of a batch [B, ...inputShape]. */
  apply(params: ConvNetParams, x: Tensor): Tensor;
  /** Every stage prepared once (see `Layer.prepare`). */
  prepare(params: ConvNetParams): PreparedForward;
  /** Always null: the head is not row-normalised, certificates use the √2 bound. */
  lastWeight(params: ConvNetParams): Tensor | null;
  /**
   * The parameters with every stateful layer's state advanced `iterations` steps; the same
   * object when the layer has none.
   */
  refresh(params: ConvNetParams, iterations?: number): ConvNetParams;
}

/**
 * Global max pool over H and W ([B, C, H, W] → [B, C, 1, 1], `AdaptiveMaxPool2d(1)`): per channel
 * |max a − max b| ≤ max |a − b|, so Lipschitz constant 1.
 *
 * @example
 * ```ts
 * import { globalMaxPool, tensor } from "@sll/sll";
 * const y = globalMaxPool().apply({}, tensor([1, 5, 3, 2], { shape: [1, 1, 2, 2] })); // [[[[5]]]]
 * ```
 */
export function globalMaxPool(): Layer<NoParams> {
  return defineLayer<NoParams>({
    setup(inShape: readonly number[]): LayerSetup<NoParams> {
      expectShape("globalMaxPool", inShape, [null, null, null]);
      return { outShape: [inShape[0], 1, 1], params: {} };
    },
    apply: (_p: NoParams, x: Tensor): Tensor => max(x, [2, 3], true),
  });
}

function resolve(config: ConvNetConfig): ConvNetConfig & ConvNetSizes & { size: ConvNetSize } {
  const size = config.size ?? "xs";
  const preset = CONVNET_SIZES[size];
  if (!preset) {
    throw new RangeError(
      `convNet: unknown size "${size}", expected one of ${Object.keys(CONVNET_SIZES).join(", ")}`,
    );
  }
  const cfg = {
    ...config,
    size,
    baseWidth: config.baseWidth ?? preset.baseWidth,
    blocks: config.blocks ?? preset.blocks,
    layersPerBlock: config.layersPerBlock ?? preset.layersPerBlock,
    kernel: config.kernel ?? preset.kernel,
  };
  const bad: string[] = [];
  for (const k of ["baseWidth", "blocks", "layersPerBlock", "numClasses"] as const) {
    if (!(Number.isInteger(cfg[k]) && cfg[k] >= (k === "layersPerBlock" ? 0 : 1))) {
      bad.push(`${k} must be a positive integer, got ${cfg[k]}`);
    }
  }
  if (cfg.baseWidth % 2 !== 0) bad.push(`baseWidth must be even (MaxMin), got ${cfg.baseWidth}`);
  if (!(Number.isInteger(cfg.kernel) && cfg.kernel % 2 === 1)) {
    bad.push(`kernel must be an odd integer, got ${cfg.kernel}`);
  }
  const s = cfg.inputShape;
  if (!Array.isArray(s) || s.length !== 3 || !s.every((d) => Number.isInteger(d) && d > 0)) {
    bad.push(`inputShape must be [C, H, W], got ${JSON.stringify(s)}`);
  } else {
    if (s[0] > cfg.baseWidth) {
      bad.push(`baseWidth (${cfg.baseWidth}) must be ≥ input channels (${s[0]})`);
    }
    if (!Array.isArray(cfg.mean) || cfg.mean.length !== s[0]) {
      bad.push(
        `mean must have one entry per input channel (${s[0]}), got ${JSON.stringify(cfg.mean)}`,
      );
    }
  }
  const head = cfg.baseWidth * 2 ** cfg.blocks;
  if (cfg.numClasses > head) {
    bad.push(`numClasses (${cfg.numClasses}) exceeds the head width ${head}`);
  }
  if (bad.length) throw new RangeError(`convNet: invalid config: ${bad.join("; ")}`);
  getLayerEntry(cfg.layer); // names the registered layers when unknown
  return cfg;
}

/**
 * Prach et al.'s ConvNet with the registered layer `config.layer` (sizes XS/S/M/L: base width
 * 16/32/64/128, 5 blocks of 5 layers). The input is mean-shifted, zero-padded to a side that is
 * a multiple of 2^blocks (28 → 32) and to w channels. 1-Lipschitz from input to logits; logit
 * differences are √2-Lipschitz, so `lastWeight` is null (the generic certificate).
 *
 * @example
 * ```ts
 * import { convNet, randomKey, zeros } from "@sll/sll";
 * const net = convNet({ layer: "aol", size: "xs", baseWidth: 4, blocks: 2, layersPerBlock: 1,
 *   inputShape: [1, 8, 8], numClasses: 3, mean: [0.5] });
 * const { params } = net.init(randomKey(0));
 * const logits = net.apply(params, zeros([2, 1, 8, 8])); // [2, 3]
 * ```
 */
export function convNet(config: ConvNetConfig): ConvNet {
  const cfg = resolve(config);
  const entry = getLayerEntry(cfg.layer);
  const [c, h, w] = cfg.inputShape;
  const unit = 2 ** cfg.blocks;
  const side = Math.ceil(Math.max(h, w) / unit) * unit;
  const stages: AnyLayer[] = [
    spatialPad({ size: side }),
    paddingChannels({ features: cfg.baseWidth }),
    entry.conv({ channels: cfg.baseWidth, kernel: 1 }),
    maxMin(),
  ];
  for (let i = 0; i < cfg.blocks; i++) {
    const width = cfg.baseWidth * 2 ** i;
    const kernel = i === cfg.blocks - 1 ? 1 : cfg.kernel; // the last block is 2×2: 1×1 kernels
    const block: AnyLayer[] = [];
    for (let j = 0; j < cfg.layersPerBlock; j++) {
      block.push(entry.conv({ channels: width, kernel }), maxMin());
    }
    block.push(firstChannels({ features: width / 2 }), pixelUnshuffle({ factor: 2 }));
    stages.push(serial(...block));
  }
  const head = cfg.baseWidth * 2 ** cfg.blocks;
  stages.push(
    globalMaxPool(),
    entry.conv({ channels: head, kernel: 1 }),
    flatten(),
    firstChannels({ features: cfg.numClasses }),
  );
  const body = serial(...stages);
  const inputShape: readonly number[] = cfg.inputShape;
  const inShapes: number[][] = [];
  stages.reduce((shape, m) => {
    inShapes.push(shape);
    return m.shapes!(shape).outShape;
  }, [...inputShape]);
  const mean = tensorMean(cfg.mean, c);
  const centred = (x: Tensor): Tensor => {
    if (x.rank !== 4 || x.shape.slice(1).join() !== inputShape.join()) {
      throw new TypeError(`convNet: input must be [B, ${inputShape.join(", ")}], got [${x.shape}]`);
    }
    return sub(x, mean(x));
  };
  const checkInShape = (what: string, inShape?: readonly number[]): void => {
    if (inShape !== undefined && inShape.join() !== inputShape.join()) {
      throw new TypeError(
        `convNet.${what}: inShape [${inShape}] differs from config.inputShape [${inputShape}]`,
      );
    }
  };
  const stateful = hasRefresh(body);
  return {
    config: Object.freeze({ ...cfg }),
    layers: body.layers,
    inShapes,
    stateful,
    init(key: PRNGKey, inShape?: readonly number[]): Initialized<ConvNetParams> {
      checkInShape("init", inShape);
      return body.init(key, inputShape);
    },
    shapes(inShape?: readonly number[]): { outShape: number[]; params: object } {
      checkInShape("shapes", inShape);
      const r = (body as AnyLayer).shapes!(inputShape);
      return { outShape: r.outShape, params: r.params as object };
    },
    apply: (params: ConvNetParams, x: Tensor): Tensor => body.apply(params, centred(x)),
    prepare(params: ConvNetParams): PreparedForward {
      const prepared = body.prepare(params);
      return {
        apply: (x: Tensor): Tensor => prepared.apply(centred(x)),
        dispose: prepared.dispose,
      };
    },
    lastWeight: (): Tensor | null => null,
    refresh: (params: ConvNetParams, iterations = 1): ConvNetParams =>
      stateful ? refreshLayers(body, params, iterations) : params,
  };
}

function tensorMean(values: readonly number[], c: number): (x: Tensor) => Tensor {
  return (x: Tensor): Tensor => tensor([...values], { shape: [1, c, 1, 1], dtype: x.dtype });
}

/**
 * The reference SLL architecture (Araujo et al., ICLR 2023, `LipschitzNetwork` wrapped in
 * `NormalizedModel`): mean shift, zero channel padding to w, n_conv × sllConv, sumPool 4/4,
 * flatten, n_dense × sllDense, linearNormalized, built as a `serial` of those layers (optionally
 * after a space-to-depth of the input, with the sum-pool shrunk to match: our fmnist preset). Parameters
 * are its tuple, indexed like the reference's `nn.Sequential`, so tree path "3.kernel" is
 * state-dict key "module.model.model.3.kernel"; their shapes come from the layers' own `shapes`.
 * Every stage is 1-Lipschitz, hence the whole network is.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { sub, tensor } from "../tensor/ops.ts";
import type { PRNGKey } from "../tensor/random.ts";
import { flattenTree } from "../tensor/tree.ts";
import {
  flatten,
  linearNormalized,
  type LinearParams,
  type NoParams,
  paddingChannels,
  spaceToDepthLayer,
  sumPool,
} from "./basic.ts";
import type { Initialized, Layer, LayerShapes, Serial } from "./layer.ts";
import { type PreparedForward, serial } from "./layer.ts";
import {
  type FromStateDictOptions,
  paramsFromStateDict,
  stateDictShapesOf,
  type StateDictValue,
} from "./state_dict.ts";
import {
  type QMode,
  sllConv,
  sllConvOfPadded,
  type SllConvParams,
  sllDense,
  type SllDenseParams,
} from "./sll.ts";

/** Architecture sizes shared by the presets (the reference's four CLI numbers + conv inner). */
export interface ArchitectureSizes {
  /** Number of SLL conv layers (`--n_conv`). */
  nConv: number;
  /** Number of SLL dense layers (`--n_dense`). */
  nDense: number;
  /** Channels w after zero padding (`--w`). */
  width: number;
  /** Inner channels of each SLL conv (`--conv_inner_dim`; −1 = width). */
  convInnerDim: number;
  /** Inner dimension of each SLL dense layer (`--dense_inner_dim`; −1 = F). */
  denseInnerDim: number;
  /**
   * Invertible downsampling of the (mean-shifted) input before the channel padding: space-to-depth
   * by this factor, 1, 2 or 4 (default 1: none, the reference's network). The sum-pool shrinks to
   * 4/factor, so F = width·(H/4)·(W/4) either way; with 2, the convolutions run at half the
   * resolution on 4× the input channels (`nn.PixelUnshuffle(2)` as module 0 in PyTorch).
   */
  spaceToDepth?: number;
}

/**
 * The space-to-depth factors {@linkcode ArchitectureSizes.spaceToDepth} accepts (those dividing the
 * sum-pool's 4): the one list the network, the config schema, checkpoints and the page check.
 *
 * @example
 * ```ts
 * import { SPACE_TO_DEPTH_FACTORS } from "@sll/sll";
 * SPACE_TO_DEPTH_FACTORS.includes(2); // true
 * ```
 */
export const SPACE_TO_DEPTH_FACTORS: readonly number[] = Object.freeze([1, 2, 4]);

/** Configuration of {@linkcode lipschitzNetwork}. */
export interface NetworkConfig extends ArchitectureSizes {
  /** Per-example input [C, H, W]; H and W divisible by 4. */
  inputShape: [number, number, number];
  /** Number of classes (rows of the last layer). */
  numClasses: number;
  /** Per-channel mean subtracted first (std is 1, as the reference for SLL). */
  mean: number[];
  /** How q enters the conv rescaling (default "paper"); "reference" to reproduce PyTorch. */
  qMode?: QMode;
}

/**
 * The reference presets `--model-name small|medium|large|xlarge` (main.py overrides n_conv,
 * n_dense, w, dense_inner_dim; conv_inner_dim stays at its default 5), plus CPU-sized ones:
 * `tiny` (a minute per Fashion-MNIST epoch on 2 cores), `fmnist` (the default `deno task train`
 * network: convolutions are the expensive part on a CPU, so the 28×28 input is first unshuffled
 * to 4×14×14 (space-to-depth 2) and two SLL convolutions of width 16 run at 14×14 — the
 * multiply-adds of width 8 at 28×28, twice the channels, and 784 features instead of 392 for the
 * four SLL dense layers of inner 256; see `DEFAULT_CONFIG`) and `xs` (the 16-wide network that reached 84.4% / 80.8% certified@36 on
 * Fashion-MNIST in PyTorch in 16 epochs).
 *
 * @example
 * ```ts
 * import { lipschitzNetwork, presets } from "@sll/sll";
 * const net = lipschitzNetwork({
 *   ...presets.small, inputShape: [3, 32, 32], numClasses: 10, mean: [0.4913, 0.4821, 0.4465],
 * });
 * ```
 */
export const presets: Readonly<Record<string, Readonly<ArchitectureSizes>>> = Object.freeze({
  small: { nConv: 20, nDense: 7, width: 45, convInnerDim: 5, denseInnerDim: 2048 },
  medium: { nConv: 30, nDense: 10, width: 60, convInnerDim: 5, denseInnerDim: 2048 },
  large: { nConv: 50, nDense: 10, width: 90, convInnerDim: 5, denseInnerDim: 2048 },
  xlarge: { nConv: 70, nDense: 15, width: 120, convInnerDim: 5, denseInnerDim: 2048 },
  tiny: { nConv: 2, nDense: 2, width: 8, convInnerDim: 8, denseInnerDim: 256 },
  fmnist: {
    nConv: 2,
    nDense: 4,
    width: 16,
    convInnerDim: 16,
    denseInnerDim: 256,
    spaceToDepth: 2,
  },
  xs: { nConv: 4, nDense: 2, width: 16, convInnerDim: 16, denseInnerDim: 256 },
});

/** Parameters of one module of {@linkcode lipschitzNetwork}. */
export type LipschitzModuleParams = NoParams | SllConvParams | SllDenseParams | LinearParams;

/**
 * Parameters of {@linkcode lipschitzNetwork}: one entry per module, in reference order
 * (padding, nConv SLL convs, pool, flatten, nDense SLL dense, the normalised last layer).
 */
export type LipschitzParams = LipschitzModuleParams[];

/** What {@linkcode lipschitzNetwork} returns: a typed {@linkcode Serial} plus state-dict mapping. */
export interface LipschitzNetwork extends Serial<LipschitzParams> {
  /** The validated configuration. */
  readonly config: Readonly<NetworkConfig>;
  /** Per-example input shape of each module (entry i is the input of `layers[i]`). */
  readonly inShapes: readonly (readonly number[])[];
  /** Parameter shapes by reference key (what a checkpoint must hold), from the layers. */
  readonly stateDictShapes: Readonly<Record<string, readonly number[]>>;
  /** `init(key)` draws parameters for `config.inputShape` (`inShape` must match when given). */
  init(key: PRNGKey, inShape?: readonly number[]): Initialized<LipschitzParams>;
  /** Shapes for `config.inputShape` (`inShape` must match when given); nothing is drawn. */
  shapes(inShape?: readonly number[]): LayerShapes<LipschitzParams>;
  /**
   * Parameters from a reference state dict; keys containing "alpha" are skipped (as the
   * reference's evaluator does). Throws a TypeError listing missing keys, unexpected keys and
   * shape mismatches.
   */
  fromStateDict(
    stateDict: Readonly<Record<string, StateDictValue>>,
    options?: FromStateDictOptions,
  ): LipschitzParams;
  /** The parameters by reference key (the same tensors, not copies). */
  toStateDict(params: LipschitzParams, prefix?: string): Record<string, Tensor>;
}

function checkSizes(cfg: NetworkConfig): void {
  const bad: string[] = [];
  const posInt = (k: keyof NetworkConfig, min = 1): void => {
    const v = cfg[k] as unknown;
    if (!(typeof v === "number" && Number.isInteger(v) && v >= min)) {
      bad.push(`${k} must be an integer ≥ ${min}, got ${String(v)}`);
    }
  };
  posInt("nConv", 0);
  posInt("nDense", 0);
  posInt("width");
  posInt("numClasses");
  const sd = cfg.spaceToDepth ?? 1;
  if (!SPACE_TO_DEPTH_FACTORS.includes(sd)) {
    const last = SPACE_TO_DEPTH_FACTORS.length - 1;
    const words = `${SPACE_TO_DEPTH_FACTORS.slice(0, last).join(", ")} or ${
      SPACE_TO_DEPTH_FACTORS[last]
    }`;
    bad.push(`spaceToDepth must be ${words}, got ${String(sd)}`);
  }
  for (const k of ["convInnerDim", "denseInnerDim"] as const) {
    const v = cfg[k];
    if (!(Number.isInteger(v) && (v >= 1 || v === -1))) {
      bad.push(`${k} must be a positive integer or −1, got ${String(v)}`);
    }
  }
  const s = cfg.inputShape;
  if (!Array.isArray(s) || s.length !== 3 || !s.every((d) => Number.isInteger(d) && d > 0)) {
    bad.push(`inputShape must be [C, H, W], got ${JSON.stringify(s)}`);
  } else {
    if (s[1] % 4 !== 0 || s[2] % 4 !== 0) {
      bad.push(`inputShape H and W must be divisible by 4, got ${s[1]}×${s[2]}`);
    }
    if (s[0] * sd * sd > cfg.width) {
      bad.push(
        `width (${cfg.width}) must be ≥ the ${
          s[0] * sd * sd
        } channels after space-to-depth ${sd} ` +
          `(a larger width, or spaceToDepth 1)`,
      );
    }
    if (!Array.isArray(cfg.mean) || cfg.mean.length !== s[0]) {
      bad.push(
        `mean must have one entry per input channel (${s[0]}), got ${JSON.stringify(cfg.mean)}`,
      );
    }
  }
  if (cfg.qMode !== undefined && cfg.qMode !== "paper" && cfg.qMode !== "reference") {
    bad.push(`qMode must be "paper" or "reference", got ${JSON.stringify(cfg.qMode)}`);
  }
  if (bad.length) throw new RangeError(`lipschitzNetwork: invalid config: ${bad.join("; ")}`);
}

/** The reference's key prefix of the `nn.Sequential` inside `NormalizedModel`. */
const REFERENCE_PREFIX = "module.model.model.";

/**
 * The reference SLL network for inputs `config.inputShape`: mean shift, then the `serial` of
 * paddingChannels(width), nConv × sllConv(convInnerDim), sumPool(4, 4), flatten,
 * nDense × sllDense(denseInnerDim), linearNormalized(numClasses), F = width·(H/4)·(W/4). With
 * `spaceToDepth` s > 1 the serial starts with spaceToDepthLayer(s) (module 0, so every key
 * shifts by one) and pools sumPool(4/s, 4/s). 1-Lipschitz from input to logits; logit differences are ≤ √2-Lipschitz (see certify/), and
 * `lastWeight(params)` is the last layer's weight for the certificate.
 *
 * @example
 * ```ts
 * import { lipschitzNetwork, randomKey, zeros } from "@sll/sll";
 * const net = lipschitzNetwork({
 *   inputShape: [1, 28, 28], numClasses: 10, nConv: 2, nDense: 2, width: 8,
 *   convInnerDim: 5, denseInnerDim: 32, mean: [0.1307], qMode: "reference",
 * });
 * const { params } = net.init(randomKey(0));
 * const logits = net.apply(params, zeros([4, 1, 28, 28])); // [4, 10]
 * const sd = net.toStateDict(params); // "module.model.model.1.kernel", …
 * const w = net.lastWeight(params); // [10, 392]
 * ```
 */
export function lipschitzNetwork(config: NetworkConfig): LipschitzNetwork {
  checkSizes(config);
  const cfg: NetworkConfig = { ...config, qMode: config.qMode ?? "paper" };
  const [c, h, w] = cfg.inputShape;
  const width = cfg.width;
  const f = width * (h / 4) * (w / 4);
  const convInner = cfg.convInnerDim === -1 ? width : cfg.convInnerDim;
  const denseInner = cfg.denseInnerDim === -1 ? f : cfg.denseInnerDim;
  const down = cfg.spaceToDepth ?? 1;
  const pad = down === 1 ? 0 : 1; // index of the channel padding
  const modules: Layer<LipschitzModuleParams>[] = [
    ...(down === 1 ? [] : [spaceToDepthLayer({ factor: down })]),
    paddingChannels({ features: width }),
    ...Array.from({ length: cfg.nConv }, () => sllConv({ inner: convInner, qMode: cfg.qMode })),
    sumPool({ size: 4 / down, divisor: 4 / down }),
    flatten(),
    ...Array.from({ length: cfg.nDense }, () => sllDense({ inner: denseInner })),
    linearNormalized({ features: cfg.numClasses }),
  ];
  const body = serial(...modules) as unknown as Serial<LipschitzParams>;
  const inputShape: readonly number[] = cfg.inputShape;
  const inShapes: number[][] = [];
  modules.reduce((shape, m) => {
    inShapes.push(shape);
    return m.shapes!(shape).outShape;
  }, [...inputShape]);
  const sdShapes = stateDictShapesOf(body.shapes(inputShape).params, REFERENCE_PREFIX);
  const describe =
    `nConv ${cfg.nConv}, nDense ${cfg.nDense}, width ${width}, convInnerDim ${convInner}, denseInnerDim ${denseInner}${
      down === 1 ? "" : `, spaceToDepth ${down}`
    }, numClasses ${cfg.numClasses}, input [${cfg.inputShape}]`;
  /** The input checked and mean-shifted (what the body sees). */
  const centred = (x: Tensor): Tensor => {
    if (x.rank !== 4 || x.shape.slice(1).join() !== inputShape.join()) {
      throw new TypeError(
        `lipschitzNetwork: input must be [B, ${inputShape.join(", ")}], got [${x.shape}]`,
      );
    }
    return sub(x, tensor(cfg.mean, { shape: [1, c, 1, 1], dtype: x.dtype }));
  };
  const checkInShape = (what: string, inShape?: readonly number[]): void => {
    if (inShape !== undefined && inShape.join() !== inputShape.join()) {
      throw new TypeError(
        `lipschitzNetwork.${what}: inShape [${inShape}] differs from config.inputShape [${inputShape}]`,
      );
    }
  };

  return {
    config: Object.freeze({ ...cfg }),
    layers: body.layers,
    inShapes,
    stateDictShapes: sdShapes,
    init(key: PRNGKey, inShape?: readonly number[]): Initialized<LipschitzParams> {
      checkInShape("init", inShape);
      return body.init(key, inputShape);
    },
    shapes(inShape?: readonly number[]): LayerShapes<LipschitzParams> {
      checkInShape("shapes", inShape);
      return body.shapes(inputShape);
    },
    apply(params: LipschitzParams, x: Tensor): Tensor {
      if (cfg.nConv === 0 || !Array.isArray(params) || params.length !== modules.length) {
        return body.apply(params, centred(x));
      }
      // the channel padding and the first SLL conv as one: its convolution of the padded input
      // and that convolution's filter gradient read only the c real channels (same y within
      // float32 rounding; 7/8 of two of the default network's eleven convolutions per step)
      let h = centred(x);
      for (let i = 0; i < pad; i++) h = modules[i].apply(params[i], h);
      h = sllConvOfPadded(params[pad + 1] as SllConvParams, h, cfg.qMode);
      for (let i = pad + 2; i < modules.length; i++) h = modules[i].apply(params[i], h);
      return h;
    },
    prepare(params: LipschitzParams): PreparedForward {
      // every SLL layer's t once, for all the batches of an evaluation
      const prepared = body.prepare(params);
      return {
        apply: (x: Tensor): Tensor => prepared.apply(centred(x)),
        dispose: prepared.dispose,
      };
    },
    lastWeight: (params: LipschitzParams): Tensor | null => body.lastWeight(params),
    fromStateDict(
      stateDict: Readonly<Record<string, StateDictValue>>,
      options: FromStateDictOptions = {},
    ): LipschitzParams {
      return paramsFromStateDict<LipschitzParams>(body.shapes(inputShape).params, stateDict, {
        prefix: REFERENCE_PREFIX,
        ignore: (k) => k.includes("alpha"),
        ...options,
        what:
          `lipschitzNetwork.fromStateDict: the state dict does not match the architecture (${describe})`,
      });
    },
    toStateDict(params: LipschitzParams, prefix = REFERENCE_PREFIX): Record<string, Tensor> {
      if (!Array.isArray(params) || params.length !== modules.length) {
        throw new TypeError(
          `lipschitzNetwork.toStateDict: expected ${modules.length} parameter entries (one per module), got ${
            Array.isArray(params) ? params.length : typeof params
          }`,
        );
      }
      const out: Record<string, Tensor> = {};
      for (const [path, t] of Object.entries(flattenTree(params))) out[prefix + path] = t;
      return out;
    },
  };
}

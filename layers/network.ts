/**
 * The reference SLL architecture (Araujo et al., ICLR 2023, `LipschitzNetwork` wrapped in
 * `NormalizedModel`): mean shift, zero channel padding to w, n_conv × sllConv, sumPool 4/4,
 * flatten, n_dense × sllDense, linearNormalized. Parameters are an array indexed like the
 * reference's `nn.Sequential`, so tree path "3.kernel" is state-dict key
 * "module.model.model.3.kernel". Every stage is 1-Lipschitz, hence the whole network is.
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import type { DType } from "../kernels/dtype.ts";
import { cast, sub, tensor } from "../tensor/ops.ts";
import { type PRNGKey, split } from "../tensor/random.ts";
import { flattenTree } from "../tensor/tree.ts";
import { flatten, linearNormalized, paddingChannels, sumPool } from "./basic.ts";
import type { Initialized, Layer, Params } from "./layer.ts";
import { type QMode, sllConv, sllDense } from "./sll.ts";

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
}

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
 * network: convolutions are the expensive part on a CPU, so two narrow ones feed four wide SLL
 * dense layers) and `xs` (the 16-wide network that reached 84.4% / 80.8% certified@36 on
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
  fmnist: { nConv: 2, nDense: 4, width: 8, convInnerDim: 8, denseInnerDim: 512 },
  xs: { nConv: 4, nDense: 2, width: 16, convInnerDim: 16, denseInnerDim: 256 },
});

/** A state-dict value: a Tensor, or a host tensor record as `io/` reads it (float32/float64). */
export type StateDictValue = Tensor | {
  dtype: string;
  shape: readonly number[];
  data: ArrayLike<number> | BigInt64Array;
};

/** Options of `fromStateDict`. */
export interface FromStateDictOptions {
  /** dtype of the created parameters (default float32; float64 for gradient checks). */
  dtype?: DType;
  /** Key prefix before the layer index (default "module.model.model."). */
  prefix?: string;
}

/** What {@linkcode lipschitzNetwork} returns: a {@linkcode Layer} plus state-dict mapping. */
export interface LipschitzNetwork extends Layer<Params[]> {
  /** The validated configuration. */
  readonly config: Readonly<NetworkConfig>;
  /** The modules in reference order (index i ↔ "module.model.model.{i}"). */
  // deno-lint-ignore no-explicit-any
  readonly layers: readonly Layer<any>[];
  /** Per-example input shape of each module. */
  readonly shapes: readonly (readonly number[])[];
  /** Parameter shapes by reference key (what a checkpoint must hold). */
  readonly stateDictShapes: Readonly<Record<string, readonly number[]>>;
  /** `init(key)` draws parameters for `config.inputShape` (`inShape` must match when given). */
  init(key: PRNGKey, inShape?: readonly number[]): Initialized<Params[]>;
  /**
   * Parameters from a reference state dict; keys containing "alpha" are skipped (as the
   * reference's evaluator does). Throws a TypeError listing missing keys, unexpected keys and
   * shape mismatches.
   */
  fromStateDict(
    stateDict: Readonly<Record<string, StateDictValue>>,
    options?: FromStateDictOptions,
  ): Params[];
  /** The parameters by reference key (the same tensors, not copies). */
  toStateDict(params: Params[], prefix?: string): Record<string, Tensor>;
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
    if (s[0] > cfg.width) bad.push(`width (${cfg.width}) must be ≥ input channels (${s[0]})`);
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

function toTensor(key: string, v: StateDictValue, dtype: DType): Tensor {
  if (v instanceof Tensor) return v.dtype === dtype ? v : cast(v, dtype);
  if (v.dtype !== "float32" && v.dtype !== "float64") {
    throw new TypeError(
      `fromStateDict: ${key} has dtype ${v.dtype}; convert it to float32 first (io's toFloat32)`,
    );
  }
  return tensor(v.data as ArrayLike<number>, { shape: v.shape, dtype });
}

/**
 * The reference SLL network for inputs `config.inputShape`: mean shift, paddingChannels(width),
 * nConv × sllConv(width, convInnerDim), sumPool(4, 4), flatten, nDense × sllDense(F,
 * denseInnerDim), linearNormalized(numClasses), F = width·(H/4)·(W/4). 1-Lipschitz from input
 * to logits; logit differences are ≤ √2-Lipschitz (see certify/).
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
  // deno-lint-ignore no-explicit-any
  const layers: Layer<any>[] = [paddingChannels({ cout: width })];
  const shapes: number[][] = [[c, h, w]];
  const sd: Record<string, number[]> = {};
  for (let i = 0; i < cfg.nConv; i++) {
    const idx = layers.length;
    layers.push(sllConv({ cin: width, inner: convInner, qMode: cfg.qMode }));
    shapes.push([width, h, w]);
    sd[`${idx}.kernel`] = [convInner, width, 3, 3];
    sd[`${idx}.bias`] = [1, convInner, 1, 1];
    sd[`${idx}.q`] = [convInner];
  }
  layers.push(sumPool({ size: 4, divisor: 4 }));
  shapes.push([width, h, w]);
  layers.push(flatten());
  shapes.push([width, h / 4, w / 4]);
  for (let i = 0; i < cfg.nDense; i++) {
    const idx = layers.length;
    layers.push(sllDense({ features: f, inner: denseInner }));
    shapes.push([f]);
    sd[`${idx}.weight`] = [denseInner, f];
    sd[`${idx}.bias`] = [1, denseInner];
    sd[`${idx}.q`] = [denseInner];
  }
  const last = layers.length;
  layers.push(linearNormalized({ features: cfg.numClasses }));
  shapes.push([f]);
  sd[`${last}.weight`] = [cfg.numClasses, f];
  sd[`${last}.bias`] = [cfg.numClasses];

  const checkParams = (params: Params[]): void => {
    if (!Array.isArray(params) || params.length !== layers.length) {
      throw new TypeError(
        `lipschitzNetwork: expected ${layers.length} parameter entries (one per module), got ${
          Array.isArray(params) ? params.length : typeof params
        }`,
      );
    }
  };
  const describe =
    `nConv ${cfg.nConv}, nDense ${cfg.nDense}, width ${width}, convInnerDim ${convInner}, denseInnerDim ${denseInner}, numClasses ${cfg.numClasses}, input [${cfg.inputShape}]`;

  return {
    config: Object.freeze({ ...cfg }),
    layers,
    shapes,
    stateDictShapes: Object.freeze(
      Object.fromEntries(Object.entries(sd).map(([k, s]) => [`module.model.model.${k}`, s])),
    ),
    init(key: PRNGKey, inShape?: readonly number[]): Initialized<Params[]> {
      if (inShape !== undefined && inShape.join() !== cfg.inputShape.join()) {
        throw new TypeError(
          `lipschitzNetwork.init: inShape [${inShape}] differs from config.inputShape [${cfg.inputShape}]`,
        );
      }
      const keys = split(key, layers.length);
      const params = layers.map((l, i) => l.init(keys[i], shapes[i]).params as Params);
      return { outShape: [cfg.numClasses], params };
    },
    apply(params: Params[], x: Tensor): Tensor {
      checkParams(params);
      if (x.rank !== 4 || x.shape.slice(1).join() !== cfg.inputShape.join()) {
        throw new TypeError(
          `lipschitzNetwork: input must be [B, ${cfg.inputShape.join(", ")}], got [${x.shape}]`,
        );
      }
      const mean = tensor(cfg.mean, { shape: [1, c, 1, 1], dtype: x.dtype });
      let y = sub(x, mean);
      layers.forEach((l, i) => (y = l.apply(params[i], y)));
      return y;
    },
    fromStateDict(
      stateDict: Readonly<Record<string, StateDictValue>>,
      options: FromStateDictOptions = {},
    ): Params[] {
      const prefix = options.prefix ?? "module.model.model.";
      const dtype = options.dtype ?? "float32";
      const missing: string[] = [];
      const unexpected: string[] = [];
      const wrong: string[] = [];
      const given = Object.keys(stateDict).filter((k) => !k.includes("alpha"));
      for (const k of given) {
        const local = k.startsWith(prefix) ? k.slice(prefix.length) : null;
        if (local === null || !(local in sd)) {
          unexpected.push(`${k} [${stateDict[k].shape}]`);
        } else if (stateDict[k].shape.join() !== sd[local].join()) {
          wrong.push(`${k}: expected [${sd[local]}], got [${stateDict[k].shape}]`);
        }
      }
      for (const local of Object.keys(sd)) {
        if (!((prefix + local) in stateDict)) missing.push(`${prefix}${local} [${sd[local]}]`);
      }
      if (missing.length || unexpected.length || wrong.length) {
        const parts = [
          missing.length ? `missing keys: ${missing.join(", ")}` : "",
          unexpected.length ? `unexpected keys: ${unexpected.join(", ")}` : "",
          wrong.length ? `shape mismatches: ${wrong.join("; ")}` : "",
        ].filter((p) => p);
        throw new TypeError(
          `lipschitzNetwork.fromStateDict: the state dict does not match the architecture (${describe}):\n  ${
            parts.join("\n  ")
          }`,
        );
      }
      return layers.map((_, i) => {
        const names = Object.keys(sd).filter((k) => k.startsWith(`${i}.`));
        const p: Record<string, Tensor> = {};
        for (const k of names) {
          p[k.slice(`${i}.`.length)] = toTensor(prefix + k, stateDict[prefix + k], dtype);
        }
        return p;
      });
    },
    toStateDict(params: Params[], prefix = "module.model.model."): Record<string, Tensor> {
      checkParams(params);
      const out: Record<string, Tensor> = {};
      for (const [path, t] of Object.entries(flattenTree(params))) out[prefix + path] = t;
      return out;
    },
  };
}

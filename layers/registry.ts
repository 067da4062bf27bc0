/**
 * The layer registry: every 1-Lipschitz layer family by name (`sll`, `aol`, `cpl`, …), with how
 * to build its convolution and its dense layer and what it is (paper, orthogonal or not). The
 * configurable ConvNet (`--layer`), `deno task compare` and `deno task bench --only layers` take
 * their layers from here and nowhere else. A new layer is one entry in `LAYER_REGISTRY` (added
 * lines only) and one PyTorch function in bench/layers_torch.py.
 * @module
 */
import { pad, reshape, slice, tensor, transpose } from "../tensor/ops.ts";
import type { PRNGKey } from "../tensor/random.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { type NoParams, paddingChannels } from "./basic.ts";
import {
  type AnyLayer,
  defineLayer,
  expectShape,
  type Initialized,
  type Layer,
  type LayerSetup,
  serial,
} from "./layer.ts";
import { aolConv, aolDense } from "./aol.ts";
import { cplConv, cplDense } from "./cpl.ts";
import { sllConv, sllDense } from "./sll.ts";
import { socConv, socDense } from "./soc.ts";
import { bcopConv } from "./bcop.ts";
import { aocConv } from "./aoc.ts";
import { liresnetBlock, liresnetDense } from "./liresnet.ts";
import { orthogonalDense } from "./orthogonal.ts";
import { cayleyConv, cayleyDense } from "./cayley.ts";
import { lotConv, lotDense } from "./lot.ts";
import { broConv, broDense } from "./bro.ts";
import { sandwichConv, sandwichDense } from "./sandwich.ts";

/** What a registry entry says about one layer family and how to build it. */
export interface LayerEntry {
  /** The name used by `--layer` and `--layers` (lower case, no spaces). */
  readonly name: string;
  /** Full name of the layer. */
  readonly title: string;
  /** The paper that introduced it: authors, venue, year. */
  readonly paper: string;
  /** True when the layer is orthogonal (norm-preserving: ‖f(x) − f(y)‖ = ‖x − y‖). */
  readonly orthogonal: boolean;
  /**
   * A square convolution: [B, channels, H, W] → [B, channels, H, W], odd `kernel`, stride 1,
   * "same" padding, 1-Lipschitz for every parameter value.
   */
  conv(cfg: { channels: number; kernel: number }): AnyLayer;
  /** A square dense layer [B, features] → [B, features], 1-Lipschitz for every parameter value. */
  dense(cfg: { features: number }): AnyLayer;
}

/**
 * Every registered layer, in the order `compare` runs them. To register a layer, append one
 * entry (and its import above); keep the others as they are.
 */
export const LAYER_REGISTRY: readonly LayerEntry[] = [
  {
    name: "sll",
    title: "SDP-based Lipschitz Layer",
    paper: "Araujo, Havens, Delattre, Allauzen, Hu — ICLR 2023",
    orthogonal: false,
    conv: ({ channels, kernel }) => sllConv({ inner: channels, kernel }),
    dense: ({ features }) => sllDense({ inner: features }),
  },
  {
    name: "aol",
    title: "Almost-Orthogonal Layer",
    paper: "Prach & Lampert — ECCV 2022",
    orthogonal: false,
    // Dirac init as the authors' AOLConv2d: the rescaled layer starts as the identity (Xavier
    // makes each rescaled layer strongly contractive: ~1e-6 logits after a ConvNet's 10 layers)
    conv: ({ channels, kernel }) => diracInit(aolConv({ features: channels, kernel })),
    dense: ({ features }) => diracInit(aolDense({ features })),
  },
  {
    name: "cpl",
    title: "Convex Potential Layer",
    paper: "Meunier, Delattre, Araujo, Allauzen — ICML 2022",
    orthogonal: false,
    conv: ({ channels, kernel }) => cplConv({ inner: channels, kernel }),
    dense: ({ features }) => cplDense({ inner: features }),
  },
  {
    name: "soc",
    title: "Skew Orthogonal Convolution",
    paper: "Singla & Feizi — ICML 2021",
    orthogonal: true,
    conv: ({ channels, kernel }) => socConv({ features: channels, kernel }),
    dense: ({ features }) => socDense({ features }),
  },
  {
    name: "bcop",
    title: "Block Convolution Orthogonal Parameterization",
    paper: "Li, Haque, Anil, Lucas, Grosse, Jacobsen — NeurIPS 2019",
    orthogonal: true,
    // circular padding: exactly orthogonal (zero padding is 1-Lipschitz, not at the borders)
    conv: ({ channels, kernel }) => bcopConv({ features: channels, kernel, padding: "circular" }),
    dense: ({ features }) => orthogonalDense({ features }),
  },
  {
    name: "aoc",
    title: "Adaptive Orthogonal Convolution",
    paper: "Boissin, Mamalet, Fel, Picard, Massena, Serrurier — 2025",
    orthogonal: true,
    conv: ({ channels, kernel }) => aocConv({ features: channels, kernel }),
    dense: ({ features }) => orthogonalDense({ features }),
  },
  {
    name: "liresnet",
    title: "Linear residual block (LiResNet)",
    paper: "Hu, Zou, Wang, Leino, Fredrikson — NeurIPS 2023",
    orthogonal: false,
    conv: ({ kernel }) => liresnetBlock({ kernel }),
    dense: () => liresnetDense(),
  },
  // FFT layers: circular convolution (the DFT diagonalises it exactly, so the orthogonal ones are
  // orthogonal maps; LOT and BRO's reference codes zero-pad and crop instead, `padding: "zero"`)
  {
    name: "cayley",
    title: "Cayley orthogonal convolution (per frequency)",
    paper: "Trockman & Kolter — ICLR 2021",
    orthogonal: true,
    conv: ({ channels, kernel }) => cayleyConv({ features: channels, kernel }),
    dense: ({ features }) => cayleyDense({ features }),
  },
  {
    name: "lot",
    title: "Layer-wise Orthogonal Training (Newton–Schulz per frequency)",
    paper: "Xu, Li, Li — NeurIPS 2022",
    orthogonal: true,
    conv: ({ channels, kernel }) => lotConv({ features: channels, kernel, padding: "circular" }),
    dense: ({ features }) => lotDense({ features }),
  },
  {
    name: "bro",
    title: "Block Reflector Orthogonal layer",
    paper: "Lai et al. — ICML 2025",
    orthogonal: true,
    conv: ({ channels, kernel }) => broConv({ features: channels, kernel, padding: "circular" }),
    dense: ({ features }) => broDense({ features }),
  },
  {
    name: "sandwich",
    title: "Sandwich layer (direct parameterisation)",
    paper: "Wang & Manchester — ICML 2023",
    orthogonal: false,
    conv: ({ channels, kernel }) => sandwichConv({ features: channels, kernel }),
    dense: ({ features }) => sandwichDense({ features }),
  },
];

/**
 * `layer` with its `weight` drawn as the identity map (`nn.init.dirac_`): W[i, i, centre] = 1 for
 * i < min(out, in), every other tap 0; the other parameters as `layer.init` draws them.
 *
 * @example
 * ```ts
 * import { aolConv, diracInit, randomKey } from "@sll/sll";
 * const { params } = diracInit(aolConv({ features: 4 })).init(randomKey(0), [4, 6, 6]);
 * ```
 */
export function diracInit<P extends { weight: Tensor }>(layer: Layer<P>): Layer<P> {
  return {
    ...layer,
    init(key: PRNGKey, inShape: readonly number[]): Initialized<P> {
      const r = layer.init(key, inShape);
      const w = r.params.weight;
      const [o, c] = w.shape, taps = w.shape.slice(2);
      const centre = taps.reduce((acc, k) => acc * k + Math.floor(k / 2), 0);
      const size = taps.reduce((a, b) => a * b, 1);
      const data = new Float32Array(o * c * size);
      for (let i = 0; i < Math.min(o, c); i++) data[(i * c + i) * size + centre] = 1;
      const weight = tensor(data, { shape: w.shape, dtype: w.dtype });
      w.dispose();
      return { outShape: r.outShape, params: { ...r.params, weight } };
    },
  };
}

/**
 * The names of the registered layers, in registry order.
 *
 * @example
 * ```ts
 * import { layerNames } from "@sll/sll";
 * layerNames(); // ["sll", "aol", "cpl", …]
 * ```
 */
export function layerNames(): string[] {
  return LAYER_REGISTRY.map((e) => e.name);
}

/**
 * The registry entry named `name`; a RangeError listing the registered names otherwise.
 *
 * @example
 * ```ts
 * import { getLayerEntry } from "@sll/sll";
 * getLayerEntry("aol").paper; // "Prach & Lampert — ECCV 2022"
 * ```
 */
export function getLayerEntry(name: string): LayerEntry {
  const e = LAYER_REGISTRY.find((x) => x.name === name);
  if (!e) {
    throw new RangeError(
      `unknown layer "${name}": the registered layers are ${layerNames().join(", ")}`,
    );
  }
  return e;
}

/**
 * Keeps the first `features` channels (axis 1) of [B, C, …] (the ConvNet's `FirstChannels`):
 * a projection, Lipschitz constant 1.
 *
 * @example
 * ```ts
 * import { firstChannels, zeros } from "@sll/sll";
 * const y = firstChannels({ features: 2 }).apply({}, zeros([1, 4, 3, 3])); // [1, 2, 3, 3]
 * ```
 */
export function firstChannels(config: { features: number }): Layer<NoParams> {
  const k = config.features;
  return defineLayer<NoParams>({
    setup(inShape: readonly number[]): LayerSetup<NoParams> {
      if (!(inShape.length >= 1 && Number.isInteger(k) && k >= 1 && k <= inShape[0])) {
        throw new RangeError(
          `firstChannels: features must be an integer in [1, ${inShape[0]}], got ${k}`,
        );
      }
      return { outShape: [k, ...inShape.slice(1)], params: {} };
    },
    apply(_p: NoParams, x: Tensor): Tensor {
      const size = [...x.shape];
      size[1] = k;
      return slice(x, x.shape.map(() => 0), size);
    },
  });
}

/**
 * Invertible downsampling (`nn.PixelUnshuffle(factor)`): [B, C, H, W] → [B, C·f², H/f, W/f],
 * channel c·f² + i·f + j holding pixel (f·h + i, f·w + j) of channel c. A permutation of the
 * entries: an isometry.
 *
 * @example
 * ```ts
 * import { pixelUnshuffle, zeros } from "@sll/sll";
 * const y = pixelUnshuffle({ factor: 2 }).apply({}, zeros([1, 3, 4, 4])); // [1, 12, 2, 2]
 * ```
 */
export function pixelUnshuffle(config: { factor?: number } = {}): Layer<NoParams> {
  const f = config.factor ?? 2;
  if (!(Number.isInteger(f) && f >= 1)) {
    throw new RangeError(`pixelUnshuffle: factor must be a positive integer, got ${f}`);
  }
  return defineLayer<NoParams>({
    setup(inShape: readonly number[]): LayerSetup<NoParams> {
      expectShape("pixelUnshuffle", inShape, [null, null, null]);
      const [c, h, w] = inShape;
      if (h % f !== 0 || w % f !== 0) {
        throw new RangeError(`pixelUnshuffle: spatial size ${h}×${w} is not divisible by ${f}`);
      }
      return { outShape: [c * f * f, h / f, w / f], params: {} };
    },
    apply(_p: NoParams, x: Tensor): Tensor {
      const [b, c, h, w] = x.shape;
      const six = reshape(x, [b, c, h / f, f, w / f, f]);
      return reshape(transpose(six, [0, 1, 3, 5, 2, 4]), [b, c * f * f, h / f, w / f]);
    },
  });
}

/**
 * Zero-pads H and W to `size`×`size`, the extra rows/columns split evenly (extra one at the
 * end): an isometry. Inputs already that size pass unchanged.
 *
 * @example
 * ```ts
 * import { spatialPad, zeros } from "@sll/sll";
 * const y = spatialPad({ size: 32 }).apply({}, zeros([1, 1, 28, 28])); // [1, 1, 32, 32]
 * ```
 */
export function spatialPad(config: { size: number }): Layer<NoParams> {
  const s = config.size;
  const widths = (h: number): [number, number] => {
    if (!(Number.isInteger(s) && s >= h)) {
      throw new RangeError(`spatialPad: size must be an integer ≥ ${h}, got ${s}`);
    }
    return [Math.floor((s - h) / 2), Math.ceil((s - h) / 2)];
  };
  return defineLayer<NoParams>({
    setup(inShape: readonly number[]): LayerSetup<NoParams> {
      expectShape("spatialPad", inShape, [null, null, null]);
      widths(inShape[1]);
      widths(inShape[2]);
      return { outShape: [inShape[0], s, s], params: {} };
    },
    apply(_p: NoParams, x: Tensor): Tensor {
      if (x.shape[2] === s && x.shape[3] === s) return x;
      return pad(x, [[0, 0], [0, 0], widths(x.shape[2]), widths(x.shape[3])]);
    },
  });
}

/** What {@linkcode convLayer} builds: input and output channels, stride, odd kernel. */
export interface ConvSpec {
  /** Input channels. */
  cin: number;
  /** Output channels. */
  cout: number;
  /** Stride (default 1): H and W are divided by it. */
  stride?: number;
  /** Odd kernel size (default 3). */
  kernel?: number;
}

/**
 * A 1-Lipschitz convolution of the registered layer `name` for any channels and stride, from its
 * square convolution: stride s first folds s×s pixels into channels ({@linkcode pixelUnshuffle},
 * an isometry, C → C·s²), then channels are zero-padded up to or cut down to `cout` around the
 * square convolution (at the larger of the two widths). Orthogonal layers stay orthogonal when
 * no channels are cut (cout ≥ cin·s²).
 *
 * @example
 * ```ts
 * import { convLayer, randomKey, zeros } from "@sll/sll";
 * const layer = convLayer("aol", { cin: 3, cout: 16, stride: 2 });
 * const { params, outShape } = layer.init(randomKey(0), [3, 8, 8]); // [16, 4, 4]
 * ```
 */
export function convLayer(name: string, spec: ConvSpec): AnyLayer {
  const e = getLayerEntry(name);
  const stride = spec.stride ?? 1, kernel = spec.kernel ?? 3;
  for (const [k, v] of [["cin", spec.cin], ["cout", spec.cout], ["stride", stride]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) {
      throw new RangeError(`convLayer("${name}"): ${k} must be a positive integer, got ${v}`);
    }
  }
  if (!(Number.isInteger(kernel) && kernel % 2 === 1)) {
    throw new RangeError(`convLayer("${name}"): kernel must be an odd integer, got ${kernel}`);
  }
  const parts: AnyLayer[] = [];
  let c = spec.cin;
  if (stride > 1) {
    parts.push(pixelUnshuffle({ factor: stride }));
    c *= stride * stride;
  }
  const width = Math.max(c, spec.cout);
  if (width > c) parts.push(paddingChannels({ features: width }));
  parts.push(e.conv({ channels: width, kernel }));
  if (spec.cout < width) parts.push(firstChannels({ features: spec.cout }));
  return parts.length === 1 ? parts[0] : serial(...parts);
}

/**
 * A 1-Lipschitz dense layer [B, inFeatures] → [B, features] of the registered layer `name`, from
 * its square dense layer (inputs zero-padded up to, or outputs cut down to, `features`).
 *
 * @example
 * ```ts
 * import { denseLayer, randomKey } from "@sll/sll";
 * const layer = denseLayer("sll", { inFeatures: 32, features: 10 });
 * const { outShape } = layer.init(randomKey(0), [32]); // [10]
 * ```
 */
export function denseLayer(name: string, spec: { inFeatures: number; features: number }): AnyLayer {
  const e = getLayerEntry(name);
  const width = Math.max(spec.inFeatures, spec.features);
  const parts: AnyLayer[] = [];
  if (width > spec.inFeatures) parts.push(padFeatures(width));
  parts.push(e.dense({ features: width }));
  if (spec.features < width) parts.push(firstChannels({ features: spec.features }));
  return parts.length === 1 ? parts[0] : serial(...parts);
}

function padFeatures(features: number): Layer<NoParams> {
  return defineLayer<NoParams>({
    setup(inShape: readonly number[]): LayerSetup<NoParams> {
      expectShape("padFeatures", inShape, [null]);
      return { outShape: [features], params: {} };
    },
    apply: (_p: NoParams, x: Tensor): Tensor => pad(x, [[0, 0], [0, features - x.shape[1]]]),
  });
}

/**
 * A layer whose parameters hold state advanced outside the gradient (CPL's power-iteration
 * vector): `refresh(params, iterations)` returns the parameters with the state updated.
 */
export interface RefreshableLayer<P = unknown> {
  /** The parameters with their non-trained state advanced `iterations` steps. */
  refresh(params: P, iterations?: number): P;
}

/**
 * `params` with every refreshable layer's state (see {@linkcode RefreshableLayer}) advanced
 * `iterations` steps, walking nested `serial`s; the other leaves are the same tensors.
 * Returns `params` itself when no layer has state.
 *
 * @example
 * ```ts
 * import { cplDense, randomKey, refreshLayers, serial } from "@sll/sll";
 * const net = serial(cplDense({}));
 * const { params } = net.init(randomKey(0), [4]);
 * const fresh = refreshLayers(net, params, 5);
 * ```
 */
export function refreshLayers<P>(layer: AnyLayer, params: P, iterations = 1): P {
  const l = layer as AnyLayer & Partial<RefreshableLayer> & { layers?: readonly AnyLayer[] };
  if (typeof l.refresh === "function") return l.refresh(params, iterations) as P;
  if (Array.isArray(l.layers) && Array.isArray(params)) {
    let changed = false;
    const out = (params as unknown[]).map((p, i) => {
      const r = refreshLayers(l.layers![i], p, iterations);
      if (r !== p) changed = true;
      return r;
    });
    return (changed ? out : params) as P;
  }
  return params;
}

/**
 * True when `layer` (or a layer nested in it) carries state for {@linkcode refreshLayers}.
 *
 * @example
 * ```ts
 * import { cplDense, hasRefresh, serial, sllDense } from "@sll/sll";
 * hasRefresh(serial(cplDense({}))); // true
 * hasRefresh(sllDense({ inner: 4 })); // false
 * ```
 */
export function hasRefresh(layer: AnyLayer): boolean {
  const l = layer as AnyLayer & Partial<RefreshableLayer> & { layers?: readonly AnyLayer[] };
  if (typeof l.refresh === "function") return true;
  return Array.isArray(l.layers) && l.layers.some(hasRefresh);
}

/**
 * 1-Lipschitz layers as pure `{ init, apply }` pairs: SLL (Araujo et al., 2023), AOL, CPL,
 * Björck-orthogonal dense, MaxMin/GroupSort, the reference network and its presets.
 * @module
 */
export {
  type AnyLayer,
  type ClaimOperator,
  defineLayer,
  expectShape,
  type Initialized,
  type Layer,
  type LayerDefinition,
  type LayerSetup,
  type LayerShapes,
  layerShapes,
  type LipschitzClaim,
  type Params,
  type ParamsOf,
  type ParamSpec,
  type PreparedForward,
  prepareLayer,
  type Serial,
  serial,
  type SerialParams,
  type ShapeTree,
} from "./layer.ts";
export { socTaylorBound } from "./soc_bound.ts";
export { fanInUniform, fans, xavierNormal, zerosInit } from "./init.ts";
export {
  type FromStateDictOptions,
  paramsFromStateDict,
  type ParamsFromStateDictOptions,
  stateDictShapesOf,
  type StateDictValue,
} from "./state_dict.ts";
export {
  type QMode,
  safeInverse,
  sllConv,
  type SllConvConfig,
  sllConvOfPadded,
  type SllConvParams,
  sllConvT,
  sllDense,
  type SllDenseConfig,
  type SllDenseParams,
  sllDenseT,
  sllFold,
} from "./sll.ts";
export {
  flatten,
  groupSort,
  linearNormalized,
  type LinearNormalizedConfig,
  type LinearParams,
  maxMin,
  type NoParams,
  normalizeRows,
  paddingChannels,
  type PaddingChannelsConfig,
  poolingLinear,
  type PoolingLinearConfig,
  spaceToDepth,
  spaceToDepthLayer,
  sumPool,
} from "./basic.ts";
export {
  aolConv,
  type AolConvConfig,
  aolConvKernel,
  aolDense,
  type AolDenseConfig,
  aolDenseWeight,
  type AolParams,
  safeRsqrt,
} from "./aol.ts";
export {
  cplConv,
  type CplConvConfig,
  cplDense,
  type CplDenseConfig,
  type CplLayer,
  type CplParams,
} from "./cpl.ts";
export { bjorck, orthogonalDense, type OrthogonalDenseConfig } from "./orthogonal.ts";
export {
  type ArchitectureSizes,
  type LipschitzModuleParams,
  type LipschitzNetwork,
  lipschitzNetwork,
  type LipschitzParams,
  type NetworkConfig,
  presets,
  SPACE_TO_DEPTH_FACTORS,
} from "./network.ts";
export {
  fantasticFourBound,
  kernelTranspose,
  socConv,
  type SocConvConfig,
  socDense,
  type SocDenseConfig,
  type SocParams,
  socSkewKernel,
} from "./soc.ts";
export {
  householder,
  type HouseholderConfig,
  type HouseholderParams,
  sinCos,
} from "./householder.ts";
export {
  batchCentering,
  type BatchCenteringConfig,
  type BatchCenteringLayer,
  type BatchCenteringParams,
  type CenteringConfig,
  layerCentering,
  type LayerCenteringParams,
} from "./centering.ts";
export {
  liresnetBlock,
  type LiresnetConfig,
  liresnetDense,
  type LiresnetLayer,
  type LiresnetOperator,
  type LiresnetParams,
} from "./liresnet.ts";
export { bcopConv, type BcopConvConfig, bcopKernel, type BcopParams, circularPad } from "./bcop.ts";
export { aocConv, type AocConvConfig, type AocParams } from "./aoc.ts";
export {
  applyFourier,
  cayley,
  ccayley,
  fourierGrid,
  fourierKernel,
  frobenius,
  rescale,
  type SpectralGeometry,
  spectralGeometry,
  type SpectralPadding,
  withAlphaFromWeight,
} from "./fourier.ts";
export {
  cayleyConv,
  type CayleyConvConfig,
  cayleyDense,
  type CayleyDenseConfig,
  cayleyDenseWeight,
  type CayleyParams,
} from "./cayley.ts";
export {
  blockReflector,
  broConv,
  type BroConvConfig,
  broDense,
  type BroDenseConfig,
  type BroInit,
  type BroParams,
  cblockReflector,
} from "./bro.ts";
export {
  lotConv,
  type LotConvConfig,
  lotDense,
  type LotDenseConfig,
  lotOrthogonalize,
  type LotParams,
} from "./lot.ts";
export {
  sandwichConv,
  type SandwichConvConfig,
  sandwichDense,
  type SandwichDenseConfig,
  type SandwichParams,
} from "./sandwich.ts";
export {
  convLayer,
  type ConvSpec,
  denseLayer,
  diracInit,
  firstChannels,
  getLayerEntry,
  hasRefresh,
  LAYER_REGISTRY,
  type LayerEntry,
  layerNames,
  pixelUnshuffle,
  type RefreshableLayer,
  refreshLayers,
  spatialPad,
} from "./registry.ts";
export {
  type ConvNet,
  convNet,
  CONVNET_SIZES,
  type ConvNetConfig,
  type ConvNetParams,
  type ConvNetSize,
  type ConvNetSizes,
  globalMaxPool,
} from "./convnet.ts";

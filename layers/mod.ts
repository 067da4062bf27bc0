/**
 * 1-Lipschitz layers as pure `{ init, apply }` pairs: SLL (Araujo et al., 2023), AOL, CPL,
 * Björck-orthogonal dense, MaxMin/GroupSort, the reference network and its presets.
 * @module
 */
export {
  type Initialized,
  type Layer,
  type Params,
  prepareAll,
  type PreparedForward,
  prepareLayer,
  serial,
} from "./layer.ts";
export { fanInUniform, xavierNormal } from "./init.ts";
export {
  type QMode,
  safeInverse,
  sllConv,
  type SllConvConfig,
  type SllConvParams,
  sllConvT,
  sllDense,
  type SllDenseConfig,
  type SllDenseParams,
  sllDenseT,
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
  poolingLinear,
  type PoolingLinearConfig,
  sumPool,
} from "./basic.ts";
export {
  aolConv,
  aolConvKernel,
  aolDense,
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
  type FromStateDictOptions,
  type LipschitzNetwork,
  lipschitzNetwork,
  type NetworkConfig,
  presets,
  type StateDictValue,
} from "./network.ts";

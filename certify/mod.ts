/**
 * Certification and attacks: certified accuracy from margins, the L2 PGD attack, Lipschitz
 * estimates (local Jacobian power iteration, gradient search, the per-layer report) and certified
 * spectral-norm bounds by Gram iteration.
 * @module
 */
export {
  type CertifiedAccuracy,
  certifiedAccuracy,
  classDistances,
  type MarginOptions,
  type Margins,
  margins,
} from "./margins.ts";
export { pgdL2, type PgdL2Options } from "./pgd.ts";
export {
  ascendRatio,
  type AscentOptions,
  type AscentResult,
  estimateLipschitz,
  type JacobianSpectral,
  jacobianSpectral,
  type LayeredModel,
  lipschitzReport,
  type LipschitzRow,
  type PairNorms,
  pairNorms,
  powerMethod,
  type PowerOptions,
  type ProbeOptions,
  type ReportOptions,
  searchRatio,
} from "./lipschitz.ts";
export { convSpectralBound, denseSpectralBound, type GramOptions } from "./gram.ts";
export { certifiedLipschitzFactor, liresnetLipschitz } from "./liresnet.ts";
export {
  type BoundOptions,
  type BoundTarget,
  certifiedLipschitzBound,
  type ClaimSummary,
  describeLipschitzBound,
  type LipschitzCertificate,
} from "./bound.ts";

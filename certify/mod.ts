/**
 * Certification and attacks: certified accuracy from margins, the L2 PGD attack, Lipschitz
 * estimates (local Jacobian power iteration, gradient search, the per-layer report), certified
 * spectral-norm bounds by Gram iteration, and the network's certified Lipschitz bound that every
 * certificate divides by (`certifiedLipschitzBound`). Float-rounding policy: a layer that is
 * 1-Lipschitz in real arithmetic for every parameter and iteration count counts as 1 (its float32
 * forward rounding is not counted); a layer that needs a converged iteration (CPL, LiResNet, SOC
 * outside its proven range) is bounded from the operators it applies, with the Gram bounds'
 * own float64 rounding included; an unconverged iteration is never counted as rounding.
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

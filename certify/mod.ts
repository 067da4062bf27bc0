/**
 * Certification and attacks: certified accuracy from margins, the L2 PGD attack, and Lipschitz
 * estimates (local Jacobian power iteration, the reference's per-layer report).
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
  estimateLipschitz,
  type LayeredModel,
  lipschitzReport,
  type LipschitzRow,
  powerMethod,
  type PowerOptions,
} from "./lipschitz.ts";

/**
 * The Lipschitz bound of SOC's truncated exponential (layers/soc.ts): T_n(L) = Σ_{i≤n} Lⁱ/i! of a
 * skew-symmetric L with ‖L‖₂ ≤ c is normal with singular values |T_n(iλ)|, λ ∈ [0, c]. It is ≤ 1
 * exactly when |T_n(iλ)|² − 1 ≤ 0 on [0, c], checked here with exact integer coefficients;
 * otherwise 1 + Σ_{k>n} c^k/k! bounds it (|e^{iλ}| = 1 plus the series' tail).
 * @module
 */

/**
 * A certified upper bound of max_{λ∈[0, c]} |Σ_{i≤n} (iλ)^i/i!|: exactly 1 when the truncated
 * series of a skew-symmetric map of norm ≤ c is provably non-expansive (e.g. n = 12 terms at
 * SOC's correction 0.7; every n ≡ 0 or 3 (mod 4) for small enough c), else 1 + the tail
 * Σ_{k>n} c^k/k! rounded up.
 *
 * @example
 * ```ts
 * import { socTaylorBound } from "@sll/sll";
 * socTaylorBound(12, 0.7); // 1
 * socTaylorBound(1, 0.7); // 1 + (e^0.7 − 1.7) ≈ 1.31
 * ```
 */
export function socTaylorBound(terms: number, c: number): number {
  if (!(Number.isInteger(terms) && terms >= 0 && c >= 0 && Number.isFinite(c))) {
    throw new RangeError(
      `socTaylorBound: terms must be an integer ≥ 0 and c a finite number ≥ 0, got ${terms}, ${c}`,
    );
  }
  if (c === 0 || nonExpansive(terms, c)) return 1;
  // tail Σ_{k>n} c^k/k!: the terms shrink by c/(k+1) < 1/2 once k + 1 > 2c, so the rest after
  // a term t is ≤ t (geometric with ratio ≤ 1/2)
  let t = 1;
  for (let k = 1; k <= terms; k++) t *= c / k;
  let tail = 0;
  for (let k = terms + 1; k < terms + 200; k++) {
    t *= c / k;
    tail += t;
    if (k + 1 > 2 * c && t < 1e-18 * tail) break;
  }
  return 1 + (tail + t) * (1 + 1e-12);
}

/**
 * |T_n(iλ)|² − 1 = Σ_{j≥1} a_j μ^j with μ = λ², a_j = Σ_{k+l=2j; k,l≤n} (−1)^((k−l)/2)/(k!l!);
 * (n!)²·a_j are integers. With m the lowest j where a_j ≠ 0, the polynomial is ≤ 0 on [0, c²]
 * when a_m < 0 and a_m + Σ_{j>m} max(a_j, 0)·c^(2(j−m)) ≤ 0 (the negative terms only help).
 */
function nonExpansive(n: number, c: number): boolean {
  const fact: bigint[] = [1n];
  for (let k = 1; k <= n; k++) fact.push(fact[k - 1] * BigInt(k));
  const coef: bigint[] = []; // (n!)²·a_j, j = 0 … n
  for (let j = 0; j <= n; j++) {
    let s = 0n;
    for (let k = Math.max(0, 2 * j - n); k <= Math.min(n, 2 * j); k++) {
      const l = 2 * j - k;
      const sign = ((k - l) / 2) % 2 === 0 ? 1n : -1n;
      s += sign * (fact[n] / fact[k]) * (fact[n] / fact[l]);
    }
    coef.push(s);
  }
  let m = 1;
  while (m <= n && coef[m] === 0n) m++;
  if (m > n) return true; // |T_n|² ≡ 1
  if (coef[m] > 0n) return false;
  let positive = 0;
  for (let j = m + 1; j <= n; j++) {
    if (coef[j] > 0n) positive += Number(coef[j]) * c ** (2 * (j - m));
  }
  // float conversions are accurate to ~1e-16 relative: demand a clear margin
  return positive * (1 + 1e-9) < -Number(coef[m]);
}

/**
 * Host references of the solve family: well-conditioned systems that need row swaps (a strong
 * entry on a permuted diagonal), and Gauss–Jordan with partial pivoting in float64.
 * @module
 */

/**
 * Adds ±(n + 2) on a permuted diagonal of each of the n × n matrices in `a` (in place; `r`
 * draws uniforms in [0, 1)), so each is well conditioned and partial pivoting must swap rows.
 */
export function boostPermutedDiagonal(a: number[], n: number, r: () => number): number[] {
  for (let z = 0; z < a.length / (n * n); z++) {
    const perm = Array.from({ length: n }, (_, i) => i).sort(() => r() - 0.5);
    for (let i = 0; i < n; i++) a[z * n * n + i * n + perm[i]] += (r() < 0.5 ? -1 : 1) * (n + 2);
  }
  return a.map(Math.fround);
}

/** x = op(a)⁻¹·b per system by Gauss–Jordan with partial pivoting in float64. */
export function solveRef(
  a: number[],
  b: number[],
  n: number,
  k: number,
  transA: boolean,
): number[] {
  const count = a.length / (n * n), out: number[] = [];
  for (let z = 0; z < count; z++) {
    const m = Array.from({ length: n }, (_, i) => [
      ...Array.from(
        { length: n },
        (_, j) => transA ? a[z * n * n + j * n + i] : a[z * n * n + i * n + j],
      ),
      ...b.slice(z * n * k + i * k, z * n * k + (i + 1) * k),
    ]);
    for (let c = 0; c < n; c++) {
      let p = c;
      for (let i = c + 1; i < n; i++) if (Math.abs(m[i][c]) > Math.abs(m[p][c])) p = i;
      [m[c], m[p]] = [m[p], m[c]];
      for (let i = 0; i < n; i++) {
        if (i === c) continue;
        const l = m[i][c] / m[c][c];
        for (let j = c; j < n + k; j++) m[i][j] -= l * m[c][j];
      }
    }
    for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) out.push(m[i][n + j] / m[i][i]);
  }
  return out;
}

/**
 * CPU kernel of solve: per matrix of the batch, LU factorisation with partial pivoting (row
 * swaps, as LAPACK's getrf) in float64, then forward and back substitution for the k right-hand
 * sides. A pivot that is exactly zero makes the matrix singular: a RangeError names its index.
 * @module
 */
import type { DType, TypedArray } from "../dtype.ts";
import { allocArray } from "./host_pool.ts";

/**
 * x = op(a)⁻¹·b for `batch` systems a [n, n], b [n, k] (contiguous), op = transpose when
 * `transA`. `batchShape` only names a singular matrix's position in the error.
 */
export function solve(
  a: TypedArray,
  b: TypedArray,
  batchShape: readonly number[],
  n: number,
  k: number,
  transA: boolean,
  dtype: DType,
): TypedArray {
  const batch = batchShape.reduce((s, d) => s * d, 1);
  const out = allocArray(dtype, batch * n * k);
  const lu = new Float64Array(n * n), x = new Float64Array(n * k);
  for (let z = 0; z < batch; z++) {
    const ao = z * n * n, bo = z * n * k;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) lu[i * n + j] = transA ? a[ao + j * n + i] : a[ao + i * n + j];
    }
    for (let i = 0; i < n * k; i++) x[i] = b[bo + i];
    for (let c = 0; c < n; c++) {
      let p = c, best = Math.abs(lu[c * n + c]);
      for (let i = c + 1; i < n; i++) {
        const v = Math.abs(lu[i * n + c]);
        if (v > best) (best = v, p = i);
      }
      if (!(best > 0)) {
        if (best === 0) throw singularError(z, batchShape, n, c);
        continue; // NaN in the matrix: let it propagate to x, as any other arithmetic would
      }
      if (p !== c) {
        for (let j = 0; j < n; j++) {
          const t = lu[c * n + j];
          lu[c * n + j] = lu[p * n + j];
          lu[p * n + j] = t;
        }
        for (let j = 0; j < k; j++) {
          const t = x[c * k + j];
          x[c * k + j] = x[p * k + j];
          x[p * k + j] = t;
        }
      }
      const piv = lu[c * n + c];
      for (let i = c + 1; i < n; i++) {
        const l = lu[i * n + c] / piv;
        if (l === 0) continue;
        for (let j = c + 1; j < n; j++) lu[i * n + j] -= l * lu[c * n + j];
        for (let j = 0; j < k; j++) x[i * k + j] -= l * x[c * k + j];
      }
    }
    // back substitution with the upper triangle (the multipliers were applied to x already)
    for (let i = n - 1; i >= 0; i--) {
      const d = lu[i * n + i];
      for (let j = 0; j < k; j++) {
        let s = x[i * k + j];
        for (let m = i + 1; m < n; m++) s -= lu[i * n + m] * x[m * k + j];
        x[i * k + j] = s / d;
      }
    }
    for (let i = 0; i < n * k; i++) out[bo + i] = x[i];
  }
  return out;
}

/** The RangeError for a singular matrix z of the batch `shape` (no nonzero pivot in `col`). */
export function singularError(
  z: number,
  shape: readonly number[],
  n: number,
  col: number,
): RangeError {
  const idx: number[] = [];
  let r = z;
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(r % shape[d]);
    r = Math.floor(r / shape[d]);
  }
  const where = shape.length ? `matrix [${idx}] of the batch [${shape}]` : "the matrix";
  return new RangeError(
    `solve: ${where} (${n}×${n}) is singular: no nonzero pivot in column ${col} after partial pivoting; regularise it (add ε·I) or check its inputs`,
  );
}

/**
 * Adam/AdamW's CPU fast path: one pass per parameter tensor computes the new first and second
 * moments and the new parameter together, with every intermediate rounded to float32 in the
 * order of the tensor-op formula in optimizers.ts (so both agree bit for bit), instead of the
 * several fused loops the tensor ops make, each re-reading the gradient and the moments. For
 * `small`'s 41M parameters that is 4 arrays read and 3 written once per step.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { fromStorage } from "../tensor/engine.ts";
import { recording } from "../tensor/trace.ts";
import { type CpuStorage, materialize } from "../kernels/cpu/fusion.ts";
import { allocUninit } from "../kernels/cpu/host_pool.ts";
import { adamLoopWasm } from "../kernels/cpu/adam_wasm.ts";

/** The per-step constants of one Adam update (PyTorch's bias-corrected form). */
export interface AdamStepConstants {
  /** β1. */
  b1: number;
  /** β2. */
  b2: number;
  /** ε, added to the denominator. */
  eps: number;
  /** lr / (1 − β1ᵗ). */
  stepSize: number;
  /** √(1 − β2ᵗ). */
  sqrtBc2: number;
  /** Adam's L2 weight decay added to the gradient (0: none). */
  l2: number;
  /** AdamW's decoupled factor 1 − lr·wd on the parameter (null: none). */
  decay: number | null;
}

/**
 * Whether the fast path can run on these tensors: all float32 on the CPU backend, and no
 * gradient is being taken through the update (the fast path records no tape).
 */
export function adamCpuApplies(tensors: readonly Tensor[]): boolean {
  if (path === "off" || recording()) return false;
  for (const t of tensors) if (t.dtype !== "float32" || t.backend !== "cpu") return false;
  return true;
}

/** Which CPU path Adam takes: the SIMD loop, the scalar JS loop, or none (the tensor ops). */
export type AdamCpuPath = "simd" | "js" | "off";

let path: AdamCpuPath = "simd";

/**
 * @internal Selects Adam's CPU path (default "simd"); returns the previous one. For tests and
 * A/B benchmarks of the three.
 */
export function setAdamCpuPath(p: AdamCpuPath): AdamCpuPath {
  const was = path;
  path = p;
  return was;
}

function hostArray(t: Tensor): Float32Array {
  return materialize(t.ref("adam").storage as CpuStorage) as Float32Array;
}

/**
 * One Adam step of one parameter tensor `p` with gradient `g` and moments `m`, `v` (all float32
 * on the CPU backend, same shape): returns new tensors [p', m', v'] in the current scope; the
 * inputs are left untouched.
 */
export function adamCpuStep(
  p: Tensor,
  g: Tensor,
  m: Tensor,
  v: Tensor,
  c: AdamStepConstants,
): [Tensor, Tensor, Tensor] {
  for (const [what, t] of [["gradient", g], ["exp_avg", m], ["exp_avg_sq", v]] as const) {
    if (t.size !== p.size) {
      throw new TypeError(
        `adam.update: ${what} has shape [${t.shape}] but its parameter has [${p.shape}]`,
      );
    }
  }
  const n = p.size;
  const pa = hostArray(p), ga = hostArray(g), ma = hostArray(m), va = hostArray(v);
  const po = allocUninit("float32", n) as Float32Array;
  const mo = allocUninit("float32", n) as Float32Array;
  const vo = allocUninit("float32", n) as Float32Array;
  const f = Math.fround;
  // the scalars as the tensor ops see them: float32 constants
  const b1 = f(c.b1), c1 = f(1 - c.b1), b2 = f(c.b2), c2 = f(1 - c.b2);
  const eps = f(c.eps), step = f(c.stepSize), bc2 = f(c.sqrtBc2);
  const l2 = f(c.l2), decay = c.decay === null ? null : f(c.decay);
  const k = { b1, c1, b2, c2, eps, stepSize: step, sqrtBc2: bc2, l2, decay };
  if (path === "simd" && adamLoopWasm(pa, ga, ma, va, po, mo, vo, k)) return wrap(p, po, mo, vo);
  for (let i = 0; i < n; i++) {
    const pi = pa[i];
    const gi = l2 !== 0 ? f(ga[i] + f(pi * l2)) : ga[i];
    const param = decay !== null ? f(pi * decay) : pi;
    const mi = f(f(ma[i] * b1) + f(gi * c1));
    const vi = f(f(va[i] * b2) + f(f(gi * gi) * c2));
    const denom = f(f(f(Math.sqrt(vi)) / bc2) + eps);
    mo[i] = mi;
    vo[i] = vi;
    po[i] = param - f(f(mi / denom) * step);
  }
  return wrap(p, po, mo, vo);
}

function wrap(p: Tensor, po: Float32Array, mo: Float32Array, vo: Float32Array): [
  Tensor,
  Tensor,
  Tensor,
] {
  return [
    fromStorage(p, po, p.shape, "float32", "adam"),
    fromStorage(p, mo, p.shape, "float32", "adam"),
    fromStorage(p, vo, p.shape, "float32", "adam"),
  ];
}

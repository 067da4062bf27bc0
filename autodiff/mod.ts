/**
 * Reverse-mode autodiff: vjp, grad, valueAndGrad, stopGradient.
 * @module
 */
export { grad, type Pullback, valueAndGrad, vjp } from "./autodiff.ts";
export { stopGradient } from "../tensor/ops.ts";

/**
 * The two ways an iterative solver can fail to stand behind its answer, shared by the trainers
 * (`newton`, `lbfgs`), conjugate gradient and the inverse-HVP solvers (`src/influence/solvers.ts`):
 *
 * - {@link ConvergenceError}: the iteration cap was reached before the tolerance. Every solver
 *   throws it by default; `allowUnconverged: true` returns the partial result marked
 *   `converged: false` instead.
 * - {@link IndefiniteHessianError}: a curvature xᵀ(H + δI)x / ‖x‖² ≤ 0 (or below rounding) was met,
 *   so the system is not positive definite and the iterate would be meaningless (a wrong sign).
 *
 * @module
 */
import type { TrainResult } from './newton.ts';

/** What {@link ConvergenceError} records about the iteration that stopped short. */
export interface ConvergenceDetails {
  /** The method that stopped: `newton-dense`, `newton-cg`, `lbfgs`, `cg`, `lissa`, … */
  method: string;
  /** Iterations done (HVPs for CG and LiSSA). */
  iterations: number;
  /**
   * The stopping quantity reached: ‖∇R‖₂ for the trainers, the relative residual
   * ‖b − Ax‖ / ‖b‖ for CG, the relative change ‖hⱼ − hⱼ₋₁‖ / ‖hⱼ‖ for LiSSA.
   */
  residual: number;
  /** The tolerance `residual` had to reach. */
  tol: number;
  /** The trainers: where they stopped (last iterate, its ‖∇R‖, the history). */
  result?: TrainResult;
}

/**
 * Thrown when an iterative method reaches its cap without meeting its tolerance. The message names
 * the cap, the value reached and the option to change; the fields carry the same numbers.
 *
 * @example
 * ```ts
 * try {
 *   newton(obj, { maxIter: 1 });
 * } catch (e) {
 *   if (e instanceof ConvergenceError) console.log(e.method, e.iterations, e.residual, e.tol);
 * }
 * ```
 */
export class ConvergenceError extends Error {
  /** The method that stopped. */
  readonly method: string;
  /** Iterations done. */
  readonly iterations: number;
  /** The stopping quantity reached (see {@link ConvergenceDetails.residual}). */
  readonly residual: number;
  /** The tolerance it had to reach. */
  readonly tol: number;
  /** The trainers: where they stopped. */
  readonly result?: TrainResult;

  constructor(message: string, details: ConvergenceDetails) {
    super(message);
    this.name = 'ConvergenceError';
    this.method = details.method;
    this.iterations = details.iterations;
    this.residual = details.residual;
    this.tol = details.tol;
    this.result = details.result;
  }
}

/**
 * Thrown when a solver meets a direction x of non-positive curvature xᵀAx ≤ 0 (or curvature at the
 * rounding level: A singular to working precision) in a system A x = b that must be positive
 * definite: conjugate gradient, and LiSSA (which would otherwise return a wrong sign).
 *
 * @example
 * ```ts
 * const A = (x: Float64Array) => new Float64Array([x[0], -2 * x[1]]);
 * try { conjugateGradient(A, new Float64Array([1, 1])); } catch (e) { (e as IndefiniteHessianError).curvature; } // ≤ 0
 * ```
 */
export class IndefiniteHessianError extends Error {
  constructor(
    message: string,
    /** The Rayleigh quotient xᵀAx / ‖x‖² found: an upper bound on A's smallest eigenvalue. */
    readonly curvature: number = NaN,
    /** The iteration at which it was met. */
    readonly iteration: number = -1,
  ) {
    super(message);
    this.name = 'IndefiniteHessianError';
  }
}

/**
 * Newton's method to the optimum of a smooth convex R(θ) (nn/objective.ts), in two forms:
 *
 * - `dense`: the Hessian (the model's fast route or p engine HVPs) and a Cholesky solve per step;
 *   quadratic convergence, the reference for influence functions on convex models.
 * - `cg`: Newton-CG, each step solved by conjugate gradient on engine HVPs with the forcing term
 *   η = min(0.5, √‖g‖) (Nocedal & Wright, Alg. 7.1): superlinear, never forms the Hessian.
 *
 * Both stop when ‖∇R‖₂ < tol (default 1e-10 on the float64 backend, 1e-6 on float32: see
 * `defaultGradTol` in core/precision.ts) and throw {@link ConvergenceError} when they do not get
 * there, since influence functions at a point that is not the optimum are not what they claim to be
 * (the Hessian is then not ∇²R(θ̂) and LOO comparisons drift).
 *
 * @module
 */
import { defaultGradTol } from '../core/precision.ts';
import type { Pytree } from '../core/pytree.ts';
import { NotPositiveDefiniteError, cholesky, choleskySolve } from '../linalg/dense.ts';
import { axpy, innerProduct, norm2 } from '../linalg/vector.ts';
import type { Objective } from '../nn/objective.ts';
import { conjugateGradient } from './cg.ts';
import { addGauge, gaugeOperator } from '../linalg/gauge.ts';
import { ConvergenceError } from './errors.ts';
import { backtrack } from './line-search.ts';

export { ConvergenceError, type ConvergenceDetails } from './errors.ts';

/** What a trainer returns. */
export interface TrainResult {
  /** The final parameters (flat θ). */
  theta: Float64Array;
  /** R(θ) at the end. */
  value: number;
  /** ‖∇R(θ)‖₂ at the end. */
  gradNorm: number;
  /** Outer iterations done. */
  iterations: number;
  /** ‖∇R‖ before each iteration and at the end. */
  gradNormHistory: number[];
  /** Whether ‖∇R‖ < tol was reached. */
  converged: boolean;
  /** Which method ran. */
  method: string;
}

/** Options for {@link newton}. */
export interface NewtonOptions {
  /** `dense` (Cholesky) or `cg` (Newton-CG on HVPs). Default `dense`. */
  mode?: 'dense' | 'cg';
  /** Stop when ‖∇R‖₂ < tol. Default 1e-10 on a float64 backend, 1e-6 on a float32 one (`defaultGradTol`). */
  tol?: number;
  /** Iteration cap. Default 100. */
  maxIter?: number;
  /** Starting point (default 0): warm starts make leave-one-out retraining cheap. */
  theta0?: Float64Array;
  /**
   * Cholesky factor of the Hessian at a nearby point (e.g. the full-data optimum when retraining
   * without one point). Dense Newton then takes chord steps with it, costing one gradient and two
   * triangular solves each, and forms a fresh Hessian only if a step fails to halve ‖∇R‖.
   */
  factor?: Float64Array;
  /** Return the result instead of throwing when tol is not reached. Default false. */
  allowUnconverged?: boolean;
  /** Progress callback (iteration, ‖∇R‖, R). */
  onIteration?: (iteration: number, gradNorm: number, value: number) => void;
}

/**
 * The Cholesky factor of H, or, where H is indefinite (a non-convex model away from a minimum, or
 * a leave-one-out objective whose Hessian at the warm start lost definiteness), of H + τI with τ
 * just past the smallest eigenvalue: a Levenberg-Marquardt step that still descends.
 */
function newtonFactor(H: Float64Array, p: number): Float64Array {
  try {
    return cholesky(H, p, 'the Hessian of R');
  } catch (e) {
    if (!(e instanceof NotPositiveDefiniteError)) throw e;
    let tr = 0;
    for (let i = 0; i < p; i++) tr += Math.abs(H[i * p + i]!);
    const tau = -1.5 * e.smallestEigenvalue + 1e-8 * (tr / p);
    for (let i = 0; i < p; i++) H[i * p + i] += tau;
    return cholesky(H, p, 'the shifted Hessian H + τI');
  }
}

/**
 * Minimises R by Newton's method with a backtracking (Armijo) line search.
 *
 * Where H is not positive definite the step uses H + τI instead (τ past the smallest eigenvalue),
 * so the method also serves non-convex models near a minimum.
 *
 * Near the optimum R stops changing in float64 long before ∇R does (R varies quadratically), so a
 * step whose predicted decrease is below rounding of R is accepted when it shrinks ‖∇R‖ instead.
 *
 * @returns the optimum with iterations and final gradient norm; throws {@link ConvergenceError}
 * when ‖∇R‖ < tol is not reached within `maxIter`.
 *
 * @example
 * ```ts
 * const obj = linearObjective('logreg', { X, y, n, d }, 0.01);
 * const { theta, iterations, gradNorm } = newton(obj); // gradNorm < 1e-10 (1e-6 on a float32 backend)
 * ```
 */
export function newton<P extends Pytree>(obj: Objective<P>, opts: NewtonOptions = {}): TrainResult {
  const mode = opts.mode ?? 'dense';
  const tol = opts.tol ?? defaultGradTol();
  const maxIter = opts.maxIter ?? 100;
  const p = obj.dim;
  let theta: Float64Array = opts.theta0 ? Float64Array.from(opts.theta0) : new Float64Array(p);
  let [value, g]: [number, Float64Array] = obj.valueAndGradient(theta);
  let gnorm = norm2(g);
  const history = [gnorm];
  let chord = opts.factor && mode === 'dense' ? opts.factor : null;
  let it = 0;
  for (; it < maxIter && !(gnorm < tol); it++) {
    let step: Float64Array;
    if (mode === 'dense') {
      const L = chord ?? newtonFactor(addGauge(obj.hessian(theta), p, obj.spec.gauge), p);
      step = choleskySolve(L, p, g);
    } else {
      const eta = Math.min(0.5, Math.sqrt(gnorm));
      const H = (v: Float64Array) => obj.hvp(theta, v);
      // μ = gᵀHg / gᵀg, the Rayleigh quotient of the gradient: inside H's spectrum (see gaugeOperator).
      const mu = obj.spec.gauge?.length ? innerProduct(g, H(g)) / innerProduct(g, g) || 1 : 0;
      // An inexact step is the point of Newton-CG: CG's cap or a direction of negative curvature
      // ends the inner solve, and the outer line search judges the step.
      const res = conjugateGradient(gaugeOperator(H, obj.spec.gauge, mu), g, { tol: eta, maxIter: 2 * p, allowUnconverged: true });
      step = res.negativeCurvature && res.iterations === 1 ? Float64Array.from(g) : res.x;
    }
    for (let i = 0; i < p; i++) step[i] = -step[i]!;
    const slope = innerProduct(g, step);
    if (!(slope < 0)) step = g.map((v) => -v); // not a descent direction: fall back to steepest descent
    const slope2 = innerProduct(g, step);
    const accepted = backtrack((x) => obj.valueAndGradient(x), theta, value, gnorm, step, slope2, 40);
    if (!accepted) {
      if (chord) {
        chord = null; // the stale factor gave a poor direction: continue with true Hessians
        continue;
      }
      break;
    }
    const { theta: next, value: nv, gradient: ng } = accepted;
    const newNorm = norm2(ng);
    if (chord && !(newNorm < 0.5 * gnorm)) chord = null;
    theta = next;
    value = nv;
    g = ng;
    gnorm = newNorm;
    history.push(gnorm);
    opts.onIteration?.(it + 1, gnorm, value);
  }
  const result: TrainResult = { theta, value, gradNorm: gnorm, iterations: it, gradNormHistory: history, converged: gnorm < tol, method: `newton-${mode}` };
  if (!result.converged && !opts.allowUnconverged) {
    throw new ConvergenceError(
      `newton (${mode}): ‖∇R‖ = ${gnorm.toExponential(3)} after ${it} iterations, not below tol ${tol} ` +
        (it >= maxIter
          ? `(the cap maxIter = ${maxIter}; raise maxIter, or check that R is convex and smooth here)`
          : '(the line search stalled before the cap: is R convex and smooth here, or is tol below what rounding allows?)') +
        '; allowUnconverged: true returns the last iterate marked converged: false',
      { method: `newton-${mode}`, iterations: it, residual: gnorm, tol, result },
    );
  }
  return result;
}

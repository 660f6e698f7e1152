/**
 * Conjugate gradient for A x = b with A symmetric positive (semi-)definite, given only x ↦ A x
 * (an engine HVP, say). Shared by Newton-CG (`optim/newton.ts`) and the influence CG solver.
 *
 * Convergence (proofs/conjugate-gradient.md): for SPD A the error in the A-norm falls at least as
 * fast as 2 ((√κ − 1)/(√κ + 1))ᵏ, and in exact arithmetic CG terminates in at most p steps. A
 * direction with pᵀ(A + δI)p ≤ 0 proves the matrix is not positive definite; CG then stops and says
 * so rather than returning a meaningless iterate.
 *
 * Neither failure is silent: reaching `maxIter` above `tol` throws {@link ConvergenceError}, and a
 * direction of non-positive curvature throws {@link IndefiniteHessianError}, unless the caller asks
 * for the partial result with `allowUnconverged: true` (Newton-CG does: an inexact inner solve is
 * what it wants).
 *
 * @module
 */
import { axpy, innerProduct, norm2 } from '../linalg/vector.ts';
import { ConvergenceError, IndefiniteHessianError } from './errors.ts';

export { ConvergenceError, IndefiniteHessianError } from './errors.ts';

/** Options for {@link conjugateGradient}. */
export interface CgOptions {
  /** Stop when ‖b − (A + δI) x‖ ≤ tol · ‖b‖. Default 1e-6. */
  tol?: number;
  /** Iteration cap. Default: 2 × the dimension (CG needs at most p in exact arithmetic). */
  maxIter?: number;
  /** δ: solve (A + δI) x = b. Default 0. */
  damping?: number;
  /** Starting point (default 0). */
  x0?: Float64Array;
  /** Called after each iteration with the relative residual. */
  onIteration?: (iteration: number, relativeResidual: number) => void;
  /**
   * Return the partial result (`converged: false`, and `negativeCurvature` when that stopped it)
   * instead of throwing {@link ConvergenceError} at the cap or {@link IndefiniteHessianError} on a
   * direction of non-positive curvature. Default false.
   */
  allowUnconverged?: boolean;
}

/** What {@link conjugateGradient} returns. */
export interface CgResult {
  /** The approximate solution. */
  x: Float64Array;
  /** Iterations (matrix-vector products) done. */
  iterations: number;
  /** ‖r_k‖ / ‖b‖ after each iteration, starting with the initial residual. */
  residualHistory: number[];
  /** Whether the tolerance was reached. */
  converged: boolean;
  /** Set when a direction of non-positive curvature pᵀ(A + δI)p ≤ 0 was met (A + δI is not PD). */
  negativeCurvature?: NegativeCurvature;
}

/** The direction of non-positive curvature that stopped {@link conjugateGradient}. */
export interface NegativeCurvature {
  /** The Rayleigh quotient pᵀ(A + δI)p / ‖p‖² ≤ 0 along the search direction p. */
  curvature: number;
  /** The iteration (from 0) at which it was met. */
  iteration: number;
}

/**
 * Solves (A + δI) x = b by conjugate gradient (Hestenes & Stiefel 1952).
 *
 * The residual is recomputed from scratch every 50 iterations, so the reported residual is the
 * true one and not the recurrence's drifting estimate.
 *
 * @throws {@link ConvergenceError} when `maxIter` iterations leave the relative residual above `tol`,
 *   and {@link IndefiniteHessianError} on a direction with pᵀ(A + δI)p ≤ 0, unless `allowUnconverged`.
 *
 * @example
 * ```ts
 * const A = (v: Float64Array) => new Float64Array([4 * v[0] + v[1], v[0] + 3 * v[1]]);
 * const { x } = conjugateGradient(A, new Float64Array([1, 2]), { tol: 1e-12 }); // [1/11, 7/11]
 * conjugateGradient(A, new Float64Array([1, 2]), { tol: 0, maxIter: 1, allowUnconverged: true }).converged; // false
 * ```
 */
export function conjugateGradient(matvec: (v: Float64Array) => Float64Array, b: Float64Array, opts: CgOptions = {}): CgResult {
  const p = b.length;
  const tol = opts.tol ?? 1e-6;
  const maxIter = opts.maxIter ?? 2 * p;
  if (!(tol >= 0)) throw new Error(`conjugateGradient: tol must be ≥ 0, got ${tol}`);
  if (!(Number.isInteger(maxIter) && maxIter >= 0)) throw new Error(`conjugateGradient: maxIter must be a non-negative integer, got ${maxIter}`);
  const damping = opts.damping ?? 0;
  const A = damping === 0 ? matvec : (v: Float64Array) => axpy(damping, v, matvec(v));
  const bnorm = norm2(b);
  const x = opts.x0 ? Float64Array.from(opts.x0) : new Float64Array(p);
  if (bnorm === 0) return { x: new Float64Array(p), iterations: 0, residualHistory: [0], converged: true };
  const r = Float64Array.from(b);
  if (opts.x0) axpy(-1, A(x), r);
  const d = Float64Array.from(r);
  let rr = innerProduct(r, r);
  const history = [Math.sqrt(rr) / bnorm];
  let k = 0;
  for (; k < maxIter && history[history.length - 1]! > tol; k++) {
    const Ad = A(d);
    const curv = innerProduct(d, Ad);
    if (!(curv > 0)) {
      const negativeCurvature = { curvature: curv / innerProduct(d, d), iteration: k };
      if (!opts.allowUnconverged) {
        throw new IndefiniteHessianError(
          `conjugateGradient: the matrix${damping ? ` + ${damping}·I` : ''} is not positive definite: curvature pᵀAp/‖p‖² = ` +
            `${negativeCurvature.curvature.toPrecision(4)} ≤ 0 along search direction ${k}; add damping (> its magnitude) or use a solver for indefinite systems`,
          negativeCurvature.curvature,
          k,
        );
      }
      return { x, iterations: k + 1, residualHistory: history, converged: false, negativeCurvature };
    }
    const alpha = rr / curv;
    axpy(alpha, d, x);
    if ((k + 1) % 50 === 0) {
      r.set(b);
      axpy(-1, A(x), r);
    } else axpy(-alpha, Ad, r);
    const rrNew = innerProduct(r, r);
    const beta = rrNew / rr;
    rr = rrNew;
    for (let i = 0; i < p; i++) d[i] = r[i]! + beta * d[i]!;
    history.push(Math.sqrt(rr) / bnorm);
    opts.onIteration?.(k + 1, history[history.length - 1]!);
  }
  const residual = history[history.length - 1]!;
  const converged = residual <= tol;
  if (!converged && !opts.allowUnconverged) throw new ConvergenceError(cgCapMessage('conjugateGradient', residual, k, maxIter, tol, 'maxIter', 'tol'), { method: 'cg', iterations: k, residual, tol });
  return { x, iterations: k, residualHistory: history, converged };
}

/**
 * The message of CG's {@link ConvergenceError}: the residual reached, the cap, and what to change.
 * Shared with the `cg` inverse-HVP solver, which names its options `cg.maxIter` and `cg.tol`.
 *
 * @example
 * ```ts
 * cgCapMessage('cg', 3e-5, 40, 40, 1e-10, 'cg.maxIter', 'cg.tol'); // 'cg: relative residual 3.00e-5 after 40 iterations …'
 * ```
 */
export function cgCapMessage(who: string, residual: number, iterations: number, maxIter: number, tol: number, maxIterName: string, tolName: string): string {
  const fix =
    tol === 0
      ? `${tolName} = 0 asks for an exactly zero residual, which rounding almost never allows: give ${tolName} > 0`
      : `raise ${maxIterName} (CG needs about √κ·ln(2/tol) iterations for condition number κ), loosen ${tolName}, or add damping; ` +
        `a residual that stalls above ${tolName} means ${tolName} is below what the precision of the products allows (about κ·u)`;
  return (
    `${who}: relative residual ${residual.toExponential(2)} after ${iterations} iterations (the cap ${maxIterName} = ${maxIter}) is not ≤ ${tolName} = ${tol}; ` +
    `${fix}; allowUnconverged: true returns the partial result marked converged: false`
  );
}

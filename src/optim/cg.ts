/**
 * Conjugate gradient for A x = b with A symmetric positive (semi-)definite, given only x ↦ A x
 * (an engine HVP, say). Shared by Newton-CG (`optim/newton.ts`) and the influence CG solver.
 *
 * Convergence (proofs/conjugate-gradient.md): for SPD A the error in the A-norm falls at least as
 * fast as 2 ((√κ − 1)/(√κ + 1))ᵏ, and in exact arithmetic CG terminates in at most p steps. A
 * direction with pᵀ(A + δI)p ≤ 0 proves the matrix is not positive definite; CG then stops and says
 * so rather than returning a meaningless iterate.
 *
 * @module
 */
import { axpy, innerProduct, norm2 } from '../linalg/vector.ts';

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
 * @example
 * ```ts
 * const A = (v: Float64Array) => new Float64Array([4 * v[0] + v[1], v[0] + 3 * v[1]]);
 * const { x } = conjugateGradient(A, new Float64Array([1, 2]), { tol: 1e-12 }); // [1/11, 7/11]
 * ```
 */
export function conjugateGradient(matvec: (v: Float64Array) => Float64Array, b: Float64Array, opts: CgOptions = {}): CgResult {
  const p = b.length;
  const tol = opts.tol ?? 1e-6;
  const maxIter = opts.maxIter ?? 2 * p;
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
      return { x, iterations: k + 1, residualHistory: history, converged: false, negativeCurvature: { curvature: curv / innerProduct(d, d), iteration: k } };
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
  return { x, iterations: k, residualHistory: history, converged: history[history.length - 1]! <= tol };
}

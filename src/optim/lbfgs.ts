/**
 * L-BFGS (Nocedal 1980; Liu & Nocedal 1989) on flat float64 parameters: the two-loop recursion
 * with memory m, initial scaling γ = sᵀy / yᵀy, and a backtracking line search that also enforces
 * the curvature condition sᵀy > 0 before storing a pair (so the implicit inverse Hessian stays
 * positive definite). Like `newton`, it stops at ‖∇R‖₂ < tol (default 1e-10 on the float64 backend,
 * 1e-6 on float32) or throws.
 *
 * @module
 */
import { defaultGradTol } from '../core/precision.ts';
import type { Pytree } from '../core/pytree.ts';
import { axpy, innerProduct, norm2 } from '../linalg/vector.ts';
import type { Objective } from '../nn/objective.ts';
import { backtrack } from './line-search.ts';
import { ConvergenceError } from './errors.ts';
import type { TrainResult } from './newton.ts';

/** Options for {@link lbfgs}. */
export interface LbfgsOptions {
  /** Stop when ‖∇R‖₂ < tol. Default 1e-10 on a float64 backend, 1e-6 on a float32 one (`defaultGradTol`). */
  tol?: number;
  /** Iteration cap. Default 2000. */
  maxIter?: number;
  /** Number of (s, y) pairs kept. Default 20. */
  memory?: number;
  /** Starting point (default 0). */
  theta0?: Float64Array;
  /** Return instead of throwing when tol is not reached. Default false. */
  allowUnconverged?: boolean;
  /** Progress callback (iteration, ‖∇R‖, R). */
  onIteration?: (iteration: number, gradNorm: number, value: number) => void;
}

/**
 * Minimises any smooth objective given as value-and-gradient on flat vectors.
 *
 * @example
 * ```ts
 * const r = minimizeLbfgs((x) => [x[0] ** 2, new Float64Array([2 * x[0]])], new Float64Array([3]));
 * r.theta[0]; // ≈ 0
 * ```
 */
export function minimizeLbfgs(
  fg: (theta: Float64Array) => [number, Float64Array],
  theta0: Float64Array,
  opts: Omit<LbfgsOptions, 'theta0'> = {},
): TrainResult {
  const tol = opts.tol ?? defaultGradTol();
  const maxIter = opts.maxIter ?? 2000;
  const m = opts.memory ?? 20;
  let theta: Float64Array = Float64Array.from(theta0);
  let [value, g]: [number, Float64Array] = fg(theta);
  let gnorm = norm2(g);
  const history = [gnorm];
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  let it = 0;
  for (; it < maxIter && !(gnorm < tol); it++) {
    // Two-loop recursion: q ← H_k ∇R.
    const q = Float64Array.from(g);
    const alpha = new Array<number>(S.length);
    for (let j = S.length - 1; j >= 0; j--) {
      alpha[j] = rho[j]! * innerProduct(S[j]!, q);
      axpy(-alpha[j]!, Y[j]!, q);
    }
    const gamma = S.length ? innerProduct(S[S.length - 1]!, Y[Y.length - 1]!) / innerProduct(Y[Y.length - 1]!, Y[Y.length - 1]!) : 1 / Math.max(gnorm, 1);
    for (let i = 0; i < q.length; i++) q[i] = q[i]! * gamma;
    for (let j = 0; j < S.length; j++) {
      const beta = rho[j]! * innerProduct(Y[j]!, q);
      axpy(alpha[j]! - beta, S[j]!, q);
    }
    let dir = q.map((v) => -v);
    let slope = innerProduct(g, dir);
    if (!(slope < 0)) {
      // Lost descent (rounding): restart from steepest descent.
      S.length = Y.length = rho.length = 0;
      dir = g.map((v) => -v / Math.max(gnorm, 1));
      slope = innerProduct(g, dir);
    }
    const accepted = backtrack(fg, theta, value, gnorm, dir, slope, 50);
    if (!accepted) {
      if (S.length === 0) break;
      S.length = Y.length = rho.length = 0;
      continue;
    }
    const { theta: next, value: nv, gradient: ng } = accepted;
    const s = new Float64Array(theta.length);
    const yv = new Float64Array(theta.length);
    for (let i = 0; i < s.length; i++) {
      s[i] = next[i]! - theta[i]!;
      yv[i] = ng[i]! - g[i]!;
    }
    const sy = innerProduct(s, yv);
    if (sy > 1e-16 * norm2(s) * norm2(yv)) {
      S.push(s);
      Y.push(yv);
      rho.push(1 / sy);
      if (S.length > m) {
        S.shift();
        Y.shift();
        rho.shift();
      }
    }
    theta = next;
    value = nv;
    g = ng;
    gnorm = norm2(g);
    history.push(gnorm);
    opts.onIteration?.(it + 1, gnorm, value);
  }
  const result: TrainResult = { theta, value, gradNorm: gnorm, iterations: it, gradNormHistory: history, converged: gnorm < tol, method: 'lbfgs' };
  if (!result.converged && !opts.allowUnconverged) {
    throw new ConvergenceError(
      `lbfgs: ‖∇R‖ = ${gnorm.toExponential(3)} after ${it} iterations, not below tol ${tol} ` +
        (it >= maxIter ? `(the cap maxIter = ${maxIter}; raise maxIter)` : '(the line search stalled before the cap: is the objective smooth, or is tol below what rounding allows?)') +
        '; allowUnconverged: true returns the last iterate marked converged: false',
      { method: 'lbfgs', iterations: it, residual: gnorm, tol, result },
    );
  }
  return result;
}

/**
 * Minimises R(θ) (nn/objective.ts) by L-BFGS to ‖∇R‖ < tol.
 *
 * @example
 * ```ts
 * const obj = linearObjective('linreg', { X, y, n, d }, 0.1);
 * const { theta, iterations, gradNorm } = lbfgs(obj); // gradNorm < 1e-10 (1e-6 on a float32 backend)
 * ```
 */
export function lbfgs<P extends Pytree>(obj: Objective<P>, opts: LbfgsOptions = {}): TrainResult {
  return minimizeLbfgs((th) => obj.valueAndGradient(th), opts.theta0 ?? new Float64Array(obj.dim), opts);
}

/**
 * Exact leave-one-out by retraining, the ground truth influence functions approximate. Removing
 * point i means minimising R(θ) − (1/n) ℓ(zᵢ, θ) (the point's term dropped, the 1/n of the full set
 * kept), and the reported effect is f(θ̂₋ᵢ) − f(θ̂).
 *
 * Retraining is warm-started at θ̂, which is within O(1/n) of θ̂₋ᵢ; with the default dense Newton
 * and the Cholesky factor of the full-data Hessian, the first steps are chord steps (one gradient
 * and two triangular solves each) that contract the error by O(1/n) per step, so each LOO point
 * costs a handful of gradients rather than fresh Hessians.
 *
 * @module
 */
import type { Pytree } from '../core/pytree.ts';
import type { Objective } from '../nn/objective.ts';
import { lbfgs } from '../optim/lbfgs.ts';
import { ConvergenceError } from '../optim/errors.ts';
import { newton, type TrainResult } from '../optim/newton.ts';
import type { TestObjective } from './influence.ts';

/** How to retrain. */
export interface RetrainOptions {
  /** `newton` (dense, default), `newton-cg`, or `lbfgs`. */
  trainer?: 'newton' | 'newton-cg' | 'lbfgs';
  /** ‖∇R‖ target. Default 1e-10 on a float64 backend, 1e-6 on a float32 one (as `newton`). */
  tol?: number;
  /** Cholesky factor of the full-data Hessian at θ̂ (+ gauge), for chord steps (dense Newton). */
  factor?: Float64Array;
}

/**
 * Minimises R with per-example weights (wᵢ = 0 removes point i; 1 + nε upweights it by ε),
 * warm-started at θ̂.
 *
 * @example
 * ```ts
 * const w = new Float64Array(obj.n).fill(1); w[7] = 0;
 * const { theta: thetaMinus7 } = retrainWeighted(obj, theta, w);
 * ```
 */
export function retrainWeighted<P extends Pytree>(obj: Objective<P>, theta: Float64Array, weights: Float64Array, opts: RetrainOptions = {}): TrainResult {
  const o = obj.withWeights(weights);
  const trainer = opts.trainer ?? 'newton';
  if (trainer === 'lbfgs') return lbfgs(o, { theta0: theta, tol: opts.tol });
  return newton(o, { theta0: theta, tol: opts.tol, mode: trainer === 'newton-cg' ? 'cg' : 'dense', factor: opts.factor });
}

/** Options for {@link exactLoo}: how to retrain, and a progress callback. */
export interface LooOptions extends RetrainOptions {
  /** Called after each row is retrained, with the rows done so far and the total (for progress on stderr). */
  onProgress?: (done: number, total: number) => void;
}

/** What {@link exactLoo} returns. */
export interface LooResult {
  /** f(θ̂) for a scalar f; for a vector-valued f, the sum of its entries. */
  base: number;
  /** f(θ̂) entry by entry (length {@link LooResult.outputs}; one entry for a scalar f). */
  baseValues: Float64Array;
  /** T, the number of entries of f (1 for a scalar f; the test points for per-test losses). */
  outputs: number;
  /** The rows retrained without. */
  rows: number[];
  /** f(θ̂₋ᵢ) − f(θ̂), row-major `rows.length × T`: entry [k·T + t] is output t without row rows[k]. */
  changes: Float64Array;
  /** Optimiser iterations per row. */
  iterations: number[];
  /** Final ‖∇R₋ᵢ‖ per row (all < tol). */
  gradNorms: number[];
}

/**
 * Exact leave-one-out: for each row i, retrains without zᵢ (warm-started at θ̂) and reports
 * f(θ̂₋ᵢ) − f(θ̂). f may be scalar or vector-valued (e.g. every test point's loss): one retraining
 * per row serves all its entries. A retraining that does not reach its tolerance throws
 * {@link ConvergenceError} naming the row.
 *
 * @example
 * ```ts
 * const { changes } = exactLoo(obj, theta, [0, 7, 14], totalLoss(obj.spec.loss, Xtest, Ytest, [0]));
 * // every test point at once: changes is 3 × tests, row-major
 * const all = exactLoo(obj, theta, [0, 7, 14], (params) => obj.spec.loss(params, Xtest, Ytest));
 * ```
 */
export function exactLoo<P extends Pytree>(
  obj: Objective<P>,
  theta: Float64Array,
  rows: readonly number[],
  f: TestObjective<P>,
  opts: LooOptions = {},
): LooResult {
  const evalF = (th: Float64Array) => f(obj.params(th)).toFloat64Array();
  const baseValues = evalF(theta);
  const T = baseValues.length;
  if (T === 0) throw new Error('exactLoo: f returned an empty tensor; it must have at least one entry');
  let base = 0;
  for (const v of baseValues) base += v;
  const changes = new Float64Array(rows.length * T);
  const iterations: number[] = [];
  const gradNorms: number[] = [];
  const w = new Float64Array(obj.n).fill(1);
  rows.forEach((i, k) => {
    if (!(Number.isInteger(i) && i >= 0 && i < obj.n)) throw new Error(`exactLoo: row ${i} is outside 0..${obj.n - 1}`);
    w[i] = 0;
    let r: TrainResult;
    try {
      r = retrainWeighted(obj, theta, w, opts);
    } catch (e) {
      // Say which row: a retraining that cannot reach tol usually means R without that point has
      // no (unique) minimiser, e.g. the point was the only one of its class.
      if (e instanceof ConvergenceError) throw new ConvergenceError(`exactLoo: retraining without row ${i}: ${e.message}`, e);
      throw e;
    }
    w[i] = 1;
    const values = evalF(r.theta);
    for (let t = 0; t < T; t++) changes[k * T + t] = values[t]! - baseValues[t]!;
    iterations.push(r.iterations);
    gradNorms.push(r.gradNorm);
    opts.onProgress?.(k + 1, rows.length);
  });
  return { base, baseValues, outputs: T, rows: [...rows], changes, iterations, gradNorms };
}

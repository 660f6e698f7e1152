/**
 * The ground truth of the linear datamodeling score for convex models: retrain exactly on random
 * subsets of the training set and record each retrained model's loss on every test point.
 *
 * Subset j holds ⌊fraction · n⌉ rows drawn without replacement by `new Rng(seed).permutation(n)`
 * (one generator for all subsets, drawn in order), sorted. Retraining minimises, warm-started at θ̂
 * with `retrainWeighted` (dense Newton by default, to ‖∇R‖ < tol):
 *
 * - `mean` (default, dattri's protocol: a model trained on the subset as its dataset):
 *   (1/|S|) Σ_{i∈S} ℓᵢ + (λ/2)‖w‖², i.e. weights n/|S| on S and 0 elsewhere;
 * - `drop`: R(θ) minus the dropped points' terms, (1/n) Σ_{i∈S} ℓᵢ + (λ/2)‖w‖² — the removal that
 *   influence functions linearise (as exact leave-one-out does for one point).
 *
 * Retraining is exact and deterministic, so there is one "seed" per subset: the averaging over
 * retraining seeds that dattri does for SGD-trained models is not needed here.
 *
 * @module
 */
import type { Pytree } from '../core/pytree.ts';
import { Rng } from '../core/rng.ts';
import type { Objective } from '../nn/objective.ts';
import { ConvergenceError } from '../optim/errors.ts';
import { type RetrainOptions, retrainWeighted } from './loo.ts';
import type { TestSet } from './scores.ts';

/** Options for {@link retrainOnSubsets}. */
export interface SubsetRetrainOptions extends RetrainOptions {
  /** m, the number of subsets. Default 100. */
  subsets?: number;
  /** Fraction of the training set in each subset. Default 0.5. */
  fraction?: number;
  /** Seed of the subset draws. Default 0. */
  seed?: number;
  /** `mean` (default) or `drop`: see the module notes. */
  weighting?: 'mean' | 'drop';
  /** Called after each retraining with the subsets done and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** What {@link retrainOnSubsets} returns. */
export interface SubsetRetraining {
  /** The training rows of each subset, sorted. */
  subsets: number[][];
  /** Row-major `m × tests`: ℓ(z_t, θ̂_{S_j}). */
  losses: Float64Array;
  /** Newton (or L-BFGS) iterations per subset. */
  iterations: number[];
  /** Final ‖∇R_S‖ per subset. */
  gradNorms: number[];
}

/**
 * Draws m seeded subsets of the training set, retrains on each exactly (warm-started at θ̂) and
 * evaluates every test point's loss; the ground truth for {@link lds}.
 *
 * @example
 * ```ts
 * const { subsets, losses } = retrainOnSubsets(obj, theta, { X: Xtest, Y: Ytest }, { subsets: 40, seed: 1 });
 * lds(scores, subsets, losses).mean;
 * ```
 */
export function retrainOnSubsets<P extends Pytree>(obj: Objective<P>, theta: Float64Array, test: TestSet, options: SubsetRetrainOptions = {}): SubsetRetraining {
  const { subsets: m = 100, fraction = 0.5, seed = 0, weighting = 'mean', onProgress, ...retrain } = options;
  const n = obj.n;
  if (!(Number.isInteger(m) && m >= 1)) throw new Error(`retrainOnSubsets: subsets must be a positive integer, got ${m}`);
  const size = Math.round(fraction * n);
  if (!(fraction > 0 && fraction <= 1 && size >= 1)) throw new Error(`retrainOnSubsets: fraction must be in (0, 1] and keep at least one row, got ${fraction} of ${n}`);
  if (weighting !== 'mean' && weighting !== 'drop') throw new Error(`retrainOnSubsets: weighting must be 'mean' or 'drop', got '${weighting as string}'`);
  const rng = new Rng(seed);
  const tests = test.X.shape[0] ?? 0;
  const losses = new Float64Array(m * tests);
  const subsets: number[][] = [];
  const iterations: number[] = [];
  const gradNorms: number[] = [];
  const on = weighting === 'mean' ? n / size : 1;
  for (let j = 0; j < m; j++) {
    const S = rng.permutation(n).slice(0, size).sort((a, b) => a - b);
    const w = new Float64Array(n);
    for (const i of S) w[i] = on;
    let r;
    try {
      r = retrainWeighted(obj, theta, w, retrain);
    } catch (e) {
      if (e instanceof ConvergenceError) throw new ConvergenceError(`retrainOnSubsets: subset ${j}: ${e.message}`, e);
      throw e;
    }
    losses.set(obj.spec.loss(obj.params(r.theta), test.X, test.Y).toFloat64Array(), j * tests);
    subsets.push(S);
    iterations.push(r.iterations);
    gradNorms.push(r.gradNorm);
    onProgress?.(j + 1, m);
  }
  return { subsets, losses, iterations, gradNorms };
}

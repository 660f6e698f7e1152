/**
 * How attribution scores are judged against ground truth, following dattri's metrics
 * (`dattri.metric`: `lds`, `loo_corr`, `mislabel_detection_auc`):
 *
 * - LDS (linear datamodeling score, Park et al. 2023): m subsets S_j of the training set, a model
 *   retrained on each, and for each test point t the Spearman correlation over j between the summed
 *   scores Σ_{i∈S_j} τ_t,i and the retrained model's output on t; the LDS is the mean over test
 *   points. The output here is the test point's loss, as dattri's MNIST-10 benchmarks use (its
 *   target function is the cross-entropy loss of the retrained model). A helpful point (τ > 0)
 *   lowers the loss when included, so the correlation is taken with −loss. dattri retrains once
 *   per subset; averaging outputs over several retraining seeds (for non-convex models) is the
 *   caller's job: pass the mean.
 * - LOO correlation: Pearson, per test point, between the scores and the exact leave-one-out
 *   changes ℓ(z_t, θ̂₋ᵢ) − ℓ(z_t, θ̂); the mean over test points.
 * - Noisy-label detection: the ROC AUC of a self-score for flagging flipped labels, computed as the
 *   Mann–Whitney statistic P(score_noisy > score_clean) + ½ P(equal). dattri integrates the
 *   ROC curve of one ordering, which counts a tie by sort order; the Mann–Whitney form counts it
 *   as half, as sklearn's `roc_auc_score` does.
 *
 * A correlation with a constant sample is undefined (NaN); means skip undefined entries and say how
 * many there were.
 *
 * @module
 */
import { pearson } from '../linalg/vector.ts';
import { type ScoreMatrix, scoreRow } from './scores.ts';

/**
 * Ranks 1…n with ties given the average of the ranks they span (the "fractional" ranking that
 * Spearman's coefficient uses).
 *
 * @example
 * ```ts
 * averageRanks([10, 20, 20, 5]); // [2, 3.5, 3.5, 1]
 * ```
 */
export function averageRanks(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < n; i++) if (Number.isNaN(x[i]!)) throw new Error(`averageRanks: entry ${i} is NaN`);
  order.sort((a, b) => x[a]! - x[b]!);
  const r = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && x[order[j + 1]!] === x[order[i]!]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[order[k]!] = avg;
    i = j + 1;
  }
  return r;
}

/**
 * Spearman's rank correlation: Pearson's correlation of the average ranks (ties share their
 * average rank). NaN when either sample is constant.
 *
 * @example
 * ```ts
 * spearman([1, 2, 3, 4], [10, 30, 20, 40]); // 0.8
 * ```
 */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`spearman: lengths ${a.length} and ${b.length} differ`);
  return pearson(averageRanks(a), averageRanks(b));
}

/** A metric per test point and its mean. */
export interface PerTestMetric {
  /** The mean over the test points whose value is defined. */
  mean: number;
  /** One value per test point (NaN where the correlation is undefined: a constant sample). */
  perTest: Float64Array;
  /** How many test points had an undefined value (excluded from the mean). */
  undefinedCount: number;
}

function summarise(perTest: Float64Array): PerTestMetric {
  let s = 0;
  let c = 0;
  for (const v of perTest) if (Number.isFinite(v)) (s += v), c++;
  return { mean: c ? s / c : NaN, perTest, undefinedCount: perTest.length - c };
}

/** Options for {@link lds}. */
export interface LdsOptions {
  /**
   * What `outputs` holds: `loss` (default; correlated with −loss, since helpful points lower it) or
   * `gain` (an output that helpful points raise, e.g. the correct-class margin; used as is).
   */
  output?: 'loss' | 'gain';
}

/**
 * The linear datamodeling score (see the module notes for the definition followed).
 *
 * @param scores `tests × n` attribution scores (positive = the point helps).
 * @param subsets the training rows of each of the m retrained models.
 * @param outputs row-major `m × tests`: the model retrained on subset j evaluated on test point t.
 *
 * @example
 * ```ts
 * const { subsets, losses } = retrainOnSubsets(obj, theta, test, { subsets: 100, seed: 0 });
 * lds(influenceScores(new Influence(obj, theta), test), subsets, losses).mean; // ≈ 0.9 on a small convex problem
 * ```
 */
export function lds(scores: ScoreMatrix, subsets: readonly (readonly number[])[], outputs: Float64Array, options: LdsOptions = {}): PerTestMetric {
  const m = subsets.length;
  const { tests, train } = scores;
  if (outputs.length !== m * tests) throw new Error(`lds: outputs has ${outputs.length} values, expected subsets × tests = ${m} × ${tests}`);
  const sign = (options.output ?? 'loss') === 'loss' ? -1 : 1;
  const perTest = new Float64Array(tests);
  const summed = new Float64Array(m);
  const y = new Float64Array(m);
  for (let t = 0; t < tests; t++) {
    const row = scoreRow(scores, t);
    subsets.forEach((S, j) => {
      let s = 0;
      for (const i of S) {
        if (!(Number.isInteger(i) && i >= 0 && i < train)) throw new Error(`lds: subset ${j} holds row ${i}, outside 0..${train - 1}`);
        s += row[i]!;
      }
      summed[j] = s;
      y[j] = sign * outputs[j * tests + t]!;
    });
    perTest[t] = spearman(summed, y);
  }
  return summarise(perTest);
}

/**
 * LOO correlation: per test point, Pearson's correlation between the scores of the given training
 * rows and their exact leave-one-out changes ℓ(z_t, θ̂₋ᵢ) − ℓ(z_t, θ̂); with its mean.
 *
 * @param scores `tests × n` scores.
 * @param loo `tests × rows.length` exact LOO changes (e.g. `exactLoo(...).changes` per test point).
 * @param rows the training rows `loo`'s columns refer to (default all n).
 *
 * @example
 * ```ts
 * const rows = [0, 1, 2, 3, 4];
 * const loo = { tests: 1, train: 5, values: exactLoo(obj, theta, rows, totalLoss(obj.spec.loss, Xt, Yt, [0])).changes };
 * looCorrelation(scores, loo, rows).mean; // > 0.99 for exact influence on a small convex problem
 * ```
 */
export function looCorrelation(scores: ScoreMatrix, loo: ScoreMatrix, rows?: readonly number[]): PerTestMetric {
  const cols = rows ?? Array.from({ length: scores.train }, (_, i) => i);
  if (loo.tests !== scores.tests) throw new Error(`looCorrelation: ${scores.tests} test points scored, ${loo.tests} in the LOO truth`);
  if (loo.train !== cols.length) throw new Error(`looCorrelation: the LOO truth has ${loo.train} columns for ${cols.length} rows`);
  const perTest = new Float64Array(scores.tests);
  for (let t = 0; t < scores.tests; t++) {
    const row = scoreRow(scores, t);
    perTest[t] = pearson(cols.map((i) => row[i]!), scoreRow(loo, t));
  }
  return summarise(perTest);
}

/**
 * ROC AUC of `scores` for finding the flagged points (larger score = more suspicious), as the
 * Mann–Whitney statistic: the fraction of (flagged, unflagged) pairs the score orders correctly,
 * ties counting one half.
 *
 * @param flagged truthy for the points to find (e.g. the flipped labels).
 *
 * @example
 * ```ts
 * detectionAuc([0.9, 0.1, 0.5, 0.5], [1, 0, 1, 0]); // pairs: (0.9 > 0.1), (0.9 > 0.5), (0.5 > 0.1), (0.5 = 0.5) → 3.5 / 4
 * ```
 */
export function detectionAuc(scores: ArrayLike<number>, flagged: ArrayLike<number | boolean>): number {
  const n = scores.length;
  if (flagged.length !== n) throw new Error(`detectionAuc: ${n} scores, ${flagged.length} flags`);
  const r = averageRanks(scores);
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n; i++) if (flagged[i]) (pos++, (rankSum += r[i]!));
  const neg = n - pos;
  if (pos === 0 || neg === 0) throw new Error(`detectionAuc: needs both flagged and unflagged points (${pos} flagged of ${n})`);
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/**
 * The sample-weighting methods, each as a {@link Weighting} for the shared training loop.
 *
 * Two opposite intuitions weight samples by their loss: hard-example mining and focal loss
 * up-weight the samples the model fits badly; curriculum and self-paced learning down-weight them
 * as likely outliers or label errors. Learning to Reweight lets a small clean validation set decide
 * per sample instead. Every weighting is defined on a batch of m examples with losses ℓᵢ at the
 * current parameters:
 *
 * | method           | objective on the batch                                                 |
 * | ---------------- | ---------------------------------------------------------------------- |
 * | `uniform`        | (1/m) Σ ℓᵢ                                                              |
 * | `class-balanced` | (1/m) Σ n/(K n_{yᵢ}) ℓᵢ  (inverse class frequency, mean weight 1 over the data) |
 * | `focal`          | (1/m) Σ (1 − pᵢ)^γ ℓᵢ with pᵢ = e^{−ℓᵢ} the probability of the true class, differentiated through (1 − pᵢ)^γ too |
 * | `ohem`           | (1/k) Σ_{i ∈ top-k losses} ℓᵢ                                           |
 * | `self-paced`     | (1/m) Σ [ℓᵢ < λ_t] ℓᵢ, λ_t growing linearly from λ₀ to λ₁             |
 * | `curriculum`     | (1/m) Σ ℓᵢ on batches drawn from the easiest fraction f_t of the data (by a reference model's loss), f_t growing to 1 |
 * | `l2rw`           | Σ wᵢ ℓᵢ with wᵢ the L2RW weights (see `l2rw.ts`)                        |
 * | `random`         | Σ wᵢ ℓᵢ with wᵢ = |zᵢ| / Σⱼ |zⱼ|, zᵢ ~ N(0, 1) fresh each step          |
 * | `hard-mining`    | (1/k') Σ over the ⌈k/K⌉ largest losses of each class among the drawn candidates (k' kept) |
 * | `resample`       | (1/m) Σ ℓᵢ on batches drawn from a pool where every class is tiled to the largest class's size |
 *
 * @module
 */
import { tensor } from '../core/create.ts';
import type { Pytree } from '../core/pytree.ts';
import { Rng } from '../core/rng.ts';
import type { Tensor } from '../core/tensor.ts';
import { exp, mul, pow, sub } from '../ops/arith.ts';
import { mean } from '../ops/reduce.ts';
import { type Batch, l2rwWeights } from './l2rw.ts';
import { type BatchDecision, gatherRows, type StepInfo, type Weighting, weightedObjective } from './train.ts';

function fixed<P extends Pytree>(info: StepInfo<P>, weights: Float64Array): BatchDecision<P> {
  const kept: number[] = [];
  for (let i = 0; i < weights.length; i++) if (weights[i] !== 0) kept.push(i);
  if (kept.length === weights.length || kept.length === 0) return { objective: weightedObjective(info.loss, info.X, info.y, weights), weights };
  // A row of weight 0 adds exactly 0 to Σ wᵢℓᵢ and to its gradient, so the objective runs on the
  // others only: hard mining keeps 100 of its 500 candidates and pays the backward pass for 100.
  const m = weights.length;
  const rows = gatherRows({ X: info.X.toFloat64Array(), y: info.y.toFloat64Array(), n: m, d: info.X.size / m }, kept);
  const X = tensor(rows.X.toFloat64Array(), [kept.length, ...info.X.shape.slice(1)]);
  return { objective: weightedObjective(info.loss, X, rows.y, Float64Array.from(kept, (i) => weights[i]!)), weights };
}

/** The per-example losses of a batch at the current parameters, as numbers. */
function batchLosses<P extends Pytree>(info: StepInfo<P>): Float64Array {
  return info.loss(info.params, info.X, info.y).toFloat64Array();
}

/**
 * Uniform weighting: wᵢ = 1/m, plain mini-batch SGD.
 *
 * @example
 * ```ts
 * uniform().name; // 'uniform'
 * ```
 */
export function uniform<P extends Pytree>(): Weighting<P> {
  return {
    name: 'uniform',
    decide: (info) => fixed(info, new Float64Array(info.indices.length).fill(1 / info.indices.length)),
  };
}

/**
 * Inverse-class-frequency weights from the whole training set's labels: wᵢ = n / (K · n_{yᵢ}) / m,
 * where K counts the classes present. Their mean over the training set is 1/m, so the objective's
 * expectation over batches is the class-balanced risk (1/K) Σ_k mean_{i: yᵢ = k} ℓᵢ.
 *
 * @param labels every training label (class indices).
 *
 * @example
 * ```ts
 * const w = classBalancedWeights([1, 1, 1, 0]);  // per-class factors n/(K n_k)
 * // w[0] = 4/(2·1) = 2, w[1] = 4/(2·3) = 2/3
 * ```
 */
export function classBalancedWeights(labels: ArrayLike<number>): Map<number, number> {
  const counts = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) counts.set(labels[i]!, (counts.get(labels[i]!) ?? 0) + 1);
  const K = counts.size;
  const factors = new Map<number, number>();
  for (const [c, nc] of counts) factors.set(c, labels.length / (K * nc));
  return factors;
}

/**
 * Class-balanced weighting (inverse class frequency; see {@link classBalancedWeights}).
 *
 * @param labels every training label.
 *
 * @example
 * ```ts
 * classBalanced([0, 1, 1, 1]).name; // 'class-balanced'
 * ```
 */
export function classBalanced<P extends Pytree>(labels: ArrayLike<number>): Weighting<P> {
  const factors = classBalancedWeights(labels);
  return {
    name: 'class-balanced',
    decide(info) {
      const m = info.indices.length;
      const w = Float64Array.from(info.indices, (r) => factors.get(labels[r]!)! / m);
      return fixed(info, w);
    },
  };
}

/**
 * Focal loss (Lin et al. 2017): (1/m) Σ (1 − pᵢ)^γ ℓᵢ with pᵢ = e^{−ℓᵢ}, the model's probability
 * of the true class under a cross-entropy loss. The modulating factor is differentiated too, as in
 * the paper; the recorded weights are its values (1 − pᵢ)^γ / m. γ = 0 is uniform.
 *
 * @param options.gamma the focusing parameter γ ≥ 0. Default 2 (the paper's choice).
 *
 * @example
 * ```ts
 * focal({ gamma: 2 }).name; // 'focal'
 * ```
 */
export function focal<P extends Pytree>(options: { gamma?: number } = {}): Weighting<P> {
  const gamma = options.gamma ?? 2;
  if (!(gamma >= 0)) throw new Error(`focal: gamma must be ≥ 0, got ${gamma}`);
  const focalTerms = (l: Tensor): Tensor => mul(pow(sub(1, exp(mul(l, -1))), gamma), l);
  return {
    name: 'focal',
    decide(info) {
      const m = info.indices.length;
      const weights = Float64Array.from(batchLosses(info), (l) => (1 - Math.exp(-l)) ** gamma / m);
      return { objective: (p) => mean(focalTerms(info.loss(p, info.X, info.y))), weights };
    },
  };
}

/**
 * The top-k mask of a loss vector: 1/k on the k largest losses (ties broken by position), 0 elsewhere.
 *
 * @example
 * ```ts
 * ohemWeights([0.1, 2, 0.5, 3], 2); // Float64Array [0, 0.5, 0, 0.5]
 * ```
 */
export function ohemWeights(losses: ArrayLike<number>, k: number): Float64Array {
  const m = losses.length;
  const kk = Math.max(1, Math.min(m, k));
  const order = Array.from({ length: m }, (_, i) => i).sort((a, b) => losses[b]! - losses[a]! || a - b);
  const w = new Float64Array(m);
  for (let i = 0; i < kk; i++) w[order[i]!] = 1 / kk;
  return w;
}

/**
 * Online hard example mining (Shrivastava et al. 2016): each step trains only on the
 * ⌈fraction · m⌉ examples of the batch with the highest loss, equally weighted.
 *
 * @param options.fraction share of the batch kept. Default 0.25.
 *
 * @example
 * ```ts
 * ohem({ fraction: 0.5 }).name; // 'ohem'
 * ```
 */
export function ohem<P extends Pytree>(options: { fraction?: number } = {}): Weighting<P> {
  const fraction = options.fraction ?? 0.25;
  if (!(fraction > 0 && fraction <= 1)) throw new Error(`ohem: fraction must be in (0, 1], got ${fraction}`);
  return {
    name: 'ohem',
    decide: (info) => fixed(info, ohemWeights(batchLosses(info), Math.ceil(fraction * info.indices.length))),
  };
}

/**
 * The self-paced threshold at a step: λ_t = λ₀ + (λ₁ − λ₀) · t / (T − 1), growing linearly.
 *
 * @example
 * ```ts
 * selfPacedThreshold(0, 11, 0.5, 1.5);  // 0.5
 * selfPacedThreshold(10, 11, 0.5, 1.5); // 1.5
 * ```
 */
export function selfPacedThreshold(step: number, totalSteps: number, start: number, end: number): number {
  return totalSteps <= 1 ? end : start + ((end - start) * step) / (totalSteps - 1);
}

/**
 * Self-paced learning (Kumar et al. 2010) with hard weights: an example counts, with weight 1/m,
 * only while its loss is below a threshold λ_t that grows over training (so the model admits
 * harder examples as it matures); the minimiser of Σ vᵢℓᵢ − λ Σ vᵢ over vᵢ ∈ {0, 1}.
 *
 * @param options.start λ₀. Default 1 (at initialisation binary losses are near log 2 ≈ 0.69, so training starts on most of the batch).
 * @param options.end λ₁ at the last step. Default 4.
 *
 * @example
 * ```ts
 * selfPaced({ start: 0.5, end: 2 }).name; // 'self-paced'
 * ```
 */
export function selfPaced<P extends Pytree>(options: { start?: number; end?: number } = {}): Weighting<P> {
  const start = options.start ?? 1;
  const end = options.end ?? 4;
  if (!(start > 0 && end >= start)) throw new Error(`selfPaced: need 0 < start ≤ end, got start ${start}, end ${end}`);
  return {
    name: 'self-paced',
    decide(info) {
      const m = info.indices.length;
      const lambda = selfPacedThreshold(info.step, info.totalSteps, start, end);
      return fixed(info, Float64Array.from(batchLosses(info), (l) => (l < lambda ? 1 / m : 0)));
    },
  };
}

/**
 * The curriculum's pool size at a step: ⌈f_t · n⌉ with f_t = f₀ + (1 − f₀) · min(1, t / (ρ T)).
 *
 * @example
 * ```ts
 * curriculumSize(0, 100, 1000, 0.2, 0.5);  // 200
 * curriculumSize(50, 100, 1000, 0.2, 0.5); // 1000
 * ```
 */
export function curriculumSize(step: number, totalSteps: number, n: number, startFraction: number, rampFraction: number): number {
  const progress = rampFraction <= 0 ? 1 : Math.min(1, step / (rampFraction * totalSteps));
  return Math.min(n, Math.max(1, Math.ceil((startFraction + (1 - startFraction) * progress) * n)));
}

/**
 * Curriculum learning (Bengio et al. 2009), easy to hard: examples are ranked by a reference
 * model's loss (lowest first) and batches are drawn from the easiest fraction f_t of the training
 * set, growing linearly from `startFraction` to 1 over the first `rampFraction` of training.
 * Within a batch the weights are uniform.
 *
 * @param referenceLosses one loss per training example, from a reference model.
 *
 * @example
 * ```ts
 * const c = curriculum([0.1, 3, 0.2, 5], { startFraction: 0.5 });
 * Array.from(c.pool!(0, 10)); // [0, 2]: the two easiest examples
 * ```
 */
export function curriculum<P extends Pytree>(
  referenceLosses: ArrayLike<number>,
  options: { startFraction?: number; rampFraction?: number } = {},
): Weighting<P> {
  const startFraction = options.startFraction ?? 0.2;
  const rampFraction = options.rampFraction ?? 0.5;
  if (!(startFraction > 0 && startFraction <= 1)) throw new Error(`curriculum: startFraction must be in (0, 1], got ${startFraction}`);
  const n = referenceLosses.length;
  const ranked = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => referenceLosses[a]! - referenceLosses[b]! || a - b);
  return {
    name: 'curriculum',
    pool: (step, total) => ranked.subarray(0, curriculumSize(step, total, n, startFraction, rampFraction)),
    decide: (info) => fixed(info, new Float64Array(info.indices.length).fill(1 / info.indices.length)),
  };
}

/**
 * Learning to Reweight: at every step the batch weights are `l2rwWeights` of the meta-gradient of
 * the clean validation loss through a one-step look-ahead (see `l2rw.ts`).
 *
 * @param metaGradient computes the meta-gradient for a batch at given parameters, by any route
 *   (e.g. `(p, b) => metaGradientMlp(p, 'relu', b, val, lr)`).
 *
 * @example
 * ```ts
 * const val = { X: tensor([[1, 1]]), y: tensor([1]) };
 * const w = l2rw((p, b) => metaGradientMlp(p, 'tanh', b, val, 0.1));
 * w.name; // 'l2rw'
 * ```
 */
export function l2rw<P extends Pytree>(metaGradient: (params: P, batch: Batch) => Float64Array): Weighting<P> {
  return {
    name: 'l2rw',
    decide(info) {
      const g = metaGradient(info.params, { X: info.X, y: info.y });
      return fixed(info, l2rwWeights(g));
    },
  };
}

/**
 * A fixed subset of the training set with uniform weights: the retraining step of Data Dropout.
 *
 * @param keep the training rows to train on.
 * @param name the reported name. Default 'subset'.
 *
 * @example
 * ```ts
 * Array.from(subset([0, 2, 3]).pool!(0, 10)); // [0, 2, 3]
 * ```
 */
export function subset<P extends Pytree>(keep: ArrayLike<number>, name = 'subset'): Weighting<P> {
  const rows = Int32Array.from(keep);
  if (rows.length === 0) throw new Error(`${name}: no training rows kept`);
  return {
    name,
    pool: () => rows,
    decide: (info) => fixed(info, new Float64Array(info.indices.length).fill(1 / info.indices.length)),
  };
}

/**
 * The per-example losses of a whole dataset (row-major `X`, `d` features) at given parameters, as
 * numbers: the reference losses that order a curriculum.
 *
 * @example
 * ```ts
 * lossesOf(mlpLoss('tanh'), mlpInit([2, 1], 0), Float64Array.from([1, 2]), Float64Array.from([1]), 2); // [log 2]
 * ```
 */
export function lossesOf<P extends Pytree>(loss: (p: P, X: Tensor, y: Tensor) => Tensor, params: P, X: Float64Array, y: Float64Array, d: number): Float64Array {
  return loss(params, tensor(X, [y.length, d]), tensor(y, [y.length])).toFloat64Array();
}

/**
 * Random batch weights: wᵢ = |zᵢ| / Σⱼ |zⱼ| with zᵢ ~ N(0, 1) drawn independently for every
 * example of the batch (a half-normal, "rectified Gaussian", draw normalised to sum to 1 over the
 * batch). This is the "random" baseline of Learning to Reweight (Ren et al. 2018, §5), as that
 * paper's text gives it (quoted here from memory of the paper, not re-checked against it): random
 * weights normalised within the mini-batch, which tests whether any per-example reweighting helps
 * or only the weights that L2RW's meta-gradient chooses. The half-normal keeps every weight
 * non-negative without the point mass at zero that max(0, z) would give.
 *
 * @param m the batch size.
 * @param rng the random stream (advanced by m normal draws).
 *
 * @example
 * ```ts
 * const w = randomBatchWeights(4, new Rng(0)); // four non-negative weights summing to 1
 * ```
 */
export function randomBatchWeights(m: number, rng: Rng): Float64Array {
  const w = Float64Array.from({ length: m }, () => Math.abs(rng.normal()));
  let total = 0;
  for (const v of w) total += v;
  if (!(total > 0)) return w.fill(1 / m); // all m draws exactly 0: probability 0, but stay a distribution
  for (let i = 0; i < m; i++) w[i] = w[i]! / total;
  return w;
}

/**
 * The random-weights baseline of Learning to Reweight: each step's batch gets fresh weights from
 * {@link randomBatchWeights} (non-negative, summing to 1). The weighting owns a seeded stream, so a
 * fresh `randomWeights({ seed })` replays the same weight sequence step by step; reuse of one
 * instance across runs continues the stream instead.
 *
 * @param options.seed seed of the weight stream (independent of the loop's batch stream). Default 0.
 *
 * @example
 * ```ts
 * randomWeights({ seed: 3 }).name; // 'random'
 * ```
 */
export function randomWeights<P extends Pytree>(options: { seed?: number } = {}): Weighting<P> {
  const rng = new Rng(options.seed ?? 0);
  return {
    name: 'random',
    decide: (info) => fixed(info, randomBatchWeights(info.indices.length, rng)),
  };
}

/**
 * Class-aware hard-example selection over a candidate batch: for each class c present among the
 * labels, keep the min(n_c, ⌈k / K⌉) examples of that class with the largest losses (K = classes
 * present, ties broken by position), and weight the kept examples equally (1 / number kept); every
 * other example gets 0. The weights sum to 1. A class with fewer than ⌈k / K⌉ candidates gives all
 * of them, so the kept set is then smaller than k and not exactly balanced (the slots it cannot fill
 * are not handed to the other classes).
 *
 * @param losses per-candidate losses.
 * @param labels per-candidate class labels.
 * @param k the number of examples to keep in all.
 *
 * @example
 * ```ts
 * // class 0 has losses 1, 5, 3; class 1 has 2, 0.5, 4; keep 2 per class (k = 4)
 * classAwareHardWeights([1, 5, 3, 2, 0.5, 4], [0, 0, 0, 1, 1, 1], 4);
 * // Float64Array [0, 0.25, 0.25, 0.25, 0, 0.25]
 * ```
 */
export function classAwareHardWeights(losses: ArrayLike<number>, labels: ArrayLike<number>, k: number): Float64Array {
  const m = losses.length;
  if (labels.length !== m) throw new Error(`classAwareHardWeights: ${m} losses but ${labels.length} labels`);
  if (!(Number.isInteger(k) && k > 0)) throw new Error(`classAwareHardWeights: k must be a positive integer, got ${k}`);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < m; i++) (byClass.get(labels[i]!) ?? byClass.set(labels[i]!, []).get(labels[i]!)!).push(i);
  const perClass = Math.ceil(k / Math.max(1, byClass.size));
  const kept: number[] = [];
  for (const rows of byClass.values()) {
    rows.sort((a, b) => losses[b]! - losses[a]! || a - b);
    kept.push(...rows.slice(0, perClass));
  }
  const w = new Float64Array(m);
  for (const i of kept) w[i] = 1 / kept.length;
  return w;
}

/**
 * Class-aware hard-example mining, the Learning to Reweight paper's "hard mining" baseline (Ren et
 * al. 2018, §5.1: candidates drawn in a batch of 500, the hardest kept per class so the trained
 * batch is class balanced). Run it with the loop's `batchSize` set to the candidate-pool size (500
 * in the paper): each step the loop draws that many candidates, this method scores them at the
 * current parameters and trains on {@link classAwareHardWeights} of them, the `keep` hardest split
 * equally among the classes present, equally weighted.
 *
 * Differences from the paper: the kept examples are zero-weighted rows of the drawn candidate
 * batch rather than a new batch (same objective, but the gradient pass still runs over all
 * candidates); when a class has fewer candidates than its share (e.g. about 2.5 fours in 500 at
 * pos_ratio 0.995) all of them are kept and the batch is smaller and not balanced, not topped up from
 * elsewhere; and the split, ⌈keep / K⌉ per class, is our reading of "class-aware".
 *
 * @param options.keep examples trained on per step. Default 100 (the paper's batch size).
 *
 * @example
 * ```ts
 * classAwareHardMining({ keep: 100 }).name; // 'hard-mining'
 * ```
 */
export function classAwareHardMining<P extends Pytree>(options: { keep?: number } = {}): Weighting<P> {
  const keep = options.keep ?? 100;
  if (!(Number.isInteger(keep) && keep > 0)) throw new Error(`classAwareHardMining: keep must be a positive integer, got ${keep}`);
  return {
    name: 'hard-mining',
    decide: (info) => fixed(info, classAwareHardWeights(batchLosses(info), info.y.toFloat64Array(), keep)),
  };
}

/**
 * The class-balanced resampling pool: every class's rows tiled cyclically to the size of the
 * largest class (a class of n_c rows repeats each ⌊n_max / n_c⌋ or ⌊n_max / n_c⌋ + 1 times), so
 * that a uniform draw from the pool picks each class with probability 1/K and, within a class,
 * every row (almost) equally often.
 *
 * @param labels every training label.
 *
 * @example
 * ```ts
 * Array.from(resamplingPool([1, 1, 1, 0])); // [0, 1, 2, 3, 3, 3]: class 1's rows, then row 3 three times
 * ```
 */
export function resamplingPool(labels: ArrayLike<number>): Int32Array {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) (byClass.get(labels[i]!) ?? byClass.set(labels[i]!, []).get(labels[i]!)!).push(i);
  const classes = [...byClass.keys()]; // in order of first appearance
  const nMax = Math.max(0, ...[...byClass.values()].map((r) => r.length));
  const pool = new Int32Array(classes.length * nMax);
  let at = 0;
  for (const c of classes) {
    const rows = byClass.get(c)!;
    for (let j = 0; j < nMax; j++) pool[at++] = rows[j % rows.length]!;
  }
  return pool;
}

/**
 * Class-balanced resampling (oversampling the minority): batches are drawn uniformly from
 * {@link resamplingPool}, where every class fills the same share, and weighted uniformly (1/m).
 * The expected objective is the class-balanced risk, as for `class-balanced` weighting, but reached
 * by repeating minority rows rather than scaling their losses. Because the loop draws without
 * replacement from the pool, a batch may hold several copies of one minority row (as sampling with
 * replacement would).
 *
 * @param labels every training label.
 *
 * @example
 * ```ts
 * resample([1, 1, 1, 0]).name; // 'resample'
 * ```
 */
export function resample<P extends Pytree>(labels: ArrayLike<number>): Weighting<P> {
  const pool = resamplingPool(labels);
  if (pool.length === 0) throw new Error('resample: no training labels');
  return {
    name: 'resample',
    pool: () => pool,
    decide: (info) => fixed(info, new Float64Array(info.indices.length).fill(1 / info.indices.length)),
  };
}

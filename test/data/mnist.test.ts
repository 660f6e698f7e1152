import { describe, expect, it } from 'vitest';
import { MNIST_PACKAGE_COUNTS, MNIST_PIXELS, binaryPair, digitIndices, gatherBinary, loadMnist } from '../../src/data/mnist.ts';
import { classCounts } from '../../src/data/builders.ts';

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

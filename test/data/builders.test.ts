import { describe, expect, it } from 'vitest';
import { applyStandardizer, classCounts, fitStandardizer, flipLabels, imbalancedPair, noisyPair } from '../../src/data/builders.ts';
import { MNIST_PACKAGE_COUNTS, MNIST_TRAIN_COUNTS, loadMnist, loadMnistBytes } from '../../src/data/mnist.ts';
import { Rng } from '../../src/core/rng.ts';

describe('imbalancedPair (L2RW 4-vs-9 protocol)', () => {
  const m = loadMnist();
  const opts = { posRatio: 0.95, nTrain: 400, nTest: 300, seed: 1 };
  const { train, val, test, sizes } = imbalancedPair(opts);

  it('achieves the requested ratio exactly and reports the sizes it used', () => {
    expect(classCounts(train.y, 2)).toEqual([20, 380]);
    expect(sizes).toMatchObject({
      majority: 9,
      minority: 4,
      nTrain: 400,
      nTrainMajority: 380,
      nTrainMinority: 20,
      posRatioAchieved: 0.95,
      nVal: 10,
      nTest: 300,
      availableMajority: MNIST_PACKAGE_COUNTS[9],
      availableMinority: MNIST_PACKAGE_COUNTS[4],
    });
  });

  it('rounds a non-integral majority count and reports the ratio actually achieved', () => {
    const r = imbalancedPair({ posRatio: 0.9, nTrain: 333, nTest: 100 });
    expect(r.sizes.nTrainMajority).toBe(300); // round(299.7)
    expect(classCounts(r.train.y, 2)).toEqual([33, 300]);
    expect(r.sizes.posRatioAchieved).toBe(300 / 333);
  });

  it('builds balanced validation and test sets', () => {
    expect(classCounts(val.y, 2)).toEqual([5, 5]);
    expect(classCounts(test.y, 2)).toEqual([150, 150]);
  });

  it('labels the majority digit 1 and the minority 0, consistently with the source images', () => {
    for (const s of [train, val, test]) {
      for (let i = 0; i < s.n; i++) expect(m.labels[s.index[i]!]).toBe(s.y[i] === 1 ? 9 : 4);
    }
  });

  it('keeps train, validation and test disjoint', () => {
    const all = [...train.index, ...val.index, ...test.index];
    expect(all.length).toBe(400 + 10 + 300);
    expect(new Set(all).size).toBe(all.length);
  });

  it('keeps validation and test fixed when only nTrain or posRatio change (same seed)', () => {
    const other = imbalancedPair({ ...opts, posRatio: 0.99, nTrain: 700 });
    expect(Array.from(other.val.index).sort()).toEqual(Array.from(val.index).sort());
    expect(Array.from(other.test.index).sort()).toEqual(Array.from(test.index).sort());
  });

  it('is deterministic under a seed and different under another', () => {
    const same = imbalancedPair(opts);
    expect(Array.from(same.train.index)).toEqual(Array.from(train.index));
    expect(Array.from(same.val.index)).toEqual(Array.from(val.index));
    const diff = imbalancedPair({ ...opts, seed: 2 });
    expect(Array.from(diff.val.index).sort()).not.toEqual(Array.from(val.index).sort());
    expect(Array.from(diff.train.index).sort()).not.toEqual(Array.from(train.index).sort());
  });

  it('supports other digit pairs', () => {
    const r = imbalancedPair({ majority: 1, minority: 7, posRatio: 0.5, nTrain: 100, nVal: 20, nTest: 20 });
    expect(classCounts(r.train.y, 2)).toEqual([50, 50]);
    for (let i = 0; i < r.train.n; i++) expect(m.labels[r.train.index[i]!]).toBe(r.train.y[i] === 1 ? 1 : 7);
  });

  it('says clearly when a request needs more images than the package has', () => {
    // 0.995 · 1000 = 995 nines + 5 val + 200 test = 1200 > 978.
    expect(() => imbalancedPair({ posRatio: 0.995, nTrain: 1000, nTest: 400 })).toThrow(
      'needs 1200 images of digit 9 (train 995 + val 5 + test 200) but the mnist package has only 978',
    );
    // The largest request that fits: 978 − 5 − 200 = 773 nines.
    expect(imbalancedPair({ posRatio: 0.5, nTrain: 1546, nTest: 400 }).sizes.nTrainMajority).toBe(773);
    expect(() => imbalancedPair({ posRatio: 0.5, nTrain: 1548, nTest: 400 })).toThrow('digit 9');
  });

  it('rejects invalid sizes and ratios', () => {
    expect(() => imbalancedPair({ posRatio: 0.9, nTrain: 100, nVal: 9 })).toThrow('nVal must be even');
    expect(() => imbalancedPair({ posRatio: 0.9, nTrain: 100, nTest: 11 })).toThrow('nTest must be even');
    expect(() => imbalancedPair({ posRatio: 1, nTrain: 100 })).toThrow('posRatio must be in [0.5, 1)');
    expect(() => imbalancedPair({ posRatio: 0.3, nTrain: 100 })).toThrow('posRatio must be in [0.5, 1)');
    expect(() => imbalancedPair({ posRatio: 0.995, nTrain: 50 })).toThrow('leaving no minority image; increase nTrain to at least 200');
    expect(() => imbalancedPair({ posRatio: 0.9, nTrain: 0 })).toThrow('nTrain must be a positive integer');
    expect(() => imbalancedPair({ majority: 4, minority: 4, posRatio: 0.9, nTrain: 10 })).toThrow('must differ');
  });
});

describe("imbalancedPair and noisyPair on full MNIST (source: 'full')", () => {
  const trainFile = loadMnistBytes('train');
  const testFile = loadMnistBytes('test');
  // The L2RW paper's sizes: 5,000 training images, 10 validation, 500 test, pixels 0..255.
  const paper = { posRatio: 0.995, nTrain: 5000, nTest: 500, source: 'full', scale: 255, seed: 0 } as const;
  const { train, val, test, sizes } = imbalancedPair(paper);

  it('fits the paper’s sizes, with validation and training from the training file and test from the test file', () => {
    expect(classCounts(train.y, 2)).toEqual([25, 4975]);
    expect(classCounts(val.y, 2)).toEqual([5, 5]);
    expect(classCounts(test.y, 2)).toEqual([250, 250]);
    expect([train.split, val.split, test.split]).toEqual(['train', 'train', 'test']);
    expect(sizes).toMatchObject({ availableMajority: MNIST_TRAIN_COUNTS[9], availableMinority: MNIST_TRAIN_COUNTS[4] });
    for (const [s, file] of [
      [train, trainFile],
      [val, trainFile],
      [test, testFile],
    ] as const) {
      for (let i = 0; i < s.n; i++) expect(file.labels[s.index[i]!]).toBe(s.y[i] === 1 ? 9 : 4);
    }
  });

  it('copies the bytes unscaled with scale 255, and keeps training and validation disjoint', () => {
    const r = train.index[7]!;
    expect(Array.from(train.X.subarray(7 * 784, 8 * 784))).toEqual(Array.from(trainFile.images.subarray(r * 784, (r + 1) * 784)));
    expect(new Set([...train.index, ...val.index]).size).toBe(5010);
    const unit = imbalancedPair({ ...paper, scale: 1 });
    expect(Array.from(unit.test.index)).toEqual(Array.from(test.index));
    expect(unit.test.X[unit.test.X.findIndex((v) => v > 0)]! * 255).toBeCloseTo(test.X[test.X.findIndex((v) => v > 0)]!, 10);
  });

  it('keeps validation and test fixed when only nTrain or posRatio change', () => {
    const other = imbalancedPair({ ...paper, posRatio: 0.9, nTrain: 1000 });
    expect(Array.from(other.val.index).sort()).toEqual(Array.from(val.index).sort());
    expect(Array.from(other.test.index).sort()).toEqual(Array.from(test.index).sort());
  });

  it('says which file runs short', () => {
    expect(() => imbalancedPair({ ...paper, posRatio: 0.5, nTrain: 12_000 })).toThrow(
      "needs 6005 images of digit 9 (train 6000 + val 5) but MNIST's training file has only 5949",
    );
    expect(() => imbalancedPair({ ...paper, nTest: 2000 })).toThrow("needs 1000 test images of digit 4 but MNIST's test file has only 982");
    expect(() => imbalancedPair({ posRatio: 0.9, nTrain: 100, scale: 255 })).toThrow("scale 255 needs source 'full'");
  });

  it('noisyPair draws from the training file’s 4s and 9s and tests on the test file’s', () => {
    const { train: tr, val: va, test: te, flipped } = noisyPair({ seed: 1, nTrain: 1000, nVal: 20, noise: 0.2, source: 'full' });
    expect(flipped.filter(Boolean).length).toBe(200);
    expect([tr.split, va.split, te.split]).toEqual(['train', 'train', 'test']);
    expect(te.n).toBe(982 + 1009);
    for (let i = 0; i < va.n; i++) expect(trainFile.labels[va.index[i]!]).toBe(va.y[i] === 1 ? 9 : 4);
    for (let i = 0; i < tr.n; i++) expect(trainFile.labels[tr.index[i]!] === (tr.y[i] === 1 ? 9 : 4)).toBe(!flipped[i]);
  });
});

describe('flipLabels', () => {
  const y = Int32Array.from({ length: 5000 }, (_, i) => i % 10);

  it('flips exactly round(fraction · n) labels, and the mask marks exactly the changed ones', () => {
    const { labels, flipped } = flipLabels(y, 0.3, 10, 42);
    expect(labels).toBeInstanceOf(Int32Array);
    expect(flipped.filter(Boolean).length).toBe(1500);
    for (let i = 0; i < y.length; i++) expect(flipped[i]).toBe(labels[i] !== y[i]);
    expect(Array.from(y)).toEqual(Array.from({ length: 5000 }, (_, i) => i % 10)); // input untouched
  });

  it('draws the new label uniformly over the other classes', () => {
    const big = new Int32Array(90_000); // all class 0
    const { labels } = flipLabels(big, 1, 10, 5);
    const counts = classCounts(labels, 10);
    expect(counts[0]).toBe(0);
    // Each of classes 1..9 ~ Binomial(9e4, 1/9): mean 1e4, SE = sqrt(9e4 · (1/9)(8/9)) = 94.3.
    for (let k = 1; k < 10; k++) expect(Math.abs(counts[k]! - 10_000)).toBeLessThan(5 * 94.3);
  });

  it('turns binary labels into 1 − y where flipped (Float64Array in, Float64Array out)', () => {
    const yb = Float64Array.from({ length: 100 }, (_, i) => i % 2);
    const { labels, flipped } = flipLabels(yb, 0.25, 2, 0);
    expect(labels).toBeInstanceOf(Float64Array);
    expect(flipped.filter(Boolean).length).toBe(25);
    for (let i = 0; i < 100; i++) expect(labels[i]).toBe(flipped[i] ? 1 - yb[i]! : yb[i]);
  });

  it('is deterministic under a seed and different under another; fraction 0 flips nothing', () => {
    expect(flipLabels(y, 0.2, 10, 1)).toEqual(flipLabels(y, 0.2, 10, 1));
    expect(flipLabels(y, 0.2, 10, 1).flipped).not.toEqual(flipLabels(y, 0.2, 10, 2).flipped);
    expect(flipLabels(y, 0, 10, 1).flipped.some(Boolean)).toBe(false);
  });

  it('rejects bad fractions, class counts and labels', () => {
    expect(() => flipLabels(y, 1.5, 10, 0)).toThrow('fraction must be in [0, 1]');
    expect(() => flipLabels(y, 0.1, 1, 0)).toThrow('numClasses must be an integer ≥ 2');
    expect(() => flipLabels(new Float64Array([0, 2]), 0.1, 2, 0)).toThrow('y[1] = 2 is not a class label in 0..1');
    expect(() => flipLabels(new Float64Array([0.5]), 0.1, 2, 0)).toThrow('y[0] = 0.5');
  });
});

describe('standardize', () => {
  it('maps training features to mean 0 and std 1, and constant features to 0', () => {
    const rng = new Rng(9);
    const n = 500;
    const d = 3;
    const X = new Float64Array(n * d);
    for (let i = 0; i < n; i++) {
      X[i * d] = 3 + 2 * rng.normal();
      X[i * d + 1] = 7; // constant, like MNIST's border pixels
      // Large offset, small spread: a one-pass E[x²] − E[x]² variance loses ~1e12·eps ≈ 2e-4 here
      // and would fail the 1e-9 check below; the two-pass form keeps it.
      X[i * d + 2] = 1e6 + rng.uniform();
    }
    const s = fitStandardizer(X, n, d);
    expect(s.std[1]).toBe(1);
    const Z = applyStandardizer(X, d, s);
    for (let j = 0; j < d; j++) {
      let mean = 0;
      let sq = 0;
      for (let i = 0; i < n; i++) mean += Z[i * d + j]! / n;
      for (let i = 0; i < n; i++) sq += (Z[i * d + j]! - mean) ** 2 / n;
      // Column 3's inputs carry an absolute rounding error of ulp(1e6) ≈ 1.2e-10, i.e. ≈ 4e-10
      // after dividing by its std of 0.29; 1e-8 allows that with room and still catches a wrong mean.
      expect(Math.abs(mean)).toBeLessThan(1e-8);
      expect(sq).toBeCloseTo(j === 1 ? 0 : 1, 9);
    }
    expect(Z[1]).toBe(0);
  });

  it('applies training statistics to other data unchanged (no refit)', () => {
    const s = fitStandardizer(new Float64Array([0, 2]), 2, 1); // mean 1, std 1
    expect(Array.from(applyStandardizer(new Float64Array([5, -1]), 1, s))).toEqual([4, -2]);
  });

  it('rejects mismatched shapes', () => {
    expect(() => fitStandardizer(new Float64Array(5), 2, 2)).toThrow('expected n·d = 4');
    const s = fitStandardizer(new Float64Array(4), 2, 2);
    expect(() => applyStandardizer(new Float64Array(6), 3, s)).toThrow('standardizer has 2 features, data has 3');
  });
});

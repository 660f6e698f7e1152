/**
 * The attribution metrics against hand-worked cases and their definitions: average ranks with
 * ties, Spearman as Pearson of ranks, the Mann–Whitney AUC against a brute-force pair count (ties
 * half), LDS's orientation (summed scores against −loss) on a case small enough to do by hand, and
 * the LOO correlation as a per-test Pearson.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { averageRanks, detectionAuc, lds, looCorrelation, pearson, spearman } from '../../src/index.ts';
import { expectClose } from '../helpers.ts';

/** Arrays drawn from a small pool, so ties are common. */
const tied = (n: number) => fc.array(fc.integer({ min: 0, max: 4 }), { minLength: n, maxLength: n });

describe('ranks and Spearman', () => {
  it('average ranks: tied entries share the mean of the ranks they span', () => {
    expectClose(averageRanks([10, 20, 20, 5]), [2, 3.5, 3.5, 1]);
    expectClose(averageRanks([3, 3, 3]), [2, 2, 2]);
    expectClose(averageRanks([0.5, -1, 0.5, 0.5, 7]), [3, 1, 3, 3, 5]);
  });

  it('a hand-worked case with ties: x = [1, 2, 2, 3], y = [1, 3, 2, 2]', () => {
    // ranks x = [1, 2.5, 2.5, 4], ranks y = [1, 4, 2.5, 2.5]; both have mean 2.5 and
    // Σ dx² = Σ dy² = 2.25 + 0 + 0 + 2.25 = 4.5; Σ dx·dy = 2.25 + 0 + 0 + 0 = 2.25 → ρ = 0.5.
    expect(spearman([1, 2, 2, 3], [1, 3, 2, 2])).toBeCloseTo(0.5, 14);
    // No ties: 1 − 6 Σd² / (n(n² − 1)) = 1 − 6·2/60.
    expect(spearman([1, 2, 3, 4], [10, 30, 20, 40])).toBeCloseTo(0.8, 14);
  });

  it('equals Pearson of the average ranks, and is unchanged by increasing transforms', () => {
    fc.assert(
      fc.property(tied(12), tied(12), (a, b) => {
        const r = spearman(a, b);
        const ref = pearson(averageRanks(a), averageRanks(b));
        if (Number.isNaN(ref)) return expect(r).toBeNaN();
        expect(r).toBeCloseTo(ref, 12);
        expect(spearman(a.map((x) => Math.exp(x)), b.map((x) => x ** 3 + x))).toBeCloseTo(r, 12);
      }),
      { numRuns: 200 },
    );
  });
});

describe('noisy-label detection AUC', () => {
  it('a hand-worked case: 2 flagged × 2 clean pairs, one tie', () => {
    // flagged 0.9, 0.5; clean 0.1, 0.5: pairs (0.9,0.1) ✓ (0.9,0.5) ✓ (0.5,0.1) ✓ (0.5,0.5) ½ → 3.5/4.
    expect(detectionAuc([0.9, 0.1, 0.5, 0.5], [1, 0, 1, 0])).toBeCloseTo(0.875, 14);
    expect(detectionAuc([3, 2, 1], [true, false, false])).toBe(1);
    expect(detectionAuc([1, 2, 3], [true, false, false])).toBe(0);
  });

  it('equals the brute-force count over (flagged, clean) pairs with ties as one half', () => {
    fc.assert(
      fc.property(tied(15), fc.array(fc.boolean(), { minLength: 15, maxLength: 15 }), (s, f) => {
        fc.pre(f.some((x) => x) && f.some((x) => !x));
        let won = 0;
        let pairs = 0;
        s.forEach((a, i) => s.forEach((b, j) => {
          if (!f[i] || f[j]) return;
          pairs++;
          won += a > b ? 1 : a === b ? 0.5 : 0;
        }));
        expect(detectionAuc(s, f)).toBeCloseTo(won / pairs, 12);
      }),
      { numRuns: 200 },
    );
  });
});

describe('LDS and LOO correlation', () => {
  it('LDS correlates the summed scores of each subset with −loss, per test point, and averages', () => {
    // 4 training points, 2 test points; scores row 0 = [1, 2, 3, 4], row 1 = [0, 0, 0, 0] (constant).
    const scores = { tests: 2, train: 4, values: new Float64Array([1, 2, 3, 4, 0, 0, 0, 0]) };
    const subsets = [[0, 1], [0, 3], [2, 3]]; // summed (test 0): 3, 5, 7
    // Test 0's loss falls as the summed score rises (helpful points lower it): LDS = +1.
    // Test 1's summed scores are constant: undefined, excluded from the mean.
    const losses = new Float64Array([0.9, 0.1, 0.5, 0.2, 0.1, 0.3]); // row j = subset j: [test0, test1]
    const r = lds(scores, subsets, losses);
    expect(r.perTest[0]).toBeCloseTo(1, 14);
    expect(r.perTest[1]).toBeNaN();
    expect(r.undefinedCount).toBe(1);
    expect(r.mean).toBeCloseTo(1, 14);
    // The same outputs read as a gain (higher = helped) flip the sign.
    expect(lds(scores, subsets, losses, { output: 'gain' }).perTest[0]).toBeCloseTo(-1, 14);
  });

  it('LOO correlation is the per-test Pearson over the chosen rows, and its mean', () => {
    const scores = { tests: 2, train: 4, values: new Float64Array([1, 2, 3, 4, 4, 1, 2, 3]) };
    const loo = { tests: 2, train: 3, values: new Float64Array([2, 4, 7, 1, 1, 1.5]) };
    const rows = [0, 1, 3];
    const r = looCorrelation(scores, loo, rows);
    expect(r.perTest[0]).toBeCloseTo(pearson([1, 2, 4], [2, 4, 7]), 14);
    expect(r.perTest[1]).toBeCloseTo(pearson([4, 1, 3], [1, 1, 1.5]), 14);
    expect(r.mean).toBeCloseTo((r.perTest[0]! + r.perTest[1]!) / 2, 14);
    expect(() => looCorrelation(scores, loo)).toThrow(/3 columns for 4 rows/);
  });
});

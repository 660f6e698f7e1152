/**
 * The row-wise helpers of src/linalg/vector.ts on values checkable by hand.
 */
import { describe, expect, it } from 'vitest';
import { normalizeRowsInPlace, softmaxRowsInPlace } from '../../src/linalg/vector.ts';

describe('row-wise softmax and normalisation', () => {
  it('softmax shifts each row by its maximum: huge equal logits give 1/2, not NaN', () => {
    const Z = new Float64Array([0, 0, 1000, 1000, 0, Math.log(3)]);
    expect(softmaxRowsInPlace(Z, 3, 2)).toBe(Z); // in place
    // Row 3: e^0 : e^{log 3} = 1 : 3. Each entry is a few roundings (exp, a sum, a division) from
    // the exact value, so 1e-15 absolute is a few ulps at these magnitudes.
    [0.5, 0.5, 0.5, 0.5, 0.25, 0.75].forEach((v, k) => expect(Math.abs(Z[k]! - v)).toBeLessThan(1e-15));
  });

  it('normalisation divides by the Euclidean norm and leaves a zero row zero', () => {
    const G = new Float64Array([3, 4, 0, 0]);
    // 3·(1/5) and 4·(1/5) round once each: within an ulp of 0.6 and 0.8; the zero row is exact.
    normalizeRowsInPlace(G, 2, 2);
    [0.6, 0.8].forEach((v, k) => expect(Math.abs(G[k]! - v)).toBeLessThan(2e-16));
    expect(Array.from(G.subarray(2))).toEqual([0, 0]);
  });
});

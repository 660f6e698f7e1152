/**
 * The linear models' fast Hessian and HVP (the GLM formula with sparse features) against the
 * engine's `hessian` and forward-over-reverse `hvp` of the same objective, and the flat parameter
 * layout's regularisation rule. Both sides are float64 sums of the same O(n·d) terms in different
 * orders, so they agree to ~1e-15 relative; 1e-12 leaves room for n ≤ 60 terms of size O(1).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hessian, linearObjective, paramLayout, tensor, zeros } from '../../src/index.ts';
import { fromFloat64 } from '../../src/core/create.ts';
import { expectClose, maxAbs } from '../helpers.ts';
import { randomData, randomObjective } from '../influence/problems.ts';
import { Rng } from '../../src/core/rng.ts';

const kinds = ['linreg', 'logreg', 'softmax'] as const;

describe('linear models', () => {
  it('the fast dense Hessian equals the engine hessian of R', () => {
    fc.assert(
      fc.property(fc.constantFrom(...kinds), fc.integer({ min: 5, max: 40 }), fc.integer({ min: 1, max: 4 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 1e6 }), (kind, n, d, l2, seed) => {
        const obj = randomObjective(kind, n, d, l2, seed);
        const theta = Float64Array.from({ length: obj.dim }, (_, i) => Math.sin(seed + i));
        const fast = obj.hessian(theta);
        const R = (th: any) => (obj as any).R(th);
        const ref = hessian(R)(fromFloat64(theta, [obj.dim])).toFloat64Array();
        expectClose(fast, ref, { rtol: 1e-12, atol: 1e-12 * maxAbs(ref), what: `${kind} Hessian` });
      }),
      { numRuns: 30 },
    );
  });

  // Sparse rows (most features zero, as MNIST's pixels) take the index path, dense rows the direct
  // one; `zeroFraction` 0.8 makes the first, 0 the second.
  it.each([0, 0.8])('the fast HVP (full, weighted and mini-batch) equals the engine HVP, %s of the features zero', (zeroFraction) => {
    fc.assert(
      fc.property(fc.constantFrom(...kinds), fc.integer({ min: 5, max: 40 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 1e6 }), (kind, n, d, seed) => {
        const data = randomData(kind, n, d, seed);
        const rng = new Rng(seed + 1);
        for (let j = 0; j < data.X.length; j++) if (rng.uniform() < zeroFraction) data.X[j] = 0;
        const base = linearObjective(kind, data, 0.3, kind === 'softmax' ? { classes: 3 } : {});
        const w = Float64Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 0 : 1 + 0.1 * i));
        const obj = base.withWeights(w);
        const theta = Float64Array.from({ length: obj.dim }, (_, i) => Math.cos(seed + 2 * i));
        const v = Float64Array.from({ length: obj.dim }, (_, i) => Math.sin(3 * i + 1));
        const batch = [n - 1, 0, Math.floor(n / 2)];
        for (const b of [undefined, batch]) {
          const ref = obj.engineHvp(theta, v, b);
          expectClose(obj.hvp(theta, v, b), ref, { rtol: 1e-12, atol: 1e-13 * maxAbs(ref), what: `${kind} HVP${b ? ' (batch)' : ''}` });
        }
      }),
      { numRuns: 30 },
    );
  });

  it('leaves under key b are not regularised, W and w are', () => {
    const layout = paramLayout([{ W: zeros([2, 3]), b: zeros([2]) }, { w: tensor([1]), b: tensor(0) }]);
    expect(Array.from(layout.regularized)).toEqual([1, 1, 1, 1, 1, 1, 0, 0, 1, 0]);
    expect(layout.size).toBe(10);
  });

  it('rejects labels the model cannot use, naming the row', () => {
    const d = { X: new Float64Array(4), y: new Float64Array([0, 2]), n: 2, d: 2 };
    expect(() => linearObjective('logreg', d, 0.1)).toThrow(/row 2 has label 2; logreg needs labels 0 or 1/);
    expect(() => linearObjective('softmax', { ...d, y: new Float64Array([0, 1.5]) }, 0.1, { classes: 2 })).toThrow(/row 2 has label 1.5/);
    expect(() => linearObjective('linreg', d, 0.1)).not.toThrow();
  });
});

/**
 * L-BFGS reaches ‖∇R‖ < 1e-10 on random convex problems and agrees with Newton's optimum to
 * (‖∇R(a)‖ + ‖∇R(b)‖)/λ_min (`optimaTolerance` in test/helpers.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConvergenceError, lbfgs, minimizeLbfgs, newton } from '../../src/index.ts';
import { expectClose, optimaTolerance } from '../helpers.ts';
import { randomObjective } from '../influence/problems.ts';

describe('lbfgs', () => {
  it('reaches ‖∇R‖ < 1e-10 and Newton’s optimum', () => {
    fc.assert(
      fc.property(fc.constantFrom('linreg', 'logreg', 'softmax' as const), fc.integer({ min: 20, max: 80 }), fc.integer({ min: 1, max: 5 }), fc.double({ min: 0.02, max: 1, noNaN: true }), fc.integer({ min: 1, max: 1e6 }), (kind, n, d, l2, seed) => {
          const obj = randomObjective(kind, n, d, l2, seed);
          const r = lbfgs(obj);
          expect(r.gradNorm).toBeLessThan(1e-10);
          // Softmax intercepts are unpenalised and adding one constant to all of them changes no
          // probability, so the optimum is unique only up to that shift: compare centred intercepts.
          const centred = (theta: Float64Array) => {
            if (kind !== 'softmax') return theta;
            const t = theta.slice();
            const b = t.subarray(t.length - 3);
            const mean = (b[0]! + b[1]! + b[2]!) / 3;
            for (let j = 0; j < 3; j++) b[j]! -= mean;
            return t;
          };
          const n2 = newton(obj);
          const atol = optimaTolerance(obj, n2.theta, r.gradNorm, n2.gradNorm);
          expectClose(centred(r.theta), centred(n2.theta), { rtol: 0, atol, what: 'L-BFGS vs Newton' });
        },
      ),
      { numRuns: 15 },
    );
  });

  it('minimises the Rosenbrock function to 1e-10', () => {
    const f = (x: Float64Array): [number, Float64Array] => [
      (1 - x[0]!) ** 2 + 100 * (x[1]! - x[0]! ** 2) ** 2,
      new Float64Array([-2 * (1 - x[0]!) - 400 * x[0]! * (x[1]! - x[0]! ** 2), 200 * (x[1]! - x[0]! ** 2)]),
    ];
    const r = minimizeLbfgs(f, new Float64Array([-1.2, 1]));
    expectClose(r.theta, [1, 1], { rtol: 0, atol: 1e-9 });
  });

  it('throws ConvergenceError when the cap is hit', () => {
    expect(() => lbfgs(randomObjective('logreg', 50, 3, 0.01, 3), { maxIter: 2 })).toThrow(ConvergenceError);
  });
});

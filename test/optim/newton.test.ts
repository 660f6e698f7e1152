/**
 * Newton (dense and Newton-CG) reaches ‖∇R‖ < 1e-10 on random convex problems, agrees across modes,
 * and throws ConvergenceError when it cannot get there.
 *
 * Agreement tolerance: the two optima may differ by (‖∇R(a)‖ + ‖∇R(b)‖) / λ_min, with λ_min computed
 * at the optimum (`optimaTolerance` in test/helpers.ts says why it cannot be assumed); with
 * ‖∇R‖ < 1e-10 and λ_min ≳ 1e-2, most draws, that is 2e-8. Both runs start at 0 and step
 * orthogonally to softmax's gauge direction, so they agree along it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConvergenceError, newton } from '../../src/index.ts';
import { expectClose, optimaTolerance, thrown } from '../helpers.ts';
import { randomObjective } from '../influence/problems.ts';

describe('newton', () => {
  it('dense and Newton-CG reach ‖∇R‖ < 1e-10 and the same optimum', () => {
    fc.assert(
      fc.property(fc.constantFrom('linreg', 'logreg', 'softmax' as const), fc.integer({ min: 20, max: 80 }), fc.integer({ min: 1, max: 5 }), fc.double({ min: 0.02, max: 1, noNaN: true }), fc.integer({ min: 1, max: 1e6 }), (kind, n, d, l2, seed) => {
          const obj = randomObjective(kind, n, d, l2, seed);
          const a = newton(obj);
          const b = newton(obj, { mode: 'cg' });
          expect(a.gradNorm).toBeLessThan(1e-10);
          expect(b.gradNorm).toBeLessThan(1e-10);
          expect(a.iterations).toBeLessThan(30);
          expect(Math.hypot(...obj.gradient(a.theta))).toBeLessThan(1e-10);
          const atol = optimaTolerance(obj, a.theta, a.gradNorm, b.gradNorm);
          expectClose(a.theta, b.theta, { rtol: 0, atol, what: 'dense vs CG optimum' });
        },
      ),
      { numRuns: 15 },
    );
  });

  it('linear regression converges in one Newton step (R is quadratic)', () => {
    const r = newton(randomObjective('linreg', 30, 3, 0.1, 7));
    expect(r.iterations).toBe(1);
  });

  it('throws ConvergenceError with the gradient norm when the cap is hit', () => {
    const obj = randomObjective('logreg', 50, 3, 0.01, 3);
    expect(() => newton(obj, { maxIter: 1 })).toThrow(ConvergenceError);
    expect(() => newton(obj, { maxIter: 1 })).toThrow(/‖∇R‖ = .* after 1 iterations, not below tol 1e-10 \(the cap maxIter = 1; raise maxIter/);
    const c = thrown(() => newton(obj, { maxIter: 1 }), ConvergenceError);
    expect([c.method, c.iterations, c.tol]).toEqual(['newton-dense', 1, 1e-10]);
    expect(c.residual).toBe(c.result!.gradNorm);
    expect(c.residual).toBeGreaterThan(1e-10);
    // Asked for, the last iterate comes back marked.
    const r = newton(obj, { maxIter: 1, allowUnconverged: true });
    expect(r.converged).toBe(false);
    expect(r.gradNorm).toBe(c.residual);
  });
});

/**
 * Inverse-HVP solvers against the exact solve (proofs/conjugate-gradient.md, proofs/lissa.md):
 * CG to 1e-6 relative accuracy; LiSSA's fixed point s (H + s d I)⁻¹ v divided by s; LiSSA
 * divergence detected when the scale is invalid; Arnoldi's eigenvalues and full-rank inverse;
 * and the exact solver's not-positive-definite error reporting the right smallest eigenvalue.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromFloat64 } from '../../src/core/create.ts';
import { matmul, neg, square } from '../../src/index.ts';
import {
  IndefiniteHessianError, LissaDivergenceError, NotPositiveDefiniteError, Objective, arnoldi, cholesky, inverseHvp,
  jacobiEigen, newton, smallestEigenvalue,
} from '../../src/influence/index.ts';
import { conjugateGradient } from '../../src/optim/cg.ts';
import { expectClose, maxAbs } from '../helpers.ts';
import { randomObjective } from './problems.ts';

const kinds = ['linreg', 'logreg', 'softmax'] as const;
const relErr = (a: Float64Array, b: Float64Array) => {
  let num = 0;
  let den = 0;
  a.forEach((x, i) => {
    num += (x - b[i]!) ** 2;
    den += b[i]! ** 2;
  });
  return Math.sqrt(num / den);
};
const arbProblem = fc.tuple(fc.constantFrom(...kinds), fc.integer({ min: 20, max: 80 }), fc.integer({ min: 1, max: 6 }), fc.double({ min: 0.01, max: 1, noNaN: true }), fc.integer({ min: 1, max: 1e6 }));

function trained(kind: (typeof kinds)[number], n: number, d: number, l2: number, seed: number) {
  const obj = randomObjective(kind, n, d, l2, seed);
  return { obj, theta: newton(obj).theta, v: Float64Array.from({ length: obj.dim }, (_, i) => Math.sin(seed + 3 * i) + 0.1) };
}

/** v with the gauge component removed (softmax intercepts): the part of θ-space H acts on. */
function project(obj: { spec: { gauge?: Float64Array[] } }, v: Float64Array) {
  for (const u of obj.spec.gauge ?? []) {
    const c = u.reduce((a, x, i) => a + x * v[i]!, 0);
    v = v.map((x, i) => x - c * u[i]!);
  }
  return v;
}

describe('CG', () => {
  it('matches the exact solve to 1e-6 relative accuracy with the default tolerance', () => {
    fc.assert(
      fc.property(arbProblem, ([kind, n, d, l2, seed]) => {
        const { obj, theta, v } = trained(kind, n, d, l2, seed);
        const b = project(obj, v);
        const exact = inverseHvp(obj, theta, { solver: 'exact' }).solve(b);
        const inv = inverseHvp(obj, theta, { solver: 'cg' });
        const x = inv.solve(b);
        expect(relErr(x, exact)).toBeLessThan(1e-6);
        expect(inv.info.converged).toBe(true);
        const hist = inv.info.residualHistory!;
        expect(hist[0]).toBe(1);
        expect(hist[hist.length - 1]!).toBeLessThanOrEqual(1e-10);
      }),
      { numRuns: 20 },
    );
  });

  it('with damping δ solves (H + δI) x = v', () => {
    const { obj, theta, v } = trained('logreg', 40, 3, 0.1, 4);
    const exact = inverseHvp(obj, theta, { solver: 'exact', damping: 0.3 }).solve(v);
    expect(relErr(inverseHvp(obj, theta, { solver: 'cg', damping: 0.3 }).solve(v), exact)).toBeLessThan(1e-8);
  });

  it('reports negative curvature instead of returning a meaningless iterate', () => {
    const A = (x: Float64Array) => new Float64Array([x[0]!, -2 * x[1]!]);
    const r = conjugateGradient(A, new Float64Array([1, 1]));
    expect(r.negativeCurvature).toBeDefined();
    expect(r.converged).toBe(false);
  });
});

describe('LiSSA', () => {
  it('with a valid scale converges to (H + s d I)⁻¹ v: divided by s, effective damping s·d reported', () => {
    fc.assert(
      fc.property(arbProblem, fc.constantFrom(0, 0.01, 0.2), ([kind, n, d, l2, seed], damp) => {
        const { obj, theta, v } = trained(kind, n, d, l2, seed);
        const b = project(obj, v);
        const inv = inverseHvp(obj, theta, { solver: 'lissa', lissa: { damping: damp, tol: 1e-12, maxDepth: 200000 } });
        const x = inv.solve(b);
        const s = inv.info.scale!;
        expect(inv.info.effectiveDamping).toBeCloseTo(s * damp, 14);
        const exact = inverseHvp(obj, theta, { solver: 'exact', damping: s * damp }).solve(b);
        // Stopping at relative change 1e-12 leaves an error of about 1e-12 · s/λ_min ≤ 1e-12 · κ;
        // κ ≤ ~1e4 here, so 1e-7 is a bound with margin.
        expect(relErr(x, exact)).toBeLessThan(1e-7);
      }),
      { numRuns: 15 },
    );
  });

  it('an automatic scale whose power-iteration estimate fell short is doubled until the iteration converges', () => {
    const { obj, theta, v } = trained('logreg', 60, 4, 0.01, 11);
    // One power iteration from a random start underestimates λ_max badly, so the first scale is invalid.
    const inv = inverseHvp(obj, theta, { solver: 'lissa', lissa: { powerIterations: 1, tol: 1e-12, maxDepth: 200000 } });
    const first = inv.info.scale!;
    const x = inv.solve(v);
    expect(inv.info.scale!).toBeGreaterThan(first);
    expect(relErr(x, inverseHvp(obj, theta, { solver: 'exact' }).solve(v))).toBeLessThan(1e-7);
  });

  it('mini-batch LiSSA with repeats approximates the full solve', () => {
    const { obj, theta, v } = trained('logreg', 80, 3, 0.2, 9);
    const exact = inverseHvp(obj, theta, { solver: 'exact' }).solve(v);
    const inv = inverseHvp(obj, theta, { solver: 'lissa', lissa: { batchSize: 40, depth: 400, repeats: 8, seed: 1 } });
    // Mini-batch noise: the Neumann series of a random product; with half-size batches and 8
    // repeats the error is a few percent, not a convergence to rounding.
    expect(relErr(inv.solve(v), exact)).toBeLessThan(0.1);
  });

  it('detects and reports divergence when the scale is too small (s < λ_max / 2)', () => {
    fc.assert(
      fc.property(arbProblem, ([kind, n, d, l2, seed]) => {
        const { obj, theta, v } = trained(kind, n, d, l2, seed);
        const H = obj.hessian(theta);
        const lmax = jacobiEigen(H, obj.dim).values[0]!;
        const inv = inverseHvp(obj, theta, { solver: 'lissa', lissa: { scale: lmax / 2.5, depth: 5000 } });
        // v with a component along the top eigenvector (which the iteration amplifies by 1.5×/step).
        expect(() => inv.solve(v.map((x) => x + 1))).toThrow(LissaDivergenceError);
        expect(() => inv.solve(v.map((x) => x + 1))).toThrow(/diverged at iteration \d+.*scale s = .* too small/);
      }),
      { numRuns: 10 },
    );
  });
});

describe('Arnoldi', () => {
  it('finds the top eigenvalues, and with full rank reproduces the exact inverse', () => {
    fc.assert(
      fc.property(arbProblem, ([kind, n, d, l2, seed]) => {
        const { obj, theta, v } = trained(kind, n, d, l2, seed);
        const p = obj.dim;
        const ref = jacobiEigen(obj.hessian(theta), p).values;
        const { values } = arnoldi((x) => obj.hvp(theta, x), p, { k: Math.min(3, p), iterations: p });
        expectClose(values, ref.slice(0, values.length), { rtol: 1e-8, atol: 1e-10 * ref[0]! });
        const b = project(obj, v);
        const full = inverseHvp(obj, theta, { solver: 'arnoldi', arnoldi: { k: p, iterations: p } });
        expect(relErr(full.solve(b), inverseHvp(obj, theta, { solver: 'exact' }).solve(b))).toBeLessThan(1e-6);
      }),
      { numRuns: 15 },
    );
  });
});

describe('exact solver on a Hessian that is not positive definite', () => {
  it('reports the smallest eigenvalue (checked against Jacobi) in the error', () => {
    fc.assert(
      fc.property(fc.integer({ min: 10, max: 40 }), fc.integer({ min: 2, max: 6 }), fc.integer({ min: 1, max: 1e6 }), (n, d, seed) => {
        // A concave loss ℓ = −(wᵀx)² with a small ridge: H = −(2/n) XᵀX + λI is indefinite.
        const base = randomObjective('linreg', n, d, 0.05, seed);
        const obj = new Objective({
          params: { w: fromFloat64(new Float64Array(d), [d]) },
          loss: (p: { w: any }, X: any) => neg(square(matmul(X, p.w))),
          X: base.spec.X,
          Y: base.spec.Y,
          l2: 0.05,
        });
        const theta = new Float64Array(d);
        const ref = jacobiEigen(obj.hessian(theta), d).values;
        const lmin = ref[ref.length - 1]!;
        fc.pre(lmin < -1e-6);
        let err: unknown;
        try {
          inverseHvp(obj, theta, { solver: 'exact' });
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(NotPositiveDefiniteError);
        expect((err as NotPositiveDefiniteError).smallestEigenvalue).toBeCloseTo(lmin, 10);
        expect((err as Error).message).toMatch(/not positive definite.*smallest eigenvalue is -/);
        // CG says so too.
        expect(() => inverseHvp(obj, theta, { solver: 'cg' }).solve(Float64Array.from({ length: d }, (_, i) => 1 + i))).toThrow(IndefiniteHessianError);
      }),
      { numRuns: 20 },
    );
  });

  it('smallestEigenvalue agrees with Jacobi on random symmetric matrices (every k)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 1e6 }), (d, seed) => {
        let s = seed;
        const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
        const A = new Float64Array(d * d);
        for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++) A[i * d + j] = A[j * d + i] = rand();
        const ref = Array.from(jacobiEigen(A, d).values).reverse();
        ref.forEach((lam, k) => expect(Math.abs(smallestEigenvalue(A, d, k) - lam)).toBeLessThan(1e-12 * Math.max(1, maxAbs(ref))));
      }),
      { numRuns: 50 },
    );
  });

  it('cholesky solves SPD systems', () => {
    const L = cholesky(new Float64Array([4, 2, 2, 3]), 2);
    expectClose(L, [2, 0, 1, Math.SQRT2], { rtol: 1e-15 });
    expect(() => cholesky(new Float64Array([1, 2, 2, 1]), 2)).toThrow(/smallest eigenvalue is -1\.00000/);
  });
});

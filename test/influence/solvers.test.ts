/**
 * Inverse-HVP solvers against the exact solve (proofs/conjugate-gradient.md, proofs/lissa.md):
 * CG to 1e-6 relative accuracy; LiSSA's fixed point s (H + s d I)⁻¹ v divided by s; LiSSA
 * divergence detected when the scale is invalid; no silent caps (ConvergenceError, or the partial
 * result marked unconverged when asked); LiSSA refusing indefinite and singular Hessians instead of
 * returning a wrong sign (the three cases of issue 11 as regression tests, and a property test);
 * the stochastic (mini-batch) LiSSA's mean against the exact solve; Arnoldi's eigenvalues and
 * full-rank inverse; and the exact solver's not-positive-definite error reporting the right
 * smallest eigenvalue.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromFloat64 } from '../../src/core/create.ts';
import { matmul, neg, square } from '../../src/index.ts';
import {
  ConvergenceError, IndefiniteHessianError, LissaDivergenceError, NotPositiveDefiniteError, Objective, arnoldi, cholesky, inverseHvp,
  jacobiEigen, newton, smallestEigenvalue,
} from '../../src/index.ts';
import { conjugateGradient } from '../../src/optim/cg.ts';
import { Rng } from '../../src/core/rng.ts';
import { expectClose, maxAbs, thrown } from '../helpers.ts';
import { diag, quadraticObjective, randomObjective } from './problems.ts';

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
    const err = thrown(() => conjugateGradient(A, new Float64Array([1, 1])), IndefiniteHessianError);
    // The first direction is b = [1, 1]: curvature (1 − 2)/2 = −0.5.
    expect(err.curvature).toBe(-0.5);
    expect(err.message).toMatch(/not positive definite: curvature .* -0\.5000 ≤ 0/);
    // Asked for, the partial result comes back marked.
    const r = conjugateGradient(A, new Float64Array([1, 1]), { allowUnconverged: true });
    expect(r.negativeCurvature).toEqual({ curvature: -0.5, iteration: 0 });
    expect(r.converged).toBe(false);
  });

  it('at its cap above tol throws ConvergenceError (iterations, residual, tol), or returns the partial result marked converged: false when asked', () => {
    const { obj, theta, v } = trained('logreg', 60, 4, 0.05, 21);
    const exact = inverseHvp(obj, theta, { solver: 'exact' }).solve(v);
    // tol 0 (the CLI's `--cg-tol 0`): rounding never gives an exactly zero residual.
    const c = thrown(() => inverseHvp(obj, theta, { solver: 'cg', cg: { tol: 0 } }).solve(v), ConvergenceError);
    expect([c.method, c.iterations, c.tol]).toEqual(['cg', 2 * obj.dim, 0]);
    expect(c.residual).toBeGreaterThan(0);
    expect(c.residual).toBeLessThan(1e-12);
    expect(c.message).toMatch(/relative residual .* after 10 iterations \(the cap cg\.maxIter = 10\) is not ≤ cg\.tol = 0; cg\.tol = 0 asks for an exactly zero residual/);
    // A cap too small for the tolerance: the message says which option to raise.
    expect(() => inverseHvp(obj, theta, { solver: 'cg', cg: { maxIter: 2 } }).solve(v)).toThrow(/after 2 iterations \(the cap cg\.maxIter = 2\).*raise cg\.maxIter/);
    const partial = inverseHvp(obj, theta, { solver: 'cg', cg: { maxIter: 2 }, allowUnconverged: true });
    const x = partial.solve(v);
    expect(partial.info.converged).toBe(false);
    expect(partial.info.residualHistory!.length).toBe(3);
    expect(relErr(x, exact)).toBeGreaterThan(1e-6); // truly partial
    // The low-level routine behaves the same.
    const A = (u: Float64Array) => obj.hvp(theta, u);
    expect(() => conjugateGradient(A, v, { tol: 1e-10, maxIter: 2 })).toThrow(ConvergenceError);
    expect(conjugateGradient(A, v, { tol: 1e-10, maxIter: 2, allowUnconverged: true }).converged).toBe(false);
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

/** h_J / s with h_J = Σ_{t≤J} Mᵗ v for a diagonal H (M = 1 − d − μ/s per entry): the unchecked series. */
function truncatedSeries(mu: number[], v: number[], s: number, J: number, d = 0): number[] {
  return mu.map((m, k) => {
    const rho = 1 - d - m / s;
    let h = 0;
    let t = v[k]!;
    for (let j = 0; j <= J; j++) {
      h += t;
      t *= rho;
    }
    return h / s;
  });
}

describe('LiSSA: no silent wrong answers (issue 11)', () => {
  const v = new Float64Array([1, 1]);
  const zero = new Float64Array(2);

  it('ill-conditioned H = diag(1, 3.25e-5): the series is 31% short at the 20,000-iteration cap, so it throws ConvergenceError; allowUnconverged returns that partial sum marked converged: false', () => {
    const obj = quadraticObjective([diag(1, 3.25e-5)], 2);
    // The automatic scale is s = λ̂/1.8 with λ̂ = 1; the slow component keeps 1 − ρ^20001 of its
    // value, ρ = 1 − 1.8·3.25e-5: 1 − e^(−1.17) = 0.69, i.e. 31% off (CG solves it to 1e-10).
    const [, slow] = truncatedSeries([1, 3.25e-5], [1, 1], 1 / 1.8, 20000);
    expect(slow! * 3.25e-5).toBeCloseTo(0.69, 2);
    const c = thrown(() => inverseHvp(obj, zero, { solver: 'lissa' }).solve(v), ConvergenceError);
    expect([c.method, c.iterations, c.tol]).toEqual(['lissa', 20000, 1e-7]);
    expect(c.residual).toBeGreaterThan(1e-7);
    expect(c.message).toMatch(/after maxDepth = 20000 iterations the relative change .* is 2\.63e-5, not ≤ tol = 1e-7/);
    // The curvature of the slowest mode predicts the shortfall: "short by about 31%".
    expect(c.message).toMatch(/curvature ≈ 3\.25e-5 .* short by about 31% along it\. Raise lissa\.maxDepth/);
    const inv = inverseHvp(obj, zero, { solver: 'lissa', allowUnconverged: true });
    const x = inv.solve(v);
    expect(inv.info.converged).toBe(false);
    expect(x[1]! * 3.25e-5).toBeCloseTo(0.69, 2);
    expect(Math.abs(x[1]! - slow!) / slow!).toBeLessThan(1e-9); // exactly the truncated series
    expect(relErr(inverseHvp(obj, zero, { solver: 'cg' }).solve(v), new Float64Array([1, 1 / 3.25e-5]))).toBeLessThan(1e-10);
  });

  it('indefinite H = diag(1, −1e-4): throws IndefiniteHessianError instead of returning [1, 50497] (the answer is [1, −10000])', () => {
    const obj = quadraticObjective([diag(1, -1e-4)], 2);
    // What the unchecked series returned (its growth check fired at s = 1/1.8, the scale was doubled,
    // and 20,000 terms at s = 2/1.8 stayed under the growth bound): a large number of the wrong sign.
    const old = truncatedSeries([1, -1e-4], [1, 1], 2 / 1.8, 20000);
    expect(old[0]).toBeCloseTo(1, 12);
    expect(Math.round(old[1]!)).toBe(50497);
    const c = thrown(() => inverseHvp(obj, zero, { solver: 'lissa' }).solve(v), IndefiniteHessianError);
    // Detected after a few dozen terms, with a curvature that bounds the negative eigenvalue from above.
    expect(c.iteration).toBeLessThan(40);
    expect(c.curvature).toBeLessThanOrEqual(0);
    expect(c.curvature).toBeGreaterThanOrEqual(-1e-4);
    expect(c.message).toMatch(/H is not positive definite: its curvature .* ≤ 0.*wrong sign.*add damping greater than/);
    // When the negative eigenvalue is the largest in magnitude, the automatic scale's power iteration
    // already ends at a Rayleigh quotient ≤ 0, and preparing the solver throws.
    expect(() => inverseHvp(quadraticObjective([diag(1, -3)], 2), zero, { solver: 'lissa' })).toThrow(/power iteration .* Rayleigh quotient -3\.000 ≤ 0 of H/);
    // allowUnconverged does not turn a wrong sign into an answer.
    expect(() => inverseHvp(obj, zero, { solver: 'lissa', allowUnconverged: true }).solve(v)).toThrow(IndefiniteHessianError);
    // Damping past |λ_min| makes the system positive definite, and LiSSA solves it: (H + δI)⁻¹v.
    const damped = inverseHvp(obj, zero, { solver: 'lissa', damping: 0.1 }).solve(v);
    expect(relErr(damped, new Float64Array([1 / 1.1, 1 / (0.1 - 1e-4)]))).toBeLessThan(1e-6);
  });

  it('singular H = diag(1, 0): throws IndefiniteHessianError (singular to working precision) instead of returning 36001.8', () => {
    const obj = quadraticObjective([diag(1, 0)], 2);
    const old = truncatedSeries([1, 0], [1, 1], 1 / 1.8, 20000);
    expect(old[1]).toBeCloseTo(36001.8, 6); // (J + 1)/s: it grows with the depth
    const c = thrown(() => inverseHvp(obj, zero, { solver: 'lissa' }).solve(v), IndefiniteHessianError);
    expect(c.curvature).toBeGreaterThanOrEqual(0);
    expect(c.curvature).toBeLessThanOrEqual(64 * 2 ** -53 / 1.8);
    expect(c.iteration).toBeLessThan(100);
    expect(c.message).toMatch(/singular to the precision of the HVP: .* Add damping/);
    // A consistent system (v in H's range) is solved: the pseudo-inverse answer.
    const inv = inverseHvp(obj, zero, { solver: 'lissa' });
    expectClose(inv.solve(new Float64Array([1, 0])), [1, 0], { rtol: 1e-6, atol: 0 });
    expect(inv.info.converged).toBe(true);
  });

  it('property: on random symmetric H of any signature, LiSSA returns (H + δI)⁻¹v to its tolerance when H + δI is positive definite and throws IndefiniteHessianError otherwise (δ = |λ_min| included): never a wrong sign', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 6 }),
        fc.integer({ min: 1, max: 1e6 }),
        fc.constantFrom('definite', 'indefinite', 'singular'),
        fc.constantFrom('none', 'past', 'at'),
        (p, seed, kind, damp) => {
          const rng = new Rng(seed);
          // Eigenvalues: the largest 1, the others in [0.02, 1]; then one replaced by a negative
          // value in [−2, −1e-5] (indefinite) or by 0 (singular).
          const mu = Array.from({ length: p }, (_, i) => (i === 0 ? 1 : 0.02 + 0.98 * rng.uniform()));
          if (kind === 'indefinite') mu[p - 1] = -(10 ** (-5 + 5.3 * rng.uniform()));
          if (kind === 'singular') mu[p - 1] = 0;
          // A random orthogonal basis (Gram-Schmidt), H = Q diag(μ) Qᵀ.
          const Q: Float64Array[] = [];
          while (Q.length < p) {
            const q = Float64Array.from({ length: p }, () => rng.normal());
            for (const b of Q) {
              const c = b.reduce((a, x, i) => a + x * q[i]!, 0);
              q.forEach((_, i) => (q[i] -= c * b[i]!));
            }
            const nq = Math.hypot(...q);
            Q.push(q.map((x) => x / nq));
          }
          const H = new Float64Array(p * p);
          for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) H[i * p + j] = mu.reduce((a, m, k) => a + m * Q[k]![i]! * Q[k]![j]!, 0);
          const lmin = Math.min(...mu);
          // Damping: none; past |λ_min| (δ = |λ_min| + 0.05: H + δI definite); or exactly |λ_min|, which
          // leaves H + δI singular — the reason the guides ask for δ > |λ_min|, strictly.
          const damping = kind === 'definite' || damp === 'none' ? 0 : damp === 'past' ? -lmin + 0.05 : -lmin;
          const obj = quadraticObjective([H], p);
          const b = Float64Array.from({ length: p }, () => rng.normal());
          const run = () => inverseHvp(obj, new Float64Array(p), { solver: 'lissa', damping }).solve(b);
          if (lmin + damping > 0) {
            const exact = inverseHvp(obj, new Float64Array(p), { solver: 'exact', damping }).solve(b);
            // tol 1e-7 on the relative change leaves ≲ 1e-7 · s/λ_min ≤ 1e-7 · 50 relative error.
            expect(relErr(run(), exact)).toBeLessThan(1e-5);
          } else {
            expect(run).toThrow(IndefiniteHessianError);
          }
        },
      ),
      { numRuns: 80 },
    );
  });

  it('the stochastic variant (mini-batches) checks the curvature of the full Hessian along its result', () => {
    // Per-example Hessians diag(1, ±1e-3·k): their mean diag(1, −1e-4) is indefinite.
    const Hs = [diag(1, 0.002), diag(1, -0.0022), diag(1, 0.001), diag(1, -0.0012)];
    const obj = quadraticObjective(Hs, 2);
    const inv = inverseHvp(obj, zero, { solver: 'lissa', lissa: { batchSize: 2, depth: 3000, repeats: 2, scale: 1 } });
    expect(() => inv.solve(v)).toThrow(/along the result \(full-batch Hessian\)/);
    expect(() => inv.solve(v)).toThrow(IndefiniteHessianError);
  });
});

describe('stochastic LiSSA (Agarwal et al.; Koh & Liang): mini-batch Hessians, a recursion depth, repeats averaged', () => {
  it('the mean over repeats matches the exact solve within 4 standard errors of the mean estimated from the repeats', () => {
    const { obj, theta, v } = trained('logreg', 40, 3, 0.1, 5);
    const exact = inverseHvp(obj, theta, { solver: 'exact' }).solve(v);
    const H = obj.hessian(theta);
    const { values } = jacobiEigen(H, obj.dim);
    const lmax = values[0]!;
    const lmin = values[values.length - 1]!;
    // s = 3 λ_max keeps every batch-of-5 Hessian's iteration matrix a contraction here; the
    // expected iterate is the full-batch series (batches are independent of the iterate they
    // multiply), whose truncation after J terms leaves (1 − λ_min/s)^(J+1) of the answer.
    const s = 3 * lmax;
    const J = Math.ceil(Math.log(1e-10) / Math.log(1 - lmin / s));
    expect(J).toBeLessThan(5000);
    const R = 64;
    const one = (seed: number) => inverseHvp(obj, theta, { solver: 'lissa', lissa: { batchSize: 5, depth: J, scale: s, seed } }).solve(v);
    const runs = Array.from({ length: R }, (_, r) => one(r + 1));
    const p = obj.dim;
    const mean = Float64Array.from({ length: p }, (_, k) => runs.reduce((a, x) => a + x[k]!, 0) / R);
    const se = Float64Array.from({ length: p }, (_, k) => Math.sqrt(runs.reduce((a, x) => a + (x[k]! - mean[k]!) ** 2, 0) / (R - 1) / R));
    // The mean of R independent runs is unbiased for the truncated series (bias ≤ 1e-10 relative)
    // and, by the central limit theorem, within 4 standard errors per coordinate except with
    // probability ≈ 6e-5 each; the seeds are fixed, so the test is deterministic.
    for (let k = 0; k < p; k++) expect(Math.abs(mean[k]! - exact[k]!)).toBeLessThanOrEqual(4 * se[k]! + 1e-10 * maxAbs(exact));
    // The library's own `repeats: R` average has the same standard error.
    const averaged = inverseHvp(obj, theta, { solver: 'lissa', lissa: { batchSize: 5, depth: J, scale: s, repeats: R, seed: 1000 } });
    const xr = averaged.solve(v);
    for (let k = 0; k < p; k++) expect(Math.abs(xr[k]! - exact[k]!)).toBeLessThanOrEqual(4 * se[k]! + 1e-10 * maxAbs(exact));
    expect(averaged.info.depth).toEqual(Array(R).fill(J));
    // The test has teeth: the standard errors are a few percent of the answer, so forgetting the
    // division by s (a factor 3 λ_max) or the averaging would fail it.
    expect(Math.max(...se) / maxAbs(exact)).toBeLessThan(0.05);
  });
});

describe('LiSSA: the convergence condition is strict (proofs/lissa.md, claim 2)', () => {
  it('s = μ̂/1.8 with μ̂ = 0.9 μ_max gives |M| = 1 on the top eigenvector and is reported as divergence; μ̂ just above 0.9 μ_max converges', () => {
    const obj = quadraticObjective([diag(1, 0.5)], 2);
    const v = new Float64Array([1, 1]);
    expect(() => inverseHvp(obj, new Float64Array(2), { solver: 'lissa', lissa: { scale: 0.9 / 1.8 } }).solve(v)).toThrow(LissaDivergenceError);
    const x = inverseHvp(obj, new Float64Array(2), { solver: 'lissa', lissa: { scale: 0.901 / 1.8 } }).solve(v);
    expectClose(x, [1, 2], { rtol: 1e-5 });
  });
});

describe('LiSSA: divergence is detectable (proofs/lissa.md, claim 3)', () => {
  it('along an eigenvalue ρ of M with |ρ| > 1 the series has |Σ_{t≤j} ρᵗ| ≥ (|ρ|^{j+1} − 1)/(|ρ| + 1), with equality for ρ < −1 and j odd; the geometric bound (|ρ|^{j+1} − 1)/(|ρ| − 1) fails for ρ < −1', () => {
    fc.assert(
      fc.property(fc.double({ min: 1.001, max: 5, noNaN: true }), fc.boolean(), fc.integer({ min: 0, max: 60 }), (r, negative, j) => {
        const rho = negative ? -r : r;
        let sum = 0;
        for (let t = 0; t <= j; t++) sum += rho ** t;
        const bound = (r ** (j + 1) - 1) / (r + 1);
        expect(Math.abs(sum)).toBeGreaterThanOrEqual(bound * (1 - 1e-12));
        if (negative && j % 2 === 1) expect(Math.abs(Math.abs(sum) - bound)).toBeLessThanOrEqual(1e-12 * bound + 1e-12);
      }),
      { numRuns: 300 },
    );
    // The old bound is not a lower bound for negative ρ: ρ = −1.5, j = 1 gives |1 − 1.5| = 0.5 < 2.5.
    expect(Math.abs(1 - 1.5)).toBeLessThan((1.5 ** 2 - 1) / (1.5 - 1));
  });

  it('the scale-too-small case (an eigenvalue ρ < −1 of M) is caught within a few terms, by the curvature check q ≥ 2s', () => {
    const obj = quadraticObjective([diag(1, 0.1)], 2);
    const err = thrown(() => inverseHvp(obj, new Float64Array(2), { solver: 'lissa', lissa: { scale: 0.4 } }).solve(new Float64Array([1e-6, 1])), LissaDivergenceError);
    // ρ = 1 − 1/0.4 = −1.5 on a component of size 1e-6: the curvature along the terms reaches
    // 1 ≥ 2s = 0.8 once 1.5ʲ·1e-6 dominates, at j ≈ 35, long before ‖h‖ > 2(j + 1)‖v‖.
    expect(err.iteration).toBeLessThan(45);
    expect(err.message).toMatch(/curvature .* ≥ 2s .* scale s = 0\.4000 is too small/);
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
        const err = thrown(() => inverseHvp(obj, theta, { solver: 'exact' }), NotPositiveDefiniteError);
        expect(err.smallestEigenvalue).toBeCloseTo(lmin, 10);
        expect(err.message).toMatch(/not positive definite.*smallest eigenvalue is -/);
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

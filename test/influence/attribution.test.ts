/**
 * The attribution estimators of issue 14 against closed forms and ground truth:
 *
 * - Grad-Dot / Grad-Cos against logistic regression's closed-form gradients (σ(z) − y) x̃;
 * - TracIn: one checkpoint at θ̂ with η = 1 is Grad-Dot; checkpoints add with their learning
 *   rates; the SGD wrapper's full-batch step is θ − η ∇R(θ), and it records η per checkpoint;
 * - TRAK: with k = p and an orthogonal projection, single-model TRAK for logistic regression is the
 *   closed form s_t sᵢ x̃_tᵀ (X̃ᵀX̃)⁻¹ x̃ᵢ σ(−fᵢ) (derivation in the test); a rescaled projection
 *   changes nothing; the ensemble is (mean kernel) · (mean 1 − p);
 * - exact influence on a small convex problem (logreg n = 60, d = 4, λ = 0.1, 40 half-size
 *   subsets): LDS > 0.9 and LOO correlation > 0.99 per test point; Grad-Dot well below exact on an
 *   ill-conditioned design.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromFloat64 } from '../../src/core/create.ts';
import { Rng } from '../../src/core/rng.ts';
import {
  CheckpointRecorder, Influence, cholesky, choleskySolve, exactLoo, gaussianProjection, gradCos, gradDot, influenceScores, lds,
  linearModel, linearObjective, looCorrelation, newton, retrainOnSubsets, totalLoss, tracin, trainSgdCheckpointed, trak,
} from '../../src/index.ts';
import { expectClose } from '../helpers.ts';

/** Logistic data with per-column scales (the true weights are divided by them, so the labels keep the same signal). */
function logisticData(n: number, d: number, seed: number, scales: readonly number[] = Array(d).fill(1)) {
  const rng = new Rng(seed);
  const X = new Float64Array(n * d);
  const w = Float64Array.from({ length: d }, () => rng.normal());
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let z = 0.3;
    for (let j = 0; j < d; j++) {
      const v = rng.normal() * scales[j]!;
      X[i * d + j] = v;
      z += (w[j]! / scales[j]!) * v;
    }
    y[i] = rng.uniform() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  return { X, y, n, d };
}

/** A trained logreg problem on the first n rows and a test set of the next `tests` rows. */
function problem(n: number, d: number, tests: number, seed: number, l2 = 0.1, scales?: readonly number[]) {
  const all = logisticData(n + tests, d, seed, scales);
  const train = { X: all.X.slice(0, n * d), y: all.y.slice(0, n), n, d };
  const obj = linearObjective('logreg', train, l2);
  const theta = newton(obj, { tol: 1e-12 }).theta;
  const model = linearModel('logreg', d);
  const yt = all.y.slice(n);
  const Xt = all.X.slice(n * d);
  return { obj, theta, train, model, Xt, yt, test: { X: fromFloat64(Xt, [tests, d]), Y: model.targets(yt) } };
}

const sigma = (z: number) => 1 / (1 + Math.exp(-z));
/** x̃ = [x, 1] (the layout is w then b) and z = w·x + b. */
function rowsOf(X: Float64Array, m: number, d: number, theta: Float64Array) {
  return Array.from({ length: m }, (_, i) => {
    const xt = Float64Array.from([...X.subarray(i * d, (i + 1) * d), 1]);
    let z = 0;
    for (let j = 0; j <= d; j++) z += theta[j]! * xt[j]!;
    return { xt, z };
  });
}
const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, j) => s + v * b[j]!, 0);

describe('gradient similarity', () => {
  it('Grad-Dot and Grad-Cos equal the closed form with ∇ℓ = (σ(z) − y) x̃', () => {
    const { obj, theta, train, Xt, yt, test } = problem(30, 3, 4, 5);
    const g = (xt: Float64Array, z: number, y: number) => xt.map((v) => (sigma(z) - y) * v);
    const G = rowsOf(train.X, 30, 3, theta).map(({ xt, z }, i) => g(xt, z, train.y[i]!));
    const Gt = rowsOf(Xt, 4, 3, theta).map(({ xt, z }, t) => g(xt, z, yt[t]!));
    const D = gradDot(obj, theta, test);
    const C = gradCos(obj, theta, test);
    expect([D.tests, D.train]).toEqual([4, 30]);
    const wantD = Gt.flatMap((a) => G.map((b) => dot(a, b)));
    const wantC = Gt.flatMap((a) => G.map((b) => dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b))));
    expectClose(D.values, wantD, { rtol: 1e-12, atol: 1e-14 });
    expectClose(C.values, wantC, { rtol: 1e-12, atol: 1e-14 });
  });
});

describe('TracIn', () => {
  it('one checkpoint at θ̂ with η = 1 is Grad-Dot; checkpoints add, weighted by their learning rates', () => {
    const { obj, theta, test } = problem(25, 3, 3, 8);
    const D = gradDot(obj, theta, test);
    expectClose(tracin(obj, [{ theta, lr: 1, step: 0 }], test).values, D.values, { rtol: 1e-14, atol: 1e-16 });
    const theta2 = theta.map((v, j) => v + 0.1 * (j + 1));
    const D2 = gradDot(obj, theta2, test);
    const both = tracin(obj, [{ theta, lr: 0.5, step: 9 }, { theta: theta2, lr: 0.2, step: 19 }], test);
    expectClose(both.values, D.values.map((v, k) => 0.5 * v + 0.2 * D2.values[k]!), { rtol: 1e-12, atol: 1e-16 });
  });

  it('the SGD wrapper: a full batch is θ − η ∇R(θ); a checkpoint per epoch with the η of its last step', () => {
    const { obj } = problem(20, 2, 1, 3);
    const theta0 = Float64Array.from([0.3, -0.2, 0.1]);
    const one = trainSgdCheckpointed(obj, { lr: 0.7, epochs: 1, batchSize: 20, theta0 });
    expectClose(one.theta, theta0.map((v, j) => v - 0.7 * obj.gradient(theta0)[j]!), { rtol: 1e-12, atol: 1e-15 });
    const schedule = (s: number) => 0.5 / (1 + s);
    const run = trainSgdCheckpointed(obj, { lr: schedule, epochs: 6, batchSize: 8, every: 2, seed: 4 });
    // 20 rows in batches of 8: 3 steps an epoch; epochs 2, 4, 6 end at steps 5, 11, 17.
    expect(run.checkpoints.map((c) => c.step)).toEqual([5, 11, 17]);
    expectClose(run.checkpoints.map((c) => c.lr), [5, 11, 17].map(schedule));
    expectClose(run.checkpoints[2]!.theta, run.theta, { rtol: 0, atol: 0 });
  });

  it('the recorder keeps every k-th step of any loop', () => {
    const rec = new CheckpointRecorder({ lr: (s) => s + 1, every: 3 });
    for (let s = 0; s < 7; s++) rec.observe(s, new Float64Array([s]));
    expect(rec.checkpoints.map((c) => [c.step, c.lr, c.theta[0]])).toEqual([[2, 3, 2], [5, 6, 5]]);
  });
});

/** An orthogonal p × p matrix (Gram–Schmidt on Gaussian columns), row-major. */
function orthogonal(p: number, seed: number): Float64Array {
  const A = gaussianProjection(p, p, seed);
  const Q = new Float64Array(p * p);
  for (let c = 0; c < p; c++) {
    const v = Float64Array.from({ length: p }, (_, r) => A[r * p + c]!);
    for (let prev = 0; prev < c; prev++) {
      let s = 0;
      for (let r = 0; r < p; r++) s += v[r]! * Q[r * p + prev]!;
      for (let r = 0; r < p; r++) v[r] -= s * Q[r * p + prev]!;
    }
    const nv = Math.sqrt(dot(v, v));
    for (let r = 0; r < p; r++) Q[r * p + c] = v[r]! / nv;
  }
  return Q;
}

describe('TRAK', () => {
  it('k = p with an orthogonal projection: single-model TRAK for logreg equals s_t sᵢ x̃_tᵀ (X̃ᵀX̃)⁻¹ x̃ᵢ σ(−fᵢ)', () => {
    // Derivation. The model output is the correct-class log-odds f = s·z with s = 2y − 1, so
    // ∇f = s x̃, and 1 − p = σ(−f). With an orthogonal P (P Pᵀ = I): Φ = F P where F's rows are
    // sᵢ x̃ᵢ, ΦᵀΦ = Pᵀ FᵀF P = Pᵀ X̃ᵀX̃ P (s² = 1), so (ΦᵀΦ)⁻¹ = Pᵀ (X̃ᵀX̃)⁻¹ P and
    // φ_tᵀ (ΦᵀΦ)⁻¹ φᵢ = s_t x̃_tᵀ P Pᵀ (X̃ᵀX̃)⁻¹ P Pᵀ x̃ᵢ sᵢ = s_t sᵢ x̃_tᵀ (X̃ᵀX̃)⁻¹ x̃ᵢ: the projection
    // drops out. TRAK multiplies by Q_ii = 1 − pᵢ = σ(−fᵢ).
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 2, max: 4 }), (seed, d) => {
        const n = 30;
        const tests = 3;
        const p = d + 1;
        const { obj, theta, train, Xt, yt, test } = problem(n, d, tests, seed);
        const S = trak([{ obj, theta }], test, { k: p, projection: () => orthogonal(p, seed + 1) });
        const tr = rowsOf(train.X, n, d, theta);
        const te = rowsOf(Xt, tests, d, theta);
        const J = new Float64Array(p * p);
        for (const { xt } of tr) for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) J[a * p + b] += xt[a]! * xt[b]!;
        const L = cholesky(J, p);
        const want = te.flatMap(({ xt }, t) => {
          const u = choleskySolve(L, p, xt);
          const st = 2 * yt[t]! - 1;
          return tr.map(({ xt: xi, z }, i) => {
            const si = 2 * train.y[i]! - 1;
            return st * si * dot(u, xi) * sigma(-si * z);
          });
        });
        expectClose(S.values, want, { rtol: 1e-9, atol: 1e-12 });
        // Any other full-rank projection gives the same scores (k = p), scaled or not.
        const G = trak([{ obj, theta }], test, { k: p, projection: (_m, pp, k) => gaussianProjection(pp, k, seed + 2).map((v) => 3 * v) });
        expectClose(G.values, want, { rtol: 1e-7, atol: 1e-10 });
      }),
      { numRuns: 10 },
    );
  });

  it('the projection is N(0, 1), reproducible from its seed', () => {
    const P = gaussianProjection(200, 50, 9);
    expectClose(P, gaussianProjection(200, 50, 9), { rtol: 0, atol: 0 });
    const mean = P.reduce((s, v) => s + v, 0) / P.length;
    const variance = P.reduce((s, v) => s + (v - mean) ** 2, 0) / P.length;
    expect(Math.abs(mean)).toBeLessThan(0.03); // 4 standard errors of 1/√10⁴
    expect(Math.abs(variance - 1)).toBeLessThan(0.06);
  });

  it('an ensemble averages the kernel scores and the 1 − p reweighting separately', () => {
    const a = problem(40, 4, 3, 21);
    const thetaB = newton(a.obj.withWeights(Float64Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? 0 : 1.5))), { tol: 1e-12 }).theta;
    const models = [{ obj: a.obj, theta: a.theta }, { obj: a.obj, theta: thetaB }];
    const k = 3;
    const one = models.map((m, idx) => trak([m], a.test, { k, projection: () => gaussianProjection(5, k, 100 + idx) }));
    const q = models.map((m) => a.obj.perExampleLosses(m.theta).map((l) => -Math.expm1(-l)));
    const both = trak(models, a.test, { k, projection: (m) => gaussianProjection(5, k, 100 + m) });
    const want = both.values.map((_, idx) => {
      const i = idx % 40;
      const kernel = (one[0]!.values[idx]! / q[0]![i]! + one[1]!.values[idx]! / q[1]![i]!) / 2;
      return kernel * ((q[0]![i]! + q[1]![i]!) / 2);
    });
    expectClose(both.values, want, { rtol: 1e-10, atol: 1e-14 });
    // The default projection of model m is seeded seed + m.
    expectClose(trak(models, a.test, { k, seed: 100 }).values, both.values, { rtol: 1e-12, atol: 1e-15 });
  });
});

describe('exact influence against ground truth on a small convex problem (logreg n = 60, d = 4, λ = 0.1)', () => {
  // Thresholds from measured runs (190 draws each of an isotropic and a column-scaled design, 6–8
  // test points, 40 subsets): exact LDS was never below 0.96; per-test LOO correlation over 30
  // draws × 8 test points (fit and poorly fit) was ≥ 0.996.
  // Removing half the data is far from the infinitesimal regime the influence linearisation is
  // exact in, but LDS only asks for the ranking over subsets, and with λ = 0.1 (H ⪰ 0.1 I on the
  // weights) and n = 60 ≫ p = 5 the test loss stays close to linear in the subset weights over
  // this range. 0.9 leaves room for other draws without admitting a broken estimator (Grad-Dot on
  // the scaled design lands at 0.69–0.89).
  it('LDS of exact influence > 0.9 with 40 half-size subsets', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), (seed) => {
        const { obj, theta, test } = problem(60, 4, 6, seed);
        const r = retrainOnSubsets(obj, theta, test, { subsets: 40, seed });
        expect(Math.max(...r.gradNorms)).toBeLessThan(1e-10);
        expect(r.subsets.every((S) => S.length === 30)).toBe(true);
        expect(lds(influenceScores(new Influence(obj, theta), test), r.subsets, r.losses).mean).toBeGreaterThan(0.9);
      }),
      { numRuns: 4 },
    );
  });

  it('LOO correlation of exact influence > 0.99 for every test point', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), (seed) => {
        const { obj, theta, test } = problem(60, 4, 3, seed);
        const inf = new Influence(obj, theta);
        const rows = Array.from({ length: 60 }, (_, i) => i);
        const values = new Float64Array(3 * 60);
        for (let t = 0; t < 3; t++) values.set(exactLoo(obj, theta, rows, totalLoss(obj.spec.loss, test.X, test.Y, [t]), { factor: inf.inverse.factor }).changes, t * 60);
        const r = looCorrelation(influenceScores(inf, test), { tests: 3, train: 60, values });
        expect(Math.min(...r.perTest)).toBeGreaterThan(0.99);
      }),
      { numRuns: 3 },
    );
  });

  it('on an ill-conditioned design (column scales 3, 1, 0.3, 0.1) Grad-Dot\'s LDS is well below exact', () => {
    // Grad-Dot is influence with H replaced by I; with feature scales spanning 30× the Hessian's
    // eigenvalues span ~10³ and that replacement reorders the subsets. Measured over 190 draws: the
    // gap exact − Grad-Dot was ≥ 0.082 (Grad-Dot ≤ 0.89, exact ≥ 0.96), so 0.05 is a real but not
    // a generous margin. On an isotropic design the gap can be under 0.01: no claim is made there.
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), (seed) => {
        const { obj, theta, test } = problem(60, 4, 6, seed, 0.1, [3, 1, 0.3, 0.1]);
        const r = retrainOnSubsets(obj, theta, test, { subsets: 40, seed });
        const exact = lds(influenceScores(new Influence(obj, theta), test), r.subsets, r.losses).mean;
        const dotLds = lds(gradDot(obj, theta, test), r.subsets, r.losses).mean;
        expect(exact - dotLds).toBeGreaterThan(0.05);
      }),
      { numRuns: 4 },
    );
  });
});

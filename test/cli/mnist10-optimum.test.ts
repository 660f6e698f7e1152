/**
 * The exact-optimum variant of dattri's MNIST-10 logistic regression (src/apps/cli/mnist10-optimum.ts)
 * on a reduced problem: the first 60 (closed forms) or 300 (fits) training images, λ = 0.05, 4 test images.
 *
 * - The batched closed forms against the library's objective (engine-independent code paths):
 *   two float64 evaluations of the same sums in different orders agree to a few ulps times the
 *   number of terms, ≤ 1e-10 relative.
 * - Every fit reaches ‖∇R‖ ≤ 1e-11 by the solver's own gradient, and ≤ 1e-10 by the library's
 *   gradient (the two differ by rounding of sums of 60 terms, ~1e-14).
 * - Exact influence is what exact retraining gives to first order: lowering row i's weight by ε/n
 *   moves the retrained test loss by ε (1/n)∇ℓ_tᵀH⁻¹∇ℓᵢ + O(ε²) (proofs/attribution-protocol.md), and
 *   a whole removal (ε = 1) by that plus a second-order term that is not small at n = 300.
 * - LiSSA's recursion at depth J and scale s sums J + 1 terms of the Neumann series, checked on an
 *   eigenvector against the closed form; a scale below half the curvature is detected as divergence.
 * - The CLI documents --fit and refuses its misuse (MLP, SGD-only and optimum-only flags) with exit 2.
 * The solver here is preconditioned by the identity (the production path's dense 7,850² inverse takes
 * minutes to factor); both share every other line of the Newton–CG code.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dattriMnist10 } from '../../src/data/dattri.ts';
import { pearson } from '../../src/linalg/vector.ts';
import { conjugateGradient } from '../../src/optim/cg.ts';
import { forward, objectiveOf, perExampleGradients, testLosses } from '../../src/apps/cli/mnist10.ts';
import { fitFullModel, OptimumSolver, rowWeights, weightedHvps, weightedValuesAndGradients } from '../../src/apps/cli/mnist10-optimum.ts';
import { blockHvp, blockLissa, type ScoringContext } from '../../src/apps/cli/mnist10-methods.ts';
import { arnoldi } from '../../src/influence/solvers.ts';
import { maxRelErr } from '../helpers.ts';
import { runInProcess } from './cli-helpers.ts';

const n = 60;
const l2 = 0.05;
const tests = 4;
const data = dattriMnist10({ nTrain: n, nTest: 500 });
const obj = objectiveOf('logreg', data.train); // mean cross-entropy, λ = 0
const P = 7850;
const identity = (th: Float64Array) => (void th, new OptimumSolver(data.train, l2, (rs) => rs.map((r) => Float64Array.from(r))));

function plusL2(g: Float64Array, theta: Float64Array): Float64Array {
  return g.map((v, j) => v + l2 * theta[j]!);
}

function norm(v: Float64Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s);
}

describe('the batched closed forms', () => {
  const th1 = Float64Array.from({ length: P }, (_, j) => 0.01 * Math.sin(j));
  const th2 = Float64Array.from({ length: P }, (_, j) => 0.02 * Math.cos(3 * j));
  const drop = 7;

  it('values and gradients equal the library objective’s (full and leave-one-out weights)', () => {
    const r = weightedValuesAndGradients(data.train, [th1, th2], [rowWeights(n), rowWeights(n, undefined, drop)], l2);
    expect(maxRelErr(r.grads[0]!, plusL2(obj.gradient(th1), th1))).toBeLessThan(1e-10);
    // R − ℓ_drop/n: the full gradient less the dropped row's, divided by n.
    const G = perExampleGradients('logreg', forward('logreg', th2, data.train.X, data.train.y, n), n);
    const loo = plusL2(obj.gradient(th2), th2).map((v, j) => v - G[drop * P + j]! / n);
    expect(maxRelErr(r.grads[1]!, loo)).toBeLessThan(1e-10);
    let w = 0;
    for (const v of th1) w += v * v;
    expect(Math.abs(r.values[0]! - (obj.value(th1) + (l2 / 2) * w))).toBeLessThan(1e-12);
  });

  it('HVPs equal the library objective’s, and subset weights give the subset’s mean Hessian', () => {
    const v = Float64Array.from({ length: P }, (_, j) => Math.cos(0.7 * j));
    const rows = [0, 3, 5, 8, 13, 21, 34, 55];
    const r = weightedValuesAndGradients(data.train, [th1, th1], [rowWeights(n), rowWeights(n, rows)], l2);
    const [full, sub] = weightedHvps(data.train, r.probs, 2, [0, 1], [rowWeights(n), rowWeights(n, rows)], [v, v], l2);
    expect(maxRelErr(full!, plusL2(obj.hvp(th1, v), v))).toBeLessThan(1e-10);
    expect(maxRelErr(sub!, plusL2(obj.hvp(th1, v, rows), v))).toBeLessThan(1e-10);
  });
});

describe('fits to the optimum and exact leave-one-out', () => {
  // 300 rows for this part: a removal is then a 1/300 perturbation.
  const m = 300;
  const L = 40;
  const big = dattriMnist10({ nTrain: m, nTest: 500 });
  const objM = objectiveOf('logreg', big.train);
  const solverAt = () => new OptimumSolver(big.train, l2, (rs) => rs.map((r) => Float64Array.from(r)));
  const full = fitFullModel(big.train, l2, 1e-11, undefined, solverAt);
  const loo = full.solver.solve(Array.from({ length: L }, (_, r) => ({ weights: rowWeights(m, undefined, r), theta0: full.theta })));
  // Row r's weight lowered from 1/m to (1 − ε)/m: the retrained loss moves by ε × the removal's first-order effect.
  const eps = 1e-3;
  const down = full.solver.solve(
    Array.from({ length: L }, (_, r) => {
      const c = rowWeights(m);
      c[r] = (1 - eps) / m;
      return { weights: c, theta0: full.theta };
    }),
  );
  const base = testLosses('logreg', full.theta, big.test, tests);
  const Gtr = perExampleGradients('logreg', forward('logreg', full.theta, big.train.X, big.train.y, m), m);
  const Gte = perExampleGradients('logreg', forward('logreg', full.theta, big.test.X.subarray(0, tests * 784), big.test.y, tests), tests);
  const H = (v: Float64Array) => plusL2(objM.hvp(full.theta, v), v);
  // predicted[t][i] = (1/m) ∇ℓ_tᵀ H⁻¹ ∇ℓᵢ, H⁻¹∇ℓ_t by the library's CG to 1e-12.
  const predicted = Array.from({ length: tests }, (_, t) => {
    const s = conjugateGradient(H, Gte.slice(t * P, (t + 1) * P), { tol: 1e-12 }).x;
    return Array.from({ length: L }, (_, i) => {
      let d = 0;
      for (let j = 0; j < P; j++) d += Gtr[i * P + j]! * s[j]!;
      return d / m;
    });
  });

  it('every fit reaches ‖∇R‖ ≤ 1e-11, confirmed by the library’s gradient', () => {
    expect(full.gradNorm).toBeLessThanOrEqual(1e-11);
    expect(norm(plusL2(objM.gradient(full.theta), full.theta))).toBeLessThan(1e-10);
    const G = perExampleGradients('logreg', forward('logreg', loo[9]!.theta, big.train.X, big.train.y, m), m);
    const g9 = plusL2(objM.gradient(loo[9]!.theta), loo[9]!.theta).map((v, j) => v - G[9 * P + j]! / m);
    expect(norm(g9)).toBeLessThan(1e-10);
    for (const f of [...loo, ...down]) expect(f.gradNorm).toBeLessThanOrEqual(1e-11);
  });

  it('exact influence is the derivative of the retrained test loss in the row’s weight', () => {
    // Down-weighting by ε moves the test loss by ε·predicted + O(ε²): relative error O(ε) ≈ 1e-3
    // times the curvature of the path, so ≤ 1e-2 holds with margin, and Pearson exceeds 0.9999.
    for (let t = 0; t < tests; t++) {
      const actual = down.map((f) => (testLosses('logreg', f.theta, big.test, tests)[t]! - base[t]!) / eps);
      expect(maxRelErr(Float64Array.from(actual), Float64Array.from(predicted[t]!))).toBeLessThan(1e-2);
      expect(pearson(predicted[t]!, actual)).toBeGreaterThan(0.9999);
    }
  });

  it('exact influence predicts exact removal: Pearson above 0.85 per test image, 0.9 on average', () => {
    // A whole removal is a 1/300 step: its second-order term is not small here (measured Pearson
    // 0.88–0.97 over these four test images at λ = 0.05); the full protocol (n = 5,000) reports its own.
    const after = loo.map((f) => testLosses('logreg', f.theta, big.test, tests));
    let sum = 0;
    for (let t = 0; t < tests; t++) {
      const r = pearson(predicted[t]!, after.map((l) => l[t]! - base[t]!));
      expect(r).toBeGreaterThan(0.85);
      sum += r;
    }
    expect(sum / tests).toBeGreaterThan(0.9);
  });
});

describe('LiSSA’s truncation and divergence (mnist10-methods.ts blockLissa)', () => {
  // A generic θ on the 60 rows: H of the mean cross-entropy, its top eigenpair by power iteration.
  const th = Float64Array.from({ length: P }, (_, j) => 0.01 * Math.sin(j));
  const ctx = { model: 'logreg', train: data.train, test: data.test, tests: 1, theta: th, obj } as unknown as ScoringContext;
  // The top Ritz pair of 80 Lanczos steps: its residual ‖Hu − λu‖ is checked below.
  const ritz = arnoldi((v) => blockHvp(ctx, v, 1), P, { k: 1, iterations: 80, seed: 1 });
  const top = { value: ritz.values[0]!, vector: ritz.vectors[0]! };
  const residual = norm(blockHvp(ctx, top.vector, 1).map((x, j) => x - top.value * top.vector[j]!)) / top.value;

  it('on an eigenvector, depth J at scale s gives (1 − (1 − λ/s)^{J+1}) / λ (the truncated Neumann series)', () => {
    // Full-batch mini-batches (batch = n) make the recursion deterministic: h_J / s = Σ_{j≤J} (I − H/s)^j v / s.
    const u = top.vector;
    const lam = top.value;
    for (const [s, J] of [[1.2 * lam, 20], [5 * lam, 50]] as const) {
      const h = blockLissa(ctx, Float64Array.from(u), 1, n, J, s, 0)!;
      const expected = (1 - (1 - lam / s) ** (J + 1)) / lam;
      // u is an eigenvector up to its residual (below 1e-9 relative), which the J + 1 bounded
      // terms of the series carry into h at the same order times J: 1e-6 relative.
      expect(residual).toBeLessThan(1e-9);
      expect(maxRelErr(h, u.map((x) => x * expected))).toBeLessThan(1e-6);
    }
  });

  it('returns null when the scale is below half the top curvature (|1 − λ/s| > 1), finite values above it', () => {
    const u = Float64Array.from(top.vector);
    expect(blockLissa(ctx, u, 1, n, 100, top.value / 2.5, 0)).toBeNull();
    const ok = blockLissa(ctx, u, 1, n, 100, top.value, 0);
    expect(ok).not.toBeNull();
    expect(ok!.every(Number.isFinite)).toBe(true);
  });
});

describe('unequal lds --fit optimum: flags', () => {
  it('help documents --fit and its flags; misuse is one line with exit 2', async () => {
    const help = await runInProcess(['lds', '--help']);
    for (const flag of ['--fit <sgd|optimum>', '--l2 <λ>', '--grad-tol', '--fit-batch']) expect(help.stdout).toContain(flag);
    const mlp = await runInProcess(['lds', '--model', 'mlp', '--fit', 'optimum']);
    expect(mlp.code).toBe(2);
    expect(mlp.stderr).toMatch(/--fit optimum: only --model logreg/);
    const l2 = await runInProcess(['lds', '--model', 'logreg', '--l2', '0.01']);
    expect(l2.code).toBe(2);
    expect(l2.stderr).toMatch(/--l2: only with --fit optimum/);
    const epochs = await runInProcess(['lds', '--model', 'logreg', '--fit', 'optimum', '--epochs', '3']);
    expect(epochs.code).toBe(2);
    expect(epochs.stderr).toMatch(/--epochs: the SGD protocol's flag/);
    const fit = await runInProcess(['lds', '--model', 'logreg', '--fit', 'newton']);
    expect(fit.code).toBe(2);
    expect(fit.stderr).toMatch(/--fit/);
  });
});

/**
 * `lds --fit optimum` and `attribute --fit optimum` end to end on the first 100 training images
 * (9n = 900 < 2,000, so the solver runs without the minute-long dense preconditioner; every other
 * line is the production path). The retrainings are exact fits, so the recorded worst ‖∇R‖ must be
 * within --grad-tol; `attribute`'s grad-dot scores must be the gradient products at the optimum
 * the library fits independently here: R is λ-strongly convex, so two fits to ‖∇R‖ ≤ 1e-11 are
 * within 2e-11/λ = 2e-9 of each other, and the scores (products of gradients Lipschitz in θ) agree
 * to about that relative to their size (1e-7 leaves room for the reassociated sums).
 */
describe('--fit optimum end to end (100 training images)', () => {
  const small = dattriMnist10({ nTrain: 100, nTest: 500 });

  it('lds fits every retraining to --grad-tol and scores the methods', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'unequal-opt-')), 'lds.json');
    const r = await runInProcess(['lds', '--model', 'logreg', '--fit', 'optimum', '--train-size', '100', '--subsets', '4', '--tests', '2', '--loo', '3', '--methods', 'cg,grad-dot', '--ensemble', '1', '--threads', '1', '--quiet', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const res = JSON.parse(readFileSync(out, 'utf8'));
    expect(res.config.training).toMatchObject({ optimizer: 'newton', l2: 0.01, gradTol: 1e-11 });
    expect(res.fit.fits).toBe(4 + 3); // four subsets and three removals, each to its own optimum
    expect(res.fit.maxGradNorm).toBeLessThanOrEqual(1e-11);
    for (const m of ['cg', 'grad-dot']) {
      expect(Math.abs(res.logreg.methods[m].lds)).toBeLessThanOrEqual(1);
      expect(Math.abs(res.logreg.methods[m].loo)).toBeLessThanOrEqual(1);
    }
  });

  it('attribute scores at the optimum the library fits', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'unequal-opt-')), 'scores.json');
    const r = await runInProcess(['attribute', '--model', 'logreg', '--fit', 'optimum', '--method', 'grad-dot', '--train-size', '100', '--test-index', '4', '--threads', '1', '--quiet', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const res = JSON.parse(readFileSync(out, 'utf8'));
    expect(res.fit).toEqual({ optimizer: 'newton', l2: 0.01, gradTol: 1e-11 });
    const fit = fitFullModel(small.train, 0.01, 1e-11);
    const G = perExampleGradients('logreg', forward('logreg', fit.theta, small.train.X, small.train.y, 100), 100);
    const x = small.test.X.slice(4 * 784, 5 * 784);
    const g = perExampleGradients('logreg', forward('logreg', fit.theta, x, small.test.y.slice(4, 5), 1), 1);
    const expected = Float64Array.from({ length: 100 }, (_, i) => {
      let s = 0;
      for (let j = 0; j < P; j++) s += g[j]! * G[i * P + j]!;
      return s;
    });
    expect(res.scores).toHaveLength(100);
    expect(maxRelErr(Float64Array.from(res.scores), expected)).toBeLessThan(1e-7);
  });

  it('attribute refuses --fit optimum misuse with exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['--model', 'mlp', '--fit', 'optimum', '--method', 'cg'], /--fit optimum: only --model logreg/],
      [['--model', 'logreg', '--fit', 'optimum', '--method', 'tracin'], /--method tracin: --fit optimum has no SGD trajectory/],
      [['--model', 'logreg', '--method', 'cg', '--l2', '0.1'], /--l2: only with --fit optimum/],
      [['--model', 'logreg', '--fit', 'optimum', '--method', 'cg', '--epochs', '2'], /--epochs: the SGD protocol's flag/],
    ];
    for (const [args, message] of cases) {
      const r = await runInProcess(['attribute', ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });
});

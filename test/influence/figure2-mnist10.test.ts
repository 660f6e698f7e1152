/**
 * The 10-class Figure 2 machinery (src/apps/experiments/softmax-regression.ts and
 * koh-liang-mnist10.ts) on small problems: the closed-form softmax-regression derivatives against
 * the autodiff engine, the blocked Cholesky and inverse against the unblocked factorisation, the
 * batched gradients against the single ones, warm-started Woodbury-Newton leave-one-out retraining
 * against a cold retrain, stochastic LiSSA against the exact solve, and TensorFlow's MNIST split.
 */
import { describe, expect, it } from 'vitest';
import { fromFloat64 } from '../../src/core/create.ts';
import { Rng } from '../../src/core/rng.ts';
import { kohLiangMnistSplit, TF_MNIST_VALIDATION_SIZE } from '../../src/data/builders.ts';
import { loadMnistBytes } from '../../src/data/mnist.ts';
import { cholesky, choleskySolve } from '../../src/linalg/dense.ts';
import { Objective } from '../../src/nn/objective.ts';
import { softmaxCrossEntropy } from '../../src/ops/losses.ts';
import { matmul } from '../../src/ops/products.ts';
import type { Tensor } from '../../src/core/tensor.ts';
import { LooRetrainer, pcg, removalEffects, stochasticLissa } from '../../src/apps/experiments/koh-liang-mnist10.ts';
import {
  SoftmaxRegression,
  blockedCholeskyInPlace,
  inverseFromCholesky,
  norm,
  rowGradient,
  sparseRows,
} from '../../src/apps/experiments/softmax-regression.ts';

/** A small multinomial problem with MNIST-like sparse non-negative inputs. */
function problem(n = 40, d = 6, K = 3, seed = 1, l2 = 0.05) {
  const rng = new Rng(seed);
  const dense = new Float64Array(n * d);
  for (let i = 0; i < dense.length; i++) dense[i] = rng.uniform() < 0.4 ? 0 : rng.uniform();
  const y = Int32Array.from({ length: n }, () => rng.int(K));
  const X = sparseRows(dense, d, Int32Array.from({ length: n }, (_, i) => i));
  return { model: new SoftmaxRegression({ X, y }, K, l2), dense, y, n, d, K, l2 };
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

/** Dense Newton from zero with the unblocked Cholesky: an independent minimiser of R. */
function coldNewton(model: SoftmaxRegression): Float64Array {
  let theta = new Float64Array(model.dim);
  for (let it = 0; it < 50; it++) {
    const g = model.gradient(theta);
    if (norm(g) < 1e-15) break;
    const step = choleskySolve(cholesky(model.hessian(theta), model.dim), model.dim, g);
    theta = theta.map((v, a) => v - step[a]!);
  }
  return theta;
}

describe('softmax regression in closed form', () => {
  it('value, gradient, HVP and Hessian equal the engine’s', () => {
    const { model, dense, y, n, d, K, l2 } = problem();
    const Y = new Float64Array(n * K);
    for (let i = 0; i < n; i++) Y[i * K + y[i]!] = 1;
    const obj = new Objective({
      params: { W: fromFloat64(new Float64Array(d * K), [d, K]) },
      loss: (p: { W: Tensor }, X: Tensor, T: Tensor) => softmaxCrossEntropy(matmul(X, p.W), T),
      X: fromFloat64(dense, [n, d]),
      Y: fromFloat64(Y, [n, K]),
      l2,
    });
    const rng = new Rng(5);
    const theta = Float64Array.from({ length: d * K }, () => rng.normal());
    const v = Float64Array.from({ length: d * K }, () => rng.normal());
    // Same float64 sums in a different order: agreement to ~1e-15 relative; 1e-12 leaves margin.
    expect(Math.abs(model.value(theta) - obj.value(theta))).toBeLessThan(1e-12);
    expect(maxAbs(model.gradient(theta), obj.gradient(theta))).toBeLessThan(1e-12);
    expect(maxAbs(model.valueAndGradient(theta)[1], obj.gradient(theta))).toBeLessThan(1e-12);
    expect(maxAbs(model.hvp(theta, v), obj.engineHvp(theta, v))).toBeLessThan(1e-12);
    expect(maxAbs(model.hessian(theta, { chunk: 7 }), obj.hessian(theta))).toBeLessThan(1e-12);
    // Per-point gradient without the regulariser.
    const g3 = rowGradient(theta, model.data.X, y, 3, K);
    const w = new Float64Array(n);
    w[3] = n; // (1/n)·n·ℓ₃ = ℓ₃
    const only3 = obj.withWeights(w).gradient(theta).map((gv, a) => gv - l2 * theta[a]!);
    expect(maxAbs(g3, only3)).toBeLessThan(1e-12);
  });

  it('the batched gradients equal the single ones, each without its own row', () => {
    const { model } = problem();
    const rng = new Rng(2);
    const thetas = [0, 1, 2].map(() => Float64Array.from({ length: model.dim }, () => rng.normal()));
    const skips = [4, -1, 17];
    const gs = model.gradients(thetas, skips);
    // Identical sums in identical order: equal to rounding of the final scaling only.
    thetas.forEach((th, b) => expect(maxAbs(gs[b]!, model.gradient(th, skips[b]!))).toBeLessThan(1e-15));
  });
});

describe('blocked Cholesky and inverse', () => {
  it('match the unblocked factor and invert the matrix', () => {
    const d = 300;
    const rng = new Rng(3);
    const M = Float64Array.from({ length: d * d }, () => rng.normal());
    const A = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += M[i * d + k]! * M[j * d + k]!;
        A[i * d + j] = A[j * d + i] = s / d + (i === j ? 0.5 : 0);
      }
    }
    const L = blockedCholeskyInPlace(Float64Array.from(A), d, 37); // 37: blocks that do not divide d
    // Both are backward stable; the factors agree to κ(A)·u·‖A‖ ≈ 1e-12 here (κ ≈ 10).
    expect(maxAbs(L, cholesky(A, d))).toBeLessThan(1e-11);
    const Ai = inverseFromCholesky(L, d); // 300 > 256: the recursive L⁻¹ splits once
    let err = 0;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += A[i * d + k]! * Ai[k * d + j]!;
        err = Math.max(err, Math.abs(s - (i === j ? 1 : 0)));
      }
    }
    expect(err).toBeLessThan(1e-11);
    expect(maxAbs(Ai, Ai.map((_, a) => Ai[(a % d) * d + Math.floor(a / d)]!))).toBe(0); // exactly symmetric
    expect(() => blockedCholeskyInPlace(Float64Array.of(1, 2, 2, 1), 2)).toThrow(/not numerically positive definite/);
  });
});

describe('leave-one-out retraining by warm-started Woodbury Newton', () => {
  it('equals a cold retrain on R − ℓᵢ/n to 1e-12', () => {
    const { model, n, l2, y } = problem(60, 6, 4, 7, 0.02);
    const theta = coldNewton(model);
    const g = model.gradient(theta);
    const Hinv = inverseFromCholesky(blockedCholeskyInPlace(model.hessian(theta), model.dim), model.dim);
    const retrainer = new LooRetrainer(model, theta, g, Hinv, model.probabilities(theta));
    const rows = [0, 13, 59];
    const warm = retrainer.retrainBatch(rows, { gradTol: 1e-14 });
    rows.forEach((i, b) => {
      // R − ℓᵢ/n = ((n−1)/n)·R′ with R′ the objective on the other n − 1 rows and λ′ = λn/(n−1):
      // the same minimiser, found here from zero with fresh Hessians and the unblocked Cholesky.
      const keep = Int32Array.from({ length: n }, (_, j) => j).filter((j) => j !== i);
      const X = model.data.X;
      const dense = new Float64Array(n * model.d);
      for (let r = 0; r < n; r++) for (let e = X.rowPtr[r]!; e < X.rowPtr[r + 1]!; e++) dense[r * model.d + X.col[e]!] = X.val[e]!;
      const reduced = new SoftmaxRegression({ X: sparseRows(dense, model.d, keep), y: Int32Array.from(keep, (j) => y[j]!) }, model.K, (l2 * n) / (n - 1));
      const cold = coldNewton(reduced);
      // Both minimise a λ-strongly convex function to ‖∇‖ ≤ 1e-14, so each is within 1e-14/λ of the
      // minimiser: they agree to ~1e-12.
      expect(warm[b]!.gradNorm).toBeLessThan(1e-14);
      expect(maxAbs(warm[b]!.theta, cold)).toBeLessThan(1e-11);
      // The removal moved θ by far more than that, so the check is not vacuous.
      expect(maxAbs(cold, theta)).toBeGreaterThan(1e-4);
      // The Newton matrix is the Hessian at θ̂, not at the iterate: linear convergence, whose rate
      // here (n = 60, each point 1/60 of the data) measured 13 steps at most; at n = 55,000 it is faster.
      expect(warm[b]!.iterations).toBeLessThanOrEqual(20);
    });
  });

  it('PCG and stochastic LiSSA (small scale, many repeats) approach H⁻¹v', () => {
    const { model } = problem(80, 5, 3, 11, 0.1);
    const theta = coldNewton(model);
    const H = model.hessian(theta);
    const Hinv = inverseFromCholesky(blockedCholeskyInPlace(Float64Array.from(H), model.dim), model.dim);
    const v = Float64Array.from({ length: model.dim }, (_, a) => Math.sin(a + 1));
    const exact = choleskySolve(cholesky(H, model.dim), model.dim, v);
    const P = model.probabilities(theta);
    const s = pcg((u) => model.hvp(theta, u, undefined, P), Hinv, v, 1e-13);
    expect(s.relResidual).toBeLessThan(1e-12);
    expect(maxAbs(s.x, exact)).toBeLessThan(1e-10);
    // LiSSA's estimate is unbiased only in the limit; with 400 repeats of depth 400 its mean is
    // within a few standard errors (measured ≈ 0.05 relative) of the exact solve.
    const l = stochasticLissa(model, theta, P, v, { scale: 10, depth: 400, damping: 0, batchSize: 1, repeats: 400, seed: 1 });
    expect(norm(l.map((x, a) => x - exact[a]!)) / norm(exact)).toBeLessThan(0.15);
    // removalEffects = (1/n) sᵀ∇ℓᵢ.
    const eff = removalEffects(model, P, exact);
    const gi = rowGradient(theta, model.data.X, model.data.y, 5, model.K);
    expect(Math.abs(eff[5]! - gi.reduce((acc, x, a) => acc + x * exact[a]!, 0) / model.n)).toBeLessThan(1e-15);
  });
});

describe("Koh & Liang's MNIST split (TensorFlow's read_data_sets)", () => {
  it('holds out the first 5,000 training rows; the 55,000 are the rest, in file order', () => {
    const { train, validation } = kohLiangMnistSplit();
    expect(TF_MNIST_VALIDATION_SIZE).toBe(5000);
    expect(train).toHaveLength(55000);
    expect(validation).toHaveLength(5000);
    expect([train[0], train[54999], validation[0], validation[4999]]).toEqual([5000, 59999, 0, 4999]);
    expect(kohLiangMnistSplit({ nTrain: 10 }).train).toEqual(Int32Array.from({ length: 10 }, (_, i) => 5000 + i));
    expect(() => kohLiangMnistSplit({ nTrain: 55001 })).toThrow(/nTrain/);
    // Class counts of TensorFlow's mnist.train (55,000 images), as its tutorials print them.
    const { labels } = loadMnistBytes('train');
    const counts = new Array(10).fill(0);
    for (const r of train) counts[labels[r]!]++;
    expect(counts).toEqual([5444, 6179, 5470, 5638, 5307, 4987, 5417, 5715, 5389, 5454]);
  });
});

/**
 * Representer points (src/influence/representer.ts): the representer theorem's identity
 * Θf = Σᵢ αᵢ (fᵢᵀ f) at the stationary point of the L2 surrogate (and its failure away from it),
 * the per-test sum of scores equal to the test's own pre-activation, the last-layer views against
 * the engine, and the orientation. Derivations: proofs/representer.md.
 */
import { describe, expect, it } from 'vitest';
import { fromFloat64 } from '../../src/core/create.ts';
import { Rng } from '../../src/core/rng.ts';
import type { Tensor } from '../../src/core/tensor.ts';
import { linearObjective } from '../../src/nn/linear-models.ts';
import { mlpForward, mlpInit, mlpLayerwise, type MlpParams } from '../../src/nn/mlp.ts';
import { Objective } from '../../src/nn/objective.ts';
import { softmaxCrossEntropy } from '../../src/ops/losses.ts';
import { type LastLayer, linearLastLayer, mlpLastLayer, representerPoints } from '../../src/influence/representer.ts';
import { randomData } from './problems.ts';
import { maxRelErr } from '../helpers.ts';

/** Σᵢ αᵢ (fᵢᵀ f) and Θ f for every row f of `feats` (`m × d`), both `m × K`. */
function decomposition(alpha: Float64Array, Ftrain: Float64Array, n: number, theta: Float64Array, feats: Float64Array, m: number, d: number, K: number) {
  const rep = new Float64Array(m * K);
  const direct = new Float64Array(m * K);
  for (let t = 0; t < m; t++) {
    for (let i = 0; i < n; i++) {
      let k = 0;
      for (let j = 0; j < d; j++) k += Ftrain[i * d + j]! * feats[t * d + j]!;
      for (let c = 0; c < K; c++) rep[t * K + c] += alpha[i * K + c]! * k;
    }
    for (let c = 0; c < K; c++) for (let j = 0; j < d; j++) direct[t * K + c] += theta[c * d + j]! * feats[t * d + j]!;
  }
  return { rep, direct };
}

/** A 3-class softmax regression at some θ, its data, and 6 test rows. */
function softmaxCase(seed: number) {
  const n = 50;
  const d = 4;
  const data = randomData('softmax', n + 6, d, seed);
  const obj = linearObjective('softmax', { X: data.X.slice(0, n * d), y: data.y.slice(0, n), n, d }, 0.01, { classes: 3 });
  const rng = new Rng(seed);
  const theta = Float64Array.from({ length: obj.dim }, () => rng.normal());
  const Yt = new Float64Array(6 * 3);
  for (let t = 0; t < 6; t++) Yt[t * 3 + data.y[n + t]!] = 1;
  const test = { X: fromFloat64(data.X.slice(n * d), [6, d]), Y: fromFloat64(Yt, [6, 3]) };
  return { obj, theta, test, n, d };
}

describe('representer points (RPS-L2)', () => {
  // At ∇R = 0, Θ = Σ αᵢ fᵢᵀ exactly, so Θf − Σ αᵢ fᵢᵀf = (∇R/λ) f: with ‖∇R‖ < 1e-12, λ = 0.05 and
  // ‖f‖ ≲ 5 the gap is below 1e-10 of pre-activations of order 1; we assert 1e-9 relative.
  it.each(['model', 'labels'] as const)('reproduces the surrogate’s pre-activations exactly at its stationary point (targets: %s)', (targets) => {
    const { obj, theta, test, n, d } = softmaxCase(3);
    const last = linearLastLayer(obj, theta);
    const r = representerPoints(last, obj.spec, test, { l2: 0.05, targets, tol: 1e-12 });
    expect(r.converged).toBe(true);
    expect(r.gradNorm).toBeLessThan(1e-12);
    const Ftrain = obj.spec.X.toFloat64Array();
    for (const feats of [Ftrain, test.X.toFloat64Array()]) {
      const m = feats.length / d;
      const { rep, direct } = decomposition(r.alpha, Ftrain, n, r.theta, feats, m, d, 3);
      expect(maxRelErr(rep, direct)).toBeLessThan(1e-9);
    }
    // Each test point's scores sum to its own-class pre-activation: Σᵢ αᵢ[c] fᵢᵀ f_t = (Θ f_t)[c].
    const Ft = test.X.toFloat64Array();
    const Yt = test.Y.toFloat64Array();
    for (let t = 0; t < 6; t++) {
      const c = [0, 1, 2].find((k) => Yt[t * 3 + k] === 1)!;
      let sum = 0;
      for (let i = 0; i < n; i++) sum += r.scores.values[t * n + i]!;
      let z = 0;
      for (let j = 0; j < d; j++) z += r.theta[c * d + j]! * Ft[t * d + j]!;
      expect(Math.abs(sum - z)).toBeLessThan(1e-9 * Math.max(1, Math.abs(z)));
    }
  });

  it('does not decompose away from the stationary point (the identity has teeth)', () => {
    const { obj, theta, test, n, d } = softmaxCase(4);
    const r = representerPoints(linearLastLayer(obj, theta), obj.spec, test, { l2: 0.05, maxIter: 2, allowUnconverged: true });
    expect(r.converged).toBe(false);
    const Ftrain = obj.spec.X.toFloat64Array();
    const { rep, direct } = decomposition(r.alpha, Ftrain, n, r.theta, Ftrain, n, d, 3);
    expect(maxRelErr(rep, direct)).toBeGreaterThan(1e-3);
  });

  it('binary model: one output, scores oriented towards each test point’s own label', () => {
    const n = 40;
    const d = 3;
    const data = randomData('logreg', n + 2, d, 8);
    const obj = linearObjective('logreg', { X: data.X.slice(0, n * d), y: data.y.slice(0, n), n, d }, 0.01);
    const theta = new Float64Array([0.5, -1, 0.3, 0.1]);
    // The same test row twice, once with each label: the scores must be negatives of each other.
    const x = data.X.slice(n * d, (n + 1) * d);
    const test = { X: fromFloat64(Float64Array.from([...x, ...x]), [2, d]), Y: fromFloat64(new Float64Array([1, 0]), [2]) };
    const r = representerPoints(linearLastLayer(obj, theta), obj.spec, test, { l2: 0.1, tol: 1e-12 });
    for (let i = 0; i < n; i++) expect(r.scores.values[i]).toBeCloseTo(-r.scores.values[n + i]!, 14);
    const { rep, direct } = decomposition(r.alpha, obj.spec.X.toFloat64Array(), n, r.theta, x, 1, d, 1);
    expect(maxRelErr(rep, direct)).toBeLessThan(1e-9);
    // Label 1: a training point's score is positive iff it pushes the logit up (αᵢ fᵢᵀf > 0).
    const Ft = obj.spec.X.toFloat64Array();
    for (let i = 0; i < n; i++) {
      let k = 0;
      for (let j = 0; j < d; j++) k += Ft[i * d + j]! * x[j]!;
      expect(Math.sign(r.scores.values[i]!)).toBe(Math.sign(r.alpha[i]! * k));
    }
  });

  it('mlpLastLayer: features are the last hidden activation and logits the network output; RPS decomposes them', () => {
    const rng = new Rng(12);
    const n = 30;
    const X = fromFloat64(Float64Array.from({ length: n * 5 }, () => rng.normal()), [n, 5]);
    const Yv = new Float64Array(n * 3);
    for (let i = 0; i < n; i++) Yv[i * 3 + (i % 3)] = 1;
    const Y = fromFloat64(Yv, [n, 3]);
    const params = mlpInit([5, 7, 3], 2, 'relu');
    const loss = (p: MlpParams, Xb: Tensor, Yb: Tensor) => softmaxCrossEntropy(mlpForward(p, Xb, 'relu'), Yb);
    const obj = new Objective({ params, loss, X, Y, l2: 0.01 });
    const theta = obj.layout.flatten(params);
    const last: LastLayer = mlpLastLayer(obj, theta, 'relu');
    const out = last(X);
    expect(out.d).toBe(7);
    expect(out.outputs).toBe(3);
    expect(maxRelErr(out.logits, mlpForward(params, X, 'relu').toFloat64Array())).toBeLessThan(1e-14);
    expect(maxRelErr(out.features, mlpLayerwise(params, X, 'relu').outputs[0]!.toFloat64Array())).toBeLessThan(1e-14);
    const r = representerPoints(last, obj.spec, { X, Y }, { l2: 0.02, tol: 1e-12 });
    const { rep, direct } = decomposition(r.alpha, out.features, n, r.theta, out.features, n, 7, 3);
    expect(maxRelErr(rep, direct)).toBeLessThan(1e-9);
  });

  it('rejects λ ≤ 0 and targets of the wrong shape, naming them', () => {
    const { obj, theta, test } = softmaxCase(5);
    const last = linearLastLayer(obj, theta);
    expect(() => representerPoints(last, obj.spec, test, { l2: 0 })).toThrow(/l2 must be > 0/);
    expect(() => representerPoints(last, obj.spec, { X: test.X, Y: fromFloat64(new Float64Array(6), [6]) })).toThrow(/test targets must be one-hot \[m, 3\]/);
  });
});

/**
 * Data Dropout on small convex problems (L2-regularised logistic regression, trained to
 * ‖∇R‖ < 1e-11 by Newton's method), checked against actual retraining. proofs/data-dropout.md
 * derives the criterion:
 *   - the predicted effect Σ_{i∈S} eᵢ of removing a set S is exactly the derivative of the total
 *     validation loss as S's weights go from 1 towards 0 (checked by central differences of
 *     retrained models, to ~1e-6);
 *   - it predicts the change from down-weighting S to first order: the remainder is O(t²) in the
 *     weight change t (checked by halving t), and removing S outright leaves a remainder
 *     C·(|S|/n)² (checked on data replicated k times, which keeps θ̂, H and C and divides |S|/n by k);
 *   - the selection drops exactly the points with eᵢ < 0.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Tensor, add, bceWithLogits, matmul, sum, tensor } from '../../src/index.ts';
import { Objective } from '../../src/nn/objective.ts';
import { newton } from '../../src/optim/newton.ts';
import { dataDropoutSelect, mlpDataDropout, predictedRemovalChange, sequentialDataDropout } from '../../src/reweight/data-dropout.ts';
import { sequential } from '../../src/nn/cnn.ts';
import { mlpInit } from '../../src/nn/mlp.ts';
import { seededTensor } from '../helpers.ts';

type P = { w: Tensor; b: Tensor };
const loss = (p: P, X: Tensor, y: Tensor): Tensor => bceWithLogits(add(matmul(X, p.w), p.b), y);

/** A logistic-regression problem with some labels flipped (so some points hurt the validation loss). */
function problem(seed: number, n: number, d: number, l2: number) {
  const X = seededTensor([n, d], seed, -2, 2);
  const truth = seededTensor([d], seed + 1);
  const xv = X.toFloat64Array();
  const tv = truth.toFloat64Array();
  const labelOf = (row: Float64Array | number[], flip: boolean) => {
    let z = 0;
    for (let j = 0; j < d; j++) z += row[j]! * tv[j]!;
    return (z > 0) !== flip ? 1 : 0;
  };
  const y = tensor(Array.from({ length: n }, (_, i) => labelOf(Array.from(xv.subarray(i * d, (i + 1) * d)), i % 5 === 0)));
  const Xv = seededTensor([20, d], seed + 2, -2, 2);
  const xvv = Xv.toFloat64Array();
  const yv = tensor(Array.from({ length: 20 }, (_, i) => labelOf(Array.from(xvv.subarray(i * d, (i + 1) * d)), false)));
  const init: P = { w: tensor(new Float64Array(d)), b: tensor(0) };
  const obj = new Objective<P>({ params: init, loss, X, Y: y, l2 });
  const fit = newton(obj, { tol: 1e-11 });
  const valLoss = (theta: Float64Array) => sum(loss(obj.params(theta), Xv, yv)).item();
  const retrain = (weights: Float64Array) => newton(obj.withWeights(weights), { tol: 1e-11, theta0: fit.theta }).theta;
  return { X, y, Xv, yv, obj, theta: fit.theta, params: obj.params(fit.theta), valLoss, retrain, l2 };
}

describe('Data Dropout', () => {
  it('predicts d/dt of the validation loss as a set S is down-weighted by t (central differences of retraining)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 59 }), { minLength: 1, maxLength: 6 }),
        (seed, S) => {
          const pr = problem(seed, 60, 3, 0.05);
          const { effects } = dataDropoutSelect({ params: pr.params, loss, X: pr.X, Y: pr.y, l2: pr.l2 }, { X: pr.Xv, y: pr.yv });
          const h = 1e-4;
          const weights = (t: number) => {
            const w = new Float64Array(60).fill(1);
            for (const i of S) w[i] = 1 - t;
            return w;
          };
          const fd = (pr.valLoss(pr.retrain(weights(h))) - pr.valLoss(pr.retrain(weights(-h)))) / (2 * h);
          const predicted = predictedRemovalChange(effects, S);
          // Truncation h²/6·f''' ~ 1e-9 and Newton's tolerance 1e-11/h ~ 1e-7 per retrain.
          expect(Math.abs(fd - predicted)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(predicted)));
        },
      ),
      { numRuns: 15 },
    );
  });

  it('predicts the change from down-weighting a set to first order (the remainder shrinks quadratically), and drops exactly the points with eᵢ < 0', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 199 }), { minLength: 1, maxLength: 3 }),
        (seed, S) => {
          const n = 200;
          const pr = problem(seed, n, 3, 0.05);
          const sel = dataDropoutSelect({ params: pr.params, loss, X: pr.X, Y: pr.y, l2: pr.l2 }, { X: pr.Xv, y: pr.yv });
          expect(sel.drop).toEqual(Array.from(sel.effects.keys()).filter((i) => sel.effects[i]! < 0));
          expect(sel.keep.length + sel.drop.length).toBe(n);
          expect(sel.valLoss).toBeCloseTo(pr.valLoss(pr.theta), 10);
          const predicted = predictedRemovalChange(sel.effects, S);
          const base = pr.valLoss(pr.theta);
          // r(t) = actual change when S's weights go from 1 to 1 − t, minus the prediction t·Σeᵢ.
          // For a smooth objective r(t) = c·t² + O(t³), so halving t must divide r by about 4:
          // r(t/2)/r(t) = 1/4 + O(t). With t = 0.2 the O(t) term moves the ratio by a few percent,
          // so 0.35 is a safe bound; a first-order error (wrong sign, a missing 1/n, a wrong H)
          // would leave r(t) ∝ t and the ratio near 1/2.
          const remainder = (t: number) => {
            const w = new Float64Array(n).fill(1);
            for (const i of S) w[i] = 1 - t;
            return pr.valLoss(pr.retrain(w)) - base - t * predicted;
          };
          const r1 = remainder(0.2);
          const r2 = remainder(0.1);
          // 1e-9: the validation loss of a model retrained to ‖∇R‖ < 1e-11 is exact to ~1e-10.
          expect(Math.abs(r2)).toBeLessThanOrEqual(0.35 * Math.abs(r1) + 1e-9);
        },
      ),
      { numRuns: 15 },
    );
  });

  it('removing a set S changes the validation loss by Σ eᵢ up to a remainder C·(|S|/n)²: on data replicated k = 8, 16, 32 times, each doubling of k divides the remainder by about 4', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 59 }), { minLength: 2, maxLength: 4 }),
        (seed, S) => {
          const base = problem(seed, 60, 3, 0.05);
          // k copies of every row: R, θ̂, H, ∇f and the constant C are unchanged, each eᵢ is divided by k,
          // and removing one copy of each point of S is a weight change |S|/n = |S|/(60k).
          const remainder = (k: number) => {
            const X = tensor(Array.from({ length: k }, () => base.X.toArray() as number[][]).flat());
            const y = tensor(Array.from({ length: k }, () => base.y.toArray() as number[]).flat());
            const obj = new Objective<P>({ params: base.params, loss, X, Y: y, l2: base.l2 });
            const theta = newton(obj, { tol: 1e-11, theta0: base.theta }).theta;
            const sel = dataDropoutSelect({ params: obj.params(theta), loss, X, Y: y, l2: base.l2 }, { X: base.Xv, y: base.yv });
            const w = new Float64Array(60 * k).fill(1);
            for (const i of S) w[i] = 0;
            const removed = newton(obj.withWeights(w), { tol: 1e-11, theta0: theta }).theta;
            return base.valLoss(removed) - base.valLoss(theta) - predictedRemovalChange(sel.effects, S);
          };
          const [r8, r16, r32] = [remainder(8), remainder(16), remainder(32)];
          // |r_k| ≤ C (|S|/60k)²: r_k = c₂ (|S|/60k)² + c₃ (|S|/60k)³ + …, so each doubling of k divides
          // it by 4 up to a relative correction of order (c₃/c₂)·|S|/60k. With high-leverage points
          // c₃/c₂ reaches ~40 here: at k = 1 or 2 (|S|/n up to 0.07) the cubic term can cancel
          // most of the quadratic one and the ratio means nothing, hence k ≥ 8. A first-order error
          // (a wrong eᵢ) would leave r_k ∝ 1/k and divide it by only 2. The 1e-10 absolute slack is
          // the validation loss's accuracy after retraining to ‖∇R‖ < 1e-11.
          expect(Math.abs(r16)).toBeLessThanOrEqual(0.35 * Math.abs(r8) + 1e-10);
          expect(Math.abs(r32)).toBeLessThanOrEqual(0.35 * Math.abs(r16) + 1e-10);
        },
      ),
      { numRuns: 8 },
    );
  });

  it('on a noisy problem, retraining without the dropped points lowers the validation loss, by about the predicted amount', () => {
    const pr = problem(7, 200, 3, 0.05);
    const sel = dataDropoutSelect({ params: pr.params, loss, X: pr.X, Y: pr.y, l2: pr.l2 }, { X: pr.Xv, y: pr.yv });
    expect(sel.drop.length).toBeGreaterThan(0);
    expect(sel.predictedChange).toBeLessThan(0);
    const w = new Float64Array(200).fill(1);
    for (const i of sel.drop) w[i] = 0;
    const actual = pr.valLoss(pr.retrain(w)) - pr.valLoss(pr.theta);
    expect(actual).toBeLessThan(0);
    // Many points at once: only the sign and the order of magnitude are first-order claims.
    expect(actual / sel.predictedChange).toBeGreaterThan(0.3);
    expect(actual / sel.predictedChange).toBeLessThan(3);
  });

  it('for an MLP, refits the last layer to a stationary point before scoring', () => {
    const params = mlpInit([3, 4, 1], 2, 'tanh');
    const X = seededTensor([40, 3], 3);
    const y = tensor(Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? 1 : 0)));
    const val = { X: seededTensor([6, 3], 4), y: tensor([1, 0, 1, 0, 0, 1]) };
    const sel = mlpDataDropout(params, 'tanh', { X, y }, val, { l2: 0.01 });
    expect(sel.fit.converged).toBe(true);
    expect(sel.effects.length).toBe(40);
    expect(sel.drop.length).toBe(Array.from(sel.effects).filter((e) => e < 0).length);
  });

  it('for a Sequential network, selects exactly as for the same MLP (two implementations of the same last-layer influence)', () => {
    // dense 4 → tanh → dense 1 as a Sequential computes what the MLP [3, 4, 1] computes with the
    // same [out, in] weights, so the refit and the removal effects must agree to rounding. 300
    // rows: the Sequential's features are computed in chunks of 250, the MLP's in one piece.
    const params = mlpInit([3, 4, 1], 5, 'tanh');
    const net = sequential([{ kind: 'dense', out: 4 }, { kind: 'tanh' }, { kind: 'dense', out: 1 }], [3]);
    const X = seededTensor([300, 3], 6);
    const y = tensor(Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? 1 : 0)));
    const val = { X: seededTensor([6, 3], 7), y: tensor([1, 0, 1, 0, 0, 1]) };
    const viaMlp = mlpDataDropout(params, 'tanh', { X, y }, val, { l2: 0.01 });
    const viaNet = sequentialDataDropout(net, params.map((l) => ({ W: l.W, b: l.b })), { X, y }, val, { l2: 0.01 });
    expect(viaNet.fit.converged).toBe(true);
    expect(viaNet.drop).toEqual(viaMlp.drop);
    const a = viaNet.effects, b = viaMlp.effects;
    for (let i = 0; i < b.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-10 * (1 + Math.abs(b[i]!)));
    expect(viaNet.lastLayer.W.shape).toEqual([1, 4]);
  });

  it('for a CNN, refits its dense last layer on the convolutional features, and refuses a network that does not end in one', () => {
    const net = sequential([{ kind: 'conv', out: 2, size: 3, padding: 'same' }, { kind: 'relu' }, { kind: 'flatten' }, { kind: 'dense', out: 1 }], [1, 4, 4]);
    const params = net.init(8, { std: 'he' });
    const X = seededTensor([30, 16], 9);
    const y = tensor(Array.from({ length: 30 }, (_, i) => (i % 2)));
    const val = { X: seededTensor([6, 16], 10), y: tensor([1, 0, 1, 0, 0, 1]) };
    const sel = sequentialDataDropout(net, params, { X, y }, val, { l2: 0.01 });
    expect(sel.fit.converged).toBe(true);
    expect(sel.fit.gradNorm).toBeLessThanOrEqual(1e-9);
    expect(sel.effects.length).toBe(30);
    expect(sel.drop.length + sel.keep.length).toBe(30);
    expect(sel.drop).toEqual(Array.from(sel.effects).flatMap((e, i) => (e < 0 ? [i] : [])));
    const bad = sequential([{ kind: 'dense', out: 1 }, { kind: 'tanh' }], [16]);
    expect(() => sequentialDataDropout(bad, bad.init(0), { X, y }, val)).toThrow(/last layer must be dense.*'tanh'/);
  });
});

/**
 * Learning to Reweight: the meta-gradient by its three routes (autodiff through the look-ahead,
 * the MLP closed form, per-example gradient dot products) is one number, that number is the
 * derivative of the validation loss after one SGD step in ε (central finite differences), and the
 * weights are a clipped, normalised meta-gradient. proofs/l2rw.md derives what is checked here.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Tensor, grad, mean, mul, sum, tensor } from '../../src/index.ts';
import { type Activation, type MlpParams, mlpInit, mlpLayerwise } from '../../src/nn/mlp.ts';
import { sgdStep } from '../../src/optim/sgd.ts';
import {
  l2rwWeights,
  metaGradientAutodiff,
  metaGradientMlp,
  metaGradientPerExample,
  metaGradientForward,
  mlpLoss,
} from '../../src/reweight/l2rw.ts';
import { l2rw } from '../../src/reweight/methods.ts';
import { trainWeighted } from '../../src/reweight/train.ts';
import { momentum } from '../../src/optim/sgd.ts';
import { seededTensor } from '../helpers.ts';

/** A random MLP problem: widths, activation, a batch, a validation set and a step size. */
const arbProblem = fc.record({
  activation: fc.constantFrom<Activation>('tanh', 'relu'),
  widths: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 2 }), // hidden layers: depth 1..3
  inWidth: fc.integer({ min: 1, max: 4 }),
  m: fc.integer({ min: 1, max: 6 }),
  nVal: fc.integer({ min: 1, max: 4 }),
  lr: fc.double({ min: 0.01, max: 1, noNaN: true }),
  seed: fc.integer({ min: 1, max: 1_000_000 }),
});

type Drawn = { activation: Activation; widths: number[]; inWidth: number; m: number; nVal: number; lr: number; seed: number };

function build(p: Drawn) {
  const { activation, widths, inWidth, m, nVal, lr, seed } = p;
  const params = mlpInit([inWidth, ...widths, 1], seed, activation);
  // Non-zero biases so the bias terms of the closed form are exercised too.
  params.forEach((layer, l) => (layer.b = seededTensor(layer.b.shape, seed + 17 * l, -0.5, 0.5)));
  const labels = (n: number, s: number) => tensor(Array.from({ length: n }, (_, i) => ((s * 7 + i * 3) % 5 < 2 ? 1 : 0)));
  const trainB = { X: seededTensor([m, inWidth], seed + 1, -2, 2), y: labels(m, seed) };
  const val = { X: seededTensor([nVal, inWidth], seed + 2, -2, 2), y: labels(nVal, seed + 1) };
  return { params, activation, trainB, val, lr };
}

const maxAbsOf = (xs: Float64Array) => xs.reduce((a, v) => Math.max(a, Math.abs(v)), 0);

describe('L2RW meta-gradient', () => {
  it('four routes agree to 1e-10 (float64) on random MLPs, tanh and relu, depths 1–3', () => {
    fc.assert(
      fc.property(arbProblem, (p) => {
        const { params, activation, trainB, val, lr } = build(p);
        const a = metaGradientAutodiff(mlpLoss(activation), params, trainB, val, lr);
        const b = metaGradientMlp(params, activation, trainB, val, lr);
        const c = metaGradientPerExample(mlpLoss(activation), params, trainB, val, lr);
        const d = metaGradientForward(mlpLoss(activation), params, trainB, val, lr);
        // 1e-10 relative to the largest entry (and absolute for entries of order 1 or less): the
        // routes differ only by float64 rounding in sums of a few dozen products.
        const tol = 1e-10 * Math.max(1, maxAbsOf(a));
        for (let i = 0; i < a.length; i++) {
          expect(Math.abs(a[i]! - b[i]!), `autodiff vs closed form, entry ${i}`).toBeLessThanOrEqual(tol);
          expect(Math.abs(a[i]! - c[i]!), `autodiff vs per-example, entry ${i}`).toBeLessThanOrEqual(tol);
          expect(Math.abs(a[i]! - d[i]!), `autodiff vs forward, entry ${i}`).toBeLessThanOrEqual(tol);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('matches central finite differences of the validation loss after one SGD step with perturbed ε', () => {
    fc.assert(
      fc.property(arbProblem, (p) => {
        const { params, activation, trainB, val, lr } = build(p);
        const loss = mlpLoss(activation);
        // Finite differences are meaningless across a relu kink: skip draws with a pre-activation
        // within 1e-3 of 0 (the ε-perturbations move pre-activations by ~1e-6).
        if (activation === 'relu') {
          const near = (X: Tensor) => mlpLayerwise(params, X, activation).preacts.slice(0, -1).some((a) => a.toFloat64Array().some((v) => Math.abs(v) < 1e-3));
          fc.pre(!near(trainB.X) && !near(val.X));
        }
        const V = (eps: Float64Array): number => {
          const e = tensor(eps, [eps.length]);
          const g = grad((q: MlpParams) => sum(mul(e, loss(q, trainB.X, trainB.y))))(params) as MlpParams;
          return mean(loss(sgdStep(params, g, lr), val.X, val.y)).item();
        };
        const m = trainB.X.shape[0]!;
        const g = metaGradientMlp(params, activation, trainB, val, lr);
        const h = 1e-5;
        for (let i = 0; i < m; i++) {
          const plus = new Float64Array(m);
          const minus = new Float64Array(m);
          plus[i] = h;
          minus[i] = -h;
          const fd = (V(plus) - V(minus)) / (2 * h);
          // Truncation h²/6·V''' plus rounding ~1e-16·|V|/h ≈ 1e-11: 1e-7 leaves a wide margin
          // yet is far below the meta-gradients' own size (~1e-3 and up).
          expect(Math.abs(fd - g[i]!), `entry ${i}: finite difference ${fd}, meta-gradient ${g[i]}`).toBeLessThanOrEqual(1e-7 * Math.max(1, Math.abs(g[i]!)));
        }
      }),
      { numRuns: 25 },
    );
  });

  it('is −α ∇ℓᵛ·∇ℓᵢ: doubling α doubles it, and a validation set equal to the batch point gives −α‖∇ℓᵢ‖² ≤ 0', () => {
    const params = mlpInit([3, 4, 1], 5, 'tanh');
    const X = seededTensor([3, 3], 9);
    const y = tensor([1, 0, 1]);
    const g1 = metaGradientMlp(params, 'tanh', { X, y }, { X, y }, 0.1);
    const g2 = metaGradientMlp(params, 'tanh', { X, y }, { X, y }, 0.2);
    g1.forEach((v, i) => expect(g2[i]).toBeCloseTo(2 * v, 14));
    for (let i = 0; i < 3; i++) {
      const Xi = tensor([(X.toArray() as number[][])[i]!]);
      const yi = tensor([(y.toArray() as number[])[i]!]);
      expect(metaGradientMlp(params, 'tanh', { X: Xi, y: yi }, { X: Xi, y: yi }, 0.1)[0]).toBeLessThan(0);
    }
  });
});

describe('L2RW weights', () => {
  it('are max(−g, 0) normalised: non-negative, summing to 1, or all zero when no gᵢ is negative', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 1, maxLength: 30 }), (g) => {
        const w = l2rwWeights(g);
        expect(w.length).toBe(g.length);
        w.forEach((v) => expect(v).toBeGreaterThanOrEqual(0));
        const total = w.reduce((a, b) => a + b, 0);
        const anyNegative = g.some((v) => v < 0);
        if (anyNegative) {
          expect(Math.abs(total - 1)).toBeLessThanOrEqual(1e-12);
          // Proportional to max(−g, 0): wᵢ · Σ w̃ = w̃ᵢ.
          const s = g.reduce((a, v) => a + Math.max(-v, 0), 0);
          g.forEach((v, i) => expect(Math.abs(w[i]! * s - Math.max(-v, 0))).toBeLessThanOrEqual(1e-12 * s));
        } else expect(total).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('recorded per step during training obey the same rule, and equal the weights of the meta-gradient at that step', () => {
    const params = mlpInit([2, 3, 1], 3, 'tanh');
    const data = { X: seededTensor([12, 2], 4).toFloat64Array(), y: Float64Array.from({ length: 12 }, (_, i) => i % 3 === 0 ? 1 : 0), n: 12, d: 2 };
    const val = { X: seededTensor([4, 2], 5), y: tensor([1, 0, 1, 0]) };
    const seen: Float64Array[] = [];
    const method = l2rw<MlpParams>((p, b) => {
      const g = metaGradientMlp(p, 'tanh', b, val, 0.1);
      seen.push(l2rwWeights(g));
      return g;
    });
    const { history } = trainWeighted({ params, loss: mlpLoss('tanh'), data, steps: 15, batchSize: 5, optimizer: momentum({ lr: 0.1 }), weighting: method, record: true });
    expect(history.length).toBe(15);
    history.forEach((h, t) => {
      expect(Array.from(h.weights)).toEqual(Array.from(seen[t]!));
      const total = h.weights.reduce((a, b) => a + b, 0);
      expect(h.weights.every((v) => v >= 0)).toBe(true);
      expect(total === 0 || Math.abs(total - 1) < 1e-12).toBe(true);
    });
  });

  it('all zero: the batch contributes no gradient, but the optimiser still steps (as in the paper), so momentum moves θ by β times its last step', () => {
    const init = mlpInit([2, 3, 1], 3, 'tanh');
    const data = { X: seededTensor([12, 2], 4).toFloat64Array(), y: Float64Array.from({ length: 12 }, (_, i) => i % 3 === 0 ? 1 : 0), n: 12, d: 2 };
    const beta = 0.5;
    // Meta-gradients −1 at the first step (uniform weights), +1 at the second (all weights zero).
    const run = (steps: number) => {
      let calls = 0;
      const method = l2rw<MlpParams>((_p, b) => new Float64Array(b.y.shape[0]!).fill(calls++ === 0 ? -1 : 1));
      return trainWeighted({ params: init, loss: mlpLoss('tanh'), data, steps, batchSize: 5, optimizer: momentum({ lr: 0.1, beta }), weighting: method, record: true });
    };
    const flat = (p: MlpParams) => p.flatMap((l) => [...l.W.toFloat64Array(), ...l.b.toFloat64Array()]);
    const t0 = flat(init);
    const t1 = flat(run(1).params);
    const two = run(2);
    expect(Array.from(two.history[1]!.weights)).toEqual([0, 0, 0, 0, 0]);
    expect(two.objective[1]).toBe(0);
    // v₂ = β v₁ + 0 and θ₂ = θ₁ − α v₂ = θ₁ + β (θ₁ − θ₀): not a skipped step.
    const t2 = flat(two.params);
    t2.forEach((x, i) => expect(x).toBeCloseTo(t1[i]! + beta * (t1[i]! - t0[i]!), 14));
    expect(t2.some((x, i) => x !== t1[i])).toBe(true);
  });
});

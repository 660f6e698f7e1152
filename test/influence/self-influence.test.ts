/**
 * Self-scores (src/influence/self-influence.ts, `KroneckerInfluence.selfScores`): each equals the
 * diagonal of the same estimator's full score matrix with the test set = the training set, on
 * small random problems (softmax regression, an MLP, a CNN for the Kronecker path with patches).
 *
 * Tolerance: the self-score and the full matrix's diagonal are the same float64 quantity computed
 * along different routes — the same solves or factorisations, then dot products summed in a
 * different order (a loop against a GEMM or a matvec, a forward substitution against a Cholesky
 * solve). Reassociating a sum of p terms moves it by at most ~p·u·Σ|terms|; with p ≤ 200 and the
 * mild conditioning here (λ or δ ≥ 1e-2), that is ≤ 1e-12 of the largest self-score, so 1e-9
 * relative leaves three orders of margin and still catches any missing factor (1/n, η, 1 − p).
 */
import { describe, expect, it } from 'vitest';
import { fromFloat64 } from '../../src/core/create.ts';
import { Rng } from '../../src/core/rng.ts';
import type { Tensor } from '../../src/core/tensor.ts';
import { mlpForward, mlpInit, type MlpParams } from '../../src/nn/mlp.ts';
import { Objective } from '../../src/nn/objective.ts';
import { linearObjective } from '../../src/nn/linear-models.ts';
import { newton } from '../../src/optim/newton.ts';
import { softmaxCrossEntropy } from '../../src/ops/losses.ts';
import { sequential, sequentialLoss, type LayerSpec } from '../../src/nn/cnn.ts';
import { Influence } from '../../src/influence/influence.ts';
import { influenceScores, type ScoreMatrix } from '../../src/influence/scores.ts';
import { gradDot } from '../../src/influence/similarity.ts';
import { tracin, trainSgdCheckpointed } from '../../src/influence/tracin.ts';
import { trak } from '../../src/influence/trak.ts';
import { KroneckerInfluence, linearKfacNetwork, mlpKfacNetwork, sequentialKfacNetwork } from '../../src/influence/kfac.ts';
import { linearLastLayer, mlpLastLayer, representerPoints } from '../../src/influence/representer.ts';
import {
  gradDotSelfScores, influenceSelfScores, kroneckerSelfScores, lossSelfScores, representerSelfScores, tracinSelfScores, trakKernelSelfScores, trakSelfScores,
} from '../../src/influence/self-influence.ts';
import { randomData } from './problems.ts';
import { maxRelErr } from '../helpers.ts';

const TOL = 1e-9;

/** The diagonal of a square score matrix. */
function diagonal(S: ScoreMatrix): Float64Array {
  expect(S.tests).toBe(S.train);
  return Float64Array.from({ length: S.train }, (_, i) => S.values[i * S.train + i]!);
}

/** Softmax regression (3 classes, d = 4: p = 15) trained to its optimum at λ = 0.1. */
function softmaxProblem(n: number, seed: number) {
  const obj = linearObjective('softmax', randomData('softmax', n, 4, seed), 0.1, { classes: 3 });
  const theta = newton(obj, { tol: 1e-12 }).theta;
  return { obj, theta, train: { X: obj.spec.X, Y: obj.spec.Y } };
}

/** A 5 → 6 → 3 ReLU MLP at a random θ (non-zero biases), random labels. */
function mlpProblem(n: number, seed: number) {
  const rng = new Rng(seed);
  const d = 5;
  const K = 3;
  const X = fromFloat64(Float64Array.from({ length: n * d }, () => rng.normal()), [n, d]);
  const Yv = new Float64Array(n * K);
  for (let i = 0; i < n; i++) Yv[i * K + Math.floor(rng.uniform() * K)] = 1;
  const init = mlpInit([d, 6, K], seed + 1, 'relu');
  for (const layer of init) layer.b = fromFloat64(Float64Array.from({ length: layer.b.size }, () => 0.3 * rng.normal()), [layer.b.size]);
  const obj = new Objective<MlpParams>({ params: init, loss: (p: MlpParams, Xb: Tensor, Yb: Tensor) => softmaxCrossEntropy(mlpForward(p, Xb, 'relu'), Yb), X, Y: fromFloat64(Yv, [n, K]), l2: 0.01 });
  return { obj, theta: obj.layout.flatten(init), train: { X, Y: obj.spec.Y } };
}

describe('influence self-scores', () => {
  const { obj, theta, train } = softmaxProblem(30, 3);
  const solvers = [
    { solver: 'exact' as const },
    { solver: 'cg' as const, damping: 0.01 },
    { solver: 'arnoldi' as const, damping: 0.01, arnoldi: { k: 6, iterations: 12 } },
    // The stochastic LiSSA: both routes solve the rows in order from a fresh generator (seed 0), so
    // the i-th solve draws the same mini-batches either way.
    { solver: 'lissa' as const, damping: 0.01, lissa: { batchSize: 8, depth: 60, scale: 10 } },
  ];
  it.each(solvers)('$solver: (1/n) gᵢᵀ (H + δI)⁻¹ gᵢ is the diagonal of influenceScores on the training set', (options) => {
    const self = influenceSelfScores(new Influence(obj, theta, options));
    const full = diagonal(influenceScores(new Influence(obj, theta, options), train));
    expect(maxRelErr(self, full)).toBeLessThan(TOL);
    // Non-negative where M is PD: the flag direction "higher = more suspicious" is well defined.
    if (options.solver !== 'lissa') expect(Math.min(...self)).toBeGreaterThanOrEqual(0);
  });

  it('scores only the given rows, in their order', () => {
    const all = influenceSelfScores(new Influence(obj, theta));
    const some = influenceSelfScores(new Influence(obj, theta), [7, 2]);
    expect(maxRelErr(some, [all[7]!, all[2]!])).toBeLessThan(1e-14);
  });
});

describe('K-FAC / EK-FAC self-scores', () => {
  const cases = [
    { name: 'softmax regression', make: () => { const p = softmaxProblem(30, 5); return { ...p, net: linearKfacNetwork(p.obj, 'softmax-cross-entropy') }; } },
    { name: 'a ReLU MLP', make: () => { const p = mlpProblem(25, 9); return { ...p, net: mlpKfacNetwork(p.obj, 'relu', 'softmax-cross-entropy') }; } },
  ];
  for (const { name, make } of cases) {
    it.each(['kfac', 'ekfac'] as const)(`${name}, %s: the diagonal of scores(training set), across batch chunks and dampings`, (method) => {
      const { net, theta, train } = make();
      // batchSize 7 splits the rows into uneven chunks: the self-scores land on the right rows.
      const K = new KroneckerInfluence(net as never, theta, { method, damping: 1e-2, batchSize: 7 });
      for (const k of [K, K.withDamping(0.3)]) {
        const self = kroneckerSelfScores(k);
        expect(maxRelErr(self, diagonal(k.scores(train)))).toBeLessThan(TOL);
        expect(Math.min(...self)).toBeGreaterThanOrEqual(0);
      }
    });
  }

  it('a CNN (KFC patches): the diagonal of scores(training set)', () => {
    const layers: LayerSpec[] = [{ kind: 'conv', out: 2, size: 3, padding: 'same' }, { kind: 'relu' }, { kind: 'flatten' }, { kind: 'dense', out: 3 }];
    const model = sequential(layers, [1, 4, 4]);
    const n = 12;
    const rng = new Rng(4);
    const X = fromFloat64(Float64Array.from({ length: n * 16 }, () => rng.normal()), [n, 16]);
    const Yv = new Float64Array(n * 3);
    for (let i = 0; i < n; i++) Yv[i * 3 + (i % 3)] = 1;
    const params = model.init(4, { std: 'he' });
    const obj = new Objective({ params, loss: sequentialLoss(model, (z, y) => softmaxCrossEntropy(z, y)), X, Y: fromFloat64(Yv, [n, 3]), l2: 0.01 });
    const theta = obj.layout.flatten(params);
    for (let q = 0; q < theta.length; q++) theta[q] += 0.05 * rng.normal();
    const K = new KroneckerInfluence(sequentialKfacNetwork(obj, model, 'softmax-cross-entropy'), theta, { method: 'ekfac', damping: 1e-2, batchSize: 5 });
    expect(maxRelErr(K.selfScores(), diagonal(K.scores({ X, Y: obj.spec.Y })))).toBeLessThan(TOL);
  });
});

describe('gradient self-scores', () => {
  const { obj, theta, train } = softmaxProblem(30, 7);

  it('Grad-Dot: ‖gᵢ‖² is the diagonal of gradDot on the training set', () => {
    expect(maxRelErr(gradDotSelfScores(obj, theta), diagonal(gradDot(obj, theta, train)))).toBeLessThan(TOL);
  });

  it('TracIn: Σ_c η_c ‖gᵢ(θ_c)‖² is the diagonal of tracin (learning rates that differ per checkpoint)', () => {
    const { checkpoints } = trainSgdCheckpointed(obj, { lr: (step) => 0.2 / (1 + step / 10), epochs: 3, batchSize: 8, seed: 1 });
    expect(new Set(checkpoints.map((c) => c.lr)).size).toBe(3);
    expect(maxRelErr(tracinSelfScores(obj, checkpoints), diagonal(tracin(obj, checkpoints, train)))).toBeLessThan(TOL);
  });

  it('the loss baseline is each point’s training loss', () => {
    expect(Array.from(lossSelfScores(obj, theta))).toEqual(Array.from(obj.perExampleLosses(theta)));
  });
});

describe('TRAK self-scores', () => {
  it('the ensemble diagonal: (mean of φᵢᵀ(ΦᵀΦ + ρI)⁻¹φᵢ) · (mean 1 − pᵢ), as trak combines them', () => {
    const { obj, theta } = softmaxProblem(30, 11);
    const rng = new Rng(2);
    const models = [theta, theta.map((v) => v + 0.1 * rng.normal()), theta.map((v) => v - 0.1 * rng.normal())].map((th) => ({ obj, theta: th }));
    const train = { X: obj.spec.X, Y: obj.spec.Y };
    for (const opts of [{ k: 8, seed: 3 }, { k: 6, seed: 0, ridge: 0.5 }]) {
      expect(maxRelErr(trakSelfScores(models, opts), diagonal(trak(models, train, opts)))).toBeLessThan(TOL);
    }
    // One model without ridge: leverage scores of Φ (k = 8 columns of full rank), each in [0, 1], summing to k.
    const lev = trakSelfScores([models[0]!], { k: 8, seed: 3 }).map((v, i) => v / -Math.expm1(-obj.perExampleLosses(theta)[i]!));
    expect(Math.max(...lev)).toBeLessThanOrEqual(1 + 1e-12);
    expect(lev.reduce((a, b) => a + b, 0)).toBeCloseTo(8, 9);
  });

  it('trakKernelSelfScores refuses a Φ of the wrong size', () => {
    expect(() => trakKernelSelfScores(new Float64Array(10), 3, 4)).toThrow(/Φ has 10 entries, n·k = 3·4 = 12/);
  });
});

describe('RPS self-scores', () => {
  it.each([false, true])('linear model, normalize %s: αᵢ[yᵢ] k(fᵢ, fᵢ) is the diagonal of representerPoints(train, train)', (normalize) => {
    const { obj, theta, train } = softmaxProblem(30, 13);
    const opts = { l2: 0.01, normalize, tol: 1e-10 };
    const self = representerSelfScores(linearLastLayer(obj, theta), train, opts);
    expect(self.converged).toBe(true);
    expect(maxRelErr(self.scores, diagonal(representerPoints(linearLastLayer(obj, theta), train, train, opts).scores))).toBeLessThan(TOL);
  });

  it('MLP last layer: the same identity', () => {
    const { obj, theta, train } = mlpProblem(20, 17);
    const opts = { l2: 0.1, normalize: true, tol: 1e-10 };
    const self = representerSelfScores(mlpLastLayer(obj, theta, 'relu'), train, opts);
    expect(maxRelErr(self.scores, diagonal(representerPoints(mlpLastLayer(obj, theta, 'relu'), train, train, opts).scores))).toBeLessThan(TOL);
  });
});

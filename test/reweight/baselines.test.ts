/**
 * The Learning to Reweight paper's remaining baselines (src/reweight/methods.ts): random weights
 * (|z| / Σ|z|, z ~ N(0, 1), fresh each step), class-aware hard-example mining over a candidate
 * batch, and class-balanced resampling. Weights are non-negative and sum to 1, are reproducible by
 * seed, and the class-aware selection keeps the largest losses of each class in equal numbers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tensor } from '../../src/index.ts';
import { Rng } from '../../src/core/rng.ts';
import { mlpInit, type MlpParams } from '../../src/nn/mlp.ts';
import { momentum } from '../../src/optim/sgd.ts';
import { mlpLoss } from '../../src/reweight/l2rw.ts';
import {
  classAwareHardMining,
  classAwareHardWeights,
  randomBatchWeights,
  randomWeights,
  resample,
  resamplingPool,
} from '../../src/reweight/methods.ts';
import { type StepInfo, trainWeighted, weightedObjective } from '../../src/reweight/train.ts';
import { valueAndGrad } from '../../src/index.ts';
import type { Tensor } from '../../src/core/tensor.ts';
import { treeFlatten } from '../../src/core/pytree.ts';
import { maxRelErr, seededTensor } from '../helpers.ts';

const flatten = (p: MlpParams) => Float64Array.from(treeFlatten(p).leaves.flatMap((l) => (typeof l === 'number' ? [l] : Array.from(l.toFloat64Array()))));

const loss = mlpLoss('tanh');
function info(seed: number, m: number, step = 0): StepInfo<MlpParams> {
  const params = mlpInit([2, 3, 1], seed, 'tanh');
  params[1]!.W = seededTensor([1, 3], seed, -3, 3);
  return {
    step,
    totalSteps: 10,
    params,
    X: seededTensor([m, 2], seed + 1, -2, 2),
    y: tensor(Array.from({ length: m }, (_, i) => ((i * 7 + seed) % 3 === 0 ? 1 : 0))),
    indices: Int32Array.from({ length: m }, (_, i) => i),
    loss,
  };
}
const sumOf = (w: ArrayLike<number>) => Array.from(w).reduce((a, b) => a + b, 0);
const arbSeed = fc.integer({ min: 1, max: 100_000 });
const arbM = fc.integer({ min: 1, max: 12 });

describe('random weights', () => {
  it('are non-negative, sum to 1 over the batch, and the objective is Σ wᵢ ℓᵢ', () => {
    fc.assert(
      fc.property(arbSeed, arbM, (seed, m) => {
        const s = info(seed, m);
        const d = randomWeights<MlpParams>({ seed }).decide(s);
        expect(d.weights.length).toBe(m);
        d.weights.forEach((w) => expect(w).toBeGreaterThanOrEqual(0));
        expect(Math.abs(sumOf(d.weights) - 1)).toBeLessThan(1e-12);
        const ls = loss(s.params, s.X, s.y).toFloat64Array();
        const expected = ls.reduce((a, l, i) => a + d.weights[i]! * l, 0);
        expect(d.objective(s.params).item()).toBeCloseTo(expected, 12);
      }),
    );
  });

  it('are |z| / Σ|z| of the seeded normal stream, reproducible by seed and fresh each step', () => {
    const rng = new Rng(11);
    const z = Array.from({ length: 5 }, () => Math.abs(rng.normal()));
    const w = randomBatchWeights(5, new Rng(11));
    z.forEach((v, i) => expect(w[i]).toBeCloseTo(v / sumOf(z), 15));
    const a = randomWeights<MlpParams>({ seed: 4 });
    const b = randomWeights<MlpParams>({ seed: 4 });
    const s = info(2, 8);
    const a0 = a.decide(s).weights;
    const a1 = a.decide(s).weights;
    expect(Array.from(b.decide(s).weights)).toEqual(Array.from(a0));
    expect(Array.from(b.decide(s).weights)).toEqual(Array.from(a1));
    expect(Array.from(a1)).not.toEqual(Array.from(a0)); // new weights every step
    expect(Array.from(randomWeights<MlpParams>({ seed: 5 }).decide(s).weights)).not.toEqual(Array.from(a0));
    expect(a.name).toBe('random');
  });
});

describe('class-aware hard-example mining', () => {
  it('hand-worked case: keeps the 2 largest losses of each class, equally weighted', () => {
    // class 0: rows 0, 1, 2 with losses 1, 5, 3 → rows 1, 2; class 1: rows 3, 4, 5, 6 with 2, 0.5, 4, 4 → rows 5, 6
    const w = classAwareHardWeights([1, 5, 3, 2, 0.5, 4, 4], [0, 0, 0, 1, 1, 1, 1], 4);
    expect(Array.from(w)).toEqual([0, 0.25, 0.25, 0, 0, 0.25, 0.25]);
    // an imbalanced candidate batch: 1 minority, 5 majority, keep 4 → the lone minority row + the top 2 majority
    const v = classAwareHardWeights([0.1, 9, 8, 7, 6, 0.2], [0, 1, 1, 1, 1, 1], 4);
    expect(Array.from(v)).toEqual([1 / 3, 1 / 3, 1 / 3, 0, 0, 0]);
    // ties broken by position
    expect(Array.from(classAwareHardWeights([1, 1, 1, 1], [0, 0, 1, 1], 2))).toEqual([0.5, 0, 0.5, 0]);
  });

  it('balances the classes and keeps exactly each class\'s largest losses (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: 0, max: 10, noNaN: true }), fc.integer({ min: 0, max: 2 })), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 20 }),
        (rows, k) => {
          const losses = rows.map(([l]) => l);
          const labels = rows.map(([, y]) => y);
          const w = classAwareHardWeights(losses, labels, k);
          w.forEach((v) => expect(v).toBeGreaterThanOrEqual(0));
          expect(Math.abs(sumOf(w) - 1)).toBeLessThan(1e-12);
          const classes = [...new Set(labels)];
          const share = Math.ceil(k / classes.length);
          for (const c of classes) {
            const idx = labels.map((y, i) => [y, i] as const).filter(([y]) => y === c).map(([, i]) => i);
            const kept = idx.filter((i) => w[i]! > 0);
            expect(kept.length).toBe(Math.min(share, idx.length)); // equal per class unless a class runs short
            const minKept = Math.min(...kept.map((i) => losses[i]!));
            for (const i of idx) if (w[i] === 0) expect(losses[i]!).toBeLessThanOrEqual(minKept);
          }
        },
      ),
    );
  });

  it('as a weighting: scores the candidates at the current parameters', () => {
    const s = info(7, 12);
    const d = classAwareHardMining<MlpParams>({ keep: 4 }).decide(s);
    const ls = loss(s.params, s.X, s.y).toFloat64Array();
    expect(Array.from(d.weights)).toEqual(Array.from(classAwareHardWeights(ls, s.y.toFloat64Array(), 4)));
    expect(Math.abs(sumOf(d.weights) - 1)).toBeLessThan(1e-12);
    expect(() => classAwareHardMining({ keep: 0 })).toThrow();
  });

  it('its objective, run on the kept rows only, is Σ wᵢℓᵢ over all candidates (value and gradient)', () => {
    // The dropped rows have wᵢ = 0 and contribute exactly 0; the two sums differ only in the order
    // of the kept terms' additions: a few ulps of the largest term (1e-12 relative is generous).
    fc.assert(
      fc.property(arbSeed, (seed) => {
        const s = info(seed, 15);
        const d = classAwareHardMining<MlpParams>({ keep: 5 }).decide(s);
        expect(Array.from(d.weights).filter((w) => w === 0).length).toBeGreaterThan(0);
        const full = weightedObjective(loss, s.X, s.y, d.weights);
        const [v1, g1] = valueAndGrad(d.objective)(s.params);
        const [v2, g2] = valueAndGrad(full)(s.params);
        expect(Math.abs((v1 as Tensor).item() - (v2 as Tensor).item())).toBeLessThan(1e-12 * Math.abs((v2 as Tensor).item()) + 1e-300);
        const a = flatten(g1 as MlpParams);
        const b = flatten(g2 as MlpParams);
        expect(maxRelErr(a, b)).toBeLessThan(1e-12);
      }),
      { numRuns: 20 },
    );
  });
});

describe('class-balanced resampling', () => {
  it('tiles every class to the largest class\'s size', () => {
    expect(Array.from(resamplingPool([1, 1, 1, 0]))).toEqual([0, 1, 2, 3, 3, 3]);
    expect(Array.from(resamplingPool([0, 1, 1, 1, 1, 0, 1]))).toEqual([0, 5, 0, 5, 0, 1, 2, 3, 4, 6]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 60 }), (labels) => {
        const pool = resamplingPool(labels);
        const counts = new Map<number, number>();
        for (const r of pool) counts.set(labels[r]!, (counts.get(labels[r]!) ?? 0) + 1);
        const nMax = Math.max(...[...new Set(labels)].map((c) => labels.filter((y) => y === c).length));
        expect(counts.size).toBe(new Set(labels).size);
        for (const v of counts.values()) expect(v).toBe(nMax);
        // within a class, multiplicities differ by at most one and every row appears
        const mult = new Map<number, number>();
        for (const r of pool) mult.set(r, (mult.get(r) ?? 0) + 1);
        expect(mult.size).toBe(labels.length);
        for (const c of new Set(labels)) {
          const ms = labels.map((y, i) => [y, i] as const).filter(([y]) => y === c).map(([, i]) => mult.get(i)!);
          expect(Math.max(...ms) - Math.min(...ms)).toBeLessThanOrEqual(1);
        }
      }),
    );
  });

  it('draws class-balanced batches in the training loop, uniformly weighted, reproducibly by seed', () => {
    const n = 100;
    const labels = Float64Array.from({ length: n }, (_, i) => (i < 5 ? 0 : 1)); // 5% minority
    const data = { X: Float64Array.from({ length: n }, (_, i) => i / n), y: labels, n, d: 1 };
    const run = (seed: number) =>
      trainWeighted({ params: mlpInit([1, 1], 0), loss, data, steps: 40, batchSize: 20, optimizer: momentum({ lr: 0.1 }), weighting: resample<MlpParams>(labels), seed, record: true });
    const { history } = run(3);
    let minority = 0;
    let total = 0;
    for (const h of history) {
      h.weights.forEach((w) => expect(w).toBe(1 / 20));
      for (const r of h.indices) (minority += labels[r] === 0 ? 1 : 0), total++;
    }
    expect(minority / total).toBeGreaterThan(0.4); // about 1/2, against 5% under uniform sampling
    expect(minority / total).toBeLessThan(0.6);
    expect(run(3).history.map((h) => Array.from(h.indices))).toEqual(history.map((h) => Array.from(h.indices)));
  });
});

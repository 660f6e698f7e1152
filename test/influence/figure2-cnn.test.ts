/**
 * The CNN panel of Figure 2 (src/apps/experiments/koh-liang-cnn.ts) on a tiny configuration: the
 * network's size, the leave-one-out objective its retraining minimises, and the shape of the result.
 */
import { describe, expect, it } from 'vitest';
import { fromFloat64 } from '../../src/core/create.ts';
import { cnnLayers, runCnnFigure2 } from '../../src/apps/experiments/koh-liang-cnn.ts';
import { type SequentialParams, sequential, sequentialLoss } from '../../src/nn/cnn.ts';
import { Objective } from '../../src/nn/objective.ts';
import { softmaxCrossEntropy } from '../../src/ops/losses.ts';
import { Rng } from '../../src/core/rng.ts';

describe('Figure 2, CNN panel', () => {
  it('retraining drops exactly the removed point’s term: R − ℓᵢ/n', () => {
    const net = sequential(cnnLayers(2), [1, 28, 28]);
    const rng = new Rng(4);
    const n = 6;
    const X = fromFloat64(Float64Array.from({ length: n * 784 }, () => rng.uniform()), [n, 784]);
    const Yv = new Float64Array(n * 10);
    for (let i = 0; i < n; i++) Yv[i * 10 + ((3 * i) % 10)] = 1;
    const obj = new Objective<SequentialParams>({ params: net.init(0, { std: 'he' }), loss: sequentialLoss(net, softmaxCrossEntropy), X, Y: fromFloat64(Yv, [n, 10]), l2: 0.001 });
    // conv 3×3 1→2 (18 + 2) and dense 2·7·7 → 10 (980 + 10).
    expect(obj.dim).toBe(1010);
    const theta = obj.layout.flatten(net.init(1, { std: 'he' }));
    const w = new Float64Array(n).fill(1);
    w[2] = 0;
    const li = obj.perExampleLosses(theta, [2])[0]!;
    // Two float64 evaluations of the same sums: agreement to rounding (1e-13 of an O(1) value).
    expect(Math.abs(obj.withWeights(w).value(theta) - (obj.value(theta) - li / n))).toBeLessThan(1e-13);
  });

  it('runs end to end on a tiny configuration', () => {
    // 15 iterations leave the Hessian indefinite beyond δ = 0.01 here (CG says so): damp more.
    const r = runCnnFigure2({ nTrain: 40, channels: 2, trainSteps: 15, retrainSteps: 5, points: 4, damping: 0.5 });
    expect(r.nParams).toBe(1010);
    expect(r.predicted).toHaveLength(4);
    expect(r.actual.every(Number.isFinite)).toBe(true);
    // The retrained points are the most influential, in decreasing |predicted|.
    for (let k = 1; k < 4; k++) expect(Math.abs(r.predicted[k - 1]!)).toBeGreaterThanOrEqual(Math.abs(r.predicted[k]!));
    expect(r.testRule).toMatch(/first test image/);
    expect(new Set(r.trainIndices).size).toBe(4);
    expect(r.mnistRows.every((m) => m >= 5000 && m < 60000)).toBe(true); // from the 55,000 of the split
  });
});

/**
 * The baseline weightings against their definitions (src/reweight/methods.ts has the table):
 * uniform 1/m; class-balanced n/(K n_y)/m, whose expectation is the class-balanced risk; focal
 * (1 − pₜ)^γ ℓ with pₜ the true-class probability; OHEM's top-k; self-paced's growing threshold;
 * curriculum's easy-to-hard pool. And the training loop that drives them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { grad, mean, mul, sum, tensor } from '../../src/index.ts';
import { f64PoolStats } from '../../src/backend/f64-pool.ts';
import { mlpForward, mlpInit, type MlpParams } from '../../src/nn/mlp.ts';
import { momentum, sgd } from '../../src/optim/sgd.ts';
import { mlpLoss } from '../../src/reweight/l2rw.ts';
import {
  classBalanced,
  classBalancedWeights,
  curriculum,
  curriculumSize,
  focal,
  ohem,
  ohemWeights,
  selfPaced,
  selfPacedThreshold,
  subset,
  uniform,
} from '../../src/reweight/methods.ts';
import { type StepInfo, trainWeighted } from '../../src/reweight/train.ts';
import { expectClose, seededTensor } from '../helpers.ts';

const loss = mlpLoss('tanh');
function info(seed: number, m: number, step = 0, totalSteps = 10): StepInfo<MlpParams> {
  const params = mlpInit([2, 3, 1], seed, 'tanh');
  params[1]!.W = seededTensor([1, 3], seed, -3, 3); // spread the losses out
  return {
    step,
    totalSteps,
    params,
    X: seededTensor([m, 2], seed + 1, -2, 2),
    y: tensor(Array.from({ length: m }, (_, i) => (i * 7 + seed) % 3 === 0 ? 1 : 0)),
    indices: Int32Array.from({ length: m }, (_, i) => i),
    loss,
  };
}
const lossesAt = (s: StepInfo<MlpParams>) => loss(s.params, s.X, s.y).toFloat64Array();
const arbSeed = fc.integer({ min: 1, max: 100_000 });
const arbM = fc.integer({ min: 1, max: 12 });

describe('baseline weightings', () => {
  it('uniform: wᵢ = 1/m and the objective is the mean loss', () => {
    fc.assert(
      fc.property(arbSeed, arbM, (seed, m) => {
        const s = info(seed, m);
        const d = uniform<MlpParams>().decide(s);
        d.weights.forEach((w) => expect(w).toBe(1 / m));
        expect(d.objective(s.params).item()).toBeCloseTo(mean(loss(s.params, s.X, s.y)).item(), 14);
      }),
    );
  });

  it('class-balanced: factors n/(K n_k) average to 1 over the data and turn the mean into the class-balanced risk', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 40 }), fc.array(fc.double({ min: 0, max: 5, noNaN: true }), { minLength: 40, maxLength: 40 }), (labels, ls) => {
        const f = classBalancedWeights(labels);
        const n = labels.length;
        const K = new Set(labels).size;
        expect(f.size).toBe(K);
        expect(Math.abs(labels.reduce((a, y) => a + f.get(y)!, 0) / n - 1)).toBeLessThan(1e-12);
        // (1/n) Σ factor(yᵢ) ℓᵢ = (1/K) Σ_k mean_{yᵢ = k} ℓᵢ
        const weighted = labels.reduce((a, y, i) => a + f.get(y)! * ls[i]!, 0) / n;
        let balanced = 0;
        for (const k of new Set(labels)) {
          const rows = labels.map((y, i) => [y, i] as const).filter(([y]) => y === k).map(([, i]) => ls[i]!);
          balanced += rows.reduce((a, b) => a + b, 0) / rows.length / K;
        }
        expect(Math.abs(weighted - balanced)).toBeLessThan(1e-10 * (1 + balanced));
      }),
    );
    const s = info(3, 6);
    const labels = [1, 1, 1, 1, 1, 0];
    const d = classBalanced<MlpParams>(labels).decide(s);
    expect(Array.from(d.weights)).toEqual(labels.map((y) => (y === 1 ? 6 / (2 * 5) : 6 / 2) / 6));
  });

  it('focal: objective is mean −(1 − pₜ)^γ log pₜ with pₜ = σ(z) or 1 − σ(z); γ = 0 is uniform, value and gradient', () => {
    fc.assert(
      fc.property(arbSeed, arbM, fc.double({ min: 0, max: 4, noNaN: true }), (seed, m, gamma) => {
        const s = info(seed, m);
        const z = mlpForward(s.params, s.X, 'tanh').toFloat64Array();
        const y = s.y.toFloat64Array();
        let expected = 0;
        for (let i = 0; i < m; i++) {
          const p = 1 / (1 + Math.exp(-z[i]!));
          const pt = y[i] === 1 ? p : 1 - p;
          expected += (-((1 - pt) ** gamma) * Math.log(pt)) / m;
        }
        const d = focal<MlpParams>({ gamma }).decide(s);
        expect(Math.abs(d.objective(s.params).item() - expected)).toBeLessThan(1e-12 * (1 + expected));
        d.weights.forEach((w, i) => {
          const p = 1 / (1 + Math.exp(-z[i]!));
          const pt = y[i] === 1 ? p : 1 - p;
          expect(Math.abs(w - (1 - pt) ** gamma / m)).toBeLessThan(1e-12);
        });
      }),
    );
    const s = info(11, 5);
    const g0 = grad(focal<MlpParams>({ gamma: 0 }).decide(s).objective)(s.params);
    const gu = grad(uniform<MlpParams>().decide(s).objective)(s.params);
    g0.forEach((layer: MlpParams[number], l: number) => expectClose(layer.W, gu[l].W, { rtol: 1e-12, atol: 1e-14 }));
  });

  it('OHEM: weight 1/k on exactly the k largest losses of the batch', () => {
    fc.assert(
      fc.property(arbSeed, arbM, fc.double({ min: 0.05, max: 1, noNaN: true }), (seed, m, fraction) => {
        const s = info(seed, m);
        const ls = lossesAt(s);
        const w = ohem<MlpParams>({ fraction }).decide(s).weights;
        const k = Math.ceil(fraction * m);
        const chosen = Array.from(w.keys()).filter((i) => w[i]! > 0);
        expect(chosen.length).toBe(k);
        chosen.forEach((i) => expect(w[i]).toBeCloseTo(1 / k, 15));
        const minChosen = Math.min(...chosen.map((i) => ls[i]!));
        ls.forEach((l, i) => {
          if (w[i] === 0) expect(l).toBeLessThanOrEqual(minChosen);
        });
      }),
    );
    expect(Array.from(ohemWeights([0.1, 2, 0.5, 3], 2))).toEqual([0, 0.5, 0, 0.5]);
  });

  it('self-paced: weight 1/m exactly on losses below λ_t, with λ_t growing linearly from start to end', () => {
    fc.assert(
      fc.property(arbSeed, arbM, fc.integer({ min: 0, max: 9 }), (seed, m, step) => {
        const s = info(seed, m, step, 10);
        const ls = lossesAt(s);
        const lambda = selfPacedThreshold(step, 10, 0.3, 2);
        expect(lambda).toBeCloseTo(0.3 + (1.7 * step) / 9, 14);
        const d = selfPaced<MlpParams>({ start: 0.3, end: 2 }).decide(s);
        d.weights.forEach((w, i) => expect(w).toBe(ls[i]! < lambda ? 1 / m : 0));
        const expected = ls.reduce((a, l) => a + (l < lambda ? l / m : 0), 0);
        expect(d.objective(s.params).item()).toBeCloseTo(expected, 13);
      }),
    );
  });

  it('curriculum: pools are the easiest examples by reference loss, growing to everything after the ramp', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 5, noNaN: true }), { minLength: 1, maxLength: 50 }), fc.double({ min: 0.05, max: 1, noNaN: true }), (ref, start) => {
        const c = curriculum<MlpParams>(ref, { startFraction: start, rampFraction: 0.5 });
        let previous = 0;
        for (let t = 0; t < 20; t++) {
          const pool = Array.from(c.pool!(t, 20));
          expect(pool.length).toBe(curriculumSize(t, 20, ref.length, start, 0.5));
          expect(pool.length).toBeGreaterThanOrEqual(previous);
          previous = pool.length;
          const maxIn = Math.max(...pool.map((i) => ref[i]!));
          ref.forEach((l, i) => {
            if (!pool.includes(i)) expect(l).toBeGreaterThanOrEqual(maxIn);
          });
        }
        expect(c.pool!(10, 20).length).toBe(ref.length);
      }),
    );
  });
});

describe('training loop', () => {
  const data = {
    X: Float64Array.from([-2, -1.5, -1, -0.5, 0.5, 1, 1.5, 2]),
    y: Float64Array.from([0, 0, 0, 0, 1, 1, 1, 1]),
    n: 8,
    d: 1,
  };

  it('draws batches only from the method’s pool, without repeats within a batch', () => {
    const { history } = trainWeighted({ params: mlpInit([1, 1], 0), loss, data, steps: 20, batchSize: 3, optimizer: sgd({ lr: 0.1 }), weighting: subset<MlpParams>([1, 4, 6, 7]), record: true });
    for (const h of history) {
      expect(new Set(h.indices).size).toBe(3);
      h.indices.forEach((i) => expect([1, 4, 6, 7]).toContain(i));
    }
  });

  it('one step equals the optimiser update on the method’s objective', () => {
    const params = mlpInit([1, 2, 1], 4);
    const { params: after, history } = trainWeighted({ params, loss, data, steps: 1, batchSize: 8, optimizer: sgd({ lr: 0.3 }), weighting: uniform<MlpParams>(), record: true });
    const X = tensor(data.X, [8, 1]);
    const y = tensor(data.y, [8]);
    const g = grad((p: MlpParams) => mean(loss(p, X, y)))(params) as MlpParams;
    after.forEach((layer, l) => {
      expectClose(layer.W, tensor(params[l]!.W.toFloat64Array().map((v, k) => v - 0.3 * g[l]!.W.toFloat64Array()[k]!), params[l]!.W.shape));
      expectClose(layer.b, tensor(params[l]!.b.toFloat64Array().map((v, k) => v - 0.3 * g[l]!.b.toFloat64Array()[k]!), params[l]!.b.shape));
    });
    expect(history[0]!.weights.length).toBe(8);
  });

  it('runs each step under tidy: the same parameters as steps taken by hand, the caller\'s tensors untouched, arrays reused', () => {
    // A layer wide enough (1 × 1500 hidden) for its arrays to be pooled.
    const init = mlpInit([1, 1500, 1], 5);
    const reused0 = f64PoolStats().reused;
    const { params: after } = trainWeighted({ params: init, loss, data, steps: 5, batchSize: 8, optimizer: momentum({ lr: 0.05 }), weighting: uniform<MlpParams>() });
    expect(f64PoolStats().reused).toBeGreaterThan(reused0);
    // The same five full-batch momentum steps by hand, without tidy (the loop shuffles the batch,
    // so the sums are reordered: equal to rounding).
    const opt = momentum({ lr: 0.05 });
    let p: MlpParams = init, state = opt.init(init);
    const X = tensor(data.X, [8, 1]), y = tensor(data.y, [8]);
    for (let i = 0; i < 5; i++) {
      const g = grad((q: MlpParams) => sum(mul(tensor(new Float64Array(8).fill(1 / 8)), loss(q, X, y))))(p) as MlpParams;
      ({ params: p, state } = opt.update(p, g, state));
    }
    after.forEach((layer, l) => {
      expectClose(layer.W, p[l]!.W.toFloat64Array(), { rtol: 1e-12, atol: 1e-14 });
      expectClose(layer.b, p[l]!.b.toFloat64Array(), { rtol: 1e-12, atol: 1e-14 });
    });
    // The initial parameters were made outside the loop: still readable.
    expect(init[0]!.W.toFloat64Array().length).toBe(1500);
  });

  it('learns a separable 1-D problem with momentum SGD (training loss falls below 0.1)', () => {
    const { params, objective } = trainWeighted({ params: mlpInit([1, 4, 1], 1), loss, data, steps: 300, batchSize: 4, optimizer: momentum({ lr: 0.1 }), weighting: uniform<MlpParams>() });
    const final = mean(loss(params, tensor(data.X, [8, 1]), tensor(data.y, [8]))).item();
    expect(final).toBeLessThan(0.1);
    expect(objective.length).toBe(300);
    expect(sum(tensor(Array.from(objective.slice(0, 10)))).item() / 10).toBeGreaterThan(final);
  });
});

/**
 * dattri's MNIST-10 protocol (src/apps/cli/mnist10*.ts): the closed-form pieces against the
 * library's engine and solvers on a few real MNIST rows, then `unequal lds` / `attribute` / `merge`
 * on a tiny configuration: bit-identical for any thread count, k shards merged = one run, and the
 * merge refusals. Tolerances: two float64 computations of the same sum in different orders agree
 * to a few ulps times the number of terms (≤ 1e-10 relative here); Lanczos-based CG and plain CG
 * agree to rounding amplified by the conditioning of 10 steps at δ ≥ 0.1 (≤ 1e-8 relative).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.ts';
import { dattriMnist10 } from '../../src/data/dattri.ts';
import { linearHessian } from '../../src/nn/linear-models.ts';
import { conjugateGradient } from '../../src/optim/cg.ts';
import { batchGradient, DATTRI_TRAINING, forward, gradientDots, initTheta, mm, objectiveOf, perExampleGradients, testLosses, trainModel } from '../../src/apps/cli/mnist10.ts';
import { defaultSetup, runJob } from '../../src/apps/cli/mnist10-jobs.ts';
import { blockHvp, gradientTimes, logregHessian, multiShiftCg, type ScoringContext } from '../../src/apps/cli/mnist10-methods.ts';
import { runInProcess } from './cli-helpers.ts';
import { maxRelErr } from '../helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'unequal-lds-mnist10-'));
const n = 40;
const data = dattriMnist10({ nTrain: n, nTest: 500 });
const rows = Array.from({ length: n }, (_, i) => i);

/** θ₀ moved off the initialisation so that every probability and ReLU pattern is generic. */
function theta(model: 'logreg' | 'mlp'): Float64Array {
  const rng = new Rng(7);
  return initTheta(model, 3).map((v) => v + 0.05 * rng.normal());
}

describe('the MNIST-10 data', () => {
  it('takes the first images of each file, normalised as dattri does', () => {
    expect(data.train.n).toBe(n);
    expect(data.test.n).toBe(500);
    // The first training digit of MNIST is a 5, the first test digit a 7 (the files' own labels).
    expect(data.train.y[0]).toBe(5);
    expect(data.test.y[0]).toBe(7);
    // Background pixels are byte 0: (0 − 0.1307) / 0.3081.
    expect(data.train.X[0]).toBeCloseTo(-0.1307 / 0.3081, 12);
  });
});

describe.each(['logreg', 'mlp'] as const)('the %s closed forms', (model) => {
  const th = theta(model);
  const obj = objectiveOf(model, data.train);

  it('per-example gradients from the layer factors equal the engine’s', () => {
    const f = forward(model, th, data.train.X, data.train.y, n);
    expect(maxRelErr(perExampleGradients(model, f, n), obj.perExampleGradients(th))).toBeLessThan(1e-10);
  });

  it('the mini-batch gradient is the mean of the per-example gradients, and the losses match', () => {
    const f = forward(model, th, data.train.X, data.train.y, n);
    expect(maxRelErr(f.losses, obj.perExampleLosses(th))).toBeLessThan(1e-12);
    const idx = [3, 17, 5, 30];
    const G = obj.perExampleGradients(th, idx);
    const p = obj.dim;
    const mean = new Float64Array(p);
    for (let k = 0; k < idx.length; k++) for (let j = 0; j < p; j++) mean[j] += G[k * p + j]! / idx.length;
    expect(maxRelErr(batchGradient(model, th, data.train, idx), mean)).toBeLessThan(1e-10);
  });

  it('gradient dot products and gᵢ·s from the factors equal the explicit products', () => {
    const f = forward(model, th, data.train.X, data.train.y, n);
    const G = perExampleGradients(model, f, n);
    const p = obj.dim;
    expect(maxRelErr(gradientDots(f, n, f, n), mm(G, n, p, G, n, true))).toBeLessThan(1e-10);
    const rng = new Rng(1);
    const S = Float64Array.from({ length: 3 * p }, () => rng.normal());
    expect(maxRelErr(gradientTimes(model, f, n, S, 3), mm(S, 3, p, G, n, true))).toBeLessThan(1e-10);
  });
});

describe('the logreg curvature', () => {
  const th = theta('logreg');
  const obj = objectiveOf('logreg', data.train);
  const p = obj.dim;
  const ctx = { model: 'logreg', train: data.train, test: data.test, tests: 1, theta: th, obj } as unknown as ScoringContext;

  it('the Hessian by class-pair GEMMs equals the library’s linearHessian', () => {
    const P = forward('logreg', th, data.train.X, data.train.y, n).probs;
    expect(maxRelErr(logregHessian(th, data.train, P), linearHessian('softmax', th, data.train, 0, 10))).toBeLessThan(1e-10);
  });

  it('block HVPs (full and mini-batch) equal the objective’s HVP', () => {
    const rng = new Rng(2);
    const V = Float64Array.from({ length: 2 * p }, () => rng.normal());
    const HV = blockHvp(ctx, V, 2);
    const batch = [1, 4, 9, 16];
    const HVb = blockHvp(ctx, V, 2, batch);
    for (let t = 0; t < 2; t++) {
      const v = V.slice(t * p, (t + 1) * p);
      expect(maxRelErr(HV.subarray(t * p, (t + 1) * p), obj.hvp(th, v))).toBeLessThan(1e-10);
      expect(maxRelErr(HVb.subarray(t * p, (t + 1) * p), obj.hvp(th, v, batch))).toBeLessThan(1e-10);
    }
  });

  it('multi-shift CG gives plain CG’s 10th iterate for every damping', () => {
    const G = obj.perExampleGradients(th, [0, 1]);
    const dampings = [1, 0.1];
    const X = multiShiftCg(ctx, G, 2, dampings, 10);
    dampings.forEach((delta, k) => {
      for (let t = 0; t < 2; t++) {
        const g = G.slice(t * p, (t + 1) * p);
        const cg = conjugateGradient((v) => obj.hvp(th, v).map((x, j) => x + delta * v[j]!), g, { maxIter: 10, tol: 0, allowUnconverged: true });
        expect(maxRelErr(X[k]!.subarray(t * p, (t + 1) * p), cg.x)).toBeLessThan(1e-8);
      }
    });
  });

});

const tiny = ['--model', 'logreg', '--train-size', '60', '--test', '4', '--subsets', '6', '--epochs', '1', '--ensemble', '1', '--trak-k', '8', '--loo', '3', '--dampings', '0.1,0.01', '--methods', 'cg,grad-dot,tracin,trak-1', '--quiet'];

async function run(args: string[]): Promise<Record<string, unknown>> {
  const r = await runInProcess(args);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** The result without what legitimately differs between runs (times, the command line). */
function numbers(r: Record<string, unknown>): string {
  const methods = (r.logreg as { methods: Record<string, Record<string, unknown>> }).methods;
  return JSON.stringify({ config: r.config, methods: Object.fromEntries(Object.entries(methods).map(([k, v]) => [k, { ...v, seconds: 0 }])) });
}

describe('unequal lds on MNIST-10 (tiny configuration)', { timeout: 300_000 }, () => {
  it('is bit-identical on 1 and 2 threads, and 2 shards merged equal the unsharded run', async () => {
    const one = await run(['lds', ...tiny, '--threads', '1']);
    const two = await run(['lds', ...tiny, '--threads', '2']);
    expect(numbers(two)).toBe(numbers(one));
    const methods = (one.logreg as { methods: Record<string, { lds: number; loo: number }> }).methods;
    expect(Object.keys(methods).sort()).toEqual(['cg', 'grad-dot', 'tracin', 'trak-1']);
    for (const m of Object.values(methods)) expect(Math.abs(m.lds)).toBeLessThanOrEqual(1);
    const files = [0, 1].map((i) => join(dir, `shard-${i}.json`));
    for (const [i, f] of files.entries()) {
      const r = await runInProcess(['lds', ...tiny, '--threads', '1', '--shard', `${i}/2`, '--out', f]);
      expect(r.code, r.stderr).toBe(0);
      const part = JSON.parse(readFileSync(f, 'utf8')) as { kind: string; shard: { subsets: number[] } };
      expect(part.kind).toBe('unequal-lds-partial');
      expect(part.shard.subsets).toEqual(i === 0 ? [0, 3] : [3, 6]);
    }
    const merged = await run(['merge', files[1]!, files[0]!, '--quiet']);
    expect(numbers(merged)).toBe(numbers(one));

    // Refusals: a gap, an overlap, another configuration, not a partial.
    const gap = await runInProcess(['merge', files[0]!]);
    expect(gap.code).toBe(2);
    expect(gap.stderr).toMatch(/shard 1\/2 missing/);
    const overlap = await runInProcess(['merge', files[0]!, files[0]!, files[1]!]);
    expect(overlap.code).toBe(2);
    expect(overlap.stderr).toMatch(/both shard 0\/2/);
    const other = JSON.parse(readFileSync(files[1]!, 'utf8')) as { config: { seed: number } };
    other.config.seed = 9;
    const otherFile = join(dir, 'other.json');
    writeFileSync(otherFile, JSON.stringify(other));
    const mismatch = await runInProcess(['merge', files[0]!, otherFile]);
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toMatch(/another configuration.*seed: 0 vs 9/);
    const notPartial = join(dir, 'full.json');
    writeFileSync(notPartial, JSON.stringify(one));
    const wrong = await runInProcess(['merge', notPartial]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/not a partial lds result/);
  });

  it('attribute scores one test image with the same numbers as the lds scoring', async () => {
    const r = await run(['attribute', '--model', 'logreg', '--train-size', '60', '--epochs', '1', '--method', 'grad-dot', '--test-index', '2', '--quiet']);
    const scores = r.scores as number[];
    expect(scores).toHaveLength(60);
    expect(r.label).toBe(data.test.y[2]);
    // grad-dot at the trained θ̂ is ∇ℓ_t·∇ℓᵢ: recompute it from the explicit gradients.
    const { runJob, defaultSetup } = await import('../../src/apps/cli/mnist10-jobs.ts');
    const small = dattriMnist10({ nTrain: 60, nTest: 500 });
    const setup = defaultSetup('logreg', { nTrain: 60, training: { ...(await import('../../src/apps/cli/mnist10.ts')).DATTRI_TRAINING.logreg, epochs: 1 } });
    const th = (runJob(setup, small, { type: 'full' }) as { theta: Float64Array }).theta;
    const G = perExampleGradients('logreg', forward('logreg', th, small.train.X, small.train.y, 60), 60);
    const g = perExampleGradients('logreg', forward('logreg', th, small.test.X.slice(2 * 784, 3 * 784), small.test.y.slice(2, 3), 1), 1);
    const want = mm(g, 1, 7850, G, 60, true);
    expect(maxRelErr(scores, want)).toBeLessThan(1e-10);
  });

  it('help documents the new flags and commands; usage errors are one line with exit 2', async () => {
    const lds = await runInProcess(['lds', '--help']);
    for (const flag of ['--shard', '--threads', '--ensemble', '--dampings', '--loo', '--subsets']) expect(lds.stdout).toContain(flag);
    const merge = await runInProcess(['merge', '--help']);
    expect(merge.stdout).toMatch(/no gaps, no overlaps/);
    const att = await runInProcess(['attribute', '--help']);
    expect(att.stdout).toContain('--test-index');
    const exact = await runInProcess(['lds', '--model', 'mlp', '--methods', 'exact']);
    expect(exact.code).toBe(2);
    expect(exact.stderr).toMatch(/83 GB/);
    const shard = await runInProcess(['lds', '--model', 'logreg', '--shard', '3/2']);
    expect(shard.code).toBe(2);
    expect(shard.stderr).toMatch(/--shard: '3\/2' must be i\/k/);
    expect(lds.stdout).toContain('--loo-order');
    const order = await runInProcess(['lds', '--model', 'logreg', '--fit', 'optimum', '--loo-order', 'file']);
    expect(order.code).toBe(2);
    expect(order.stderr).toMatch(/--loo-order: the SGD protocol's flag/);
  });
});

describe('LOO in file order (dattri’s retrain_loo)', () => {
  it('visits the rows in the given order every epoch: the same SGD steps written out by hand', () => {
    // 10 rows, batch 4 (batches of 4, 4, 2), 2 epochs, plain SGD at dattri's logreg learning rate.
    const config = { ...DATTRI_TRAINING.logreg, batchSize: 4, epochs: 2 };
    const rowsGiven = [9, 2, 7, 0, 4, 1, 8, 3, 6, 5];
    const got = trainModel('logreg', data.train, rowsGiven, 5, [], config, 'file').theta;
    const want = initTheta('logreg', 5);
    for (let epoch = 0; epoch < 2; epoch++) {
      for (let start = 0; start < 10; start += 4) {
        const g = batchGradient('logreg', want, data.train, rowsGiven.slice(start, start + 4));
        for (let j = 0; j < want.length; j++) want[j] -= config.lr * g[j]!;
      }
    }
    // Same operations in the same order: bit-identical.
    expect(Array.from(got)).toEqual(Array.from(want));
    // Shuffled training of the same rows takes other batches, so it ends elsewhere.
    expect(maxRelErr(trainModel('logreg', data.train, rowsGiven, 5, [], config).theta, want)).toBeGreaterThan(1e-6);
  });

  it('the loo job with looOrder file trains on every row but r in file order; looBase on all rows', () => {
    const training = { ...DATTRI_TRAINING.logreg, epochs: 1 };
    const setup = defaultSetup('logreg', { nTrain: n, nTest: 500, tests: 3, training, looOrder: 'file', checkpointEpochs: [] });
    const all = Array.from({ length: n }, (_, i) => i);
    const job = runJob(setup, data, { type: 'loo', row: 7 }) as { losses: Float64Array };
    const byHand = trainModel('logreg', data.train, all.filter((i) => i !== 7), setup.seed + 1_000_000, [], training, 'file').theta;
    expect(Array.from(job.losses)).toEqual(Array.from(testLosses('logreg', byHand, data.test, 3)));
    const base = runJob(setup, data, { type: 'looBase' }) as { losses: Float64Array };
    const full = trainModel('logreg', data.train, all, setup.seed + 1_000_000, [], training, 'file').theta;
    expect(Array.from(base.losses)).toEqual(Array.from(testLosses('logreg', full, data.test, 3)));
  });

  it('unequal lds --loo-order file records the order and reports finite LOO correlations', async () => {
    const r = await run(['lds', ...tiny, '--threads', '1', '--loo-order', 'file']);
    const config = r.config as { looOrder?: string; protocol: { loo: string } };
    expect(config.looOrder).toBe('file');
    expect(config.protocol.loo).toMatch(/file order every epoch/);
    for (const m of Object.values((r.logreg as { methods: Record<string, { loo: number }> }).methods)) expect(Number.isFinite(m.loo)).toBe(true);
  });
});

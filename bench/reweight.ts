/**
 * One Learning-to-Reweight step per meta-gradient route against one plain SGD step, on the same
 * MLP (784→32→1 ReLU, float64) and the same batch (100 MNIST-sized rows, 10 validation rows).
 *
 * An L2RW step is the meta-gradient (which needs gradients on the batch and the validation set)
 * plus the weighted SGD step itself; the ratio to a plain step is the price of reweighting.
 *
 * @module
 */
import { grad, mean, tensor } from '../src/index.ts';
import { Rng } from '../src/core/rng.ts';
import { type MlpParams, mlpInit } from '../src/nn/mlp.ts';
import { momentum } from '../src/optim/sgd.ts';
import { l2rwWeights, type MetaRoute, mlpLoss, mlpMetaGradient } from '../src/reweight/l2rw.ts';
import { weightedObjective } from '../src/reweight/train.ts';
import { timeIt } from './peers/timing.ts';

/**
 * Times one plain SGD step and one full L2RW step by each route (median ms).
 *
 * @returns keys `unequal.reweight.sgd-step.ms`, `unequal.reweight.l2rw-<route>.ms` and
 *   `unequal.reweight.l2rw-<route>.ratio` (L2RW step / SGD step).
 *
 * @example
 * ```ts
 * const r = await benchReweight();
 * r['unequal.reweight.l2rw-closed-form.ratio']; // about 2: the closed form costs one extra backward pass
 * ```
 */
export async function benchReweight(): Promise<Record<string, number>> {
  const rng = new Rng(0);
  const data = (n: number) => ({
    X: tensor(Float64Array.from({ length: n * 784 }, () => rng.uniform()), [n, 784]),
    y: tensor(Float64Array.from({ length: n }, (_, i) => i % 2), [n]),
  });
  const batch = data(100);
  const val = data(10);
  const params = mlpInit([784, 32, 1], 0, 'relu');
  const loss = mlpLoss('relu');
  const opt = momentum({ lr: 0.01 });
  const state = opt.init(params);
  const out: Record<string, number> = {};

  const sgdStep = () => {
    const g = grad((p: MlpParams) => mean(loss(p, batch.X, batch.y)))(params) as MlpParams;
    return opt.update(params, g, state);
  };
  const routes: MetaRoute[] = ['closed-form', 'autodiff', 'per-example'];
  const l2rwStep = (route: MetaRoute) => () => {
    const w = l2rwWeights(mlpMetaGradient(route, params, 'relu', batch, val, 0.01));
    const g = grad(weightedObjective(loss, batch.X, batch.y, w))(params) as MlpParams;
    return opt.update(params, g, state);
  };
  // Warm every code path first, so that the JIT's tier-up is not charged to whichever runs first,
  // and time the plain step before and after the L2RW steps (the baseline is the lower median).
  for (let i = 0; i < 3; i++) {
    sgdStep();
    for (const r of routes) l2rwStep(r)();
  }
  const before = timeIt(sgdStep, { warmup: 1, repeats: 15 }).median;
  const times = routes.map((r) => timeIt(l2rwStep(r), { warmup: 1, repeats: r === 'per-example' ? 7 : 15 }).median);
  const base = Math.min(before, timeIt(sgdStep, { warmup: 1, repeats: 15 }).median);
  out['unequal.reweight.sgd-step.ms'] = base;
  routes.forEach((route, i) => {
    out[`unequal.reweight.l2rw-${route}.ms`] = times[i]!;
    out[`unequal.reweight.l2rw-${route}.ratio`] = times[i]! / base;
  });
  return out;
}

// Run on its own: `node --import tsx bench/reweight.ts`.
if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchReweight();
  for (const [k, v] of Object.entries(r)) console.log(`${k.padEnd(42)} ${v.toPrecision(3)}`);
}

/**
 * `unequal loo`: exact leave-one-out retraining for chosen training points, the ground truth that
 * `unequal influence` predicts.
 *
 * @module
 */
import { type Command, parseFlags, UsageError } from './command.ts';
import { DATA_FLAGS, DATA_HELP, emit, load, train } from './linear-problem.ts';
import { exactLoo } from '../../influence/loo.ts';
import { cholesky } from '../../linalg/dense.ts';
import { addGauge } from '../../linalg/gauge.ts';

const help = `unequal loo: actual change in a test point's loss when training points are removed

Usage: unequal loo --train <csv> --test <csv> --model logreg|linreg|softmax --l2 <λ>
                   --indices 0,7,14 [--test-index k] [--out file.json]

Trains to ‖∇R‖ < 1e-10, then for each index i retrains (Newton, warm-started at θ̂) on
R(θ) − (1/n) ℓ(zᵢ, θ) (point i's term dropped, the 1/n of the full set kept) to ‖∇R₋ᵢ‖ < 1e-10
and writes JSON
  { "testIndex", "testLoss", "loo": { "<i>": ℓ(z_test, θ̂₋ᵢ) − ℓ(z_test, θ̂), … }, "model", "n", "l2",
    "iterations": { "<i>": Newton iterations } }
comparable entry by entry with "influence" from unequal influence.

${DATA_HELP}
  --indices <list>    comma-separated 0-based training rows to leave out (required)

Example:
  unequal loo --train train.csv --test test.csv --model logreg --l2 0.01 --test-index 3 --indices 0,7,14`;

/** The `loo` subcommand. */
export const command: Command = {
  name: 'loo',
  summary: 'exact leave-one-out retraining for chosen training points',
  help,
  async run(argv) {
    const values = parseFlags('loo', argv, { ...DATA_FLAGS, indices: { type: 'string' } });
    const spec = values.indices as string | undefined;
    if (!spec) throw new UsageError('--indices is required, e.g. --indices 0,7,14');
    const L = load(values);
    const indices = spec.split(',').map((s) => {
      const i = Number(s.trim());
      if (s.trim() === '' || !Number.isInteger(i) || i < 0 || i >= L.train.n) {
        throw new UsageError(`--indices: '${s}' is not a training row (0..${L.train.n - 1})`);
      }
      return i;
    });
    const trained = train(L);
    const p = L.obj.dim;
    // The full-data Hessian's factor lets each retraining start with cheap chord steps.
    const factor = p <= 3000 ? cholesky(addGauge(L.obj.hessian(trained.theta), p, L.obj.spec.gauge), p, 'the Hessian of R') : undefined;
    const res = exactLoo(L.obj, trained.theta, indices, L.testObjective, {
      trainer: p <= 3000 ? 'newton' : 'newton-cg',
      factor,
      onProgress: (k, total) => L.log(`  retrained without row ${indices[k - 1]} (${k}/${total})`),
    });
    const loo: Record<string, number> = {};
    const iterations: Record<string, number> = {};
    indices.forEach((i, k) => {
      loo[String(i)] = res.changes[k]!;
      iterations[String(i)] = res.iterations[k]!;
    });
    emit(L, { model: L.kind, n: L.train.n, l2: L.l2, testIndex: L.testIndex, testLoss: res.base, loo, iterations });
    return 0;
  },
};

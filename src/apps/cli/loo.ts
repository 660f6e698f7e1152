/**
 * `unequal loo`: exact leave-one-out retraining for chosen training points, the ground truth that
 * `unequal influence` predicts.
 *
 * @module
 */
import { type Command, writeJsonResult } from './command.ts';
import { parseFlags } from './flags.ts';
import { LINEAR_PROBLEM_FLAGS, LINEAR_PROBLEM_HELP, loadLinearProblem, trainLinearProblem } from './linear-problem.ts';
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

${LINEAR_PROBLEM_HELP}
  --indices <list>    comma-separated 0-based training rows to leave out (required)

Example:
  unequal loo --train train.csv --test test.csv --model logreg --l2 0.01 --test-index 3 --indices 0,7,14`;

/** The `loo` subcommand. */
export const command: Command = {
  name: 'loo',
  summary: 'exact leave-one-out retraining for chosen training points',
  help,
  async run(argv) {
    const flags = parseFlags('unequal loo', argv, { ...LINEAR_PROBLEM_FLAGS, indices: { type: 'string' } });
    flags.requiredString('indices', ', e.g. --indices 0,7,14');
    const problem = loadLinearProblem(flags);
    const indices = flags.integerList('indices', { min: 0, max: problem.train.n - 1 });
    const trained = trainLinearProblem(problem);
    const p = problem.obj.dim;
    // The full-data Hessian's factor lets each retraining start with cheap chord steps.
    const factor = p <= 3000 ? cholesky(addGauge(problem.obj.hessian(trained.theta), p, problem.obj.spec.gauge), p, 'the Hessian of R') : undefined;
    const res = exactLoo(problem.obj, trained.theta, indices, problem.testObjective, {
      trainer: p <= 3000 ? 'newton' : 'newton-cg',
      factor,
      onProgress: (k, total) => problem.log(`  retrained without row ${indices[k - 1]} (${k}/${total})`),
    });
    const loo: Record<string, number> = {};
    const iterations: Record<string, number> = {};
    indices.forEach((i, k) => {
      loo[String(i)] = res.changes[k]!;
      iterations[String(i)] = res.iterations[k]!;
    });
    writeJsonResult({ model: problem.kind, n: problem.train.n, l2: problem.l2, testIndex: problem.testIndex, testLoss: res.base, loo, iterations }, problem.out, problem.log);
    return 0;
  },
};

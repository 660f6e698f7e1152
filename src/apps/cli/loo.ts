/**
 * `unequal loo`: exact leave-one-out retraining for chosen training points, the ground truth that
 * `unequal influence` predicts.
 *
 * @module
 */
import type { Command } from './command.ts';
import { CliFailure } from './errors.ts';
import { parseFlags } from './flags.ts';
import {
  checkTrained,
  LINEAR_PROBLEM_FLAGS,
  LINEAR_PROBLEM_HELP,
  LINEAR_PROBLEM_REFUSALS,
  loadLinearProblem,
  noMinimiserFailure,
  trainingFailure,
  trainLinearProblem,
  writeLinearResult,
} from './linear-problem.ts';
import { retrainWeighted } from '../../influence/loo.ts';
import { cholesky, NotPositiveDefiniteError } from '../../linalg/dense.ts';
import { addGauge } from '../../linalg/gauge.ts';
import { checkMinimiser } from '../../nn/linear-models.ts';

const help = `unequal loo: actual change in a test point's loss when training points are removed

Usage: unequal loo --train <csv> --test <csv> --model logreg|linreg|softmax --l2 <λ>
                   --indices 0,7,14 [--test-index k] [--out file.json]

Trains to ‖∇R‖ < 1e-10, then for each index i retrains (Newton, warm-started at θ̂) on
R(θ) − (1/n) ℓ(zᵢ, θ) (point i's term dropped, the 1/n of the full set kept) to ‖∇R₋ᵢ‖ < 1e-10
and writes JSON
  { "testIndex", "testLoss", "loo": { "<i>": ℓ(z_test, θ̂₋ᵢ) − ℓ(z_test, θ̂), … }, "model", "n", "l2",
    "iterations": { "<i>": Newton iterations } }
comparable entry by entry with "influence" from unequal influence. A row whose removal leaves an
objective without a minimiser (the only row of its class, the only row at all, or at λ = 0 a
remainder that is separable) is an error (exit 1) naming the row, not a number.

${LINEAR_PROBLEM_HELP}
  --indices <list>    comma-separated 0-based training rows to leave out (required)

${LINEAR_PROBLEM_REFUSALS}

Example:
  unequal loo --train train.csv --test test.csv --model logreg --l2 0.01 --test-index 3 --indices 0,7,14`;

/** The `loo` subcommand. */
export const command: Command = {
  name: 'loo',
  summary: 'exact leave-one-out retraining for chosen training points',
  help,
  async run(argv, io) {
    const flags = parseFlags('unequal loo', argv, { ...LINEAR_PROBLEM_FLAGS, indices: { type: 'string' } });
    flags.requiredString('indices', ', e.g. --indices 0,7,14');
    const problem = loadLinearProblem(flags, io, { denseHessian: (p) => p <= 3000, leaveOneOut: false });
    const { obj, kind, l2, classes, train } = problem;
    const indices = flags.integerList('indices', { min: 0, max: train.n - 1 });
    const trainSource = `--train ${problem.paths.train}`;
    const context = { ...problem, testPath: problem.paths.test };
    // Each removal must leave a problem with a minimiser: checked from the labels before any training.
    const w = new Float64Array(train.n).fill(1);
    for (const i of indices) {
      w[i] = 0;
      try {
        checkMinimiser(kind, train, l2, { classes, weights: w, source: trainSource, leaveOneOut: false });
      } catch (e) {
        const failure = noMinimiserFailure(e, context);
        throw failure instanceof CliFailure ? new CliFailure(`leaving out --indices ${i} (row ${i + 1}): ${failure.message}`) : failure;
      }
      w[i] = 1;
    }
    const trained = trainLinearProblem(problem);
    const p = obj.dim;
    // The full-data Hessian's factor lets each retraining start with cheap chord steps; without it
    // (a singular Hessian) Newton forms fresh ones.
    let factor: Float64Array | undefined;
    if (p <= 3000) {
      try {
        factor = cholesky(addGauge(obj.hessian(trained.theta), p, obj.spec.gauge), p, 'the Hessian of R');
      } catch (e) {
        if (!(e instanceof NotPositiveDefiniteError)) throw e;
      }
    }
    const base = problem.testObjective(obj.params(trained.theta)).item();
    const loo: Record<string, number> = {};
    const iterations: Record<string, number> = {};
    indices.forEach((i, k) => {
      w[i] = 0;
      const what = `retraining without --indices ${i} (row ${i + 1})`;
      let r;
      try {
        r = retrainWeighted(obj, trained.theta, w, { trainer: p <= 3000 ? 'newton' : 'newton-cg', factor });
      } catch (e) {
        throw trainingFailure(e, problem, what);
      }
      checkTrained(problem, r.theta, what, w, 'indices');
      w[i] = 1;
      loo[String(i)] = problem.testObjective(obj.params(r.theta)).item() - base;
      iterations[String(i)] = r.iterations;
      problem.log(`  retrained without row ${i} (${k + 1}/${indices.length})`);
    });
    writeLinearResult(problem, { model: problem.kind, n: train.n, l2: problem.l2, testIndex: problem.testIndex, testLoss: base, loo, iterations });
    return 0;
  },
};

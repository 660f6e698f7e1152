/**
 * What `unequal influence` and `unequal loo` share: the flags that define a linear problem (data,
 * model, λ, test row), reading the CSVs into an objective, and training it to the optimum.
 *
 * @module
 */
import { logToStderr } from './command.ts';
import { type FlagSpec, type Flags, UsageError } from './flags.ts';
import { fromFloat64 } from '../../core/create.ts';
import type { Tensor } from '../../core/tensor.ts';
import { type CsvData, readCsv } from '../../data/csv.ts';
import { classesOf, type LinearModelKind, linearModel, linearObjective, type LinearParams } from '../../nn/linear-models.ts';
import type { Objective } from '../../nn/objective.ts';
import { newton, type TrainResult } from '../../optim/newton.ts';
import { totalLoss, type TestObjective } from '../../influence/influence.ts';

/** The flags that define a linear problem, taken by both commands. */
export const LINEAR_PROBLEM_FLAGS = {
  train: { type: 'string' },
  test: { type: 'string' },
  model: { type: 'string' },
  l2: { type: 'string' },
  'test-index': { type: 'string' },
  out: { type: 'string' },
  quiet: { type: 'boolean' },
} as const satisfies FlagSpec;

/** Help text for {@link LINEAR_PROBLEM_FLAGS}. */
export const LINEAR_PROBLEM_HELP = `  --train <csv>       training data: header row, numeric columns, label last (required)
  --test <csv>        test data, same columns (required)
  --model <kind>      logreg (labels 0/1), linreg (real labels, loss (wᵀx + b − y)²) or
                      softmax (labels 0..K−1, K = largest label in train/test + 1) (required)
  --l2 <λ>            λ ≥ 0 in R(θ) = (1/n) Σᵢ ℓ(zᵢ, θ) + (λ/2)‖w‖²; the intercept is not penalised (required)
  --test-index <k>    0-based row of the test CSV (default 0)
  --out <file>        write the JSON there (default: print it to stdout)
  --quiet             no progress on stderr
Parameters ("params" in the JSON): logreg/linreg [w_1 … w_d, b]; softmax
[W[0][1..d], W[1][1..d], …, W[K−1][1..d], b[0], …, b[K−1]] (class-major weights, then the K
intercepts; the intercepts are centred to sum 0, since adding a constant to all of them changes no
probability).`;

/** A linear problem as the flags define it: the data, the objective R(θ) and the test point's loss. */
export interface LinearProblem {
  /** The model (`--model`). */
  kind: LinearModelKind;
  /** λ of (λ/2)‖w‖² (`--l2`). */
  l2: number;
  /** The training data (`--train`). */
  train: CsvData;
  /** The test data (`--test`). */
  test: CsvData;
  /** K for softmax, 1 otherwise. */
  classes: number;
  /** The test row whose loss is studied (`--test-index`). */
  testIndex: number;
  /** R(θ) = (1/n) Σᵢ ℓ(zᵢ, θ) + (λ/2)‖w‖² over the training data. */
  obj: Objective<LinearParams>;
  /** ℓ(z_test, θ) as a test objective. */
  testObjective: TestObjective<LinearParams>;
  /** Progress lines (stderr, nothing with `--quiet`). */
  log: (msg: string) => void;
  /** Where the JSON goes (`--out`; stdout when absent). */
  out?: string;
}

/**
 * Reads the CSVs that `flags` name and builds the objective and the test point's loss; every error
 * is a {@link UsageError} naming its flag or file.
 *
 * @example
 * ```ts
 * const flags = parseFlags('unequal influence', process.argv.slice(3), LINEAR_PROBLEM_FLAGS);
 * const problem = loadLinearProblem(flags);
 * const trained = trainLinearProblem(problem);
 * ```
 */
export function loadLinearProblem(flags: Flags): LinearProblem {
  const log = flags.boolean('quiet') ? () => {} : logToStderr;
  const kind = flags.choice('model', ['logreg', 'linreg', 'softmax'] as const);
  const l2 = flags.number('l2', { min: 0 });
  const read = (flag: string): { path: string; data: CsvData } => {
    const path = flags.requiredString(flag, ' (a CSV file: header row, label last)');
    try {
      return { path, data: readCsv(path) };
    } catch (e) {
      throw new UsageError(`--${flag}: ${(e as Error).message}`);
    }
  };
  const { path: trainPath, data: train } = read('train');
  const { path: testPath, data: test } = read('test');
  if (train.d !== test.d) {
    throw new UsageError(`--test: ${testPath} has ${test.d} feature columns but --train ${trainPath} has ${train.d} (the label is the last column of each)`);
  }
  const testIndex = flags.integer('test-index', { default: 0, min: 0, max: test.n - 1 });
  const classes = kind === 'softmax' ? classesOf(train.y, test.y) : 1;
  const model = linearModel(kind, train.d, classes);
  let obj: Objective<LinearParams>;
  let Yt: Tensor;
  try {
    // Labels the model cannot use (a 2 for logreg, a 0.5 for softmax) are the user's to fix.
    obj = linearObjective(kind, train, l2, { classes, source: `--train ${trainPath}` });
    Yt = model.targets(test.y, `--test ${testPath}`);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const Xt = fromFloat64(test.X, [test.n, test.d]);
  return { kind, l2, train, test, classes, testIndex, obj, testObjective: totalLoss(model.loss, Xt, Yt, [testIndex]), log, out: flags.string('out') };
}

/**
 * Trains the problem to ‖∇R‖ < 1e-10, logging each iteration: dense Newton while the Hessian is
 * small (p ≤ 3000), Newton-CG above.
 *
 * @example
 * ```ts
 * const { theta, gradNorm } = trainLinearProblem(loadLinearProblem(flags));
 * ```
 */
export function trainLinearProblem(problem: LinearProblem): TrainResult {
  const p = problem.obj.dim;
  const mode = p <= 3000 ? 'dense' : 'cg';
  problem.log(`training ${problem.kind} (n = ${problem.train.n}, ${p} parameters, λ = ${problem.l2}) by Newton (${mode}) to ‖∇R‖ < 1e-10`);
  const r = newton(problem.obj, { mode, onIteration: (i, g) => problem.log(`  iteration ${i}: ‖∇R‖ = ${g.toExponential(3)}`) });
  problem.log(`trained in ${r.iterations} iterations, ‖∇R‖ = ${r.gradNorm.toExponential(3)}`);
  return r;
}

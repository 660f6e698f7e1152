/**
 * What `unequal influence` and `unequal loo` share: the flags that define a linear problem (data,
 * model, λ, classes, test row, output), reading the CSVs into an objective after checking that the
 * problem has an answer (values a float64 computation can hold, labels that name every class, a
 * minimiser, memory for it), training it to the optimum, and writing the result.
 *
 * @module
 */
import { totalmem } from 'node:os';
import { type CliIo, finiteJson, lineLogger, Outputs } from './command.ts';
import { CliFailure, UsageError } from './errors.ts';
import type { FlagSpec, Flags } from './flags.ts';
import { fromFloat64 } from '../../core/create.ts';
import type { Tensor } from '../../core/tensor.ts';
import { type CsvCell, type CsvData, firstCellAtLeast, largestCell, readCsv } from '../../data/csv.ts';
import { NotPositiveDefiniteError } from '../../linalg/dense.ts';
import {
  checkMinimiser,
  checkTrainedMinimiser,
  classesOf,
  type LinearModelKind,
  linearModel,
  linearObjective,
  type LinearParams,
  linearProblemBytes,
  NoMinimiserError,
} from '../../nn/linear-models.ts';
import type { Objective } from '../../nn/objective.ts';
import { ConvergenceError } from '../../optim/errors.ts';
import { newton, type TrainResult } from '../../optim/newton.ts';
import { totalLoss, type TestObjective } from '../../influence/influence.ts';

/** The flags that define a linear problem, taken by both commands. */
export const LINEAR_PROBLEM_FLAGS = {
  train: { type: 'string' },
  test: { type: 'string' },
  model: { type: 'string' },
  l2: { type: 'string' },
  classes: { type: 'string' },
  'test-index': { type: 'string' },
  out: { type: 'string' },
  quiet: { type: 'boolean' },
} as const satisfies FlagSpec;

/** Help text for {@link LINEAR_PROBLEM_FLAGS}. */
export const LINEAR_PROBLEM_HELP = `  --train <csv>       training data: header row, numeric columns, label last (required)
  --test <csv>        test data, same columns (required)
  --model <kind>      logreg (labels 0/1), linreg (real labels, loss (wᵀx + b − y)²) or
                      softmax (integer labels 0..K−1) (required)
  --l2 <λ>            λ ≥ 0 in R(θ) = (1/n) Σᵢ ℓ(zᵢ, θ) + (λ/2)‖w‖²; the intercept is not penalised (required)
  --classes <K>       softmax: the number of classes (default: largest label + 1, accepted only
                      when every class 0..K−1 appears in --train or --test)
  --test-index <k>    0-based row of the test CSV (default 0)
  --out <file>        write the JSON there (default: print it to stdout); checked before any work,
                      written only on success
  --quiet             no progress on stderr
Parameters ("params" in the JSON): logreg/linreg [w_1 … w_d, b]; softmax
[W[0][1..d], W[1][1..d], …, W[K−1][1..d], b[0], …, b[K−1]] (class-major weights, then the K
intercepts; the intercepts are centred to sum 0, since adding a constant to all of them changes no
probability).`;

/** Help text on what the linear commands refuse, and how rows are counted in messages. */
export const LINEAR_PROBLEM_REFUSALS = `Refused with exit 1, since "converged" numbers would be meaningless: an objective without a
minimiser (one class only; a softmax class without training rows; a one-row training set; a class
whose only row a removal would take away; at λ = 0, (quasi-)separable logreg/softmax data, found
on the trained θ̂: its margins can grow without bound), a result that is not finite, a problem too
large for memory. Refused as usage errors (exit 2): values of magnitude ≥ 1e150 (their squares
overflow float64) and softmax labels that skip a class (a stray 3000 among 0..9). Rows in messages
count from 1 (the first data row after the header); --test-index, --indices and the influence
array count from 0.`;

/** Magnitudes from which a value's square (the Hessian sums xxᵀ, the squared error (z − y)²) nears float64's 1.8e308. */
const MAGNITUDE_LIMIT = 1e150;

/** A linear problem as the flags define it: the data, the objective R(θ) and the test point's loss. */
export interface LinearProblem {
  /** The model (`--model`). */
  kind: LinearModelKind;
  /** λ of (λ/2)‖w‖² (`--l2`). */
  l2: number;
  /** The training data (`--train`) and its path. */
  train: CsvData;
  /** The test data (`--test`) and its path. */
  test: CsvData;
  /** The CSV paths as given. */
  paths: { train: string; test: string };
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
  /** The output files (`--out`, already checked). */
  outputs: Outputs;
  /** Where the JSON goes when there is no `--out`. */
  io: CliIo;
}

/** What {@link loadLinearProblem} should check beyond the problem itself. */
export interface LoadOptions {
  /** Whether a dense p × p Hessian will be formed (for the memory check). */
  denseHessian: (p: number) => boolean;
  /** Require a minimiser after removing any one row (the influence command's removal effects). */
  leaveOneOut: boolean;
  /** Whether every row's gradient is kept (n × p, the influence command), for the memory check. */
  perExampleGradients?: boolean;
}

/**
 * A cell of a CSV named for the user: flag, file, 1-based row, file line, column and value.
 *
 * @example
 * ```ts
 * cellText('train', 'a.csv', { row: 4, line: 6, column: 1, name: 'x1', value: 3.2 });
 * // '--train a.csv row 5 (line 6), column 2 ("x1") = 3.2'
 * ```
 */
export function cellText(flag: string, path: string, c: CsvCell): string {
  return `--${flag} ${path} row ${c.row + 1} (line ${c.line}), column ${c.column + 1} (${JSON.stringify(c.name)}) = ${c.value}`;
}

/**
 * Reads the CSVs that `flags` name, checks that the problem has an answer, and builds the objective
 * and the test point's loss. Input errors are {@link UsageError}s naming the flag, file, row and
 * column; a problem without a minimiser or too large for memory is a {@link CliFailure}.
 *
 * @example
 * ```ts
 * const flags = parseFlags('unequal influence', argv, LINEAR_PROBLEM_FLAGS);
 * const problem = loadLinearProblem(flags, processIo, { denseHessian: (p) => p <= 3000, leaveOneOut: true });
 * const trained = trainLinearProblem(problem);
 * ```
 */
export function loadLinearProblem(flags: Flags, io: CliIo, opts: LoadOptions): LinearProblem {
  const log = lineLogger(io, flags.boolean('quiet'));
  const kind = flags.choice('model', ['logreg', 'linreg', 'softmax'] as const);
  const l2 = flags.number('l2', { min: 0 });
  const givenK = flags.optionalInteger('classes', { min: 2 });
  if (givenK !== undefined && kind !== 'softmax') throw new UsageError(`--classes applies to --model softmax only (the ${kind} model has no classes to count)`);
  // Output paths are checked before any work, so a typo costs nothing.
  const outputs = new Outputs(log);
  const out = flags.string('out');
  if (out !== undefined) outputs.add('out', out);
  const read = (flag: string): { path: string; data: CsvData } => {
    const path = flags.requiredString(flag, ' (a CSV file: header row, label last)');
    let data: CsvData;
    try {
      data = readCsv(path);
    } catch (e) {
      throw new UsageError(`--${flag}: ${(e as Error).message}`);
    }
    const big = firstCellAtLeast(data, MAGNITUDE_LIMIT);
    if (big) {
      throw new UsageError(
        `${cellText(flag, path, big)} is too large: values of magnitude ≥ 1e150 have squares within a factor n of float64's limit 1.8e308 ` +
          '(the loss and the Hessian square them), so the results would overflow; rescale that column',
      );
    }
    return { path, data };
  };
  const { path: trainPath, data: train } = read('train');
  const { path: testPath, data: test } = read('test');
  if (train.d !== test.d) {
    throw new UsageError(`--test: ${testPath} has ${test.d} feature columns but --train ${trainPath} has ${train.d} (the label is the last column of each)`);
  }
  const testIndex = flags.integer('test-index', { default: 0, min: 0, max: test.n - 1 });
  const trainSource = `--train ${trainPath}`;
  const testSource = `--test ${testPath}`;
  let classes = 1;
  if (kind === 'softmax') {
    try {
      classes = givenK ?? classesOf({ labels: train.y, source: trainSource }, { labels: test.y, source: testSource });
    } catch (e) {
      throw new UsageError(`${(e as Error).message} (--classes K)`);
    }
  }
  const model = linearModel(kind, train.d, classes);
  // Before anything of size n·K is allocated (the one-hot targets).
  checkMemory(kind, train, classes, opts.denseHessian(model.dim), givenK !== undefined, opts.perExampleGradients ?? false);
  let Yt: Tensor;
  try {
    // Labels the model cannot use (a 2 for logreg, a 0.5 or 3000 for softmax) are the user's to fix.
    model.targets(train.y, trainSource);
    Yt = model.targets(test.y, testSource);
  } catch (e) {
    throw new UsageError(`${(e as Error).message}${givenK !== undefined ? ` (--classes ${givenK})` : ''}`);
  }
  try {
    checkMinimiser(kind, train, l2, { classes, source: trainSource, leaveOneOut: opts.leaveOneOut });
  } catch (e) {
    throw noMinimiserFailure(e, { kind, l2, train, test, testPath, classes, givenK }, opts.leaveOneOut ? 'influence' : undefined);
  }
  const obj = linearObjective(kind, train, l2, { classes, source: trainSource });
  const Xt = fromFloat64(test.X, [test.n, test.d]);
  return {
    kind,
    l2,
    train,
    test,
    paths: { train: trainPath, test: testPath },
    classes,
    testIndex,
    obj,
    testObjective: totalLoss(model.loss, Xt, Yt, [testIndex]),
    log,
    outputs,
    io,
  };
}

/** Refuses a problem whose largest arrays would not fit in half of this machine's memory, before allocating them. */
function checkMemory(kind: LinearModelKind, train: CsvData, K: number, denseHessian: boolean, givenK: boolean, perExampleGradients: boolean): void {
  const bytes = linearProblemBytes(kind, train.n, train.d, K, { denseHessian, perExampleGradients });
  const budget = totalmem() / 2;
  if (bytes <= budget) return;
  const p = (train.d + 1) * K;
  const gb = (b: number) => `${(b / 1e9).toPrecision(3)} GB`;
  const parts = [kind === 'softmax' ? `K = ${K} classes` : '', `n = ${train.n} rows`, `d = ${train.d} features`].filter(Boolean).join(', ');
  const fixes = [
    kind === 'softmax' ? (givenK ? 'check --classes' : 'check the labels') : '',
    denseHessian ? `use --solver cg or lissa (no ${p}×${p} Hessian)` : '',
    'or use fewer rows or features',
  ].filter(Boolean);
  throw new CliFailure(`the problem needs about ${gb(bytes)} (${parts}, ${p} parameters${denseHessian ? `, a ${p}×${p} Hessian` : ''}) but half of this machine's memory is ${gb(budget)}; ${fixes.join(', ')}`);
}

/** What {@link noMinimiserFailure} needs to know about the problem. */
interface MinimiserContext {
  kind: LinearModelKind;
  l2: number;
  train: CsvData;
  test: CsvData;
  testPath: string;
  classes: number;
  givenK?: number;
}

/**
 * A {@link NoMinimiserError} as a {@link CliFailure} whose fix names the flag or the data to
 * change; `indexIn` says how a removed row is numbered for the user (`--indices`, `influence[]`).
 * Anything else is returned as is.
 *
 * @example
 * ```ts
 * try {
 *   checkMinimiser('logreg', train, 0.1, { source: '--train a.csv' });
 * } catch (e) {
 *   throw noMinimiserFailure(e, context); // CliFailure: … every row has label 1 …; add --train rows of the other class …
 * }
 * ```
 */
export function noMinimiserFailure(e: unknown, ctx: MinimiserContext, indexIn?: 'influence' | 'indices'): unknown {
  if (!(e instanceof NoMinimiserError)) return e;
  const removed = e.reason !== 'separable' && e.rows.length === 1 ? e.rows[0]! : undefined;
  const where = removed === undefined || !indexIn ? '' : ` (that is ${indexIn === 'indices' ? `--indices ${removed}` : `influence[${removed}]`})`;
  let fix: string;
  switch (e.reason) {
    case 'separable':
      fix = `add --l2 λ > 0 (e.g. --l2 ${ctx.l2 > 0 ? ctx.l2 * 10 : 1e-3}): with it a minimiser exists`;
      break;
    case 'no-rows':
      fix = 'give --train at least 2 rows (leave-one-out and influence remove one)';
      break;
    case 'one-class':
      fix = removed !== undefined ? `add --train rows of class ${e.classes[0]}` : `add --train rows of the other class${ctx.kind === 'softmax' ? 'es' : ''} (or use --model linreg for a regression)`;
      break;
    case 'absent-class': {
      if (removed !== undefined) {
        fix = `add --train rows of class ${e.classes[0]}, or drop the row`;
        break;
      }
      const inTest: string[] = [];
      ctx.test.y.forEach((v, i) => {
        if (e.classes.includes(v) && inTest.length < 3) inTest.push(`row ${i + 1}`);
      });
      const list = e.classes.length > 5 ? `${e.classes.slice(0, 5).join(', ')}, …` : e.classes.join(', ');
      fix = inTest.length
        ? `class ${list} appears in --test ${ctx.testPath} (${inTest.join(', ')}) but the model cannot learn it without --train rows: add --train rows of it, or drop it from --test and relabel 0..K−1`
        : ctx.givenK !== undefined
          ? `--classes ${ctx.givenK} counts classes --train does not have: give the number of classes --train has (labels 0..K−1), or add rows of class ${list}`
          : `add --train rows of class ${list}, or drop the class and relabel 0..K−1`;
      break;
    }
  }
  return new CliFailure(`${e.diagnosis}${where}; ${fix}`);
}

/**
 * The cells of largest magnitude in the test row and in --train, for messages about an overflow.
 *
 * @example
 * ```ts
 * largestInputs(problem); // 'the largest inputs are --test t.csv row 1 (line 2), column 1 ("x0") = 1e+149 and --train …'
 * ```
 */
export function largestInputs(problem: LinearProblem): string {
  const t = largestCell(problem.test, [problem.testIndex]);
  const r = largestCell(problem.train);
  const parts = [t ? cellText('test', problem.paths.test, t) : '', r ? cellText('train', problem.paths.train, r) : ''].filter(Boolean);
  return `the largest inputs are ${parts.join(' and ')}`;
}

/**
 * Where an overflow most likely came from ({@link largestInputs}), and the fix.
 *
 * @example
 * ```ts
 * overflowHint(problem); // 'the largest inputs are …: rescale (standardise) those columns'
 * ```
 */
export function overflowHint(problem: LinearProblem): string {
  return `${largestInputs(problem)}: rescale (standardise) those columns`;
}

/**
 * A suggestion for a larger λ: 1e-3 at λ = 0, else 10λ.
 *
 * @example
 * ```ts
 * largerL2(0);    // '--l2 1e-3'
 * largerL2(0.01); // '--l2 0.10'
 * ```
 */
export function largerL2(l2: number): string {
  return `--l2 ${l2 > 0 ? (10 * l2).toPrecision(2) : '1e-3'}`;
}

/**
 * Columns that make the Hessian singular at λ = 0 (constant columns duplicate the intercept,
 * identical columns each other; fewer rows than parameters), as a parenthesised note, or ''.
 *
 * @example
 * ```ts
 * collinearNote(problem); // ' (columns "x0" and "x1" are identical)'
 * ```
 */
export function collinearNote(problem: LinearProblem): string {
  const { train, l2 } = problem;
  if (l2 > 0) return '';
  const { X, n, d, header } = train;
  const notes: string[] = [];
  if (n < d + 1) notes.push(`--train has ${n} rows for ${d + 1} parameters per class`);
  for (let j = 0; j < d && notes.length < 2; j++) {
    let constant = true;
    for (let i = 1; i < n && constant; i++) constant = X[i * d + j] === X[j];
    if (constant) notes.push(`column ${JSON.stringify(header[j])} is constant, so it duplicates the intercept`);
  }
  if (d <= 300) {
    for (let a = 0; a < d && notes.length < 2; a++) {
      for (let b = a + 1; b < d && notes.length < 2; b++) {
        let same = true;
        for (let i = 0; i < n && same; i++) same = X[i * d + a] === X[i * d + b];
        if (same) notes.push(`columns ${JSON.stringify(header[a])} and ${JSON.stringify(header[b])} are identical`);
      }
    }
  }
  return notes.length ? ` (${notes.join('; ')})` : '';
}

/**
 * Trains the problem to ‖∇R‖ < 1e-10, logging each iteration: dense Newton while the Hessian is
 * small (p ≤ 3000), Newton-CG above. Then checks that θ̂ is a minimiser (at λ = 0: not
 * (quasi-)separable data) and finite. Failures are {@link CliFailure}s naming the fix.
 *
 * @example
 * ```ts
 * const { theta, gradNorm } = trainLinearProblem(loadLinearProblem(flags, processIo, options));
 * ```
 */
export function trainLinearProblem(problem: LinearProblem): TrainResult {
  const p = problem.obj.dim;
  const mode = p <= 3000 ? 'dense' : 'cg';
  problem.log(`training ${problem.kind} (n = ${problem.train.n}, ${p} parameters, λ = ${problem.l2}) by Newton (${mode}) to ‖∇R‖ < 1e-10`);
  let r: TrainResult;
  try {
    r = newton(problem.obj, { mode, onIteration: (i, g) => problem.log(`  iteration ${i}: ‖∇R‖ = ${g.toExponential(3)}`) });
  } catch (e) {
    throw trainingFailure(e, problem, 'training');
  }
  problem.log(`trained in ${r.iterations} iterations, ‖∇R‖ = ${r.gradNorm.toExponential(3)}`);
  checkTrained(problem, r.theta, 'training');
  return r;
}

/**
 * Checks a trained (or retrained, with `weights`) θ̂: finite, and a minimiser (see
 * {@link checkTrainedMinimiser}); `what` names the step in the message. Throws a {@link CliFailure}.
 *
 * @example
 * ```ts
 * checkTrained(problem, theta, 'retraining without --indices 7 (row 8)', weights, 'indices');
 * ```
 */
export function checkTrained(problem: LinearProblem, theta: Float64Array, what: string, weights?: Float64Array, indexIn?: 'indices'): void {
  if (!theta.every(Number.isFinite)) throw new CliFailure(`${what} overflowed (θ is not finite); ${overflowHint(problem)}`);
  try {
    checkTrainedMinimiser(problem.kind, theta, problem.train, problem.l2, { classes: problem.classes, weights, source: `--train ${problem.paths.train}` });
  } catch (e) {
    const failure = noMinimiserFailure(e, { ...problem, testPath: problem.paths.test }, indexIn);
    // The full training needs no prefix: the message names --train.
    if (failure instanceof CliFailure && what !== 'training') throw new CliFailure(`${what}: ${failure.message}`);
    throw failure;
  }
}

/**
 * A trainer's error as a {@link CliFailure} that says what to change (an overflow: the inputs; a
 * cap: --l2 or standardised columns); `what` names the step. Anything else is returned as is.
 *
 * @example
 * ```ts
 * try {
 *   newton(problem.obj);
 * } catch (e) {
 *   throw trainingFailure(e, problem, 'training'); // CliFailure: training did not reach ‖∇R‖ < 1e-10 …
 * }
 * ```
 */
export function trainingFailure(e: unknown, problem: LinearProblem, what: string): unknown {
  if (e instanceof ConvergenceError) {
    if (!Number.isFinite(e.residual)) return new CliFailure(`${what} overflowed (‖∇R‖ = ${e.residual}); ${overflowHint(problem)}`);
    return new CliFailure(
      `${what} did not reach ‖∇R‖ < ${e.tol} (‖∇R‖ = ${e.residual.toExponential(3)} after ${e.iterations} ${e.method} iterations): R is too ill-conditioned at this scale ` +
        `or has no minimiser; raise --l2 (e.g. ${largerL2(problem.l2)}) or standardise the feature columns (${largestInputs(problem)})`,
    );
  }
  if (e instanceof NotPositiveDefiniteError && e.kind === 'non-finite') return new CliFailure(`${what} overflowed (the Hessian of R is not finite); ${overflowHint(problem)}`);
  return e;
}

/**
 * Writes the command's JSON result: to `--out` (atomically, see {@link Outputs}) or stdout, after
 * checking that every number in it is finite (else a {@link CliFailure} naming the entry and the
 * likely input).
 *
 * @example
 * ```ts
 * writeLinearResult(problem, { influence: [0.1, -0.2] });
 * ```
 */
export function writeLinearResult(problem: LinearProblem, result: object): void {
  const text = finiteJson(result, () => overflowHint(problem));
  if (problem.outputs.has('out')) {
    problem.outputs.set('out', text);
    problem.outputs.commit(problem.io);
  } else problem.outputs.commit(problem.io, text);
}

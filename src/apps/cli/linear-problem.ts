/**
 * What `unequal influence` and `unequal loo` share: the data and model flags, reading the CSVs,
 * and training to the optimum.
 *
 * @module
 */
import { logToStderr, UsageError, writeOutput } from './command.ts';
import { fromFloat64 } from '../../core/create.ts';
import type { Tensor } from '../../core/tensor.ts';
import { type CsvData, readCsv } from '../../data/csv.ts';
import { classesOf, type LinearModelKind, linearModel, linearObjective, type LinearParams } from '../../nn/linear-models.ts';
import type { Objective } from '../../nn/objective.ts';
import { newton, type TrainResult } from '../../optim/newton.ts';
import { totalLoss, type TestObjective } from '../../influence/influence.ts';

/** parseArgs option specs for the flags both commands take. */
export const DATA_FLAGS = {
  train: { type: 'string' },
  test: { type: 'string' },
  model: { type: 'string' },
  l2: { type: 'string' },
  'test-index': { type: 'string' },
  out: { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

/** Help text for those flags. */
export const DATA_HELP = `  --train <csv>       training data: header row, numeric columns, label last (required)
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

/** Parsed and loaded data/model flags. */
export interface Loaded {
  kind: LinearModelKind;
  l2: number;
  train: CsvData;
  test: CsvData;
  classes: number;
  testIndex: number;
  obj: Objective<LinearParams>;
  /** ℓ(z_test, θ) as a test objective. */
  testObjective: TestObjective<LinearParams>;
  log: (msg: string) => void;
  out?: string;
}

function number(flag: string, v: string | undefined, dflt?: number): number {
  if (v === undefined) {
    if (dflt === undefined) throw new UsageError(`--${flag} is required`);
    return dflt;
  }
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw new UsageError(`--${flag}: '${v}' is not a number`);
  return x;
}

/** A number flag (for the solver flags too). */
export const numberFlag = number;

/** An integer flag within [lo, hi]. */
export function intFlag(flag: string, v: string | undefined, dflt: number | undefined, lo: number, hi = Infinity): number {
  const x = number(flag, v, dflt);
  if (!Number.isInteger(x) || x < lo || x > hi) throw new UsageError(`--${flag}: '${v ?? x}' must be an integer in ${lo}..${hi === Infinity ? '∞' : hi}`);
  return x;
}

/** Reads the CSVs and builds the objective; every error names its flag or file. */
export function load(values: Record<string, string | boolean | undefined>): Loaded {
  const str = (k: string) => values[k] as string | undefined;
  const log = values.quiet ? () => {} : logToStderr;
  const kind = str('model');
  if (kind === undefined) throw new UsageError('--model is required (logreg, linreg or softmax)');
  if (kind !== 'logreg' && kind !== 'linreg' && kind !== 'softmax') throw new UsageError(`--model: '${kind}' is not one of logreg, linreg, softmax`);
  const l2 = number('l2', str('l2'));
  if (l2 < 0) throw new UsageError(`--l2 must be ≥ 0, got ${l2}`);
  const read = (flag: string): CsvData => {
    const path = str(flag);
    if (!path) throw new UsageError(`--${flag} <csv> is required`);
    try {
      return readCsv(path);
    } catch (e) {
      throw new UsageError(`--${flag}: ${(e as Error).message}`);
    }
  };
  const train = read('train');
  const test = read('test');
  if (train.d !== test.d) {
    throw new UsageError(`--test: ${str('test')} has ${test.d} feature columns but --train ${str('train')} has ${train.d} (the label is the last column of each)`);
  }
  if (train.n === 0) throw new UsageError(`--train: ${str('train')} has no data rows`);
  if (test.n === 0) throw new UsageError(`--test: ${str('test')} has no data rows`);
  const testIndex = intFlag('test-index', str('test-index'), 0, 0, test.n - 1);
  const classes = kind === 'softmax' ? classesOf(train.y, test.y) : 1;
  let obj: Objective<LinearParams>;
  try {
    obj = linearObjective(kind, train, l2, { classes, source: `--train ${str('train')}` });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const model = linearModel(kind, train.d, classes);
  let Yt: Tensor;
  try {
    Yt = model.targets(test.y, `--test ${str('test')}`);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const Xt = fromFloat64(test.X, [test.n, test.d]);
  return { kind, l2, train, test, classes, testIndex, obj, testObjective: totalLoss(model.loss, Xt, Yt, [testIndex]), log, out: str('out') };
}

/**
 * Trains to ‖∇R‖ < 1e-10: dense Newton while the Hessian is small (p ≤ 3000), Newton-CG above.
 */
export function train(L: Loaded): TrainResult {
  const p = L.obj.dim;
  const mode = p <= 3000 ? 'dense' : 'cg';
  L.log(`training ${L.kind} (n = ${L.train.n}, ${p} parameters, λ = ${L.l2}) by Newton (${mode}) to ‖∇R‖ < 1e-10`);
  const r = newton(L.obj, { mode, onIteration: (i, g) => L.log(`  iteration ${i}: ‖∇R‖ = ${g.toExponential(3)}`) });
  L.log(`trained in ${r.iterations} iterations, ‖∇R‖ = ${r.gradNorm.toExponential(3)}`);
  return r;
}

/** Writes the result to --out, or prints it. */
export function emit(L: Loaded, result: object): void {
  writeOutput(`${JSON.stringify(result, null, 2)}\n`, L.out, L.log, (path, reason) => `--out: cannot write ${path} (${reason})`);
}

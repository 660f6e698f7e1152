/**
 * `unequal attribute --model logreg|mlp` (no --train): one method's scores of the 5,000 training
 * images for one test image of dattri's MNIST-10 benchmark (see mnist10.ts), with the method's
 * configuration given by flags instead of searched (a search needs the ground truth `lds` retrains).
 * With `--fit optimum` (logreg only) the model is fitted to the minimiser of the L2-regularised mean
 * cross-entropy as `lds --fit optimum` fits it (mnist10-optimum.ts), so exact influence at δ = λ is
 * the first-order change exact retraining gives.
 *
 * @module
 */
import { type CliIo, finiteJson, lineLogger, Outputs } from './command.ts';
import { CliFailure, UsageError } from './errors.ts';
import type { Flags } from './flags.ts';
import { dattriMnist10, type DattriSplit } from '../../data/dattri.ts';
import { DATTRI_TRAINING, objectiveOf, parameterCount } from './mnist10.ts';
import { defaultSetup, ensembleRows, type Job, type JobResult, type JobSetup, runJob } from './mnist10-jobs.ts';
import { MNIST10_METHODS, type Mnist10Method, scoreMethod, type ScoringContext } from './mnist10-methods.ts';
import { retrainAtOptimum } from './mnist10-optimum.ts';
import { setBackend } from '../../backend/index.ts';
import { defaultThreads, progressLine, runPool } from '../parallel/pool.ts';

/** The `attribute` flags of MNIST-10 mode. */
export const MNIST10_ATTRIBUTE_FLAGS = {
  model: { type: 'string' },
  method: { type: 'string' },
  'test-index': { type: 'string' },
  damping: { type: 'string' },
  'lissa-batch': { type: 'string' },
  'rps-l2': { type: 'string' },
  'trak-k': { type: 'string' },
  seed: { type: 'string' },
  threads: { type: 'string' },
  epochs: { type: 'string' },
  fit: { type: 'string' },
  l2: { type: 'string' },
  'grad-tol': { type: 'string' },
  'train-size': { type: 'string' },
  out: { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

/** Runs MNIST-10 mode of `attribute`. */
export async function runMnist10Attribute(flags: Flags, argv: readonly string[], io: CliIo): Promise<number> {
  void argv;
  const log = lineLogger(io, flags.boolean('quiet'));
  const model = flags.choice('model', ['logreg', 'mlp'] as const);
  const method = flags.choice<Mnist10Method>('method', MNIST10_METHODS);
  if (model === 'mlp' && method === 'exact') throw new UsageError("--method exact: the MLP's dense Hessian would be 101,770² float64 (83 GB); use cg");
  const fit = flags.choice('fit', ['sgd', 'optimum'] as const, 'sgd');
  if (fit === 'optimum' && model !== 'logreg') throw new UsageError('--fit optimum: only --model logreg has an optimum to train to (the MLP is not convex)');
  for (const name of ['l2', 'grad-tol']) if (fit !== 'optimum' && flags.has(name)) throw new UsageError(`--${name}: only with --fit optimum (the SGD protocol has no regulariser and no optimum)`);
  if (fit === 'optimum' && flags.has('epochs')) throw new UsageError("--epochs: the SGD protocol's flag; --fit optimum trains to the optimum (see --grad-tol)");
  if (fit === 'optimum' && method === 'tracin') throw new UsageError('--method tracin: --fit optimum has no SGD trajectory to take checkpoints from');
  const nTrain = flags.integer('train-size', { default: 5000, min: 4, max: 60000 });
  const index = flags.integer('test-index', { default: 0, min: 0, max: 499 });
  // The same defaults as lds --fit optimum: λ = 0.01, and H = ∇²(mean loss) + λI exactly, so δ = λ.
  const l2 = flags.number('l2', { default: 1e-2, min: 1e-6 });
  const gradTol = flags.number('grad-tol', { default: 1e-11, min: 1e-14 });
  const damping = flags.number('damping', { default: fit === 'optimum' ? l2 : 1e-3, min: 0 });
  const lissaBatch = flags.integer('lissa-batch', { default: 100, min: 1, max: nTrain });
  const rpsL2 = flags.number('rps-l2', { default: 1e-3, above: 0 });
  const trakK = flags.integer('trak-k', { default: 512, min: 1 });
  const seed = flags.integer('seed', { default: 0, min: 0 });
  const threads = flags.integer('threads', { default: defaultThreads(), min: 1 });
  const epochs = flags.optionalInteger('epochs', { min: 1 });
  const outputs = new Outputs(log);
  const out = flags.string('out');
  if (out !== undefined) outputs.add('out', out);
  const training = { ...DATTRI_TRAINING[model], ...(epochs ? { epochs } : {}) };
  const setup = defaultSetup(model, { nTrain, nTest: 500, tests: 500, seed, training, gemmThreads: 1 });
  const data = dattriMnist10({ nTrain, nTest: 500 });
  const one: DattriSplit = { X: data.test.X.slice(index * 784, (index + 1) * 784), y: data.test.y.slice(index, index + 1), n: 1, d: 784 };
  const M = method.startsWith('trak-') ? Number(method.slice(5)) : 0;
  let full: { theta: Float64Array; checkpoints: ScoringContext['checkpoints'] };
  let ensemble: Float64Array[];
  if (fit === 'optimum') {
    // As lds --fit optimum: the full model and TRAK's halves at their optima, products on --threads threads.
    setBackend('cpu', { threads });
    log(`fitting the logreg to the optimum of the mean cross-entropy + (${l2}/2)‖θ‖² (‖∇R‖ ≤ ${gradTol})`);
    const r = retrainAtOptimum({ train: data.train, test: one }, { l2, gradTol, batch: 50, tests: 1, subsets: [], looRows: [], ensembleRows: Array.from({ length: M }, (_, m) => ensembleRows(nTrain, seed, m)), log });
    full = { theta: r.theta, checkpoints: [] };
    ensemble = r.ensemble;
  } else {
    log(`training the ${model} as dattri does (${training.epochs} epochs)`);
    full = runJob(setup, data, { type: 'full' }) as typeof full;
    const jobs: Job[] = Array.from({ length: M }, (_, m) => ({ type: 'ensemble', m }));
    ensemble = M ? ((await runPool<JobSetup, Job, JobResult>(jobs, { module: new URL('./mnist10-jobs.ts', import.meta.url), setup, threads, onProgress: progressLine('  trained', log) })) as { theta: Float64Array }[]).map((r) => r.theta) : [];
  }
  const ctx: ScoringContext = {
    model, train: data.train, test: one, tests: 1, theta: full.theta, checkpoints: full.checkpoints, ensemble,
    obj: objectiveOf(model, data.train), dampings: [damping], exactDampings: [damping], trakK, lissaBatches: [lissaBatch], rpsL2s: [rpsL2], log,
  };
  const t0 = performance.now();
  let scored;
  try {
    scored = scoreMethod(ctx, method);
  } catch (e) {
    throw new CliFailure(`--method ${method}: ${(e as Error).message}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  const result = {
    model,
    method,
    fit: fit === 'optimum' ? { optimizer: 'newton', l2, gradTol } : training,
    parameters: parameterCount(model),
    testIndex: index,
    label: one.y[0],
    convention: 'positive = training point i helps the test point (lowers its loss); influence methods include the 1/n factor, similarity methods are unnormalised',
    config: scored.candidates[0]!.config,
    cost: scored.cost,
    scores: Array.from(scored.candidates[0]!.values),
    seconds,
  };
  const text = finiteJson(result, () => '');
  outputs.commitResult(io, text);
  return 0;
}

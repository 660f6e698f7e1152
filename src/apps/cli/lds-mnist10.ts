/**
 * `unequal lds --model logreg|mlp` (no --train): dattri's MNIST-10 benchmark (see mnist10.ts,
 * mnist10-jobs.ts, mnist10-methods.ts), with the retraining spread over worker threads and
 * optionally split into shards that `unequal merge` joins.
 *
 * Every run, sharded or not, first builds a *partial* result holding, for its share of the
 * retraining jobs, the retrained outputs and every scored candidate's summed subset scores (and the
 * leave-one-out changes with the candidates' scores of those rows); {@link finishLds} turns a
 * complete set of partials into the result. An unsharded run is the one-shard case of the same
 * code, which is why k merged shards equal one run exactly.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { type CliIo, finiteJson, gitCommit, lineLogger, Outputs } from './command.ts';
import { CliFailure, UsageError } from './errors.ts';
import type { Flags } from './flags.ts';
import { dattriMnist10 } from '../../data/dattri.ts';
import { pearson } from '../../linalg/vector.ts';
import { spearman } from '../../influence/metrics.ts';
import { defaultThreads, progressLine, runPool } from '../parallel/pool.ts';
import { shareOf } from '../parallel/shard.ts';
import { DATTRI_TRAINING, type Mnist10Model, objectiveOf, parameterCount, testLosses } from './mnist10.ts';
import { defaultSetup, type Job, type JobResult, type JobSetup, looRows, runJob, subsetRows } from './mnist10-jobs.ts';
import { DAMPING_GRID, MNIST10_METHODS, type Mnist10Method, NotAvailableError, scoreMethod, type ScoringContext } from './mnist10-methods.ts';
import { type OptimumRetraining, type OptimumTraining, retrainAtOptimum } from './mnist10-optimum.ts';
import { ensembleRows } from './mnist10-jobs.ts';
import { setBackend } from '../../backend/index.ts';

/** The configuration a result (and every shard of it) records; shards must agree on all of it. */
export interface LdsConfig {
  model: Mnist10Model;
  data: { train: number; test: number; selection: { train: string; test: string; normalize: { mean: number; std: number } } };
  parameters: number;
  /** dattri's SGD settings, or (`--fit optimum`) the exact-optimum fit. */
  training: JobSetup['training'] | OptimumTraining;
  tracinCheckpointEpochs: number[];
  subsets: number;
  fraction: number;
  tests: number;
  seed: number;
  methods: Mnist10Method[];
  /** Methods asked for but not run, with why. */
  dropped?: string[];
  looRows: number;
  /** Set when LOO retrainings visit the rows in file order (`--loo-order file`, dattri's `retrain_loo`). */
  looOrder?: 'file';
  ensemble: number;
  trakK: number;
  dampings: number[];
  exactDampings: number[];
  protocol: Record<string, string>;
}

/** A shard's share: `[start, end)` of the subsets and of the LOO rows. */
export interface ShardRange {
  index: number;
  count: number;
  subsets: [number, number];
  looRows: [number, number];
}

/** Per method, what every shard computes the same way (its scoring does not depend on the shard). */
export interface MethodInfo {
  seconds: number;
  ensemble?: boolean;
  configs: Record<string, number | string>[];
  cost: Record<string, number | string>;
}

/** A partial result (one shard's, or a whole run before finishing). */
export interface LdsPartial {
  kind: 'unequal-lds-partial';
  command: string;
  commit: string | null;
  wallSeconds: number;
  config: LdsConfig;
  shard: ShardRange;
  /** Test losses of the full model (tests). */
  baseLosses: number[];
  /** Per subset in the range: the retrained model's test losses. */
  outputs: number[][];
  /** Per LOO row in the range: the change of each test loss when the row is removed. */
  looChanges: number[][];
  /** Per method: per candidate, per subset in the range, per test: Σ_{i∈S_j} τ_t,i. */
  summed: Record<string, number[][][]>;
  /** Per method: per candidate, per LOO row in the range, per test: τ_t,row. */
  looScores: Record<string, number[][][]>;
  methods: Record<string, MethodInfo>;
  /** `--fit optimum`: how far each fit got (the full model's and the worst retraining's ‖∇R‖). */
  fit?: OptimumRetraining['stats'];
}

/** Per-method entry of the final result. */
export interface LdsMethodResult {
  lds: number;
  loo?: number;
  seconds: number;
  ensemble?: boolean;
  config: Record<string, number | string>;
  search?: { config: Record<string, number | string>; lds: number }[];
  cost: Record<string, number | string>;
}

/** The `lds` flags of MNIST-10 mode. */
export const MNIST10_FLAGS = {
  model: { type: 'string' },
  subsets: { type: 'string' },
  test: { type: 'string' },
  tests: { type: 'string' },
  methods: { type: 'string' },
  loo: { type: 'string' },
  'loo-order': { type: 'string' },
  seed: { type: 'string' },
  threads: { type: 'string' },
  shard: { type: 'string' },
  ensemble: { type: 'string' },
  'trak-k': { type: 'string' },
  dampings: { type: 'string' },
  'exact-dampings': { type: 'string' },
  epochs: { type: 'string' },
  fit: { type: 'string' },
  l2: { type: 'string' },
  'grad-tol': { type: 'string' },
  'fit-batch': { type: 'string' },
  'train-size': { type: 'string' },
  out: { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

/** `--shard i/k` as numbers, checked. */
export function parseShard(raw: string | undefined): { index: number; count: number } {
  if (raw === undefined) return { index: 0, count: 1 };
  const m = /^(\d+)\/(\d+)$/.exec(raw);
  if (!m) throw new UsageError(`--shard: '${raw}' must be i/k with 0 ≤ i < k (e.g. --shard 0/4)`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (!(count >= 1 && index < count)) throw new UsageError(`--shard: '${raw}' must be i/k with 0 ≤ i < k (e.g. --shard 0/4)`);
  return { index, count };
}


/** Runs MNIST-10 mode; writes the result (or the shard's partial) to --out or stdout. */
export async function runMnist10Lds(flags: Flags, argv: readonly string[], io: CliIo): Promise<number> {
  const start = performance.now();
  const log = lineLogger(io, flags.boolean('quiet'));
  const model = flags.choice('model', ['logreg', 'mlp'] as const);
  const fit = flags.choice('fit', ['sgd', 'optimum'] as const, 'sgd');
  if (fit === 'optimum' && model !== 'logreg') throw new UsageError('--fit optimum: only --model logreg has an optimum to train to (the MLP is not convex)');
  for (const name of ['l2', 'grad-tol', 'fit-batch']) if (fit !== 'optimum' && flags.has(name)) throw new UsageError(`--${name}: only with --fit optimum (the SGD protocol has no regulariser and no optimum)`);
  for (const name of ['epochs']) if (fit === 'optimum' && flags.has(name)) throw new UsageError(`--${name}: the SGD protocol's flag; --fit optimum trains to the optimum (see --grad-tol)`);
  // λ = 0.01: a value of dattri's regularisation grid and Koh & Liang's weight decay for this model;
  // at 1e-3 each half-subset fit needs ~3.5× the CG iterations (docs/guides/choosing-an-estimator.md).
  const l2 = flags.number('l2', { default: 1e-2, min: 1e-6 });
  const gradTol = flags.number('grad-tol', { default: 1e-11, min: 1e-14 });
  const fitBatch = flags.integer('fit-batch', { default: 50, min: 1 });
  if (flags.has('test') && flags.has('tests')) throw new UsageError('--test and --tests are the same flag (the number of test points); give one');
  const nTrain = flags.integer('train-size', { default: 5000, min: 4, max: 60000 });
  const nTest = 500;
  const tests = flags.integer(flags.has('tests') ? 'tests' : 'test', { default: nTest, min: 1, max: nTest });
  const subsets = flags.integer('subsets', { default: 100, min: 2 });
  const seed = flags.integer('seed', { default: 0, min: 0 });
  const threads = flags.integer('threads', { default: defaultThreads(), min: 1 });
  const looCount = flags.integer('loo', { default: 0, min: 0, max: nTrain });
  const looOrder = flags.choice('loo-order', ['shuffled', 'file'] as const, 'shuffled');
  if (flags.has('loo-order') && fit === 'optimum') throw new UsageError('--loo-order: the SGD protocol\'s flag; --fit optimum fits every removal to its optimum (no order)');
  const ensemble = flags.integer('ensemble', { default: 50, min: 1 });
  const trakK = flags.integer('trak-k', { default: 512, min: 1 });
  // At the optimum H = ∇²(mean cross-entropy) + λI exactly: exact inverts it at δ = λ, and λ joins the grid.
  const dampings = flags.has('dampings') ? dampingList(flags, 'dampings') : fit === 'optimum' && !DAMPING_GRID.includes(l2) ? [...DAMPING_GRID, l2].sort((a, b) => b - a) : DAMPING_GRID;
  const exactDampings = flags.has('exact-dampings') ? dampingList(flags, 'exact-dampings') : [fit === 'optimum' ? l2 : 1e-3];
  const shard = parseShard(flags.string('shard'));
  const defaults = model === 'logreg' ? [...MNIST10_METHODS] : MNIST10_METHODS.filter((m) => m !== 'exact');
  let methods = (flags.choiceList<Mnist10Method>('methods', MNIST10_METHODS) ?? defaults).filter((m) => MNIST10_METHODS.includes(m));
  if (model === 'mlp' && methods.includes('exact')) throw new UsageError("--methods exact: the MLP's dense Hessian would be 101,770² float64 (83 GB); use cg (dattri damps it the same way)");
  const dropped: string[] = [];
  if (fit === 'optimum' && methods.includes('tracin')) {
    dropped.push('tracin: Newton has no SGD trajectory to take checkpoints from');
    log('--fit optimum: dropping tracin (no SGD checkpoints)');
    methods = methods.filter((m) => m !== 'tracin');
  }
  const trakNeeds = Math.max(0, ...methods.filter((m) => m.startsWith('trak-')).map((m) => Number(m.slice(5))));
  if (trakNeeds > ensemble) {
    dropped.push(...methods.filter((m) => m.startsWith('trak-') && Number(m.slice(5)) > ensemble).map((m) => `${m}: needs ${m.slice(5)} trained models, --ensemble ${ensemble} allowed`));
    log(`--ensemble ${ensemble}: dropping ${dropped.join('; ')}`);
    methods = methods.filter((m) => !m.startsWith('trak-') || Number(m.slice(5)) <= ensemble);
  }
  const epochs = flags.optionalInteger('epochs', { min: 1 });
  const training: LdsConfig['training'] =
    fit === 'optimum'
      ? { optimizer: 'newton', l2, gradTol, batch: fitBatch, method: 'L-BFGS to ‖∇R‖ ≤ 1e-5, then Newton with backtracking, each system by CG preconditioned with the full model’s dense H⁻¹; retrainings warm-started at θ̂, stopped at ‖∇R‖ ≤ gradTol' }
      : { ...DATTRI_TRAINING[model], ...(epochs ? { epochs } : {}) };
  const outputs = new Outputs(log);
  const out = flags.string('out');
  if (out !== undefined) outputs.add('out', out);

  const setup = defaultSetup(model, { nTrain, nTest, tests, seed, training: fit === 'optimum' ? DATTRI_TRAINING[model] : (training as JobSetup['training']), gemmThreads: 1, looOrder, ...(fit === 'optimum' ? { checkpointEpochs: [] } : {}) });
  const data = dattriMnist10({ nTrain, nTest });
  const config: LdsConfig = {
    model,
    data: { train: nTrain, test: nTest, selection: data.selection },
    parameters: parameterCount(model),
    training,
    tracinCheckpointEpochs: setup.checkpointEpochs,
    subsets,
    fraction: setup.fraction,
    tests,
    seed,
    methods,
    ...(dropped.length ? { dropped } : {}),
    looRows: looCount,
    ...(looOrder === 'file' ? { looOrder } : {}),
    ensemble: Math.min(ensemble, Math.max(trakNeeds, 0)) || 0,
    trakK,
    dampings,
    exactDampings,
    protocol: {
      ...(fit === 'optimum'
        ? {
            fit: `every model at the minimiser of Σᵢ cᵢℓᵢ + (${l2}/2)‖θ‖² over all 7,850 parameters (biases too: the softmax's bias shift is otherwise unidentified); cᵢ = 1/n (full), 1/|S| on a subset or TRAK half, 1/n on all rows but the removed one (LOO); ‖∇R‖ ≤ ${gradTol} for every fit`,
            seeds: 'no training seeds: each fit is the unique optimum; seeds only draw the subsets, LOO rows and TRAK halves',
          }
        : {}),
      output: "the retrained model's cross-entropy loss on the test point (dattri's target function), correlated with −loss",
      ...(fit === 'optimum'
        ? {
            subsets: `subset j: the first ⌊${setup.fraction}·n⌋ rows of new Rng(seed + j).permutation(n), fitted to its optimum from θ̂`,
            loo: `${looCount} rows: the first of new Rng(seed + 3000000).permutation(n), sorted; each fitted to the optimum of R − ℓᵣ/n from θ̂; Pearson per test point, averaged`,
            ensemble: 'TRAK member m: its own random half (new Rng(seed + 2000000 + m)), fitted to its optimum from θ̂',
          }
        : {
            subsets: `subset j: the first ⌊${setup.fraction}·n⌋ rows of new Rng(seed + j).permutation(n); trained with seed + j; one training run per subset (dattri's num_runs_per_subset = 1), so no averaging over seeds`,
            fullModel: `trained on all rows with seed + 1000000`,
            loo:
              looOrder === 'file'
                ? `${looCount} rows: the first of new Rng(seed + 3000000).permutation(n), sorted; each retrained without the row with the full model's seed, visiting the remaining rows in file order every epoch (no shuffling: dattri's retrain_loo), against the same training on all rows; Pearson per test point, averaged`
                : `${looCount} rows: the first of new Rng(seed + 3000000).permutation(n), sorted; each retrained without the row with the full model's seed; Pearson per test point, averaged`,
            ensemble: 'TRAK member m: its own random half (new Rng(seed + 2000000 + m)), trained with seed + 2000000 + m',
          }),
      search: 'methods with a configuration grid (cg, arnoldi: damping; lissa: batch size) report the configuration with the best LDS, as dattri reports its best',
    },
  };
  const range: ShardRange = { index: shard.index, count: shard.count, subsets: shareOf(subsets, shard.index, shard.count), looRows: shareOf(looCount, shard.index, shard.count) };
  log(`MNIST-10 ${model}: n = ${nTrain}, ${tests} test points, ${parameterCount(model)} parameters; shard ${shard.index}/${shard.count}: subsets ${rangeText(range.subsets)}, LOO rows ${rangeText(range.looRows)}; ${threads} thread(s)`);

  const rowsLoo = looRows(nTrain, looCount, seed);
  let full: { theta: Float64Array; checkpoints: { theta: Float64Array; lr: number; epoch: number }[] };
  let ensembleThetas: Float64Array[];
  let subsetOutputs: number[][];
  let baseLosses: number[];
  let looChanges: number[][];
  let fitStats: OptimumRetraining['stats'] | undefined;
  if (fit === 'optimum') {
    // In-process, in lockstep batches: matrix products on --threads threads (no worker pool).
    setBackend('cpu', { threads });
    const r = retrainAtOptimum(data, {
      l2,
      gradTol,
      batch: fitBatch,
      tests,
      subsets: Array.from({ length: range.subsets[1] - range.subsets[0] }, (_, k) => subsetRows(nTrain, setup.fraction, seed, range.subsets[0] + k)),
      looRows: rowsLoo.slice(range.looRows[0], range.looRows[1]),
      ensembleRows: Array.from({ length: config.ensemble }, (_, m) => ensembleRows(nTrain, seed, m)),
      log,
    });
    full = { theta: r.theta, checkpoints: [] };
    ensembleThetas = r.ensemble;
    baseLosses = Array.from(r.baseLosses);
    subsetOutputs = r.subsetLosses.map((l) => Array.from(l));
    looChanges = r.looLosses.map((l) => Array.from(l, (v, t) => v - baseLosses[t]!));
    fitStats = r.stats;
    log(`  fits: ${r.stats.fits} retrainings, worst ‖∇R‖ = ${r.stats.maxGradNorm.toExponential(2)}, ${r.stats.meanNewtonSteps.toFixed(1)} Newton steps and ${r.stats.meanCgIterations.toFixed(1)} CG iterations each on average`);
  } else {
    const poolOpts = { module: new URL('./mnist10-jobs.ts', import.meta.url), setup, threads };
    log('training the full model');
    full = runJob(setup, data, { type: 'full' }) as typeof full;
    const jobs: Job[] = [];
    for (let m = 0; m < config.ensemble; m++) jobs.push({ type: 'ensemble', m });
    for (let j = range.subsets[0]; j < range.subsets[1]; j++) jobs.push({ type: 'subset', j });
    for (let r = range.looRows[0]; r < range.looRows[1]; r++) jobs.push({ type: 'loo', row: rowsLoo[r]! });
    // File-order removals are compared with the file-order model on all rows (the same path but one row).
    const fileBase = looOrder === 'file' && range.looRows[1] > range.looRows[0];
    if (fileBase) jobs.push({ type: 'looBase' });
    log(`retraining: ${config.ensemble} TRAK models, ${range.subsets[1] - range.subsets[0]} subsets, ${range.looRows[1] - range.looRows[0]} LOO rows on ${threads} thread(s)`);
    const results = (await runPool<JobSetup, Job, JobResult>(jobs, { ...poolOpts, onProgress: progressLine('  retrained', log, Math.max(1, Math.floor(jobs.length / 50))) })) as JobResult[];
    ensembleThetas = results.slice(0, config.ensemble).map((r) => (r as { theta: Float64Array }).theta);
    subsetOutputs = results.slice(config.ensemble, config.ensemble + range.subsets[1] - range.subsets[0]).map((r) => Array.from((r as { losses: Float64Array }).losses));
    baseLosses = Array.from(testLosses(model, full.theta, data.test, tests));
    const looResults = results.slice(config.ensemble + range.subsets[1] - range.subsets[0]) as { losses: Float64Array }[];
    const looBase = fileBase ? Array.from(looResults.pop()!.losses) : baseLosses;
    looChanges = looResults.map((r) => Array.from(r.losses, (l, t) => l - looBase[t]!));
  }

  const ctx: ScoringContext = {
    model,
    train: data.train,
    test: data.test,
    tests,
    theta: full.theta,
    checkpoints: full.checkpoints,
    ensemble: ensembleThetas,
    obj: objectiveOf(model, data.train),
    dampings,
    exactDampings,
    trakK,
    log,
  };
  const partial: LdsPartial = { kind: 'unequal-lds-partial', command: '', commit: gitCommit(), wallSeconds: 0, config, shard: range, baseLosses, outputs: subsetOutputs, looChanges, summed: {}, looScores: {}, methods: {}, ...(fitStats ? { fit: fitStats } : {}) };
  const subsetList = Array.from({ length: range.subsets[1] - range.subsets[0] }, (_, k) => subsetRows(nTrain, setup.fraction, seed, range.subsets[0] + k));
  const looList = rowsLoo.slice(range.looRows[0], range.looRows[1]);
  for (const method of methods) {
    log(`scoring: ${method}`);
    const t0 = performance.now();
    let scored;
    try {
      scored = scoreMethod(ctx, method);
    } catch (e) {
      if (e instanceof NotAvailableError) throw new NotAvailable(method);
      throw new CliFailure(`--methods ${method}: ${(e as Error).message}`);
    }
    const seconds = (performance.now() - t0) / 1000;
    partial.summed[method] = scored.candidates.map((c) => summedScores(c.values, nTrain, tests, subsetList));
    partial.looScores[method] = scored.candidates.map((c) => looList.map((row) => Array.from({ length: tests }, (_, t) => c.values[t * nTrain + row]!)));
    partial.methods[method] = { seconds, ...(method.startsWith('trak-') && method !== 'trak-1' ? { ensemble: true } : {}), configs: scored.candidates.map((c) => c.config), cost: scored.cost };
    log(`  ${method}: ${seconds.toFixed(1)} s`);
    if (shard.count === 1 && out !== undefined) writeProgress(`${out}.progress`, partial, method, log);
  }
  partial.command = ['unequal', 'lds', ...argv].join(' ');
  partial.wallSeconds = (performance.now() - start) / 1000;
  const text = shard.count > 1 ? finiteJson(partial, () => '') : finiteJson(finishLds([partial]), () => '');
  if (shard.count === 1) {
    const r = finishLds([partial]);
    for (const [name, m] of Object.entries(r[model].methods)) log(`${name}: LDS ${m.lds.toFixed(3)}${m.loo !== undefined ? `, LOO ${m.loo.toFixed(3)}` : ''}`);
  }
  outputs.commitResult(io, text);
  return 0;
}

/** The methods finished so far, as a provisional result next to --out (a long run's safety net). */
function writeProgress(path: string, partial: LdsPartial, last: string, log: (line: string) => void): void {
  try {
    const done = { ...partial, config: { ...partial.config, methods: partial.config.methods.slice(0, partial.config.methods.indexOf(last as Mnist10Method) + 1) } };
    writeFileSync(path, JSON.stringify({ provisional: true, ...finishLds([done]) }, null, 2));
  } catch (e) {
    log(`  (could not write ${path}: ${(e as Error).message})`);
  }
}

/** A comma-separated list of dampings ≥ 0. */
function dampingList(flags: Flags, name: string): number[] {
  return flags.string(name)!.split(',').map((x) => {
    const v = Number(x);
    if (x.trim() === '' || !(v >= 0) || !Number.isFinite(v)) throw new UsageError(`--${name}: '${x}' is not a damping ≥ 0`);
    return v;
  });
}

/** Thrown for K-FAC, EK-FAC and RPS until their modules are committed: exit 2. */
class NotAvailable extends UsageError {
  constructor(method: string) {
    super(`--methods ${method}: not yet available (its library module is not committed yet); leave it out of --methods`);
  }
}

/** Σ_{i∈S_j} τ_t,i per subset j and test t, summing each subset's rows in increasing order. */
function summedScores(values: Float64Array, n: number, tests: number, subsets: number[][]): number[][] {
  return subsets.map((S) => {
    const row = new Array<number>(tests);
    for (let t = 0; t < tests; t++) {
      let s = 0;
      for (const i of S) s += values[t * n + i]!;
      row[t] = s;
    }
    return row;
  });
}

/** Mean over test points (skipping undefined ones) of Spearman(summed, −output) over subsets. */
function ldsOf(summed: number[][], outputs: number[][], tests: number): number {
  let s = 0;
  let c = 0;
  for (let t = 0; t < tests; t++) {
    const r = spearman(summed.map((row) => row[t]!), outputs.map((row) => -row[t]!));
    if (Number.isFinite(r)) (s += r), c++;
  }
  return c ? s / c : NaN;
}

function bestCandidate(summed: number[][][], outputs: number[][], tests: number): { index: number; lds: number[] } {
  const lds = summed.map((c) => ldsOf(c, outputs, tests));
  let index = 0;
  for (let k = 1; k < lds.length; k++) if (lds[k]! > lds[index]!) index = k;
  return { index, lds };
}

/** Mean over test points of Pearson(scores of the LOO rows, their LOO changes). */
function looOf(scores: number[][], changes: number[][], tests: number): number {
  let s = 0;
  let c = 0;
  for (let t = 0; t < tests; t++) {
    const r = pearson(scores.map((row) => row[t]!), changes.map((row) => row[t]!));
    if (Number.isFinite(r)) (s += r), c++;
  }
  return c ? s / c : NaN;
}

/** Checks that partials fit together (same config, every shard once, ranges without gaps or overlaps) and orders them. */
export function checkShards(parts: readonly LdsPartial[], names: readonly string[] = parts.map((_, k) => `input ${k + 1}`)): LdsPartial[] {
  if (parts.length === 0) throw new UsageError('merge: no shards given');
  parts.forEach((p, k) => {
    if (p?.kind !== 'unequal-lds-partial') throw new UsageError(`merge: ${names[k]} is not a partial lds result (written by unequal lds --shard i/k)`);
  });
  const ref = JSON.stringify(parts[0]!.config);
  parts.forEach((p, k) => {
    if (JSON.stringify(p.config) !== ref) throw new UsageError(`merge: ${names[k]} was run with another configuration than ${names[0]} (${configDiff(parts[0]!.config, p.config)}); rerun it with the same flags`);
  });
  const count = parts[0]!.shard.count;
  parts.forEach((p, k) => {
    if (p.shard.count !== count) throw new UsageError(`merge: ${names[k]} is shard ${p.shard.index}/${p.shard.count} but ${names[0]} is of ${count} shards`);
  });
  const byIndex = new Map<number, number>();
  parts.forEach((p, k) => {
    const prev = byIndex.get(p.shard.index);
    if (prev !== undefined) throw new UsageError(`merge: ${names[prev]} and ${names[k]} are both shard ${p.shard.index}/${count} (overlap); give each shard once`);
    byIndex.set(p.shard.index, k);
  });
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length) throw new UsageError(`merge: shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${count}`).join(', ')} missing (a gap: subsets ${missing.map((i) => rangeText(shareOf(parts[0]!.config.subsets, i, count))).join(', ')}); run and add ${missing.length > 1 ? 'them' : 'it'}`);
  const ordered = Array.from({ length: count }, (_, i) => parts[byIndex.get(i)!]!);
  const { subsets, looRows: L } = parts[0]!.config;
  let s = 0;
  let l = 0;
  ordered.forEach((p, i) => {
    const [a, b] = p.shard.subsets;
    const [c, d] = p.shard.looRows;
    if (a !== s || b !== shareOf(subsets, i, count)[1] || p.outputs.length !== b - a) throw new UsageError(`merge: shard ${i}/${count} holds subsets ${rangeText([a, b])} (${p.outputs.length} outputs), expected ${rangeText(shareOf(subsets, i, count))}`);
    if (c !== l || d !== shareOf(L, i, count)[1] || p.looChanges.length !== d - c) throw new UsageError(`merge: shard ${i}/${count} holds LOO rows ${rangeText([c, d])}, expected ${rangeText(shareOf(L, i, count))}`);
    s = b;
    l = d;
  });
  if (s !== subsets || l !== L) throw new UsageError(`merge: the shards hold ${s} of ${subsets} subsets and ${l} of ${L} LOO rows`);
  return ordered;
}

function rangeText([a, b]: [number, number]): string {
  return b > a ? `${a}..${b - 1}` : 'none';
}

function configDiff(a: LdsConfig, b: LdsConfig): string {
  const keys = Object.keys(a) as (keyof LdsConfig)[];
  const diff = keys.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  return diff.length ? `${diff.map((k) => `${k}: ${JSON.stringify(a[k])} vs ${JSON.stringify(b[k])}`).join('; ')}` : 'the order of fields';
}

/** The final result from a complete set of partials (one for an unsharded run). */
export function finishLds(parts: readonly LdsPartial[]): { command: string; commit: string | null; wallSeconds: number; config: LdsConfig; shards?: number } & Record<Mnist10Model, { methods: Record<string, LdsMethodResult> }> {
  const ordered = checkShards(parts);
  const first = ordered[0]!;
  const { config } = first;
  const outputs = ordered.flatMap((p) => p.outputs);
  const changes = ordered.flatMap((p) => p.looChanges);
  const methods: Record<string, LdsMethodResult> = {};
  for (const name of config.methods) {
    const info = first.methods[name];
    if (!info) continue;
    const summed = info.configs.map((_, c) => ordered.flatMap((p) => p.summed[name]![c]!));
    const { index, lds } = bestCandidate(summed, outputs, config.tests);
    const entry: LdsMethodResult = { lds: lds[index]!, seconds: info.seconds, ...(info.ensemble ? { ensemble: true } : {}), config: info.configs[index]!, cost: info.cost };
    if (config.looRows > 0) entry.loo = looOf(ordered.flatMap((p) => p.looScores[name]![index]!), changes, config.tests);
    if (info.configs.length > 1) entry.search = info.configs.map((c, k) => ({ config: c, lds: lds[k]! }));
    methods[name] = entry;
  }
  return {
    command: ordered.length > 1 ? `unequal merge (${ordered.length} shards of: ${first.command})` : first.command,
    commit: first.commit,
    wallSeconds: ordered.reduce((s, p) => s + p.wallSeconds, 0),
    config,
    ...(ordered.length > 1 ? { shards: ordered.length } : {}),
    ...(first.fit ? { fit: first.fit } : {}),
    [config.model]: { methods },
  } as ReturnType<typeof finishLds>;
}

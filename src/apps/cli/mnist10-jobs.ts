/**
 * The retraining jobs of the MNIST-10 protocol, as the worker pool (`src/apps/parallel/pool.ts`)
 * runs them: each is a pure function of its own seed, so any split over threads or shards gives
 * the same numbers.
 *
 * - `full`: the model on all training rows, training seed `seed + 1_000_000`, with its TracIn
 *   checkpoints;
 * - `subset` j: rows = the first ⌊fraction·n⌋ of `new Rng(seed + j).permutation(n)`, sorted
 *   (dattri: `np.random.default_rng(seed + i).choice(n, ⌊n/2⌋, replace=False)`), training seed
 *   `seed + j` (dattri: `seed + i · runs + r` with one run per subset); returns the test losses;
 * - `loo` row r: all rows but r, the full model's training seed (dattri's `retrain_loo` keeps the
 *   seed); with `looOrder: 'file'` in file order every epoch, no shuffling (what `retrain_loo`
 *   does); returns the test losses;
 * - `looBase` (only with `looOrder: 'file'`): all rows in file order with that seed, the model the
 *   file-order removals are compared with; returns the test losses;
 * - `ensemble` m: a TRAK ensemble member on its own random half (`new Rng(seed + 2_000_000 + m)`),
 *   training seed `seed + 2_000_000 + m`; returns θ.
 *
 * @module
 */
import { Rng } from '../../core/rng.ts';
import { setBackend } from '../../backend/index.ts';
import { dattriMnist10, type DattriMnist10 } from '../../data/dattri.ts';
import { DATTRI_TRAINING, type Mnist10Model, testLosses, trainModel, type TrainingConfig } from './mnist10.ts';

/** What every worker needs to know. */
export interface JobSetup {
  model: Mnist10Model;
  nTrain: number;
  nTest: number;
  /** Test points evaluated (the first `tests` of the test split). */
  tests: number;
  seed: number;
  fraction: number;
  /** Training settings (dattri's by default; tests shorten the epochs). */
  training: TrainingConfig;
  /** Epochs after which the full model keeps a TracIn checkpoint. */
  checkpointEpochs: number[];
  /** Matrix-product threads inside each worker (1: the pool already uses every core). */
  gemmThreads?: number;
  /** How LOO retrainings visit the rows: reshuffled each epoch (default) or in file order (dattri's `retrain_loo`). */
  looOrder?: 'shuffled' | 'file';
}

/** One job. */
export type Job = { type: 'full' } | { type: 'subset'; j: number } | { type: 'loo'; row: number } | { type: 'looBase' } | { type: 'ensemble'; m: number };

/** The seed offsets of the module notes. */
export const FULL_SEED = 1_000_000;
export const ENSEMBLE_SEED = 2_000_000;
export const LOO_ROWS_SEED = 3_000_000;

/** The sorted training rows of subset j. */
export function subsetRows(n: number, fraction: number, seed: number, j: number): number[] {
  return new Rng(seed + j).permutation(n).slice(0, Math.floor(fraction * n)).sort((a, b) => a - b);
}

/** The sorted rows of TRAK ensemble member m. */
export function ensembleRows(n: number, seed: number, m: number): number[] {
  return new Rng(seed + ENSEMBLE_SEED + m).permutation(n).slice(0, Math.floor(n / 2)).sort((a, b) => a - b);
}

/** The L sorted training rows whose leave-one-out effect is measured. */
export function looRows(n: number, count: number, seed: number): number[] {
  return new Rng(seed + LOO_ROWS_SEED).permutation(n).slice(0, Math.min(count, n)).sort((a, b) => a - b);
}

/** Default setup pieces. */
export function defaultSetup(model: Mnist10Model, over: Partial<JobSetup> = {}): JobSetup {
  const training = over.training ?? DATTRI_TRAINING[model];
  const E = training.epochs;
  const checkpointEpochs = over.checkpointEpochs ?? Array.from({ length: Math.min(10, E) }, (_, c) => Math.round(((c + 1) * E) / Math.min(10, E)));
  return { model, nTrain: 5000, nTest: 500, tests: 500, seed: 0, fraction: 0.5, training, checkpointEpochs, ...over };
}

/** Result of a job: test losses (subset, loo), θ (ensemble), θ and checkpoints (full). */
export type JobResult = { losses: Float64Array } | { theta: Float64Array } | { theta: Float64Array; checkpoints: { theta: Float64Array; lr: number; epoch: number }[] };

/** The pool's entry point: loads the data once per thread and returns the job runner. */
export function createJobHandler(setup: JobSetup): (job: Job) => JobResult {
  if (setup.gemmThreads) setBackend('cpu', { threads: setup.gemmThreads });
  const data: DattriMnist10 = dattriMnist10({ nTrain: setup.nTrain, nTest: setup.nTest });
  return (job) => runJob(setup, data, job);
}

/** Runs one job on loaded data. */
export function runJob(setup: JobSetup, data: DattriMnist10, job: Job): JobResult {
  const { model, seed, training } = setup;
  const n = data.train.n;
  const all = () => Array.from({ length: n }, (_, i) => i);
  switch (job.type) {
    case 'full': {
      const r = trainModel(model, data.train, all(), seed + FULL_SEED, setup.checkpointEpochs, training);
      return { theta: r.theta, checkpoints: r.checkpoints };
    }
    case 'subset': {
      const r = trainModel(model, data.train, subsetRows(n, setup.fraction, seed, job.j), seed + job.j, [], training);
      return { losses: testLosses(model, r.theta, data.test, setup.tests) };
    }
    case 'loo': {
      const rows = all().filter((i) => i !== job.row);
      const r = trainModel(model, data.train, rows, seed + FULL_SEED, [], training, setup.looOrder);
      return { losses: testLosses(model, r.theta, data.test, setup.tests) };
    }
    case 'looBase': {
      const r = trainModel(model, data.train, all(), seed + FULL_SEED, [], training, 'file');
      return { losses: testLosses(model, r.theta, data.test, setup.tests) };
    }
    case 'ensemble': {
      const r = trainModel(model, data.train, ensembleRows(n, seed, job.m), seed + ENSEMBLE_SEED + job.m, [], training);
      return { theta: r.theta };
    }
  }
}

/**
 * What the two reweighting experiments share: the model and optimiser settings, one runner that
 * trains every method on one problem, and the summary statistics.
 *
 * Every method gets the same network, initialisation, optimiser, batch sampler seed and number of
 * steps; only the weighting differs. The uniform run doubles as the reference model of curriculum
 * learning and as the first training of Data Dropout, so neither needs an extra training run.
 *
 * @module
 */
import { tensor } from '../../core/create.ts';
import type { BinarySet } from '../../data/mnist.ts';
import { type Activation, type MlpParams, mlpInit, testError } from '../../nn/mlp.ts';
import { momentum } from '../../optim/sgd.ts';
import { type Batch, metaGradientMlp, mlpLoss, mlpMetaGradient, type MetaRoute } from '../../reweight/l2rw.ts';
import { mlpDataDropout } from '../../reweight/data-dropout.ts';
import { classBalanced, curriculum, focal, l2rw, lossesOf, ohem, selfPaced, subset, uniform } from '../../reweight/methods.ts';
import { type StepRecord, trainWeighted, type Weighting } from '../../reweight/train.ts';

/** The method names, in the order they are reported (the CLI contract). */
export const METHOD_NAMES = ['uniform', 'class-balanced', 'focal', 'ohem', 'self-paced', 'curriculum', 'data-dropout', 'l2rw'] as const;
/** One of {@link METHOD_NAMES}. */
export type MethodName = (typeof METHOD_NAMES)[number];

/** Model, optimiser and method hyper-parameters, shared by every method in a run. */
export interface ReweightConfig {
  /** Hidden layer widths of the MLP (input 784, output one logit). */
  hidden: number[];
  /** The hidden layers' nonlinearity. */
  activation: Activation;
  /** SGD learning rate α (also the L2RW look-ahead step; it only scales the meta-gradient). */
  lr: number;
  /** Momentum β. */
  momentum: number;
  /** Examples per SGD batch. */
  batchSize: number;
  /** SGD steps per training run. */
  steps: number;
  /** Focal loss γ. */
  focalGamma: number;
  /** OHEM: share of each batch kept. */
  ohemFraction: number;
  /** Self-paced threshold λ_t, from start to end. */
  selfPaced: {
    /** λ₀, the loss threshold at the first step. */
    start: number;
    /** λ at the last step. */
    end: number;
  };
  /** Curriculum: pool starts at this share of the data (easiest first) and reaches 1 after `ramp` of training. */
  curriculum: {
    /** Share of the training set (easiest first) in the pool at the first step. */
    start: number;
    /** Share of training after which the pool is the whole set. */
    ramp: number;
  };
  /** Data Dropout: λ of the last-layer refit the influence is computed on. */
  dropoutL2: number;
  /** How L2RW computes the meta-gradient (all routes give the same number; closed-form is fastest). */
  metaRoute: MetaRoute;
}

/**
 * The defaults: a 784→32→1 ReLU MLP trained by SGD with momentum (lr 0.01, β 0.9, batches of 100,
 * 600 steps); the experiments train it on 800 images from the `mnist` package's 10,000 digits.
 * This is not the L2RW paper's MNIST class-imbalance setup, which trains a LeNet CNN (here an MLP)
 * on 5,000 images drawn from full MNIST (here 800), by SGD at lr 1e-3 for 8,000 steps of batch 100
 * (here lr 0.01 with momentum for 600 steps).
 */
export const DEFAULT_CONFIG: ReweightConfig = {
  hidden: [32],
  activation: 'relu',
  lr: 0.01,
  momentum: 0.9,
  batchSize: 100,
  steps: 600,
  focalGamma: 2,
  ohemFraction: 0.25,
  selfPaced: { start: 1, end: 4 },
  curriculum: { start: 0.2, ramp: 0.5 },
  dropoutL2: 1e-3,
  metaRoute: 'closed-form',
};

/** A train/validation/test problem on binary digits. */
export interface Problem {
  /** The training set the methods weight. */
  train: BinarySet;
  /** The clean validation set (L2RW's meta-objective, Data Dropout's influence target). */
  val: BinarySet;
  /** The held-out test set the reported errors are measured on. */
  test: BinarySet;
}

/** One method's outcome on one problem and seed. */
export interface MethodRun {
  /** Fraction of the test set misclassified by the trained network. */
  testError: number;
  /** Data Dropout only: how many training points were dropped. */
  dropped?: number;
  /** Data Dropout only: which training rows were dropped. */
  droppedRows?: number[];
  /** Recorded per-step weights (only for the methods asked to record). */
  history?: StepRecord[];
  /** Wall-clock training time (Data Dropout: first training, selection and retraining). */
  seconds: number;
}

/** Options for {@link runMethods}. */
export interface RunMethodsOptions {
  /** Model, optimiser and method settings. */
  config: ReweightConfig;
  /** Seed of the network initialisation (and, offset by 1000, of batch sampling). */
  seed: number;
  /** Methods to run (default all). */
  methods?: readonly MethodName[];
  /** Record per-step weights for these methods. */
  record?: readonly MethodName[];
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
}

/** The options both experiments resolve the same way. */
export interface ExperimentBaseOptions {
  /** Number of seeds (0, 1, …). Default 5 (quick: 3). */
  seeds?: number;
  /** The quick setting: 300 steps instead of 600, 3 seeds by default. */
  quick?: boolean;
  /** Overrides of the model/optimiser/method settings. */
  config?: Partial<ReweightConfig>;
  /** Methods to run (default all eight). */
  methods?: readonly MethodName[];
  /** Progress lines. */
  log?: (line: string) => void;
}

/** What {@link experimentSetup} resolves. */
export interface ExperimentSetup {
  /** Whether the quick setting is on. */
  quick: boolean;
  /** The seeds to run, 0..k−1. */
  seeds: number[];
  /** The defaults, the quick setting's 300 steps, then the caller's overrides. */
  config: ReweightConfig;
  /** The methods to run. */
  methods: readonly MethodName[];
  /** Where progress goes (nowhere by default). */
  log: (line: string) => void;
}

/**
 * Resolves the options every experiment shares: the quick setting, the seeds, the config and the
 * methods. `who` names the experiment in errors.
 *
 * @example
 * ```ts
 * experimentSetup('runNoise', { quick: true }).config.steps; // 300
 * ```
 */
export function experimentSetup(who: string, options: ExperimentBaseOptions): ExperimentSetup {
  const quick = options.quick ?? false;
  const nSeeds = options.seeds ?? (quick ? 3 : 5);
  if (!Number.isInteger(nSeeds) || nSeeds < 1) throw new Error(`${who}: seeds must be a positive integer, got ${nSeeds}`);
  return {
    quick,
    seeds: Array.from({ length: nSeeds }, (_, i) => i),
    config: { ...DEFAULT_CONFIG, ...(quick ? { steps: 300 } : {}), ...options.config },
    methods: options.methods ?? METHOD_NAMES,
    log: options.log ?? (() => {}),
  };
}

function asBatch(set: BinarySet): Batch {
  return { X: tensor(set.X, [set.n, set.d]), y: tensor(set.y, [set.n]) };
}

/**
 * Trains every requested method on one problem with one seed and reports each one's test error.
 * The network initialisation and the batch-sampling stream depend only on `seed`, so methods differ
 * only in how they weight.
 *
 * @example
 * ```ts
 * const { train, val, test } = imbalancedPair({ posRatio: 0.995, nTrain: 800, nTest: 350, seed: 0 });
 * const runs = runMethods({ train, val, test }, { config: { ...DEFAULT_CONFIG, steps: 300 }, seed: 0 });
 * runs.l2rw.testError; // well below runs.uniform.testError
 * ```
 */
export function runMethods(problem: Problem, options: RunMethodsOptions): Partial<Record<MethodName, MethodRun>> {
  const { config, seed, methods = METHOD_NAMES, record = [], log = () => {} } = options;
  const { train: tr, val, test } = problem;
  const act = config.activation;
  const sizes = [tr.d, ...config.hidden, 1];
  const loss = mlpLoss(act);
  const valBatch = asBatch(val);
  const out: Partial<Record<MethodName, MethodRun>> = {};

  const fit = (name: MethodName, weighting: Weighting<MlpParams>) => {
    const t0 = performance.now();
    const result = trainWeighted({
      params: mlpInit(sizes, seed, act),
      loss,
      data: tr,
      steps: config.steps,
      batchSize: config.batchSize,
      optimizer: momentum({ lr: config.lr, beta: config.momentum }),
      weighting,
      seed: seed + 1000,
      record: record.includes(name),
    });
    return { result, seconds: (performance.now() - t0) / 1000 };
  };
  const finish = (name: MethodName, params: MlpParams, seconds: number, extra: Partial<MethodRun> = {}) => {
    out[name] = { testError: testError(params, act, test), seconds, ...extra };
    log(`  seed ${seed} ${name.padEnd(14)} test error ${(100 * out[name]!.testError).toFixed(1).padStart(5)}%  (${seconds.toFixed(1)} s)`);
  };
  // The common case: train with the method's weighting, report the result with any recorded weights.
  const fitAndFinish = (name: MethodName, weighting: Weighting<MlpParams>) => {
    const { result, seconds } = fit(name, weighting);
    finish(name, result.params, seconds, withHistory(result.history));
  };

  // The uniform model is needed by curriculum (reference losses) and Data Dropout (first training).
  const needUniform = methods.some((m) => m === 'uniform' || m === 'curriculum' || m === 'data-dropout');
  let uniformParams: MlpParams | null = null;
  let uniformSeconds = 0;
  if (needUniform) {
    const { result, seconds } = fit('uniform', uniform());
    uniformParams = result.params;
    uniformSeconds = seconds;
    if (methods.includes('uniform')) finish('uniform', result.params, seconds, withHistory(result.history));
  }
  for (const name of methods) {
    switch (name) {
      case 'uniform':
        break;
      case 'class-balanced':
        fitAndFinish(name, classBalanced(tr.y));
        break;
      case 'focal':
        fitAndFinish(name, focal({ gamma: config.focalGamma }));
        break;
      case 'ohem':
        fitAndFinish(name, ohem({ fraction: config.ohemFraction }));
        break;
      case 'self-paced':
        fitAndFinish(name, selfPaced(config.selfPaced));
        break;
      case 'curriculum': {
        const reference = lossesOf(loss, uniformParams!, tr.X, tr.y, tr.d);
        fitAndFinish(name, curriculum(reference, { startFraction: config.curriculum.start, rampFraction: config.curriculum.ramp }));
        break;
      }
      case 'data-dropout': {
        const t0 = performance.now();
        const sel = mlpDataDropout(uniformParams!, act, asBatch(tr), valBatch, { l2: config.dropoutL2 });
        const selectSeconds = (performance.now() - t0) / 1000;
        log(`  seed ${seed} data-dropout   drops ${sel.drop.length} of ${tr.n} training points (predicted validation-loss change ${sel.predictedChange.toFixed(3)})`);
        // Dropping everything would leave nothing to train on; keep the first model then.
        const { result, seconds } =
          sel.keep.length > 0 ? fit(name, subset(sel.keep, 'data-dropout')) : { result: { params: uniformParams!, history: [] }, seconds: 0 };
        // Its cost: the first training (shared with uniform), the selection, and the retraining.
        finish(name, result.params, uniformSeconds + selectSeconds + seconds, { dropped: sel.drop.length, droppedRows: sel.drop, ...withHistory(result.history) });
        break;
      }
      case 'l2rw': {
        const meta = (p: MlpParams, b: Batch) =>
          config.metaRoute === 'closed-form'
            ? metaGradientMlp(p, act, b, valBatch, config.lr)
            : mlpMetaGradient(config.metaRoute, p, act, b, valBatch, config.lr);
        fitAndFinish(name, l2rw(meta));
        break;
      }
      default:
        throw new Error(`unknown method '${name as string}'; choose from ${METHOD_NAMES.join(', ')}`);
    }
  }
  return out;
}

function withHistory(history: StepRecord[]): { history?: StepRecord[] } {
  return history.length ? { history } : {};
}

/** Mean and sample standard deviation (n − 1; 0 for a single run) of a list of numbers. */
export interface Summary {
  /** The mean (NaN for no runs). */
  mean: number;
  /** The sample standard deviation, n − 1 in the denominator (0 for one run). */
  std: number;
  /** The values summarised, in run order. */
  runs: number[];
}

/**
 * Mean, sample standard deviation (n − 1 in the denominator; 0 for one run) and the runs themselves.
 *
 * @example
 * ```ts
 * summarize([0.1, 0.3]); // { mean: 0.2, std: 0.1414…, runs: [0.1, 0.3] }
 * ```
 */
export function summarize(runs: number[]): Summary {
  const n = runs.length;
  const mean = n ? runs.reduce((a, b) => a + b, 0) / n : NaN;
  const std = n > 1 ? Math.sqrt(runs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, runs };
}

/**
 * A plain-text table of test errors (percent, mean ± std) per method, for stderr and reports.
 *
 * @example
 * ```ts
 * errorTable({ uniform: { testError: summarize([0.5, 0.5]) } }, 'pos_ratio 0.995');
 * // 'pos_ratio 0.995\n  method  test error …\n  uniform  50.0% ± 0.0%'
 * ```
 */
export function errorTable(methods: Partial<Record<string, { testError: Summary }>>, title: string): string {
  const lines = [title, `  ${'method'.padEnd(15)} test error (mean ± std over seeds)`];
  const known: readonly string[] = METHOD_NAMES;
  for (const name of [...known, ...Object.keys(methods).filter((k) => !known.includes(k))]) {
    const m = methods[name];
    if (!m) continue;
    lines.push(`  ${name.padEnd(15)} ${(100 * m.testError.mean).toFixed(1).padStart(5)}% ± ${(100 * m.testError.std).toFixed(1)}%`);
  }
  return lines.join('\n');
}

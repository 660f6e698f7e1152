/**
 * The class-imbalance experiment of Learning to Reweight (Ren et al. 2018, Figure 3) at the
 * paper's protocol, as its released code runs it: digits 4 (minority, label 0) and 9 (majority,
 * label 1) from full MNIST's training file, 5,000 training images at pos_ratio, 10 balanced
 * validation images disjoint from them, 500 balanced test images from the test file, pixels 0–255;
 * the LeNet of `lenet()` (truncated-normal σ 0.1 weights, zero biases), sigmoid cross-entropy, SGD
 * with momentum 0.9 at learning rate 1e-3 halved after half the steps, batches of 100; 8,000 steps
 * for the baselines and 4,000 for L2RW unless `steps` overrides both.
 *
 * Methods: those of {@link METHOD_NAMES} that work for any model, i.e. all but Data Dropout (whose
 * selection, `mlpDataDropout`, is for MLPs only). L2RW's meta-gradient is route (a), automatic
 * differentiation through one look-ahead step (`metaGradientAutodiff`), whose look-ahead step is the
 * current learning rate. The paper's baselines are all here: uniform, class-ratio weighting
 * (`class-balanced`), random weights (`random`, |z| / Σ|z| per batch) and class-aware hard-example
 * mining (`hard-mining`: the loop draws {@link HARD_MINING_CANDIDATES} candidates and the hardest
 * 100, split equally between the classes, are trained on; see `classAwareHardMining` for how it
 * differs from the paper's), beside this project's own (the class-blind `ohem`, which keeps the
 * hardest quarter of a batch of 100, focal, self-paced, curriculum) and class-balanced
 * resampling (`resample`).
 *
 * Seeds: seed s draws the data split (`imbalancedPair` with seed s), the network initialisation
 * (seed s) and the batch stream (seed s + 1000), the same derivation as the default protocol's
 * (the released code's own seed derivation is not reproduced).
 *
 * @module
 */
import { tensor } from '../../core/create.ts';
import { imbalancedPair, type ImbalancedSizes } from '../../data/builders.ts';
import type { BinarySet } from '../../data/mnist.ts';
import { lenet, type Sequential, type SequentialParams, sequentialLoss } from '../../nn/cnn.ts';
import { momentum } from '../../optim/sgd.ts';
import { type Batch, metaGradientAutodiff } from '../../reweight/l2rw.ts';
import { classAwareHardMining, classBalanced, curriculum, focal, l2rw, lossesOf, ohem, randomWeights, resample, selfPaced, uniform } from '../../reweight/methods.ts';
import { trainWeighted, type Weighting } from '../../reweight/train.ts';
import { DEFAULT_CONFIG, METHOD_NAMES, type MethodName, type Summary, summarize } from './reweight-common.ts';
import { POS_RATIOS } from './reweight-imbalance.ts';

/** The paper's baselines that only the paper protocol runs (random weights, class-aware hard mining) and resampling. */
export const PAPER_ONLY_METHODS = ['random', 'hard-mining', 'resample'] as const;
/** The methods the paper protocol runs: every method but Data Dropout (MLP-only), and {@link PAPER_ONLY_METHODS}. */
export const PAPER_METHODS = [
  ...(METHOD_NAMES.filter((m) => m !== 'data-dropout') as Exclude<MethodName, 'data-dropout'>[]),
  ...PAPER_ONLY_METHODS,
];
/** One of {@link PAPER_METHODS}. */
export type PaperMethod = (typeof PAPER_METHODS)[number];

/** Candidate batch size for `hard-mining` (the paper's 500); the hardest 100 of them are trained on. */
export const HARD_MINING_CANDIDATES = 500;

/** The paper's baselines that this library does not have yet (reported in the JSON): none now. */
export const PAPER_BASELINES_MISSING: readonly string[] = [];

/** Options for {@link runPaperImbalance}. */
export interface PaperImbalanceOptions {
  /** Majority shares to run. Default {@link POS_RATIOS}. */
  posRatios?: readonly number[];
  /** Number of seeds 0..k−1. Default 5. */
  seeds?: number;
  /** Methods to run. Default {@link PAPER_METHODS}. */
  methods?: readonly PaperMethod[];
  /** SGD steps for every method, overriding the paper's 8,000 (baselines) / 4,000 (L2RW). */
  steps?: number;
  /** Training set size. Default 5,000. */
  nTrain?: number;
  /** Balanced test set size. Default 500. */
  nTest?: number;
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
  /** Seconds between progress lines. Default 10. */
  progressEvery?: number;
}

/** What {@link runPaperImbalance} returns (and `unequal reweight --protocol paper` writes, with `command` and `commit`). */
export interface PaperImbalanceResult {
  /** Which experiment this is. */
  experiment: 'imbalance';
  /** Which protocol. */
  protocol: 'paper';
  /** Wall-clock seconds of the whole experiment. */
  wallSeconds: number;
  /** What ran. */
  config: {
    model: 'lenet';
    loss: 'sigmoid cross-entropy';
    optimizer: 'momentum';
    momentum: number;
    lr: number;
    /** The learning rate is multiplied by this after `lrDecayAfter` of a run's steps. */
    lrDecayFactor: number;
    lrDecayAfter: number;
    batchSize: number;
    /** Candidates drawn per step by `hard-mining` (it trains on `batchSize` of them). */
    hardMiningCandidates: number;
    /** Seed of `random`'s weight stream: the run's seed + this offset. */
    randomWeightsSeedOffset: number;
    /** Steps actually run per method. */
    stepsByMethod: Partial<Record<PaperMethod, number>>;
    /** Whether `steps` overrode the paper's schedule. */
    stepsOverridden: boolean;
    /** L2RW's meta-gradient route. */
    l2rwMetaGradient: 'autodiff';
    focalGamma: number;
    ohemFraction: number;
    selfPaced: { start: number; end: number };
    curriculum: { start: number; ramp: number };
    source: 'full MNIST';
    pixelScale: 255;
    majority: number;
    minority: number;
    ntrain: number;
    nval: number;
    ntest: number;
    posRatios: number[];
    seeds: number[];
    methods: PaperMethod[];
    /** The paper's baselines not run because the library lacks them. */
    missingBaselines: readonly string[];
    /** `imbalancedPair`'s sizes at each ratio (seed 0). */
    sizes: Record<string, ImbalancedSizes>;
  };
  /** Test error (fraction) per ratio and method, over seeds, and each run's training seconds (test evaluation excluded). */
  byPosRatio: Record<string, Partial<Record<PaperMethod, { testError: Summary; seconds: number[] }>>>;
}

/** The paper's schedule: 8,000 steps for the baselines, 4,000 for L2RW. */
export function paperSteps(method: PaperMethod, override?: number): number {
  return override ?? (method === 'l2rw' ? 4000 : 8000);
}

/** Test error of a one-logit network: the share of rows whose sign of the logit disagrees with y. */
function sequentialTestError(forward: Sequential['forward'], params: SequentialParams, set: BinarySet): number {
  let wrong = 0;
  const chunk = 250;
  for (let start = 0; start < set.n; start += chunk) {
    const m = Math.min(chunk, set.n - start);
    const logits = forward(params, tensor(set.X.subarray(start * set.d, (start + m) * set.d), [m, set.d])).toFloat64Array();
    for (let i = 0; i < m; i++) if ((logits[i]! > 0 ? 1 : 0) !== set.y[start + i]) wrong++;
  }
  return wrong / set.n;
}

const fmtTime = (s: number) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(0)} s`);

/**
 * Runs the paper protocol. Every run reports progress (steps done, elapsed, an estimate of the time
 * left from the measured per-step times of L2RW and of the baselines) through `log`.
 *
 * @example
 * ```ts
 * const r = runPaperImbalance({ posRatios: [0.9], seeds: 1, methods: ['uniform', 'l2rw'], steps: 2, nTrain: 200 });
 * r.byPosRatio['0.9'].l2rw.testError.runs.length; // 1
 * ```
 */
export function runPaperImbalance(options: PaperImbalanceOptions = {}): PaperImbalanceResult {
  const posRatios = [...(options.posRatios ?? POS_RATIOS)];
  const nSeeds = options.seeds ?? 5;
  if (!Number.isInteger(nSeeds) || nSeeds < 1) throw new Error(`runPaperImbalance: seeds must be a positive integer, got ${nSeeds}`);
  const seeds = Array.from({ length: nSeeds }, (_, i) => i);
  const methods = [...(options.methods ?? PAPER_METHODS)];
  const nTrain = options.nTrain ?? 5000;
  const nTest = options.nTest ?? 500;
  const nVal = 10;
  const log = options.log ?? (() => {});
  const every = (options.progressEvery ?? 10) * 1000;
  const lr = 1e-3;
  const batchSize = 100;
  const beta = 0.9;
  const cfg = DEFAULT_CONFIG;
  const stepsByMethod: Partial<Record<PaperMethod, number>> = {};
  for (const m of methods) stepsByMethod[m] = paperSteps(m, options.steps);

  const net = lenet();
  const loss = sequentialLoss(net);
  const forward = net.forward.bind(net);

  // Progress: measured seconds per step for L2RW and for the baselines; an unmeasured kind is
  // estimated from the other (L2RW at 3× a baseline step until measured).
  const kind = (m: PaperMethod) => (m === 'l2rw' ? 'l2rw' : 'base');
  const remaining = { l2rw: 0, base: 0 };
  for (const m of methods) remaining[kind(m)] += stepsByMethod[m]! * posRatios.length * seeds.length;
  const spent = { l2rw: { steps: 0, seconds: 0 }, base: { steps: 0, seconds: 0 } };
  const totalSteps = remaining.l2rw + remaining.base;
  const rate = (k: 'l2rw' | 'base'): number => {
    if (spent[k].steps) return spent[k].seconds / spent[k].steps;
    const other = k === 'l2rw' ? 'base' : 'l2rw';
    if (!spent[other].steps) return NaN;
    const r = spent[other].seconds / spent[other].steps;
    return k === 'l2rw' ? 3 * r : r / 3;
  };
  const t0 = performance.now();
  let lastLog = t0;

  const byPosRatio: PaperImbalanceResult['byPosRatio'] = {};
  const sizes: Record<string, ImbalancedSizes> = {};
  for (const posRatio of posRatios) {
    const key = String(posRatio);
    const errors = new Map<PaperMethod, number[]>();
    const seconds = new Map<PaperMethod, number[]>();
    for (const seed of seeds) {
      const { train, val, test, sizes: s } = imbalancedPair({ posRatio, nTrain, nVal, nTest, seed, source: 'full', scale: 255 });
      if (seed === 0) {
        sizes[key] = s;
        log(`pos_ratio ${posRatio}: train ${s.nTrain} (${s.nTrainMajority} nines, ${s.nTrainMinority} fours), val ${s.nVal} (balanced), test ${s.nTest} (balanced, test split)`);
      }
      const valBatch: Batch = { X: tensor(val.X, [val.n, val.d]), y: tensor(val.y, [val.n]) };
      let uniformParams: SequentialParams | null = null;
      const order = methods.includes('curriculum') && !methods.includes('uniform') ? (['uniform', ...methods] as PaperMethod[]) : methods;
      for (const name of order) {
        const steps = stepsByMethod[name] ?? paperSteps(name, options.steps);
        const lrAt = (step: number) => (step < steps / 2 ? lr : lr / 2);
        let weighting: Weighting<SequentialParams>;
        switch (name) {
          case 'uniform':
            weighting = uniform();
            break;
          case 'class-balanced':
            weighting = classBalanced(train.y);
            break;
          case 'focal':
            weighting = focal({ gamma: cfg.focalGamma });
            break;
          case 'ohem':
            weighting = ohem({ fraction: cfg.ohemFraction });
            break;
          case 'self-paced':
            weighting = selfPaced(cfg.selfPaced);
            break;
          case 'curriculum':
            weighting = curriculum(lossesOf(loss, uniformParams!, train.X, train.y, train.d), {
              startFraction: cfg.curriculum.start,
              rampFraction: cfg.curriculum.ramp,
            });
            break;
          case 'random':
            weighting = randomWeights({ seed: seed + 2000 });
            break;
          case 'hard-mining':
            weighting = classAwareHardMining({ keep: batchSize });
            break;
          case 'resample':
            weighting = resample(train.y);
            break;
          case 'l2rw': {
            let step = 0;
            const inner = l2rw<SequentialParams>((p, b) => metaGradientAutodiff(loss, p, b, valBatch, lrAt(step)));
            weighting = { name: inner.name, decide: (info) => ((step = info.step), inner.decide(info)) };
            break;
          }
          default:
            throw new Error(`runPaperImbalance: unknown method '${name as string}'; choose from ${PAPER_METHODS.join(', ')}`);
        }
        const k = kind(name);
        const start = performance.now();
        let stepStart = start;
        const result = trainWeighted({
          params: net.init(seed),
          loss,
          data: train,
          steps,
          batchSize: name === 'hard-mining' ? HARD_MINING_CANDIDATES : batchSize,
          optimizer: momentum({ lr: lrAt, beta }),
          weighting,
          seed: seed + 1000,
          onStep: (step) => {
            const now = performance.now();
            spent[k].steps++;
            spent[k].seconds += (now - stepStart) / 1000;
            remaining[k]--;
            stepStart = now;
            if (now - lastLog >= every) {
              lastLog = now;
              const left = remaining.l2rw * (rate('l2rw') || 0) + remaining.base * (rate('base') || 0);
              const done = spent.l2rw.steps + spent.base.steps;
              log(
                `  pos_ratio ${posRatio} seed ${seed} ${name} step ${step + 1}/${steps}; ${done}/${totalSteps} steps in all, ` +
                  `${fmtTime((now - t0) / 1000)} elapsed, about ${fmtTime(left)} left`,
              );
            }
          },
        });
        const secs = (performance.now() - start) / 1000;
        if (name === 'uniform') uniformParams = result.params;
        if (!methods.includes(name)) continue; // the uniform model trained only for curriculum
        const err = sequentialTestError(forward, result.params, test);
        (errors.get(name) ?? errors.set(name, []).get(name)!).push(err);
        (seconds.get(name) ?? seconds.set(name, []).get(name)!).push(secs);
        log(`  pos_ratio ${posRatio} seed ${seed} ${name.padEnd(14)} test error ${(100 * err).toFixed(1).padStart(5)}%  (${steps} steps, ${secs.toFixed(1)} s)`);
      }
    }
    byPosRatio[key] = {};
    for (const name of methods) byPosRatio[key]![name] = { testError: summarize(errors.get(name)!), seconds: seconds.get(name)! };
  }
  return {
    experiment: 'imbalance',
    protocol: 'paper',
    wallSeconds: (performance.now() - t0) / 1000,
    config: {
      model: 'lenet',
      loss: 'sigmoid cross-entropy',
      optimizer: 'momentum',
      momentum: beta,
      lr,
      lrDecayFactor: 0.5,
      lrDecayAfter: 0.5,
      batchSize,
      hardMiningCandidates: HARD_MINING_CANDIDATES,
      randomWeightsSeedOffset: 2000,
      stepsByMethod,
      stepsOverridden: options.steps !== undefined,
      l2rwMetaGradient: 'autodiff',
      focalGamma: cfg.focalGamma,
      ohemFraction: cfg.ohemFraction,
      selfPaced: cfg.selfPaced,
      curriculum: cfg.curriculum,
      source: 'full MNIST',
      pixelScale: 255,
      majority: 9,
      minority: 4,
      ntrain: nTrain,
      nval: nVal,
      ntest: nTest,
      posRatios,
      seeds,
      methods,
      missingBaselines: PAPER_BASELINES_MISSING,
      sizes,
    },
    byPosRatio,
  };
}

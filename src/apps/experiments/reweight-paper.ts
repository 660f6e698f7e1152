/**
 * The class-imbalance experiment of Learning to Reweight (Ren et al. 2018, Figure 3) at the
 * paper's protocol, as its released code runs it: digits 4 (minority, label 0) and 9 (majority,
 * label 1) from full MNIST's training file, 5,000 training images at pos_ratio, 10 balanced
 * validation images disjoint from them, 500 balanced test images from the test file, pixels in
 * [0, 1] (the released code multiplies the images by 255 and hands them to TensorFlow's MNIST
 * `DataSet`, whose default `dtype=float32` multiplies them by 1/255 again, so its network sees
 * [0, 1]: fed 0..255, this LeNet's σ = 0.1 initialisation gives logits in the hundreds and
 * L2RW's few-example batches kill every ReLU within a few dozen steps);
 * the LeNet of `lenet()` (truncated-normal σ 0.1 weights, zero biases), sigmoid cross-entropy, SGD
 * with momentum 0.9 at learning rate 1e-3 halved after half the steps, batches of 100; 8,000 steps
 * for the baselines and 4,000 for L2RW unless `steps` overrides both.
 *
 * Methods: every one of {@link METHOD_NAMES}, Data Dropout included: it ranks the training set with
 * the uniform model's influence over its last layer (`sequentialDataDropout`: LeNet's 100 ReLU
 * features frozen, the dense 100 → 1 layer refitted to its L2-regularised optimum, λ =
 * `dropoutL2`), drops the points whose removal is predicted to lower the validation loss, and
 * retrains LeNet from its initialisation on the rest for the same number of steps. L2RW's meta-gradient is route (a), automatic
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
 * Learning rate: the issue's (and the paper's text's) schedule, 1e-3 halved after half the steps.
 * The released code computes the halved rate but feeds it to a placeholder its optimiser does not
 * read (`MomentumOptimizer(config.lr, 0.9)`), so it trains at 1e-3 throughout.
 *
 * Sharding: the runs are (pos_ratio, seed) jobs, ratio-major; `shard` i of k runs a contiguous
 * share of them and returns a partial result (every run's error, `kind:
 * 'reweight-paper-shard'`) that {@link mergePaperShards} joins into exactly the unsharded result.
 *
 * @module
 */
import { tensor } from '../../core/create.ts';
import { imbalancedPair, type ImbalancedSizes } from '../../data/builders.ts';
import type { BinarySet } from '../../data/mnist.ts';
import { forwardInChunks, lenet, type Sequential, type SequentialParams, sequentialLoss } from '../../nn/cnn.ts';
import { momentum } from '../../optim/sgd.ts';
import { sequentialDataDropout } from '../../reweight/data-dropout.ts';
import { type Batch, metaGradientForward } from '../../reweight/l2rw.ts';
import { classAwareHardMining, classBalanced, curriculum, focal, l2rw, lossesOf, ohem, randomWeights, resample, selfPaced, subset, uniform } from '../../reweight/methods.ts';
import { trainWeighted, type Weighting } from '../../reweight/train.ts';
import { DEFAULT_CONFIG, METHOD_NAMES, type MethodName, type Summary, summarize } from './reweight-common.ts';
import { POS_RATIOS } from './reweight-imbalance.ts';
import { shareOf } from '../parallel/shard.ts';

/** The paper's baselines that only the paper protocol runs (random weights, class-aware hard mining) and resampling. */
export const PAPER_ONLY_METHODS = ['random', 'hard-mining', 'resample'] as const;
/** The methods the paper protocol runs: every method of the default protocol, and {@link PAPER_ONLY_METHODS}. */
export const PAPER_METHODS: readonly (MethodName | (typeof PAPER_ONLY_METHODS)[number])[] = [...METHOD_NAMES, ...PAPER_ONLY_METHODS];
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
  /** Run only share `index` of `count` of the (pos_ratio, seed) jobs. Default: all (0 of 1). */
  shard?: { index: number; count: number };
}

/** One training run: a method at a pos_ratio and seed. */
export interface PaperRun {
  posRatio: number;
  seed: number;
  method: PaperMethod;
  /** Test error (fraction). */
  testError: number;
  /** Training seconds (test evaluation excluded); Data Dropout's include the uniform model it ranks with and the selection. */
  seconds: number;
  /** Data Dropout only: how many training points it dropped. */
  dropped?: number;
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
    /** L2RW's meta-gradient route (`metaGradientForward`). */
    l2rwMetaGradient: 'forward';
    focalGamma: number;
    ohemFraction: number;
    /** λ of Data Dropout's last-layer refit (present when Data Dropout ran). */
    dropoutL2?: number;
    selfPaced: { start: number; end: number };
    curriculum: { start: number; ramp: number };
    source: 'full MNIST';
    /** Pixel values the network sees: [0, 1] (see the module comment for why not 0..255). */
    pixelScale: 1;
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
  byPosRatio: Record<string, Partial<Record<PaperMethod, { testError: Summary; seconds: number[]; dropped?: number[] }>>>;
  /** Every run, ratio-major then seed then method order. */
  runs: PaperRun[];
  /** Which share of the (pos_ratio, seed) jobs ran: `[start, end)`, share `index` of `count` (0 of 1 for a whole run). */
  shard?: { index: number; count: number; start: number; end: number };
}

/** A shard's partial result: the runs of its jobs, and which jobs those are. */
export interface PaperShard extends Omit<PaperImbalanceResult, 'byPosRatio' | 'shard'> {
  kind: 'reweight-paper-shard';
  /** The command line that wrote the shard. */
  command: string;
  /** `git rev-parse HEAD` when it ran, or null outside a checkout. */
  commit: string | null;
  /** Share `index` of `count`: the jobs `[start, end)` of the ratio-major (pos_ratio, seed) list. */
  shard: { index: number; count: number; start: number; end: number };
}

/** The paper's schedule: 8,000 steps for the baselines, 4,000 for L2RW. */
export function paperSteps(method: PaperMethod, override?: number): number {
  return override ?? (method === 'l2rw' ? 4000 : 8000);
}

/** What {@link paperWeighting} needs from the run it builds a method for. */
interface WeightingContext {
  train: BinarySet;
  seed: number;
  batchSize: number;
  valBatch: Batch;
  loss: ReturnType<typeof sequentialLoss>;
  lrAt: (step: number) => number;
  /** The uniform model of this (ratio, seed), which curriculum ranks the training set with. */
  uniformParams: SequentialParams | null;
  /** Data Dropout's kept rows (its retraining is uniform on them). */
  keep: readonly number[] | null;
}

/** The weighting of one paper-protocol method (see the module comment for each). */
function paperWeighting(name: PaperMethod, c: WeightingContext): Weighting<SequentialParams> {
  const cfg = DEFAULT_CONFIG;
  switch (name) {
    case 'uniform':
      return uniform();
    case 'class-balanced':
      return classBalanced(c.train.y);
    case 'focal':
      return focal({ gamma: cfg.focalGamma });
    case 'ohem':
      return ohem({ fraction: cfg.ohemFraction });
    case 'self-paced':
      return selfPaced(cfg.selfPaced);
    case 'curriculum':
      return curriculum(lossesOf(c.loss, c.uniformParams!, c.train.X, c.train.y, c.train.d), {
        startFraction: cfg.curriculum.start,
        rampFraction: cfg.curriculum.ramp,
      });
    case 'random':
      return randomWeights({ seed: c.seed + RANDOM_WEIGHTS_SEED_OFFSET });
    case 'hard-mining':
      return classAwareHardMining({ keep: c.batchSize });
    case 'resample':
      return resample(c.train.y);
    case 'data-dropout':
      return subset(c.keep!, 'data-dropout');
    case 'l2rw': {
      // The look-ahead step is the current learning rate, so the meta-gradient needs the step.
      let step = 0;
      const inner = l2rw<SequentialParams>((p, b) => metaGradientForward(c.loss, p, b, c.valBatch, c.lrAt(step)));
      return { name: inner.name, decide: (info) => ((step = info.step), inner.decide(info)) };
    }
    default:
      throw new Error(`runPaperImbalance: unknown method '${name as string}'; choose from ${PAPER_METHODS.join(', ')}`);
  }
}

/** Seed of `random`'s weight stream: the run's seed + this. */
const RANDOM_WEIGHTS_SEED_OFFSET = 2000;

/**
 * The per-ratio, per-method summaries (mean ± std over seeds, in seed order) of a list of runs.
 *
 * @example
 * ```ts
 * const runs = [0, 1].map((seed) => ({ posRatio: 0.9, seed, method: 'uniform' as const, testError: 0.1 * (seed + 1), seconds: 1 }));
 * summarizeRuns(runs, [0.9], ['uniform'])['0.9'].uniform.testError.mean; // 0.15
 * ```
 */
export function summarizeRuns(runs: readonly PaperRun[], posRatios: readonly number[], methods: readonly PaperMethod[]): PaperImbalanceResult['byPosRatio'] {
  const byPosRatio: PaperImbalanceResult['byPosRatio'] = {};
  for (const r of posRatios) {
    const row: Partial<Record<PaperMethod, { testError: Summary; seconds: number[]; dropped?: number[] }>> = {};
    for (const m of methods) {
      const mine = runs.filter((x) => x.posRatio === r && x.method === m).sort((x, y) => x.seed - y.seed);
      const dropped = mine.every((x) => x.dropped !== undefined) ? { dropped: mine.map((x) => x.dropped!) } : {};
      if (mine.length) row[m] = { testError: summarize(mine.map((x) => x.testError)), seconds: mine.map((x) => x.seconds), ...dropped };
    }
    byPosRatio[String(r)] = row;
  }
  return byPosRatio;
}

/**
 * Joins the partial results of a sharded paper run (`unequal reweight --protocol paper --shard i/k`)
 * into the result one unsharded run gives, after checking that they fit: the same configuration,
 * every shard of the same k exactly once (any order), and so every (pos_ratio, seed) job once.
 * The wall time is the sum of the shards'.
 *
 * @example
 * ```ts
 * const a = { ...shardResult0 }, b = { ...shardResult1 };  // from --shard 0/2 and 1/2
 * mergePaperShards([b, a], ['b.json', 'a.json']).byPosRatio; // as one unsharded run
 * ```
 */
export function mergePaperShards(parts: readonly PaperShard[], files: readonly string[]): PaperImbalanceResult {
  const name = (k: number) => files[k] ?? `input ${k}`;
  parts.forEach((p, k) => {
    if (p?.kind !== 'reweight-paper-shard') throw new Error(`${name(k)} is not a shard of unequal reweight --protocol paper (kind '${(p as { kind?: string })?.kind}')`);
  });
  const first = parts[0]!;
  // A shard records the data sizes of the ratios it ran only, so sizes are compared where both have them.
  const { sizes: _s, ...firstConfig } = first.config;
  const configText = JSON.stringify(firstConfig);
  const count = first.shard.count;
  const seen = new Map<number, number>();
  parts.forEach((p, k) => {
    const { sizes, ...config } = p.config;
    const sizesDiffer = Object.entries(sizes).some(([r, v]) => first.config.sizes[r] && JSON.stringify(first.config.sizes[r]) !== JSON.stringify(v));
    if (JSON.stringify(config) !== configText || sizesDiffer) throw new Error(`${name(k)} was run with another configuration than ${name(0)} (shards must differ only in --shard)`);
    if (p.shard.count !== count) throw new Error(`${name(k)} is shard ${p.shard.index}/${p.shard.count}, but ${name(0)} is one of ${count}`);
    if (seen.has(p.shard.index)) throw new Error(`shard ${p.shard.index}/${count} is given twice: ${name(seen.get(p.shard.index)!)} and ${name(k)}`);
    seen.set(p.shard.index, k);
  });
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
  if (missing.length) throw new Error(`shards ${missing.map((i) => `${i}/${count}`).join(', ')} are missing`);
  const { posRatios, seeds, methods } = first.config;
  const jobIndex = (r: PaperRun) => posRatios.indexOf(r.posRatio) * seeds.length + seeds.indexOf(r.seed);
  const ordered = [...parts].sort((x, y) => x.shard.index - y.shard.index);
  const runs: PaperRun[] = [];
  for (const p of ordered) {
    for (const r of p.runs) {
      const j = jobIndex(r);
      if (!(j >= p.shard.start && j < p.shard.end)) throw new Error(`shard ${p.shard.index}/${count} holds a run (pos_ratio ${r.posRatio}, seed ${r.seed}) outside its jobs [${p.shard.start}, ${p.shard.end})`);
      runs.push(r);
    }
  }
  const sizes: Record<string, ImbalancedSizes> = {};
  for (const r of posRatios) for (const p of ordered) if (p.config.sizes[String(r)]) sizes[String(r)] ??= p.config.sizes[String(r)]!;
  return {
    experiment: 'imbalance',
    protocol: 'paper',
    wallSeconds: parts.reduce((t, p) => t + p.wallSeconds, 0),
    config: { ...first.config, sizes },
    byPosRatio: summarizeRuns(runs, posRatios, methods),
    runs,
  };
}

/**
 * Joins finished paper-protocol results that differ only in their methods (e.g. L2RW and uniform
 * run in one session, the other baselines in another): the same configuration otherwise, no method
 * in two inputs. The output is the result one run of all the methods would give, up to the order
 * of `runs` (input order, then each input's) and the wall time (the inputs' sum).
 *
 * @example
 * ```ts
 * combinePaperResults([l2rwAndUniform, baselines], ['a.json', 'b.json']).config.methods; // ['uniform', 'l2rw', 'random', …]
 * ```
 */
export function combinePaperResults(parts: readonly PaperImbalanceResult[], files: readonly string[]): PaperImbalanceResult {
  const name = (k: number) => files[k] ?? `input ${k}`;
  parts.forEach((p, k) => {
    if (p?.protocol !== 'paper' || !p.byPosRatio || (p as { kind?: string }).kind) throw new Error(`${name(k)} is not a finished result of unequal reweight --protocol paper (merge shards first)`);
  });
  // Data Dropout's λ is recorded only by runs that include it.
  const rest = (p: PaperImbalanceResult) => {
    const { methods: _m, stepsByMethod: _s, sizes: _z, dropoutL2: _d, ...others } = p.config;
    return JSON.stringify(others);
  };
  const first = parts[0]!;
  const methods: PaperMethod[] = [];
  const stepsByMethod: Partial<Record<PaperMethod, number>> = {};
  parts.forEach((p, k) => {
    if (rest(p) !== rest(first)) throw new Error(`${name(k)} was run with another configuration than ${name(0)} (only --methods may differ)`);
    for (const m of p.config.methods) {
      if (methods.includes(m)) throw new Error(`method ${m} is in two inputs (the second: ${name(k)})`);
      methods.push(m);
      stepsByMethod[m] = p.config.stepsByMethod[m]!;
    }
  });
  const runs = parts.flatMap((p) => p.runs);
  const dropoutL2 = parts.find((p) => p.config.dropoutL2 !== undefined)?.config.dropoutL2;
  return {
    experiment: 'imbalance',
    protocol: 'paper',
    wallSeconds: parts.reduce((t, p) => t + p.wallSeconds, 0),
    config: { ...first.config, methods, stepsByMethod, ...(dropoutL2 !== undefined ? { dropoutL2 } : {}) },
    byPosRatio: summarizeRuns(runs, first.config.posRatios, methods),
    runs,
  };
}

/** Test error of a one-logit network: the share of rows whose sign of the logit disagrees with y. */
function sequentialTestError(forward: Sequential['forward'], params: SequentialParams, set: BinarySet): number {
  const logits = forwardInChunks(forward, params, set.X, set.n);
  let wrong = 0;
  for (let i = 0; i < set.n; i++) if ((logits[i]! > 0 ? 1 : 0) !== set.y[i]) wrong++;
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
  const spent = { l2rw: { steps: 0, seconds: 0 }, base: { steps: 0, seconds: 0 } };
  const rate = (k: 'l2rw' | 'base'): number => {
    if (spent[k].steps) return spent[k].seconds / spent[k].steps;
    const other = k === 'l2rw' ? 'base' : 'l2rw';
    if (!spent[other].steps) return NaN;
    const r = spent[other].seconds / spent[other].steps;
    return k === 'l2rw' ? 3 * r : r / 3;
  };
  const t0 = performance.now();
  let lastLog = t0;

  const jobs = posRatios.flatMap((posRatio) => seeds.map((seed) => ({ posRatio, seed })));
  const shard = options.shard ?? { index: 0, count: 1 };
  if (!(Number.isInteger(shard.count) && shard.count >= 1 && Number.isInteger(shard.index) && shard.index >= 0 && shard.index < shard.count)) {
    throw new Error(`runPaperImbalance: shard must be i of k with 0 ≤ i < k, got ${shard.index} of ${shard.count}`);
  }
  const [jobStart, jobEnd] = shareOf(jobs.length, shard.index, shard.count);
  // Progress counts only this shard's steps.
  remaining.l2rw = remaining.base = 0;
  // Curriculum and Data Dropout rank the data with a uniform model, trained first when uniform is not a method itself.
  const needsUniform = methods.includes('curriculum') || methods.includes('data-dropout');
  const order = needsUniform && !methods.includes('uniform') ? (['uniform', ...methods] as PaperMethod[]) : methods;
  for (const m of order) remaining[kind(m)] += (stepsByMethod[m] ?? paperSteps(m, options.steps)) * (jobEnd - jobStart);
  const totalSteps = remaining.l2rw + remaining.base;

  const runs: PaperRun[] = [];
  const sizes: Record<string, ImbalancedSizes> = {};
  for (const { posRatio, seed } of jobs.slice(jobStart, jobEnd)) {
    const key = String(posRatio);
    const { train, val, test, sizes: s } = imbalancedPair({ posRatio, nTrain, nVal, nTest, seed, source: 'full', scale: 1 });
    if (!sizes[key]) {
      sizes[key] = s;
      log(`pos_ratio ${posRatio}: train ${s.nTrain} (${s.nTrainMajority} nines, ${s.nTrainMinority} fours), val ${s.nVal} (balanced), test ${s.nTest} (balanced, test split)`);
    }
    const valBatch: Batch = { X: tensor(val.X, [val.n, val.d]), y: tensor(val.y, [val.n]) };
    let uniformParams: SequentialParams | null = null;
    let uniformSeconds = 0;
    for (const name of order) {
      const steps = stepsByMethod[name] ?? paperSteps(name, options.steps);
      const lrAt = (step: number) => (step < steps / 2 ? lr : lr / 2);
      let keep: number[] | null = null;
      let extraSeconds = 0;
      if (name === 'data-dropout') {
        const t = performance.now();
        const sel = sequentialDataDropout(net, uniformParams!, { X: tensor(train.X, [train.n, train.d]), y: tensor(train.y, [train.n]) }, valBatch, { l2: cfg.dropoutL2 });
        keep = sel.keep;
        extraSeconds = uniformSeconds + (performance.now() - t) / 1000;
        log(`  pos_ratio ${posRatio} seed ${seed} data-dropout   drops ${sel.drop.length} of ${train.n} training points (predicted validation-loss change ${sel.predictedChange.toFixed(3)})`);
        if (keep.length === 0) throw new Error(`data-dropout at pos_ratio ${posRatio}, seed ${seed}: every training point was dropped`);
      }
      const weighting = paperWeighting(name, { train, seed, batchSize, valBatch, loss, lrAt, uniformParams, keep });
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
      const secs = (performance.now() - start) / 1000 + extraSeconds;
      if (name === 'uniform') [uniformParams, uniformSeconds] = [result.params, secs];
      if (!methods.includes(name)) continue; // the uniform model trained only for curriculum and Data Dropout
      const err = sequentialTestError(forward, result.params, test);
      runs.push({ posRatio, seed, method: name, testError: err, seconds: secs, ...(keep ? { dropped: train.n - keep.length } : {}) });
      log(`  pos_ratio ${posRatio} seed ${seed} ${name.padEnd(14)} test error ${(100 * err).toFixed(1).padStart(5)}%  (${steps} steps, ${secs.toFixed(1)} s)`);
    }
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
      randomWeightsSeedOffset: RANDOM_WEIGHTS_SEED_OFFSET,
      stepsByMethod,
      stepsOverridden: options.steps !== undefined,
      l2rwMetaGradient: 'forward',
      focalGamma: cfg.focalGamma,
      ohemFraction: cfg.ohemFraction,
      ...(methods.includes('data-dropout') ? { dropoutL2: cfg.dropoutL2 } : {}),
      selfPaced: cfg.selfPaced,
      curriculum: cfg.curriculum,
      source: 'full MNIST',
      pixelScale: 1,
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
    byPosRatio: summarizeRuns(runs, posRatios, methods),
    runs,
    shard: { ...shard, start: jobStart, end: jobEnd },
  };
}

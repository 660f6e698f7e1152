/**
 * The label-noise experiment: 4 vs 9 on the package's real digits, 40% of the training labels
 * flipped uniformly at random, a small clean balanced validation set, a clean held-out test set,
 * and the test error of every weighting method. It also reports how L2RW weighted the clean and
 * the flipped samples, which is the mechanism: a flipped sample's gradient points against the
 * clean validation gradient, so its meta-gradient is positive and its weight is clipped to 0.
 *
 * @module
 */
import { noisyPair } from '../../data/builders.ts';
import {
  type ExperimentBaseOptions,
  experimentSetup,
  type MethodName,
  type ReweightConfig,
  runMethods,
  type Summary,
  summarize,
} from './reweight-common.ts';
import type { StepRecord } from '../../reweight/train.ts';

/** Options for {@link runNoise}: the shared experiment options and these. */
export interface NoiseOptions extends ExperimentBaseOptions {
  /** Share of training labels flipped. Default 0.4. */
  noise?: number;
  /** Training set size. Default 800. */
  nTrain?: number;
  /** Clean balanced validation set size. Default 20. */
  nVal?: number;
}

/** A histogram over [0, max]: `counts[k]` samples fell in [edges[k], edges[k+1]). */
export interface Histogram {
  /** The bin edges, bins + 1 of them, from 0 to max. */
  edges: number[];
  /** Samples per bin. */
  counts: number[];
}

/** What {@link runNoise} returns. */
export interface NoiseResult {
  /** Which experiment this is. */
  experiment: 'noise';
  /** The settings used: the model/optimiser/method config plus the experiment's own. */
  config: ReweightConfig & {
    /** Whether the quick setting was used. */
    quick: boolean;
    /** The seeds run. */
    seeds: number[];
    /** Share of training labels flipped. */
    noise: number;
    /** The two digits, labels 0 and 1. */
    digits: [number, number];
    /** Training set size. */
    nTrain: number;
    /** Clean balanced validation set size. */
    nVal: number;
    /** Clean test set size. */
    nTest: number;
    /** Training labels flipped (in the last seed's problem; the count is the same for every seed). */
    flipped: number;
  };
  /** Each method's results. */
  methods: Partial<
    Record<
      MethodName,
      {
        /** Test error over seeds. */
        testError: Summary;
        /** Data Dropout: points dropped per seed. */
        dropped?: number[];
      }
    >
  >;
  /**
   * L2RW (seed 0): each training sample's mean weight over the steps it appeared in, times the
   * batch size (so 1 is the uniform weight), histogrammed separately for clean and flipped samples.
   */
  l2rwWeights?: {
    /** The weights of samples whose label is correct. */
    clean: Histogram;
    /** The weights of samples whose label was flipped (same bins as `clean`). */
    flipped: Histogram;
    /** Mean weight of the clean samples. */
    meanClean: number;
    /** Mean weight of the flipped samples. */
    meanFlipped: number;
  };
  /** Data Dropout (per seed): the share of dropped points whose label was flipped. */
  dataDropoutFlippedShare?: number[];
  /** Wall-clock time of the whole experiment. */
  seconds: number;
}

/** Per-sample mean weight × batch size over the steps each sample appeared in. */
function meanWeights(history: StepRecord[], n: number): Float64Array {
  const total = new Float64Array(n);
  const count = new Float64Array(n);
  for (const h of history) {
    h.indices.forEach((r, k) => {
      total[r] += h.weights[k]! * h.indices.length;
      count[r]++;
    });
  }
  return total.map((t, i) => (count[i]! > 0 ? t / count[i]! : NaN));
}

/**
 * Counts of values in equal bins over [0, max(values)] (the last bin includes its right edge).
 *
 * @example
 * ```ts
 * histogram([0, 0.5, 1, 2], 2); // { edges: [0, 1, 2], counts: [2, 2] }
 * ```
 */
export function histogram(values: ArrayLike<number>, bins: number, max?: number): Histogram {
  const finite = Array.from(values).filter((v) => Number.isFinite(v));
  const hi = max ?? Math.max(1e-12, ...finite);
  const edges = Array.from({ length: bins + 1 }, (_, k) => (hi * k) / bins);
  const counts = new Array<number>(bins).fill(0);
  for (const v of finite) counts[Math.min(bins - 1, Math.max(0, Math.floor((v / hi) * bins)))]!++;
  return { edges, counts };
}

/**
 * Runs the label-noise experiment.
 *
 * @example
 * ```ts
 * const result = runNoise({ quick: true, seeds: 1, methods: ['uniform', 'l2rw'] });
 * result.l2rwWeights.meanFlipped < result.l2rwWeights.meanClean; // true: flipped samples get less weight
 * ```
 */
export function runNoise(options: NoiseOptions = {}): NoiseResult {
  const { quick, seeds, config, methods, log } = experimentSetup('runNoise', options);
  const noise = options.noise ?? 0.4;
  const nTrain = options.nTrain ?? 800;
  const nVal = options.nVal ?? 20;
  const t0 = performance.now();
  const errors = new Map<MethodName, number[]>(methods.map((m) => [m, []]));
  const dropped: number[] = [];
  const flippedShare: number[] = [];
  let weightsOut: NoiseResult['l2rwWeights'];
  let nTest = 0;
  let nFlipped = 0;
  for (const seed of seeds) {
    const problem = noisyPair({ seed, nTrain, nVal, noise });
    nTest = problem.test.n;
    nFlipped = problem.flipped.filter(Boolean).length;
    if (seed === 0) {
      log(`label noise: 4 vs 9, train ${nTrain} (${nFlipped} labels flipped), clean val ${nVal}, clean test ${nTest}; ${config.steps} steps of batch ${config.batchSize}`);
    }
    const runs = runMethods(problem, { config, seed, methods, log, record: seed === 0 ? ['l2rw'] : [] });
    for (const name of methods) errors.get(name)!.push(runs[name]!.testError);
    const dd = runs['data-dropout'];
    if (dd) dropped.push(dd.dropped ?? 0);
    const l2 = runs.l2rw;
    if (seed === 0 && l2?.history) {
      const w = meanWeights(l2.history, nTrain);
      const clean = Array.from(w).filter((_, i) => !problem.flipped[i]);
      const flipped = Array.from(w).filter((_, i) => problem.flipped[i]);
      const max = Math.max(...Array.from(w).filter(Number.isFinite));
      const mean = (xs: number[]) => {
        const f = xs.filter(Number.isFinite);
        return f.reduce((a, b) => a + b, 0) / f.length;
      };
      weightsOut = { clean: histogram(clean, 20, max), flipped: histogram(flipped, 20, max), meanClean: mean(clean), meanFlipped: mean(flipped) };
      log(`  l2rw mean weight (uniform = 1): clean ${weightsOut.meanClean.toFixed(2)}, flipped ${weightsOut.meanFlipped.toFixed(2)}`);
    }
    if (dd?.droppedRows?.length) {
      flippedShare.push(dd.droppedRows.filter((r) => problem.flipped[r]).length / dd.droppedRows.length);
      log(`  data-dropout: ${(100 * flippedShare.at(-1)!).toFixed(0)}% of the dropped points had flipped labels (${(100 * noise).toFixed(0)}% of all)`);
    }
  }
  const out: NoiseResult['methods'] = {};
  for (const name of methods) out[name] = { testError: summarize(errors.get(name)!), ...(name === 'data-dropout' ? { dropped } : {}) };
  return {
    experiment: 'noise',
    config: { ...config, quick, seeds, noise, digits: [4, 9], nTrain, nVal, nTest, flipped: nFlipped },
    methods: out,
    ...(weightsOut ? { l2rwWeights: weightsOut } : {}),
    ...(flippedShare.length ? { dataDropoutFlippedShare: flippedShare } : {}),
    seconds: (performance.now() - t0) / 1000,
  };
}

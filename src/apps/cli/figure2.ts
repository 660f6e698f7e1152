/**
 * `unequal figure2`: Koh & Liang (2017) Figure 2 at the paper's scale — the 10-class MNIST softmax
 * regression panels (exact and stochastic LiSSA against exact leave-one-out retraining) and the
 * small-CNN panel (damped influence against the paper's retraining with extra steps).
 *
 * @module
 */
import { type Command, finiteJson, gitCommit, lineLogger, Outputs } from './command.ts';
import { parseFlags } from './flags.ts';

const help = `unequal figure2: Koh & Liang (2017) Figure 2 at the paper's scale (10-class MNIST)

Usage: unequal figure2 --panel mnist10 [--ntrain n] [--points k] [--random-points k] [--batch b]
                       [--hessian-drop t] [--cache dir] [--out file.json]
       unequal figure2 --panel cnn [--ntrain n] [--channels c] [--train-steps t] [--retrain-steps t]
                       [--points k] [--out file.json]

Panels:
  mnist10  left and middle: softmax regression without intercept on the 55,000 training images of
           TensorFlow's split (training file minus its first 5,000), λ = 0.01 (the paper code's
           weight_decay); test image 8 (the paper script's test_idx) and one drawn by Rng(0); the
           --points largest |predicted| of each retrained exactly by warm-started Newton (Woodbury-
           downdated Hessian) to ‖∇R₋ᵢ‖ ≤ 1e-12; predicted by CG on exact HVPs (1e-13) and by
           stochastic LiSSA (scale 25, depth 5000, damping 0, batch 1, 10 repeats). About an hour
           on a loaded 2-core machine: the Hessian (7840², 470 MiB), its inverse, the retraining.
  cnn      right: a small tanh CNN on --ntrain images, trained by L-BFGS for a fixed number of
           iterations (not to an exact optimum), damped influence (δ = 0.01, CG), and retraining
           from the trained parameters without each of the --points most influential points for
           --retrain-steps extra L-BFGS iterations (the paper's procedure, with its optimiser
           swapped for one that fits a CPU budget).

Options:
  --panel <p>          mnist10 or cnn (required)
  --ntrain <n>         training images (mnist10: first n of the 55,000, default all; cnn: a
                       seeded random subset, default 300)
  --points <k>         retrained points (mnist10 default 500 per test point; cnn default 100)
  --random-points <k>  mnist10: retrained points for the random test image (default --points)
  --batch <b>          mnist10: points retrained together (default 50)
  --hessian-drop <t>   mnist10: leave |Sᵢ[k,k′]| ≤ t out of the Newton matrix (default 0; it only
                       preconditions, stopping rules use exact gradients)
  --cache <dir>        mnist10: keep θ̂ and H⁻¹ there and reuse them (≈ 0.5 GB)
  --channels <c>       cnn: convolution channels (default 4)
  --train-steps <t>    cnn: L-BFGS iterations of training (default 300)
  --retrain-steps <t>  cnn: extra L-BFGS iterations per retraining (default 40)
  --out <file>         write the JSON there (default: stdout)
  --quiet              no progress on stderr

Writes the result with "command", "commit" (git HEAD at run time) and "wallSeconds". Progress and
an estimated time left go to stderr.

Example:
  unequal figure2 --panel mnist10 --ntrain 2000 --points 20 --out fig2-small.json`;

/** The `figure2` subcommand. */
export const command: Command = {
  name: 'figure2',
  summary: "Koh & Liang's Figure 2 at the paper's scale (10-class MNIST, exact LOO; CNN panel)",
  help,
  async run(argv, io) {
    const flags = parseFlags('unequal figure2', argv, {
      panel: { type: 'string' },
      ntrain: { type: 'string' },
      points: { type: 'string' },
      'random-points': { type: 'string' },
      batch: { type: 'string' },
      'hessian-drop': { type: 'string' },
      cache: { type: 'string' },
      channels: { type: 'string' },
      'train-steps': { type: 'string' },
      'retrain-steps': { type: 'string' },
      out: { type: 'string' },
      quiet: { type: 'boolean' },
    });
    const panel = flags.choice('panel', ['mnist10', 'cnn'] as const);
    const out = flags.string('out');
    const log = lineLogger(io, flags.boolean('quiet'));
    const outputs = new Outputs(log);
    if (out !== undefined) outputs.add('out', out);
    const commit = gitCommit();
    const t0 = performance.now();
    let body: object;
    if (panel === 'mnist10') {
      const { runMnist10 } = await import('../experiments/koh-liang-mnist10.ts');
      body = runMnist10({
        nTrain: flags.optionalInteger('ntrain', { min: 10, max: 55000 }),
        points: flags.optionalInteger('points', { min: 2 }),
        randomPoints: flags.optionalInteger('random-points', { min: 2 }),
        batch: flags.optionalInteger('batch', { min: 1 }),
        hessianDropBelow: flags.optionalNumber('hessian-drop', { min: 0 }),
        cacheDir: flags.string('cache'),
        log,
      });
    } else {
      const { runCnnFigure2 } = await import('../experiments/koh-liang-cnn.ts');
      body = runCnnFigure2({
        nTrain: flags.optionalInteger('ntrain', { min: 10, max: 55000 }),
        points: flags.optionalInteger('points', { min: 2 }),
        channels: flags.optionalInteger('channels', { min: 1 }),
        trainSteps: flags.optionalInteger('train-steps', { min: 1 }),
        retrainSteps: flags.optionalInteger('retrain-steps', { min: 1 }),
        log,
      });
    }
    const wallSeconds = (performance.now() - t0) / 1000;
    const json = { command: ['unequal', 'figure2', ...argv].join(' '), commit, panel, wallSeconds, ...body };
    const text = finiteJson(json, () => 'a number in the result is not finite');
    outputs.commitResult(io, text);
    return 0;
  },
};

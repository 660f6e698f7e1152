/**
 * `unequal lds`: the linear datamodeling score (and optionally the LOO correlation) of several
 * attribution methods on a CSV linear problem, against exact retraining on random half subsets.
 *
 * @module
 */
import { ATTRIBUTE_METHODS, type AttributeMethod } from './attribute.ts';
import type { Command } from './command.ts';
import { CliFailure, UsageError } from './errors.ts';
import { parseFlags } from './flags.ts';
import { LINEAR_PROBLEM_FLAGS, LINEAR_PROBLEM_HELP, LINEAR_PROBLEM_REFUSALS, loadLinearProblem, trainingFailure, trainLinearProblem, writeLinearResult } from './linear-problem.ts';
import { fromFloat64 } from '../../core/create.ts';
import { Influence } from '../../influence/influence.ts';
import { retrainOnSubsets } from '../../influence/lds.ts';
import { exactLoo } from '../../influence/loo.ts';
import { lds, looCorrelation } from '../../influence/metrics.ts';
import { influenceScores, type ScoreMatrix, type TestSet } from '../../influence/scores.ts';
import { gradCos, gradDot } from '../../influence/similarity.ts';
import { trak } from '../../influence/trak.ts';
import { linearModel } from '../../nn/linear-models.ts';

const help = `unequal lds: linear datamodeling score of attribution methods (a CSV linear problem, or dattri's MNIST-10)

Usage: unequal lds --train <csv> --test <csv> --model logreg|linreg|softmax --l2 <λ>
                   [--subsets m] [--tests k] [--methods a,b,…] [--loo] [--seed s] [--out file.json]

Trains the model to the optimum, scores the first k test points with each method (as
\`unequal attribute\`), retrains exactly (Newton, warm-started) on m subsets of ⌊n/2⌉ training rows
drawn by the seed, each as its own dataset ((1/|S|) Σ_{i∈S} ℓᵢ + (λ/2)‖w‖², dattri's protocol; one
deterministic retraining per subset, so no averaging over seeds), and writes JSON
  { "command", "wallSeconds", "subsets", "tests", "seed",
    "<model>": { "methods": { "<name>": { "lds", "loo"?, "seconds" } } } }
lds: per test point, Spearman's correlation over subsets between the summed scores of a subset's
rows and −(the retrained model's loss on the test point), averaged over test points (a point with
a constant sample is left out). loo (with --loo): per test point, Pearson's correlation between
the scores and the exact leave-one-out change in its loss (n retrainings), averaged.

${LINEAR_PROBLEM_HELP}
LDS options:
  --subsets <m>       retrained subsets (default 100)
  --tests <k>         score the first k rows of --test (default all)
  --methods <list>    comma-separated, from ${ATTRIBUTE_METHODS.join(', ')}
                      (default all; trak-1 is skipped for linreg)
  --loo               also the LOO correlation
  --seed <s>          seed of the subset draws and the TRAK projection (default 0)

${LINEAR_PROBLEM_REFUSALS}

MNIST-10 mode (no --train): dattri's benchmark (TRAIS-Lab/dattri), 5,000 training and 500 test images
of full MNIST (the first ones of each file, normalised as dattri does)
  unequal lds --model logreg|mlp [--subsets m] [--test k] [--methods a,b,…] [--loo L] [--seed s]
              [--threads n] [--shard i/k] [--ensemble M] [--trak-k k] [--dampings a,b,…]
              [--exact-dampings a,b,…] [--epochs E] [--train-size n] [--out f.json]
              [--fit sgd|optimum] [--l2 λ] [--grad-tol t] [--fit-batch B] [--loo-order shuffled|file]
Models and training as dattri's benchmark: logreg = multinomial logistic regression (7,850
parameters), SGD lr 0.01, batch 32, 20 epochs; mlp = 784→128→10 ReLU (101,770 parameters), SGD
momentum 0.9, lr 0.01, batch 64, 50 epochs; no weight decay. Subset j (50% of the rows) is drawn by
seed + j and trained with seed + j, once (dattri's one run per subset: no averaging over seeds); the
output is the retrained model's loss on each test point (LDS correlates the summed scores with −loss).
Writes { "command", "commit", "wallSeconds", "config",
         "<model>": { "methods": { "<name>": { "lds", "loo"?, "seconds", "ensemble"?, "config",
                                                "search"?, "cost" } } } }
  --subsets <m>           retrained subsets (default 100)
  --test <k>              score the first k test images (default 500; --tests is the same flag)
  --methods <list>        exact (logreg only), cg, lissa, arnoldi, grad-dot, grad-cos, tracin, kfac,
                          ekfac, trak-1, trak-10, trak-50, rps (default all that apply)
  --loo <L>               also the LOO correlation over L random training rows (default 0)
  --loo-order <o>         shuffled (default: each removal reshuffles every epoch, as a fresh run would)
                          or file (dattri's retrain_loo: the remaining rows in file order every epoch,
                          the same seed, so removals differ only by the row; SGD protocol only)
  --threads <n>           retraining threads (default one per core); results are bit-identical for any n
  --shard <i/k>           run only share i of k of the subsets and LOO rows and write a partial result
                          for \`unequal merge\` (every shard scores every method: scoring is repeated)
  --ensemble <M>          at most M TRAK models (trained on random halves); trak-N with N > M is
                          dropped and recorded in config.dropped (default 50)
  --trak-k <k>            TRAK projection dimension (default 512, as dattri)
  --dampings <list>       δ grid of cg, arnoldi, kfac, ekfac (default dattri's 1,0.1,0.01,0.005,0.001,1e-4,1e-5)
  --exact-dampings <list> δ of exact, one Cholesky factorisation each (default 0.001)
  --epochs <E>, --train-size <n>   shorten the protocol (tests, quick looks)
  --fit <sgd|optimum>     sgd (default): dattri's training above. optimum (logreg only): the model
                          and every retraining at the exact minimiser of Σᵢ cᵢℓᵢ + (λ/2)‖θ‖² (all
                          7,850 parameters; cᵢ = 1/n, 1/|S| on a subset, 1/n without the LOO row),
                          by Newton–CG preconditioned with the full model's dense H⁻¹, warm-started
                          at θ̂; exact then inverts H at δ = λ (--exact-dampings defaults to λ, and λ
                          joins the δ grid); tracin is dropped (no SGD trajectory); --threads sets
                          the matrix-product threads of this in-process run
  --l2 <λ>                the optimum's L2 penalty (default 0.01)
  --grad-tol <t>          every fit stops at ‖∇R‖ ≤ t (default 1e-11; ‖θ − θ*‖ ≤ t/λ)
  --fit-batch <B>         fits solved together, one pass over the data per step (default 50)
Methods with a grid report the configuration with the best LDS (dattri reports its best) and the
whole search. Progress with the time left goes to stderr; with --out, finished methods are also
written to <out>.progress as the run goes.

Examples:
  unequal lds --train train.csv --test test.csv --model logreg --l2 0.01 --subsets 50 --methods exact,grad-dot --out lds.json
  unequal lds --model logreg --subsets 100 --test 100 --loo 100 --out lds-mnist10.json
  unequal lds --model logreg --fit optimum --loo 1000 --ensemble 10 --threads 1 --out lds-mnist10-exact.json
  unequal lds --model mlp --shard 2/8 --out shard-2.json     # then: unequal merge shard-*.json --out lds.json`;

/** The `lds` subcommand. */
export const command: Command = {
  name: 'lds',
  summary: "linear datamodeling score (and LOO) of attribution methods: dattri's MNIST-10 or a CSV problem",
  help,
  async run(argv, io) {
    // Without --train: dattri's MNIST-10 benchmark (lds-mnist10.ts).
    if (!argv.some((a) => a === '--train' || a.startsWith('--train='))) {
      const { MNIST10_FLAGS, runMnist10Lds } = await import('./lds-mnist10.ts');
      return runMnist10Lds(parseFlags('unequal lds', argv, MNIST10_FLAGS), argv, io);
    }
    const start = performance.now();
    const flags = parseFlags('unequal lds', argv, {
      ...LINEAR_PROBLEM_FLAGS,
      subsets: { type: 'string' },
      tests: { type: 'string' },
      methods: { type: 'string' },
      loo: { type: 'boolean' },
      seed: { type: 'string' },
    });
    const m = flags.integer('subsets', { default: 100, min: 2 });
    const seed = flags.integer('seed', { default: 0, min: 0 });
    const wantLoo = flags.boolean('loo');
    let methods: AttributeMethod[] = flags.choiceList<AttributeMethod>('methods', ATTRIBUTE_METHODS) ?? [...ATTRIBUTE_METHODS];
    if (flags.has('test-index')) throw new UsageError('--test-index does not apply to lds (it scores the first --tests rows)');
    const problem = loadLinearProblem(flags, io, { denseHessian: () => true, leaveOneOut: true, perExampleGradients: true });
    if (problem.kind === 'linreg') {
      if (flags.has('methods') && methods.includes('trak-1')) throw new CliFailure('--methods trak-1 needs a cross-entropy model (--model logreg or softmax)');
      methods = methods.filter((x) => x !== 'trak-1');
    }
    const tests = flags.integer('tests', { default: problem.test.n, min: 1, max: problem.test.n });
    const { train, test } = problem;
    const n = train.n;
    const model = linearModel(problem.kind, test.d, problem.classes);
    const testSet: TestSet = {
      X: fromFloat64(test.X.slice(0, tests * test.d), [tests, test.d]),
      Y: model.targets(test.y.slice(0, tests), `--test ${problem.paths.test}`),
    };
    const theta = trainLinearProblem(problem).theta;
    const obj = problem.obj;
    problem.log(`retraining on ${m} subsets of ${Math.round(n / 2)} rows`);
    let truth;
    try {
      truth = retrainOnSubsets(obj, theta, testSet, { subsets: m, seed, onProgress: (d, t) => d % 10 === 0 && problem.log(`  subset ${d}/${t}`) });
    } catch (e) {
      throw new CliFailure(`retraining on a subset: ${(e as Error).message}; raise --l2`);
    }
    let looTruth: ScoreMatrix | undefined;
    if (wantLoo) {
      const values = new Float64Array(tests * n);
      let loo;
      try {
        // One retraining per row serves every test point (exactLoo with a vector-valued f).
        loo = exactLoo(obj, theta, Array.from({ length: n }, (_, i) => i), (params) => obj.spec.loss(params, testSet.X, testSet.Y));
      } catch (e) {
        const row = /without row (\d+)/.exec((e as Error).message)?.[1];
        throw trainingFailure(e, problem, `retraining without row ${row ?? '?'}`);
      }
      for (let i = 0; i < n; i++) for (let t = 0; t < tests; t++) values[t * n + i] = loo.changes[i * tests + t]!;
      looTruth = { tests, train: n, values };
    }
    const results: Record<string, { lds: number; loo?: number; seconds: number }> = {};
    for (const method of methods) {
      const t0 = performance.now();
      let S: ScoreMatrix;
      try {
        if (method === 'exact' || method === 'cg' || method === 'lissa') S = influenceScores(new Influence(obj, theta, { solver: method }), testSet);
        else if (method === 'grad-dot') S = gradDot(obj, theta, testSet);
        else if (method === 'grad-cos') S = gradCos(obj, theta, testSet);
        else S = trak([{ obj, theta }], testSet, { k: Math.min(obj.dim, n), seed });
      } catch (e) {
        throw new CliFailure(`--methods ${method}: ${(e as Error).message}`);
      }
      const seconds = (performance.now() - t0) / 1000;
      const l = lds(S, truth.subsets, truth.losses).mean;
      results[method] = { lds: l, ...(looTruth ? { loo: looCorrelation(S, looTruth).mean } : {}), seconds };
      problem.log(`${method}: LDS ${l.toFixed(3)}`);
    }
    writeLinearResult(problem, {
      command: ['unequal', 'lds', ...argv].join(' '),
      wallSeconds: (performance.now() - start) / 1000,
      subsets: m,
      tests,
      seed,
      [problem.kind]: { methods: results },
    });
    return 0;
  },
};

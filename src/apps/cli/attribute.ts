/**
 * `unequal attribute`: one attribution method's scores of every training point for one test point
 * of a CSV linear problem (logistic, linear or softmax regression trained to the optimum), in the
 * project's score convention (positive = the point helps).
 *
 * @module
 */
import type { Command } from './command.ts';
import { CliFailure } from './errors.ts';
import { parseFlags } from './flags.ts';
import { LINEAR_PROBLEM_FLAGS, LINEAR_PROBLEM_HELP, LINEAR_PROBLEM_REFUSALS, type LinearProblem, loadLinearProblem, trainLinearProblem, writeLinearResult } from './linear-problem.ts';
import { fromFloat64 } from '../../core/create.ts';
import { Influence } from '../../influence/influence.ts';
import { scoreRow, type ScoreMatrix, type TestSet } from '../../influence/scores.ts';
import { gradCos, gradDot } from '../../influence/similarity.ts';
import { trak } from '../../influence/trak.ts';
import { linearModel } from '../../nn/linear-models.ts';

/** The methods `attribute` offers on CSV linear problems. */
export const ATTRIBUTE_METHODS = ['exact', 'cg', 'lissa', 'grad-dot', 'grad-cos', 'trak-1'] as const;
/** One of {@link ATTRIBUTE_METHODS}. */
export type AttributeMethod = (typeof ATTRIBUTE_METHODS)[number];

/** How each method's scores are scaled, for the JSON's `convention`. */
const CONVENTIONS: Record<AttributeMethod, string> = {
  exact: 'scores[i] = (1/n) ∇ℓ(z_test)ᵀ H⁻¹ ∇ℓ(zᵢ): the predicted change in the test loss when training point i is removed; positive = the point helps; the 1/n factor is included (equal to `unequal influence`)',
  cg: 'as exact, with H⁻¹∇ℓ(z_test) by conjugate gradient; positive = the point helps; the 1/n factor is included',
  lissa: 'as exact, with H⁻¹∇ℓ(z_test) by the LiSSA Neumann series; positive = the point helps; the 1/n factor is included',
  'grad-dot': 'scores[i] = ∇ℓ(z_test)·∇ℓ(zᵢ) at θ̂ (per-example gradients without the L2 term); positive = the point helps; no 1/n factor and no H⁻¹ (same sign, not the units of a removal effect)',
  'grad-cos': 'scores[i] = cos(∇ℓ(z_test), ∇ℓ(zᵢ)) at θ̂ (0 for a zero gradient); positive = the point helps; no 1/n factor',
  'trak-1': 'TRAK with one model (θ̂) and a Gaussian projection: scores[i] = φ(z_test)ᵀ(ΦᵀΦ)⁻¹φᵢ·(1 − pᵢ), φ = Pᵀ∇θ(log-odds of the correct class); positive = the point helps; no 1/n factor',
};

const help = `unequal attribute: one attribution method's scores of every training point for a test point

Usage: unequal attribute --train <csv> --test <csv> --model logreg|linreg|softmax --l2 <λ>
                         --method exact|cg|lissa|grad-dot|grad-cos|trak-1
                         [--test-index k] [--trak-k k] [--seed s] [--out file.json]

Trains the model to ‖∇R‖ < 1e-10 (Newton), then writes JSON
  { "method", "convention", "includesOneOverN", "model", "n", "d", "l2", "testIndex",
    "scores": [n numbers], "seconds" }
Every method is oriented as \`unequal influence\`: positive = training point i helps the test point
(removing it would raise the test loss).
  exact, cg, lissa  (1/n) ∇ℓ(z_test)ᵀ H⁻¹ ∇ℓ(zᵢ), H = ∇²R(θ̂) with the L2 term; the 1/n factor is
                    included, so exact equals \`unequal influence\`'s "influence" array
  grad-dot          ∇ℓ(z_test)·∇ℓ(zᵢ) (no H⁻¹, no 1/n)
  grad-cos          the cosine of the two gradients (no 1/n)
  trak-1            TRAK (Park et al. 2023) with the single trained model; logreg/softmax only
                    (cross-entropy log-odds output); projection N(0,1), p × k, seeded by --seed

${LINEAR_PROBLEM_HELP}
Method options:
  --method <name>     required, one of ${ATTRIBUTE_METHODS.join(', ')}
  --trak-k <k>        TRAK projection dimension (default min(p, n), at most p and n)
  --seed <s>          TRAK projection seed (default 0)

${LINEAR_PROBLEM_REFUSALS}

MNIST-10 mode (no --train): dattri's benchmark, 5,000 training and 500 test images of full MNIST
  unequal attribute --model logreg|mlp --method <name> [--test-index i] [--damping δ] [--lissa-batch b]
                    [--rps-l2 λ] [--trak-k k] [--seed s] [--threads n] [--epochs E] [--train-size n]
                    [--fit sgd|optimum] [--l2 λ] [--grad-tol g] [--out file.json]
Trains the model as dattri does (see unequal lds --help), then writes
  { "model", "method", "fit", "testIndex", "label", "config", "cost", "scores": [n numbers], "seconds" }
  --method <name>     exact (logreg only), cg, lissa, arnoldi, grad-dot, grad-cos, tracin, kfac, ekfac,
                      trak-1, trak-10, trak-50, rps
  --test-index <i>    test image 0..499 (default 0)
  --damping <δ>       exact, cg, arnoldi, kfac, ekfac: (H + δI)⁻¹ (default 1e-3; λ with --fit optimum)
  --lissa-batch <b>   LiSSA mini-batch rows (default 100; depth 100, scaling 50 as dattri)
  --rps-l2 <λ>        RPS-L2 surrogate's λ (default 1e-3)
  --trak-k <k>        TRAK projection dimension (default 512); trak-10/50 train 10/50 models on halves
  --threads <n>       threads training TRAK's models (default one per core)
  --epochs <E>, --train-size <n>   shorten the protocol (tests and quick looks)
  --fit <sgd|optimum> sgd (default): dattri's SGD training; optimum (logreg only): the minimiser of
                      the mean cross-entropy + (λ/2)‖θ‖² to ‖∇R‖ ≤ --grad-tol, as lds --fit optimum
                      (no tracin: Newton has no checkpoints; TRAK's halves are fitted to their optima)
  --l2 <λ>            the optimum's regulariser (default 0.01)
  --grad-tol <g>      the optimum's gradient-norm tolerance (default 1e-11)

Examples:
  unequal attribute --train train.csv --test test.csv --model logreg --l2 0.01 --method grad-dot --test-index 3
  unequal attribute --model logreg --method cg --damping 0.01 --test-index 7 --out scores.json
  unequal attribute --model logreg --fit optimum --method exact --test-index 7`;

/** The test row `problem.testIndex` as a one-point {@link TestSet}. */
function testPoint(problem: LinearProblem): TestSet {
  const { test, testIndex: t } = problem;
  const model = linearModel(problem.kind, test.d, problem.classes);
  return {
    X: fromFloat64(test.X.slice(t * test.d, (t + 1) * test.d), [1, test.d]),
    Y: model.targets(test.y.slice(t, t + 1), `--test ${problem.paths.test}`),
  };
}

/** The `attribute` subcommand. */
export const command: Command = {
  name: 'attribute',
  summary: "one attribution method's scores for a test point (MNIST-10 or a CSV problem)",
  help,
  async run(argv, io) {
    // Without --train: dattri's MNIST-10 benchmark (attribute-mnist10.ts).
    if (!argv.some((a) => a === '--train' || a.startsWith('--train='))) {
      const { MNIST10_ATTRIBUTE_FLAGS, runMnist10Attribute } = await import('./attribute-mnist10.ts');
      return runMnist10Attribute(parseFlags('unequal attribute', argv, MNIST10_ATTRIBUTE_FLAGS), argv, io);
    }
    const flags = parseFlags('unequal attribute', argv, {
      ...LINEAR_PROBLEM_FLAGS,
      method: { type: 'string' },
      'trak-k': { type: 'string' },
      seed: { type: 'string' },
    });
    const method = flags.choice<AttributeMethod>('method', ATTRIBUTE_METHODS);
    const seed = flags.integer('seed', { default: 0, min: 0 });
    const givenK = flags.optionalInteger('trak-k', { min: 1 });
    const inverse = method === 'exact' || method === 'cg' || method === 'lissa';
    const problem = loadLinearProblem(flags, io, { denseHessian: (p) => method === 'exact' || (inverse && p <= 3000), leaveOneOut: inverse, perExampleGradients: true });
    if (method === 'trak-1' && problem.kind === 'linreg') throw new CliFailure('--method trak-1 needs a cross-entropy model (--model logreg or softmax): its output is the log-odds of the correct class');
    const p = problem.obj.dim;
    const n = problem.train.n;
    const trakK = Math.min(givenK ?? Math.min(p, n), p, n);
    const trained = trainLinearProblem(problem);
    const theta = trained.theta;
    const t0 = performance.now();
    let scores: Float64Array;
    if (inverse) {
      const inf = new Influence(problem.obj, theta, { solver: method, log: problem.log });
      try {
        scores = inf.removalEffects(problem.testObjective);
      } catch (e) {
        throw new CliFailure(`--method ${method}: ${(e as Error).message}; use \`unequal influence --solver ${method}\` for the solver's options, or raise --l2`);
      }
    } else {
      const test = testPoint(problem);
      let S: ScoreMatrix;
      try {
        S = method === 'grad-dot' ? gradDot(problem.obj, theta, test) : method === 'grad-cos' ? gradCos(problem.obj, theta, test) : trak([{ obj: problem.obj, theta }], test, { k: trakK, seed });
      } catch (e) {
        throw new CliFailure(`--method ${method}: ${(e as Error).message}`);
      }
      scores = Float64Array.from(scoreRow(S, 0));
    }
    const seconds = (performance.now() - t0) / 1000;
    writeLinearResult(problem, {
      method,
      convention: CONVENTIONS[method],
      includesOneOverN: inverse,
      model: problem.kind,
      n,
      d: problem.train.d,
      classes: problem.kind === 'softmax' ? problem.classes : undefined,
      l2: problem.l2,
      testIndex: problem.testIndex,
      ...(method === 'trak-1' ? { trak: { k: trakK, seed, models: 1 } } : {}),
      scores: Array.from(scores),
      seconds,
    });
    return 0;
  },
};

/**
 * `unequal influence`: the influence of every training point on one test point's loss (Koh & Liang
 * 2017), for logistic, linear or softmax regression trained to the optimum.
 *
 * @module
 */
import { type Command, writeJsonResult } from './command.ts';
import { parseFlags, UsageError } from './flags.ts';
import { LINEAR_PROBLEM_FLAGS, LINEAR_PROBLEM_HELP, loadLinearProblem, trainLinearProblem } from './linear-problem.ts';
import { Influence } from '../../influence/influence.ts';
import type { SolverName, SolverOptions } from '../../influence/solvers.ts';

const help = `unequal influence: predicted effect of removing each training point on a test point's loss

Usage: unequal influence --train <csv> --test <csv> --model logreg|linreg|softmax --l2 <λ>
                         [--solver exact|cg|lissa|arnoldi] [--test-index k] [--out file.json]

Trains the model to ‖∇R‖ < 1e-10 (Newton), then writes JSON
  { "model", "n", "d", "l2", "solver", "params": [weights…, intercept], "testIndex", "testLoss",
    "influence": [n numbers], "solverInfo": {…}, "training": {…} }
where influence[i] = (1/n) ∇ℓ(z_test)ᵀ H⁻¹ ∇ℓ(zᵢ) = −(1/n) I_up,loss(zᵢ, z_test), the predicted
change in the test loss when training point i is removed (positive: the point helps), with
H = ∇²R(θ̂) including the L2 term and ∇ℓ the per-point loss gradients without it.

${LINEAR_PROBLEM_HELP}
Solver options:
  --solver <name>     exact (Hessian + Cholesky; default), cg (conjugate gradient on HVPs),
                      lissa (stochastic Neumann series), arnoldi (top-k eigenpairs, low rank)
  --damping <δ>       solve (H + δI) x = ∇ℓ(z_test) instead (default 0)
  --cg-tol <t>        CG relative residual (default 1e-10, giving ~1e-6 relative accuracy or better)
  --lissa-scale <s>   LiSSA scale (default: power-iteration estimate λ̂ of H's top eigenvalue,
                      s = λ̂/(1.8 − d) full batch, 1.5 λ̂ with --lissa-batch)
  --lissa-damping <d> LiSSA damping d; the effective damping is s·d (default 0)
  --lissa-depth <j>   iterations per repeat (default: until the relative change < --lissa-tol)
  --lissa-tol <t>     stopping rule of the automatic depth (default 1e-7)
  --lissa-repeats <r> independent runs averaged (default 1)
  --lissa-batch <b>   mini-batch size for the Hessian (default: all n; needs --lissa-depth)
  --arnoldi-k <k>     eigenpairs kept by arnoldi (default 20)
  --seed <s>          seed for LiSSA mini-batches and the Arnoldi start (default 0)

Example:
  unequal influence --train train.csv --test test.csv --model logreg --l2 0.01 --test-index 3 --out inf.json`;

/** The `influence` subcommand. */
export const command: Command = {
  name: 'influence',
  summary: 'influence of every training point on a test point (Koh & Liang 2017)',
  help,
  async run(argv) {
    const flags = parseFlags('unequal influence', argv, {
      ...LINEAR_PROBLEM_FLAGS,
      solver: { type: 'string' },
      damping: { type: 'string' },
      'cg-tol': { type: 'string' },
      'lissa-scale': { type: 'string' },
      'lissa-damping': { type: 'string' },
      'lissa-depth': { type: 'string' },
      'lissa-tol': { type: 'string' },
      'lissa-repeats': { type: 'string' },
      'lissa-batch': { type: 'string' },
      'arnoldi-k': { type: 'string' },
      seed: { type: 'string' },
    });
    // The flags that need no data are checked before the CSVs are read.
    const solver = flags.choice<SolverName>('solver', ['exact', 'cg', 'lissa', 'arnoldi'], 'exact');
    const damping = flags.number('damping', { default: 0, min: 0 });
    const seed = flags.integer('seed', { default: 0, min: 0 });
    const cg = { tol: flags.number('cg-tol', { default: 1e-10, above: 0 }) };
    const lissa = {
      scale: flags.optionalNumber('lissa-scale', { above: 0 }) ?? ('auto' as const),
      damping: flags.number('lissa-damping', { default: 0, min: 0 }),
      depth: flags.optionalInteger('lissa-depth', { min: 1 }) ?? ('auto' as const),
      tol: flags.number('lissa-tol', { default: 1e-7, above: 0 }),
      repeats: flags.integer('lissa-repeats', { default: 1, min: 1 }),
      seed,
    };
    if (flags.has('lissa-batch') && lissa.depth === 'auto') throw new UsageError('--lissa-batch needs --lissa-depth (the automatic depth needs the full-batch Hessian)');
    const problem = loadLinearProblem(flags);
    const dim = problem.obj.dim;
    const opts: SolverOptions = {
      solver,
      damping,
      log: problem.log,
      cg,
      lissa: { ...lissa, batchSize: flags.optionalInteger('lissa-batch', { min: 1, max: problem.train.n }) },
      arnoldi: { k: flags.integer('arnoldi-k', { default: Math.min(20, dim), min: 1, max: dim }), seed },
    };
    const trained = trainLinearProblem(problem);
    const inf = new Influence(problem.obj, trained.theta, opts);
    const t0 = performance.now();
    const influence = inf.removalEffects(problem.testObjective);
    const seconds = (performance.now() - t0) / 1000;
    const info = { ...inf.inverse.info, seconds };
    if (info.residualHistory && info.residualHistory.length > 200) info.residualHistory = info.residualHistory.slice(-200);
    writeJsonResult({
      model: problem.kind,
      n: problem.train.n,
      d: problem.train.d,
      classes: problem.kind === 'softmax' ? problem.classes : undefined,
      l2: problem.l2,
      solver,
      damping,
      params: Array.from(trained.theta),
      testIndex: problem.testIndex,
      testLoss: problem.testObjective(problem.obj.params(trained.theta)).item(),
      influence: Array.from(influence),
      solverInfo: info,
      training: { method: trained.method, iterations: trained.iterations, gradNorm: trained.gradNorm, objective: trained.value },
    }, problem.out, problem.log);
    return 0;
  },
};

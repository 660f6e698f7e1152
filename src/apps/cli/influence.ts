/**
 * `unequal influence`: the influence of every training point on one test point's loss (Koh & Liang
 * 2017), for logistic, linear or softmax regression trained to the optimum.
 *
 * @module
 */
import type { Command } from './command.ts';
import { CliFailure, UsageError } from './errors.ts';
import { parseFlags } from './flags.ts';
import {
  collinearNote,
  LINEAR_PROBLEM_FLAGS,
  LINEAR_PROBLEM_HELP,
  LINEAR_PROBLEM_REFUSALS,
  largerL2,
  type LinearProblem,
  loadLinearProblem,
  overflowHint,
  trainLinearProblem,
  writeLinearResult,
} from './linear-problem.ts';
import { Influence } from '../../influence/influence.ts';
import { LissaDivergenceError, type SolverName, type SolverOptions } from '../../influence/solvers.ts';
import { NotPositiveDefiniteError } from '../../linalg/dense.ts';
import { ConvergenceError, IndefiniteHessianError } from '../../optim/errors.ts';

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
  --cg-tol <t>        CG relative residual, ≥ 1e-15 (default 1e-10, giving ~1e-6 relative accuracy
                      or better)
  --lissa-scale <s>   LiSSA scale (default: power-iteration estimate λ̂ of H's top eigenvalue,
                      s = λ̂/(1.8 − d) full batch, 1.5 λ̂ with --lissa-batch)
  --lissa-damping <d> LiSSA damping d in [0, 2); the effective damping is s·d (default 0;
                      below 1.8 with the automatic full-batch scale)
  --lissa-depth <j>   iterations per repeat (default: until the relative change < --lissa-tol)
  --lissa-tol <t>     stopping rule of the automatic depth, ≥ 1e-15 (default 1e-7)
  --lissa-repeats <r> independent runs averaged (default 1)
  --lissa-batch <b>   mini-batch size for the Hessian (default: all n; needs --lissa-depth)
  --arnoldi-k <k>     eigenpairs kept by arnoldi (default 20)
  --seed <s>          seed for LiSSA mini-batches and the Arnoldi start (default 0)
A solver that stops at its cap above its tolerance, diverges, or finds H (+ δI) singular or not
positive definite is an error (exit 1) naming the flag to change; no partial result is written.

${LINEAR_PROBLEM_REFUSALS}

Example:
  unequal influence --train train.csv --test test.csv --model logreg --l2 0.01 --test-index 3 --out inf.json`;

/** The `influence` subcommand. */
export const command: Command = {
  name: 'influence',
  summary: 'influence of every training point on a test point (Koh & Liang 2017)',
  help,
  async run(argv, io) {
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
    // Tolerances below float64's relative rounding (2.2e-16) cannot be told from 0.
    const cg = { tol: flags.number('cg-tol', { default: 1e-10, min: 1e-15 }) };
    const lissa = {
      scale: flags.optionalNumber('lissa-scale', { above: 0 }) ?? ('auto' as const),
      damping: flags.number('lissa-damping', { default: 0, min: 0, below: 2 }),
      depth: flags.optionalInteger('lissa-depth', { min: 1 }) ?? ('auto' as const),
      tol: flags.number('lissa-tol', { default: 1e-7, min: 1e-15 }),
      repeats: flags.integer('lissa-repeats', { default: 1, min: 1 }),
      seed,
    };
    if (flags.has('lissa-batch') && lissa.depth === 'auto') throw new UsageError('--lissa-batch needs --lissa-depth (the automatic depth needs the full-batch Hessian)');
    if (solver === 'lissa' && lissa.scale === 'auto' && !flags.has('lissa-batch') && !(lissa.damping < 1.8)) {
      throw new UsageError(`--lissa-damping ${lissa.damping}: the automatic full-batch scale s = λ̂/(1.8 − d) needs d < 1.8; give --lissa-scale, or a smaller --lissa-damping`);
    }
    const problem = loadLinearProblem(flags, io, { denseHessian: (p) => p <= 3000 || solver === 'exact', leaveOneOut: true, perExampleGradients: true });
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
    let influence: Float64Array;
    try {
      influence = inf.removalEffects(problem.testObjective);
    } catch (e) {
      throw solverFailure(e, problem, opts);
    }
    const seconds = (performance.now() - t0) / 1000;
    // Diagnostics that were never measured (a curvature of +Infinity when the series had no term)
    // are left out rather than written as null.
    const info: Record<string, unknown> = Object.fromEntries(Object.entries({ ...inf.inverse.info, seconds }).filter(([, v]) => typeof v !== 'number' || Number.isFinite(v)));
    const history = info.residualHistory as number[] | undefined;
    if (history && history.length > 200) info.residualHistory = history.slice(-200);
    writeLinearResult(problem, {
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
    });
    return 0;
  },
};

/**
 * An inverse-HVP solver's error as a {@link CliFailure} naming the flag to change: a singular or
 * indefinite Hessian (raise --l2, give --damping), a cap reached (the solver's tolerance flag, or
 * another solver), a diverging LiSSA (--lissa-scale). Anything else is returned as is.
 */
function solverFailure(e: unknown, problem: LinearProblem, opts: SolverOptions): unknown {
  const solver = opts.solver ?? 'exact';
  const H = `the Hessian H = ∇²R(θ̂)${opts.damping ? ` + ${opts.damping}·I` : ''}`;
  const l2 = largerL2(problem.l2);
  const collinear = collinearNote(problem);
  const singularFix = `raise --l2 (e.g. ${l2})${collinear ? ', drop the redundant column' : ''}, or give --damping δ > 0 well above rounding (influence then uses (H + δI)⁻¹, a different question)`;
  if (e instanceof NotPositiveDefiniteError) {
    const lambda = e.smallestEigenvalue;
    switch (e.kind) {
      case 'non-finite':
        return new CliFailure(`--solver exact: ${H} is not finite (an overflow); ${overflowHint(problem)}`);
      case 'singular':
        return new CliFailure(`--solver exact: ${H} is singular to working precision (smallest eigenvalue ${lambda.toPrecision(3)}, within rounding of 0), so H⁻¹ does not exist${collinear}; ${singularFix}`);
      case 'ill-conditioned':
        return new CliFailure(`--solver exact: ${H} is too ill-conditioned for float64 (smallest eigenvalue ${lambda.toPrecision(3)})${collinear}; ${singularFix}`);
      default:
        return new CliFailure(
          `--solver exact: ${H} has the negative eigenvalue ${lambda.toPrecision(3)}, so θ̂ is not a minimum and H⁻¹ is not what influence needs; ` +
            `give --damping greater than ${(-lambda).toPrecision(3)} (e.g. ${(-2 * lambda).toPrecision(2)}) or raise --l2 (e.g. ${l2})`,
        );
    }
  }
  if (e instanceof IndefiniteHessianError) {
    const q = e.curvature;
    const num = (x: number) => (x === 0 ? '0' : x.toPrecision(3));
    const what = q <= 0 ? `not positive definite (curvature ${num(q)} ≤ 0 along a direction it met)` : `singular to working precision (curvature ${num(q)} along a direction it met)`;
    const fix = q < 0 ? `give --damping greater than ${num(-q)}, or raise --l2 (e.g. ${l2})` : singularFix;
    return new CliFailure(`--solver ${solver}: ${H} is ${what}${collinear}; ${fix}; --solver exact reports the smallest eigenvalue`);
  }
  if (e instanceof LissaDivergenceError) {
    const auto = opts.lissa?.scale === undefined || opts.lissa.scale === 'auto';
    return new CliFailure(
      `--solver lissa diverged at iteration ${e.iteration} with scale s = ${e.scale.toPrecision(4)}: LiSSA needs s > λ_max / (2 − d); ` +
        `give a larger --lissa-scale (e.g. ${(4 * e.scale).toPrecision(2)})${auto ? '' : ' or omit it for the automatic scale'}, or use --solver exact or cg`,
    );
  }
  if (e instanceof ConvergenceError) {
    if (e.method === 'cg') {
      return new CliFailure(
        `--solver cg stopped at its cap of ${e.iterations} iterations with relative residual ${e.residual.toExponential(2)} > --cg-tol ${e.tol}: H is too ill-conditioned for that tolerance; ` +
          `give a larger --cg-tol, raise --l2 (e.g. ${l2}) or --damping, or use --solver exact`,
      );
    }
    if (e.method === 'lissa') {
      return new CliFailure(
        `--solver lissa did not settle in ${e.iterations} iterations (relative change ${e.residual.toExponential(2)} > --lissa-tol ${e.tol}): H's small eigenvalues converge slowly; ` +
          `give a larger --lissa-tol or --lissa-damping (effective damping s·d), raise --l2 (e.g. ${l2}), or use --solver exact or cg`,
      );
    }
    return new CliFailure(`--solver ${solver}: ${e.message}`);
  }
  return e;
}

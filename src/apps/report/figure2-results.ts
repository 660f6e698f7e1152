/**
 * The report's panel for Koh & Liang's Figure 2 at the paper's scale: it runs nothing (the runs take
 * an hour) and shows the committed results, `results/koh-figure2-mnist10.json` (10-class softmax
 * regression, exact and stochastic-LiSSA influence against exact leave-one-out) and
 * `results/koh-figure2-cnn.json` (a small CNN, damped influence against retraining with extra
 * steps): one scatter plot per panel with Pearson and Spearman, and where each number came from
 * (command, commit, wall time).
 *
 * @module
 */
import { scatterPlot } from '../plots/svg.ts';
import { type Provenance, provenance, readCommittedJson } from './committed.ts';
import { fmt, p, table } from './html.ts';

/** The committed result files, relative to the repository root. */
export const FIGURE2_RESULTS = { mnist10: 'results/koh-figure2-mnist10.json', cnn: 'results/koh-figure2-cnn.json' } as const;

interface Mnist10Json extends Provenance {
  classes: number;
  nTrain: number;
  l2: number;
  retrained: number;
  split: string;
  solver: { exact: string; lissa: { scale: number; depth: number; damping: number; batchSize: number; repeats: number } };
  retraining: { gradTol: number; maxGradNorm: number; maxActualErrorBound: number; meanIterations: number };
  training: { gradNorm: number; testAccuracy: number };
  panels: {
    testIndex: number;
    rule: string;
    label: number;
    predictedClass: number;
    predictedExact: number[];
    predictedLissa: number[];
    actual: number[];
    exact: { pearson: number; spearman: number };
    lissa: { pearson: number; spearman: number };
  }[];
}

interface CnnJson extends Provenance {
  nTrain: number;
  nParams: number;
  retrained: number;
  config: { channels: number; trainSteps: number; retrainSteps: number; l2: number; damping: number };
  training: { finalGradNorm: number; trainAccuracy: number; testAccuracy: number };
  testIndex: number;
  testRule: string;
  control: number;
  predicted: number[];
  actual: number[];
  pearson: number;
  spearman: number;
}

/** The body and the summary line of the panel, from the result files under `root`. */
export function figure2ResultsPanel(root: string): { body: string; result: string } {
  const m = readCommittedJson<Mnist10Json>(root, FIGURE2_RESULTS.mnist10);
  const c = readCommittedJson<CnnJson>(root, FIGURE2_RESULTS.cnn);
  const parts: string[] = [];
  const summary: string[] = [];
  if (m) {
    const l = m.solver.lissa;
    parts.push(
      p(
        `Left and middle panels: ${m.classes}-class softmax regression without intercept on n = ${m.nTrain} MNIST training images (${m.split}), ` +
          `λ = ${m.l2}; ‖∇R(θ̂)‖ = ${fmt(m.training.gradNorm)}, test accuracy ${(100 * m.training.testAccuracy).toFixed(1)}%. ` +
          `For each test image, its most influential training points (largest |predicted change|) were removed one at a time and the model retrained ` +
          `exactly (${m.retrained} retrainings in all, to ‖∇R₋ᵢ‖ ≤ ${fmt(m.retraining.gradTol)}; largest reached ${fmt(m.retraining.maxGradNorm)}, ` +
          `so every actual change is within ${fmt(m.retraining.maxActualErrorBound)} of the exact one). Exact: ${m.solver.exact}. ` +
          `LiSSA as the paper runs it: scale ${l.scale}, recursion depth ${l.depth}, damping ${l.damping}, batch size ${l.batchSize}, ${l.repeats} repeats.`,
      ),
    );
    const figs: string[] = [];
    const rows: (string | number)[][] = [];
    for (const q of m.panels) {
      for (const [name, pred, stats] of [
        ['exact', q.predictedExact, q.exact],
        ['LiSSA', q.predictedLissa, q.lissa],
      ] as const) {
        figs.push(
          scatterPlot(pred, q.actual, {
            title: `${name}: Pearson ${stats.pearson.toFixed(5)}, Spearman ${stats.spearman.toFixed(4)}`,
            subtitle: `test image ${q.testIndex} (a ${q.label}, predicted ${q.predictedClass}), ${q.actual.length} points`,
            xLabel: 'predicted change in test loss',
            yLabel: 'actual change (exact retraining)',
            identity: true,
          }),
        );
        rows.push([q.testIndex, q.rule, name, q.actual.length, stats.pearson, stats.spearman]);
      }
    }
    parts.push(`<div class="figs">${figs.join('')}</div>`);
    parts.push(table(['test image', 'chosen by', 'influence', 'points', 'Pearson', 'Spearman'], rows, 'Predicted against actual leave-one-out change'));
    parts.push(p(provenance(m)));
    const first = m.panels[0]!;
    summary.push(`10-class LR, n = ${m.nTrain}: Pearson ${first.exact.pearson.toFixed(5)} exact, ${first.lissa.pearson.toFixed(4)} LiSSA (test ${first.testIndex}, ${first.actual.length} points)`);
  } else {
    parts.push(p(`No committed ${FIGURE2_RESULTS.mnist10} yet: run \`npx unequal figure2 --panel mnist10 --out ${FIGURE2_RESULTS.mnist10}\`.`));
    summary.push('10-class LR: no committed result');
  }
  if (c) {
    parts.push(
      p(
        `Right panel: a small CNN (${c.nParams} parameters, ${c.config.channels} channels) on ${c.nTrain} MNIST training images, λ = ${c.config.l2}, ` +
          `trained by ${c.config.trainSteps} L-BFGS iterations (not to an exact optimum: ‖∇R‖ = ${fmt(c.training.finalGradNorm)}), test accuracy ` +
          `${(100 * c.training.testAccuracy).toFixed(1)}%. Influence with damping δ = ${c.config.damping} (CG); actual: retraining from the trained ` +
          `parameters without the point for ${c.config.retrainSteps} extra L-BFGS iterations, test loss against the trained model's ` +
          `(the same extra iterations with nothing removed change it by ${fmt(c.control)}). Test image ${c.testIndex}: ${c.testRule}.`,
      ),
    );
    parts.push(
      `<div class="figs">${scatterPlot(c.predicted, c.actual, {
        title: `CNN: Pearson ${c.pearson.toFixed(3)}, Spearman ${c.spearman.toFixed(3)}`,
        subtitle: `test image ${c.testIndex}, ${c.actual.length} most influential points (the paper: R = 0.86)`,
        xLabel: 'predicted change in test loss (damped)',
        yLabel: 'actual change (retrained with extra steps)',
      })}</div>`,
    );
    parts.push(p(provenance(c)));
    summary.push(`CNN: Pearson ${c.pearson.toFixed(3)} over ${c.actual.length} points`);
  } else {
    parts.push(p(`No committed ${FIGURE2_RESULTS.cnn} yet: run \`npx unequal figure2 --panel cnn --out ${FIGURE2_RESULTS.cnn}\`.`));
    summary.push('CNN: no committed result');
  }
  return { body: parts.join('\n'), result: summary.join('; ') };
}

/**
 * The report's panel for the attribution benchmark (issue 14): it runs nothing (the committed run
 * took an hour) and shows `results/lds-mnist10.json` — the linear datamodeling score (LDS) of every
 * estimator on dattri's MNIST-10 protocol, logistic regression and MLP — beside dattri's published
 * figures, with each method's time, and where the numbers came from.
 *
 * @module
 */
import { barChart } from '../plots/svg.ts';
import { type Provenance, provenance, readCommittedJson } from './committed.ts';
import { p, table } from './html.ts';

/** The committed result file, relative to the repository root. */
export const LDS_RESULT = 'results/lds-mnist10.json';

/** The committed noisy-label detection run (`unequal noisy`), relative to the root. */
export const NOISY_RESULT = 'results/noisy-mnist10.json';

/** The committed exact-optimum variant (`unequal lds --model logreg --fit optimum`), relative to the root. */
export const LDS_EXACT_RESULT = 'results/lds-mnist10-exact.json';

/**
 * dattri's MNIST-10 LDS figures (TRAIS-Lab/dattri README chart, read off to ±0.01, as issue 14
 * quotes them): an independent reference, not something this code computed.
 */
export const DATTRI_LDS: Readonly<Record<'logreg' | 'mlp', Readonly<Record<string, number>>>> = {
  logreg: { exact: 0.8, cg: 0.8, lissa: 0.79, arnoldi: 0.31, tracin: 0.33, 'grad-dot': 0.33, 'grad-cos': 0.19, rps: 0.19, 'trak-1': 0.42, 'trak-10': 0.64, 'trak-50': 0.68 },
  mlp: { cg: 0.26, lissa: 0.14, arnoldi: 0.09, tracin: 0.15, 'grad-dot': 0.1, 'grad-cos': 0.12, rps: 0.09, 'trak-1': 0.11, 'trak-10': 0.33, 'trak-50': 0.45 },
};

interface MethodResult {
  lds: number;
  loo?: number;
  seconds: number;
  ensemble?: boolean;
}

interface ModelResult {
  methods: Record<string, MethodResult>;
}

interface LdsExactJson extends Provenance {
  config: { subsets: number; tests: number; looRows: number; training: { l2: number; gradTol: number } };
  fit?: { maxGradNorm: number };
  logreg: ModelResult;
}

interface LdsJson extends Provenance {
  config: Record<'logreg' | 'mlp', { subsets: number; tests: number; parameters: number } | undefined>;
  logreg?: ModelResult;
  mlp?: ModelResult;
}

const MODELS = [
  ['logreg', 'multinomial logistic regression'],
  ['mlp', 'MLP 784→128→10 (ReLU)'],
] as const;

/** The body and the summary line of the panel, from the result file under `root`. */
export function ldsResultsPanel(root: string): { body: string; result: string } {
  const r = readCommittedJson<LdsJson>(root, LDS_RESULT);
  if (!r) {
    return {
      body: p(`No committed ${LDS_RESULT} yet: run \`npx unequal lds --model logreg --out ${LDS_RESULT}\`.`),
      result: 'no committed result',
    };
  }
  const parts: string[] = [
    p(
      "dattri's MNIST-10 protocol: the first 5,000 training and 500 test images of full MNIST, each model trained as dattri trains it (SGD); " +
        'LDS = the Spearman correlation, over retrained 50% subsets, between the summed scores of a subset and the retrained model’s test loss, ' +
        'averaged over test images; each method reports its best configuration over dattri’s search grid. Bars: this run against dattri’s published figures.',
    ),
  ];
  const summary: string[] = [];
  for (const [key, name] of MODELS) {
    const model = r[key];
    const config = r.config[key];
    if (!model || !config) continue;
    const methods = Object.entries(model.methods).sort(([, a], [, b]) => b.lds - a.lds);
    const reference = DATTRI_LDS[key];
    parts.push(
      `<div class="figs">${barChart(
        methods.map(([m]) => m),
        methods.map(([m, v]) => [v.lds, reference[m] ?? 0]),
        { title: `${name}: LDS by method`, yLabel: 'LDS', seriesNames: ['unequal', 'dattri (0 = not reported)'] },
      )}</div>`,
    );
    parts.push(
      table(
        ['method', 'LDS', 'dattri', 'LOO (Pearson)', 'seconds', 'ensemble'],
        methods.map(([m, v]) => [m, v.lds.toFixed(3), reference[m]?.toFixed(2) ?? '–', v.loo === undefined ? '–' : v.loo.toFixed(3), v.seconds.toFixed(1), v.ensemble ? 'yes' : '']),
        `${name}: ${config.parameters} parameters, ${config.subsets} subsets, ${config.tests} test images`,
      ),
    );
    const [best, top] = methods[0]!;
    summary.push(`${key}: best ${best} ${top.lds.toFixed(3)} (${config.subsets} subsets)`);
  }
  parts.push(p(provenance(r)));
  const exact = exactOptimumPart(root);
  if (exact) {
    parts.push(exact.body);
    summary.push(exact.summary);
  }
  const noisy = noisyPart(root);
  if (noisy) {
    parts.push(noisy.body);
    summary.push(noisy.summary);
  }
  parts.push(p('Why some figures fall short of dattri’s, and what each method costs: docs/guides/choosing-an-estimator.md.'));
  return { body: parts.join('\n'), result: summary.join('; ') };
}

/** The exact-optimum variant's chart and table (LDS and LOO per method), when its result is committed. */
function exactOptimumPart(root: string): { body: string; summary: string } | null {
  const r = readCommittedJson<LdsExactJson>(root, LDS_EXACT_RESULT);
  if (!r) return null;
  const { config } = r;
  const methods = Object.entries(r.logreg.methods).sort(([, a], [, b]) => b.lds - a.lds);
  const name = `logistic regression at the exact optimum (λ = ${config.training.l2})`;
  const body = [
    p(
      `The same protocol with the model and every retraining trained to the optimum of the L2-regularised objective (‖∇R‖ ≤ ${config.training.gradTol}` +
        `${r.fit ? `; worst fit ${r.fit.maxGradNorm.toExponential(1)}` : ''}), where influence functions are exact to first order: ` +
        `LOO is the Pearson correlation, per test image, between the scores and the exact leave-one-out change over ${config.looRows} removals. Bars: LDS and LOO.`,
    ),
    `<div class="figs">${barChart(
      methods.map(([m]) => m),
      methods.map(([, v]) => [v.lds, v.loo ?? 0]),
      { title: `${name}: LDS and LOO by method`, yLabel: 'correlation', seriesNames: ['LDS', 'LOO (Pearson)'] },
    )}</div>`,
    table(
      ['method', 'LDS', 'LOO (Pearson)', 'seconds', 'ensemble'],
      methods.map(([m, v]) => [m, v.lds.toFixed(3), v.loo === undefined ? '–' : v.loo.toFixed(3), v.seconds.toFixed(1), v.ensemble ? 'yes' : '']),
      `${name}: ${config.subsets} subsets, ${config.tests} test images, ${config.looRows} LOO removals`,
    ),
    p(provenance(r)),
  ].join('\n');
  const [best, top] = methods[0]!;
  const ex = r.logreg.methods.exact;
  return { body, summary: `logreg at the optimum: best ${best} ${top.lds.toFixed(3)}${ex?.loo !== undefined ? `, exact LOO ${ex.loo.toFixed(3)}` : ''}` };
}

interface NoisyJson extends Provenance {
  config: Record<'logreg' | 'mlp', { data: { train: number }; flip: { fraction: number; rows: number }; dropped?: string[] } | undefined>;
  logreg?: { methods: Record<string, { auc: number; seconds: number }> };
  mlp?: { methods: Record<string, { auc: number; seconds: number }> };
}

/** The noisy-label detection chart (AUC of each method's self-score per model, beside the loss baseline), when committed. */
function noisyPart(root: string): { body: string; summary: string } | null {
  const r = readCommittedJson<NoisyJson>(root, NOISY_RESULT);
  if (!r) return null;
  const body: string[] = [];
  const summary: string[] = [];
  for (const [key, name] of MODELS) {
    const model = r[key];
    const config = r.config[key];
    if (!model || !config) continue;
    const methods = Object.entries(model.methods).sort(([, a], [, b]) => b.auc - a.auc);
    body.push(
      `<div class="figs">${barChart(
        methods.map(([m]) => m),
        methods.map(([, v]) => [v.auc]),
        { title: `${name}: finding ${config.flip.rows} flipped labels of ${config.data.train} (AUC)`, yLabel: 'AUC', seriesNames: ['AUC of the self-score'] },
      )}</div>`,
    );
    const loss = model.methods.loss?.auc;
    const [best, top] = methods[0]!;
    summary.push(`${key} flipped labels: best ${best} AUC ${top.auc.toFixed(3)}${loss === undefined ? '' : ` (loss ${loss.toFixed(3)})`}`);
  }
  if (!body.length) return null;
  return {
    body: [
      p(
        'Noisy-label detection: 10% of the training labels moved to another class, the model trained on them as above, and each method’s self-score ' +
          '(its score of a training point for that point’s own loss) ranked; AUC = the probability that a flipped row outranks a clean one. ' +
          'The row “loss” (each point’s training loss) is the naive baseline every method should beat.',
      ),
      ...body,
      p(provenance(r)),
    ].join('\n'),
    summary: summary.join('; '),
  };
}

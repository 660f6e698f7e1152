/**
 * The report's panel for Learning to Reweight at the paper's protocol (issue 13): it runs nothing
 * (a LeNet run takes minutes to hours per seed) and shows `results/l2rw-imbalance-paper.json`, the
 * test error of every method against pos_ratio, the schedule that actually ran (and whether it was
 * shortened), an independent rerun's L2RW figures beside ours, and where the numbers came from.
 *
 * @module
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { lineChart } from '../plots/svg.ts';
import { type PaperShard, summarizeRuns } from '../experiments/reweight-paper.ts';
import { type Provenance, provenance, readCommittedJson } from './committed.ts';
import { p, table } from './html.ts';

/** The committed result file, relative to the repository root. */
export const L2RW_PAPER_RESULT = 'results/l2rw-imbalance-paper.json';

/**
 * Where the shards of a sharded paper run are committed while some are still to run (each as
 * `unequal reweight … --shard i/k` wrote it); `unequal merge` of all k gives {@link L2RW_PAPER_RESULT}.
 */
export const L2RW_PAPER_SHARDS = 'results/l2rw-imbalance-paper';

/**
 * L2RW test error (percent) in an independent PyTorch rerun of the paper's protocol, as issue 13
 * quotes it (pos_ratio 0.9, 0.95, 0.98, 0.99, 0.995): a reference, not computed here.
 */
export const L2RW_RERUN_PERCENT: Readonly<Record<string, number>> = { '0.9': 2.1, '0.95': 1.4, '0.98': 3.4, '0.99': 2.5, '0.995': 4.5 };

interface Summary {
  mean: number;
  std: number;
  runs: number[];
}

interface PaperJson extends Provenance {
  config: {
    posRatios: number[];
    seeds: number[];
    methods: string[];
    stepsByMethod: Record<string, number>;
    stepsOverridden: boolean;
    ntrain: number;
    nval: number;
    ntest: number;
    batchSize: number;
    lr: number;
    momentum: number;
  };
  byPosRatio: Record<string, Record<string, { testError: Summary; seconds: number[] }>>;
  /** Set when the panel was built from some of a sharded run's shards. */
  partial?: { done: number; jobs: number; shards: number[]; count: number };
}

/** The committed shards of a sharded run, summarised as far as they go (undefined when there are none). */
function fromShards(root: string): PaperJson | undefined {
  const dir = join(root, L2RW_PAPER_SHARDS);
  if (!existsSync(dir)) return undefined;
  const shards = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => readCommittedJson<PaperShard>(root, `${L2RW_PAPER_SHARDS}/${f}`)!)
    .filter((x) => x.kind === 'reweight-paper-shard')
    .sort((a, b) => a.shard.index - b.shard.index);
  if (!shards.length) return undefined;
  const first = shards[0]!;
  const runs = shards.flatMap((x) => x.runs);
  const c = first.config;
  return {
    command: first.command,
    commit: first.commit,
    wallSeconds: shards.reduce((t, x) => t + x.wallSeconds, 0),
    config: c,
    byPosRatio: summarizeRuns(runs, c.posRatios, c.methods) as PaperJson['byPosRatio'],
    partial: { done: shards.reduce((t, x) => t + x.shard.end - x.shard.start, 0), jobs: c.posRatios.length * c.seeds.length, shards: shards.map((x) => x.shard.index), count: first.shard.count },
  };
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

/**
 * The body and summary line of the panel, from the result file under `root` (a note saying how to
 * produce it when it has not been committed).
 *
 * @example
 * ```ts
 * const { result } = l2rwPaperResultsPanel(process.cwd()); // e.g. 'L2RW 3.1–6.0% over pos_ratio 0.9–0.995 (…)'
 * ```
 */
export function l2rwPaperResultsPanel(root: string): { body: string; result: string } {
  const r = readCommittedJson<PaperJson>(root, L2RW_PAPER_RESULT) ?? fromShards(root);
  if (!r) {
    return {
      body: p(`No committed ${L2RW_PAPER_RESULT} yet: run \`npx unequal reweight --experiment imbalance --protocol paper --out ${L2RW_PAPER_RESULT}\`.`),
      result: 'no committed result',
    };
  }
  const c = r.config;
  const ratios = c.posRatios;
  const keys = ratios.map(String);
  const methods = c.methods.filter((m) => keys.some((k) => r.byPosRatio[k]?.[m]));
  // Categorical x axis: the ratios are unevenly spaced, the paper plots them side by side.
  const xs = ratios.map((_, i) => i);
  const series = methods.map((m) => {
    const at = keys.map((k) => r.byPosRatio[k]?.[m]?.testError);
    return { name: m, x: xs.filter((_, i) => at[i]), y: at.filter((s): s is Summary => !!s).map((s) => 100 * s.mean), errors: at.filter((s): s is Summary => !!s).map((s) => 100 * s.std) };
  });
  series.push({ name: 'L2RW, PyTorch rerun', x: xs.filter((_, i) => L2RW_RERUN_PERCENT[keys[i]!] !== undefined), y: keys.flatMap((k) => (L2RW_RERUN_PERCENT[k] === undefined ? [] : [L2RW_RERUN_PERCENT[k]!])), errors: [] });
  const chart = lineChart(
    series.map((s, i) => (i === series.length - 1 ? { ...s, dashed: true, color: '#555' } : s)),
    {
      title: 'Test error vs class imbalance (4 vs 9, LeNet)',
      xLabel: 'pos_ratio (share of 9s in training)',
      yLabel: 'test error (%), mean ± std over seeds',
      xTicks: ratios.map((v, i) => ({ value: i, label: String(v) })),
    },
  );
  const schedule = Object.entries(c.stepsByMethod).map(([m, s]) => `${m} ${s}`).join(', ');
  const rows = methods.map((m) => [m, ...keys.map((k) => {
    const s = r.byPosRatio[k]?.[m]?.testError;
    return s ? `${pct(s.mean)} ± ${pct(s.std)} (${s.runs.length})` : '–';
  })]);
  rows.push(['L2RW, PyTorch rerun (reference)', ...keys.map((k) => (L2RW_RERUN_PERCENT[k] === undefined ? '–' : `${L2RW_RERUN_PERCENT[k]!.toFixed(1)}%`))]);
  const body = [
    p(
      `The L2RW paper's Figure 3 protocol: ${c.ntrain.toLocaleString('en-US')} training images of 4s and 9s from full MNIST at each pos_ratio, ` +
        `${c.nval} clean balanced validation images, ${c.ntest} balanced test images; the paper's LeNet, sigmoid cross-entropy, ` +
        `SGD with momentum ${c.momentum}, learning rate ${c.lr} halved after half the steps, batch ${c.batchSize}; seeds ${c.seeds.join(', ')}. ` +
        `Steps per method: ${schedule}` +
        (c.stepsOverridden
          ? ' — shortened with --steps from the paper\'s 8,000 (baselines) / 4,000 (L2RW), so these errors are not yet the paper\'s; ' +
            'the baselines lose most by it (the paper trains them twice as long as L2RW), and a baseline at 50% is one that has not yet left the answer "always 9".'
          : ' (the paper\'s schedule).'),
    ),
    `<div class="figs">${chart}</div>`,
    table(['method', ...keys.map((k) => `pos_ratio ${k}`)], rows, 'Test error, mean ± std (runs)'),
    r.partial
      ? p(
          `Partial: ${r.partial.done} of the run's ${r.partial.jobs} (pos_ratio, seed) jobs, from ${r.partial.shards.length} of its ${r.partial.count} shards ` +
            `committed in ${L2RW_PAPER_SHARDS}/ (e.g. \`${r.command}\`, commit ${r.commit ? r.commit.slice(0, 10) : 'unknown'}); ` +
            `the others are still to run with the same command and --shard i/${r.partial.count}, then \`unequal merge\` writes ${L2RW_PAPER_RESULT}.`,
        )
      : p(provenance(r)),
  ].join('\n');
  const l2rw = keys.map((k) => r.byPosRatio[k]?.l2rw?.testError.mean).filter((v): v is number => v !== undefined);
  const uniform = r.byPosRatio[keys[keys.length - 1]!]?.uniform?.testError.mean;
  const result = l2rw.length
    ? `L2RW ${pct(Math.min(...l2rw))}–${pct(Math.max(...l2rw))} over pos_ratio ${ratios[0]}–${ratios[ratios.length - 1]}` +
      (uniform === undefined ? '' : `; uniform ${pct(uniform)} at ${ratios[ratios.length - 1]}`) +
      (c.stepsOverridden ? ` (shortened: ${schedule} steps)` : '') +
      (r.partial ? `; partial: ${r.partial.done} of ${r.partial.jobs} jobs` : '')
    : `methods ${methods.join(', ')}`;
  return { body, result };
}

/**
 * The reweighting experiments' figures, drawn by the shared charts of `src/apps/plots/svg.ts`: test
 * error against pos_ratio for every method, and histograms of the weights L2RW gave clean and
 * flipped samples.
 *
 * @module
 */
import { histogramChart, lineChart } from '../plots/svg.ts';
import { METHOD_NAMES, type MethodName, type Summary } from './reweight-common.ts';
import type { ImbalanceResult } from './reweight-imbalance.ts';
import type { Histogram } from './reweight-noise.ts';

/** One colour per method, the same in every figure. */
const COLORS: Record<MethodName, string> = {
  uniform: '#7f7f7f',
  'class-balanced': '#1f77b4',
  focal: '#ff7f0e',
  ohem: '#9467bd',
  'self-paced': '#8c564b',
  curriculum: '#e377c2',
  'data-dropout': '#17becf',
  l2rw: '#d62728',
};

/**
 * Test error (mean, with ±1 std bars) against pos_ratio, one line per method, L2RW's thicker. The x
 * axis is categorical (the paper's grid is uneven), the y axis runs from 0 to 60%.
 *
 * @example
 * ```ts
 * const svg = errorVsPosRatioSvg(runImbalance({ quick: true, seeds: 1, methods: ['uniform', 'l2rw'] }));
 * svg.startsWith('<svg'); // true
 * ```
 */
export function errorVsPosRatioSvg(result: ImbalanceResult): string {
  const ratios = result.config.posRatios;
  const series = METHOD_NAMES.filter((name) => result.methods[name]).map((name) => {
    const at: Summary[] = ratios.map((r) => result.methods[name]!.byPosRatio[String(r)]!);
    return {
      name,
      x: ratios.map((_, i) => i),
      y: at.map((s) => 100 * s.mean),
      errors: at.map((s) => 100 * s.std),
      color: COLORS[name],
      width: name === 'l2rw' ? 3 : 1.5,
    };
  });
  return lineChart(series, {
    title: `Test error vs pos_ratio (4 vs 9, ${result.config.seeds.length} seeds)`,
    xLabel: 'pos_ratio (share of 9s in training)',
    yLabel: 'test error (%)',
    xTicks: ratios.map((r, i) => ({ value: i, label: String(r) })),
    yRange: [0, 60],
  });
}

/**
 * Two overlaid histograms of L2RW's per-sample mean weights (1 = the uniform weight): clean samples
 * in blue, flipped samples in red.
 *
 * @example
 * ```ts
 * const h = { edges: [0, 1, 2], counts: [1, 3] };
 * weightHistogramSvg(h, { edges: [0, 1, 2], counts: [3, 1] }).includes('flipped'); // true
 * ```
 */
export function weightHistogramSvg(clean: Histogram, flipped: Histogram, title = 'L2RW weights: clean vs flipped labels'): string {
  return histogramChart(
    [
      { name: 'clean labels', ...clean, color: '#1f77b4' },
      { name: 'flipped labels', ...flipped, color: '#d62728' },
    ],
    { title, xLabel: 'mean weight × batch size (1 = uniform)', yLabel: 'samples' },
  );
}

/**
 * SVG figures for the reweighting experiments, written by hand (no plotting dependency): test
 * error against pos_ratio for every method, and histograms of the weights L2RW gave clean and
 * flipped samples.
 *
 * @module
 */
import { METHOD_NAMES } from './reweight-common.ts';
import type { ImbalanceResult } from './reweight-imbalance.ts';
import type { Histogram } from './reweight-noise.ts';

const COLORS: Record<string, string> = {
  uniform: '#7f7f7f',
  'class-balanced': '#1f77b4',
  focal: '#ff7f0e',
  ohem: '#9467bd',
  'self-paced': '#8c564b',
  curriculum: '#e377c2',
  'data-dropout': '#17becf',
  l2rw: '#d62728',
};

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Test error (mean, with ±1 std bars) against pos_ratio, one line per method. The x axis is
 * categorical (the paper's grid is uneven), the y axis runs from 0 to 60%.
 *
 * @example
 * ```ts
 * const svg = errorVsPosRatioSvg(runImbalance({ quick: true, seeds: 1, methods: ['uniform', 'l2rw'] }));
 * svg.startsWith('<svg'); // true
 * ```
 */
export function errorVsPosRatioSvg(result: ImbalanceResult): string {
  const W = 640;
  const H = 400;
  const m = { left: 60, right: 150, top: 40, bottom: 50 };
  const ratios = result.config.posRatios;
  const xs = (i: number) => m.left + (ratios.length === 1 ? 0.5 : i / (ratios.length - 1)) * (W - m.left - m.right);
  const yMax = 0.6;
  const ys = (e: number) => m.top + (1 - Math.min(e, yMax) / yMax) * (H - m.top - m.bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - 60}" y="22" text-anchor="middle" font-size="14">Test error vs pos_ratio (4 vs 9, ${result.config.seeds.length} seeds)</text>`,
  ];
  for (let k = 0; k <= 6; k++) {
    const e = k / 10;
    parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${ys(e)}" y2="${ys(e)}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.left - 8}" y="${ys(e) + 4}" text-anchor="end">${(100 * e).toFixed(0)}%</text>`);
  }
  ratios.forEach((r, i) => parts.push(`<text x="${xs(i)}" y="${H - m.bottom + 20}" text-anchor="middle">${r}</text>`));
  parts.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - 10}" text-anchor="middle">pos_ratio (share of 9s in training)</text>`);
  parts.push(`<text transform="translate(16 ${H / 2}) rotate(-90)" text-anchor="middle">test error</text>`);
  let legend = 0;
  for (const name of METHOD_NAMES) {
    const res = result.methods[name];
    if (!res) continue;
    const color = COLORS[name]!;
    const pts = ratios.map((r, i) => ({ x: xs(i), s: res.byPosRatio[String(r)]! }));
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="${name === 'l2rw' ? 3 : 1.5}" points="${pts.map((p) => `${p.x},${ys(p.s.mean)}`).join(' ')}"/>`);
    for (const p of pts) {
      parts.push(`<line x1="${p.x}" x2="${p.x}" y1="${ys(p.s.mean - p.s.std)}" y2="${ys(p.s.mean + p.s.std)}" stroke="${color}"/>`);
      parts.push(`<circle cx="${p.x}" cy="${ys(p.s.mean)}" r="3" fill="${color}"/>`);
    }
    const ly = m.top + 10 + 18 * legend++;
    parts.push(`<line x1="${W - m.right + 12}" x2="${W - m.right + 32}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="3"/>`);
    parts.push(`<text x="${W - m.right + 38}" y="${ly + 4}">${esc(name)}</text>`);
  }
  parts.push('</svg>');
  return parts.join('\n');
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
  const W = 640;
  const H = 360;
  const m = { left: 60, right: 20, top: 40, bottom: 50 };
  const edges = clean.edges;
  const lo = edges[0]!;
  const hi = edges[edges.length - 1]!;
  const cmax = Math.max(1, ...clean.counts, ...flipped.counts);
  const xs = (v: number) => m.left + ((v - lo) / (hi - lo || 1)) * (W - m.left - m.right);
  const ys = (c: number) => m.top + (1 - c / cmax) * (H - m.top - m.bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${esc(title)}</text>`,
  ];
  const bars = (h: Histogram, color: string) =>
    h.counts.forEach((c, k) => {
      const x0 = xs(h.edges[k]!);
      const x1 = xs(h.edges[k + 1]!);
      parts.push(`<rect x="${x0}" y="${ys(c)}" width="${Math.max(0, x1 - x0 - 1)}" height="${ys(0) - ys(c)}" fill="${color}" fill-opacity="0.55"/>`);
    });
  bars(clean, '#1f77b4');
  bars(flipped, '#d62728');
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    parts.push(`<text x="${xs(v)}" y="${H - m.bottom + 18}" text-anchor="middle">${v.toFixed(2)}</text>`);
    const c = Math.round((cmax * k) / 4);
    parts.push(`<text x="${m.left - 8}" y="${ys(c) + 4}" text-anchor="end">${c}</text>`);
  }
  parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${ys(0)}" y2="${ys(0)}" stroke="black"/>`);
  parts.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - 10}" text-anchor="middle">mean weight × batch size (1 = uniform)</text>`);
  parts.push(`<rect x="${W - 170}" y="${m.top}" width="14" height="14" fill="#1f77b4" fill-opacity="0.55"/><text x="${W - 150}" y="${m.top + 11}">clean labels</text>`);
  parts.push(`<rect x="${W - 170}" y="${m.top + 20}" width="14" height="14" fill="#d62728" fill-opacity="0.55"/><text x="${W - 150}" y="${m.top + 31}">flipped labels</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}

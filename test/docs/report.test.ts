/**
 * The pieces of the `npm start` report (src/apps/report) and the apps' charts (src/apps/plots): the SVG charts and HTML are well formed and
 * escape what they show, and the second-order sanity panel's reference Hessian-vector product (plain
 * loops, no autodiff) agrees with the engine, so the panel compares two independent computations.
 */
import { describe, expect, it } from 'vitest';
import { fmt, page, table } from '../../src/apps/report/html.ts';
import { closedFormHvp, secondOrderSanity } from '../../src/apps/report/sanity.ts';
import { barChart, digitImage, escapeXml, formatTick, histogramChart, lineChart, niceTicks, scatterPlot } from '../../src/apps/plots/svg.ts';
import { Rng } from '../../src/index.ts';

/** Every opened tag is closed in order (self-closing tags excepted). */
function balanced(xml: string): boolean {
  const stack: string[] = [];
  for (const m of xml.matchAll(/<(\/?)([a-zA-Z][\w-]*)([^>]*?)(\/?)>/g)) {
    const [, close, name, , self] = m;
    if (self) continue;
    if (close) {
      if (stack.pop() !== name) return false;
    } else stack.push(name!);
  }
  return stack.length === 0;
}

describe('svg', () => {
  it('niceTicks gives round steps covering the range', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(-0.013, 0.047)).toEqual([0, 0.02, 0.04]);
    expect(niceTicks(-3.2, 7.9, 6)).toEqual([-2, 0, 2, 4, 6]);
    expect(niceTicks(-3.2, 7.9, 4)).toEqual([0, 5]);
    expect(niceTicks(2, 2)).toEqual([2]);
  });
  it('formatTick is compact', () => {
    expect(formatTick(0.000012)).toBe('1.2e-5');
    expect(formatTick(12345.6)).toBe('1.2e4');
    expect(formatTick(0.25)).toBe('0.25');
  });
  it('charts are balanced XML, escape labels and draw one marker per finite point', () => {
    const s = scatterPlot([1, 2, 3, NaN], [1, 2.5, 2.8, 4], { title: 'a < b & "c"', xLabel: 'x', yLabel: 'y', identity: true });
    expect(balanced(s)).toBe(true);
    expect(s).toContain('a &lt; b &amp; &quot;c&quot;');
    expect(s.match(/<circle/g)?.length).toBe(3);
    expect(s).toContain('stroke-dasharray'); // the identity line
    const l = lineChart([{ name: 'err', x: [1e-1, 1e-2, 1e-3], y: [1e-4, 1e-6, 0] }], { title: 't', xLabel: 'h', yLabel: 'e', logX: true, logY: true });
    expect(balanced(l)).toBe(true);
    expect(l.match(/<circle/g)?.length).toBe(2); // y = 0 cannot be shown on a log axis
    const b = barChart(['g1', 'g2'], [[0.1, 0.2], [0.3, 0.05]], { title: 't', yLabel: 'err', seriesNames: ['a', 'b'] }, [[0.01, 0], [0.02, 0.01]]);
    expect(balanced(b)).toBe(true);
    expect(b.match(/<rect[^>]*><title>/g)?.length).toBe(4);
    expect(() => scatterPlot([1], [1, 2], { title: '', xLabel: '', yLabel: '' })).toThrow(/1 x values but 2 y values/);
  });
  it('line charts take categorical ticks, error bars and a fixed range; histograms overlay; subtitles show', () => {
    const l = lineChart([{ name: 'l2rw', x: [0, 1], y: [10, 80], errors: [5, 0] }], {
      title: 't',
      subtitle: 'a & b',
      xLabel: 'x',
      yLabel: 'y',
      xTicks: [{ value: 0, label: '0.9' }, { value: 1, label: '0.995' }],
      yRange: [0, 60],
    });
    expect(balanced(l)).toBe(true);
    expect(l).toContain('>0.995</text>');
    expect(l).toContain('a &amp; b');
    expect(l.match(/<line [^>]*stroke="#2a6fb0"\/>/g)?.length).toBe(1); // one error bar (the other is 0)
    const ys = [...l.matchAll(/<circle cx="[\d.]+" cy="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(Math.min(...ys)).toBeGreaterThanOrEqual(34); // 80 is drawn at the top edge (60), not above the frame
    const h = histogramChart(
      [{ name: 'clean', edges: [0, 1, 2], counts: [1, 3] }, { name: 'flipped', edges: [0, 1, 2], counts: [3, 1] }],
      { title: 'w', xLabel: 'weight', yLabel: 'samples' },
    );
    expect(balanced(h)).toBe(true);
    expect(h.match(/fill-opacity="0.55"/g)?.length).toBe(6); // 4 bars and 2 legend squares
    expect(h).toContain('flipped');
  });
  it('digitImage draws one square per inked pixel, darker for more ink', () => {
    const px = new Float64Array(784);
    px[0] = 1;
    px[29] = 0.5;
    const svg = digitImage(px, ['a "7"', 'x < y']);
    expect(balanced(svg)).toBe(true);
    expect(svg.match(/<rect[^>]*fill="rgb/g)?.length).toBe(2);
    expect(svg).toContain('fill="rgb(0,0,0)"');
    expect(svg).toContain('fill="rgb(128,128,128)"');
    expect(svg).toContain('a &quot;7&quot;');
    expect(() => digitImage(new Float64Array(10), [])).toThrow(/do not form a square/);
  });
});

describe('html', () => {
  it('builds a self-contained page with escaped tables and marks missing sections', () => {
    const html = page(
      'Report',
      '<p>intro</p>',
      [
        { id: 'a', title: 'A', body: table(['k', 'v'], [['<x>', 1.23456], ['y', 1e-9]]) },
        { id: 'b', title: 'B', body: '', missing: 'src/x.ts does not exist' },
      ],
      'footer',
    );
    expect(balanced(html.replace(/<!doctype html>/, '').replace(/<meta[^>]*>/g, ''))).toBe(true);
    expect(html).toContain('&lt;x&gt;');
    expect(html).toContain('1.235');
    expect(html).toContain('1.00e-9');
    expect(html).toContain('Not produced.');
    expect(html).not.toMatch(/<script|src="http|href="http/);
    expect(escapeXml('<&>"')).toBe('&lt;&amp;&gt;&quot;');
    expect(fmt(123456)).toBe('1.23e+5');
  });
});

describe('second-order sanity panel', () => {
  const rng = new Rng(5);
  const [n, d] = [60, 7];
  const X = Float64Array.from({ length: n * d }, () => rng.normal());
  const y = Float64Array.from({ length: n }, (_, i) => (X[i * d]! + 0.5 * rng.normal() > 0 ? 1 : 0));
  const problem = { X, y, n, d, w: Float64Array.from({ length: d }, () => 0.3 * rng.normal()), b: 0.2, l2: 0.05 };

  it('the closed-form reference is linear in v and symmetric: ⟨u, H v⟩ = ⟨H u, v⟩', () => {
    const u = Float64Array.from({ length: d + 1 }, () => rng.normal());
    const v = Float64Array.from({ length: d + 1 }, () => rng.normal());
    const Hu = closedFormHvp(problem, u.subarray(0, d), u[d]!);
    const Hv = closedFormHvp(problem, v.subarray(0, d), v[d]!);
    const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
    expect(Math.abs(dot(u, Hv) - dot(Hu, v))).toBeLessThan(1e-13);
    // the intercept is not regularised: H e_b has no λ term
    const eb = new Float64Array(d + 1);
    eb[d] = 1;
    const Heb = closedFormHvp({ ...problem, l2: 0 }, eb.subarray(0, d), 1);
    expect(closedFormHvp(problem, eb.subarray(0, d), 1)).toEqual(Heb);
  });

  it('both HVP routes match the closed form to rounding, and the best finite difference to its truncation error', () => {
    const r = secondOrderSanity(problem, 3, 1);
    for (const route of r.routes) expect(route.relErrClosedForm).toBeLessThan(1e-13);
    expect(r.relErrBetweenRoutes).toBeLessThan(1e-13);
    expect(r.bestFd.relErr).toBeLessThan(1e-8);
    // the sweep shows the truncation regime: from h = 1e-1 to 1e-2 the error falls about 100×
    const [e1, e2] = [r.fdSweep[0]!.relErr, r.fdSweep[1]!.relErr];
    expect(e1 / e2).toBeGreaterThan(50);
    expect(e1 / e2).toBeLessThan(200);
  });
});

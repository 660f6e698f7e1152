/**
 * The Figure 2 reproduction runs on real MNIST 1-vs-7 and its predicted removal effects track
 * exact leave-one-out (a small number of points keeps this CI-fast; the full run reports ~0.99 at
 * 50 points).
 */
import { describe, expect, it } from 'vitest';
import { runFigure2 } from '../../src/apps/experiments/koh-liang-figure2.ts';

describe('Koh & Liang Figure 2 (left) on MNIST 1 vs 7', () => {
  it('predicted vs actual LOO correlate and the SVG is self-contained', () => {
    const r = runFigure2({ points: 12, solvers: false });
    expect(r.setting.n).toBe(1758);
    expect(r.setting.gradNorm).toBeLessThan(1e-10);
    expect(r.points).toHaveLength(12);
    expect(r.pearson).toBeGreaterThan(0.97);
    // Signs agree point by point for the most influential points (|effect| ≫ the O(1/n²) error).
    for (const p of r.points) expect(Math.sign(p.predicted)).toBe(Math.sign(p.actual));
    expect(r.svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(r.svg.match(/<circle /g)).toHaveLength(12);
    expect(r.svg).not.toMatch(/href=|<script/);
  });
});

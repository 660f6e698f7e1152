/**
 * The report's Figure 2 panel (src/apps/report/figure2-results.ts) shows the committed results it
 * finds, with their provenance, and says plainly when one is missing.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIGURE2_RESULTS, figure2ResultsPanel } from '../../src/apps/report/figure2-results.ts';

const panel = (q: number) => ({
  testIndex: 8 + q,
  rule: 'r & <s>',
  label: 5,
  predictedClass: 6,
  predictedExact: [1e-3, -2e-3, 3e-4],
  predictedLissa: [1.1e-3, -2e-3, 2e-4],
  actual: [1.05e-3, -2.1e-3, 3.1e-4],
  exact: { pearson: 0.9991, spearman: 1 },
  lissa: { pearson: 0.98, spearman: 0.5 },
});

describe('report: Figure 2 at the paper scale', () => {
  it('draws one scatter per panel and solver with the correlations and provenance', () => {
    const root = mkdtempSync(join(tmpdir(), 'fig2-'));
    mkdirSync(join(root, 'results'));
    writeFileSync(
      join(root, FIGURE2_RESULTS.mnist10),
      JSON.stringify({
        command: 'unequal figure2 --panel mnist10',
        commit: 'abcdef0123456789',
        wallSeconds: 3000,
        classes: 10,
        nTrain: 55000,
        l2: 0.01,
        retrained: 6,
        split: 'rows 5000..59999',
        solver: { exact: 'PCG', lissa: { scale: 25, depth: 5000, damping: 0, batchSize: 1, repeats: 10 } },
        retraining: { gradTol: 1e-12, maxGradNorm: 5e-13, maxActualErrorBound: 1e-9, meanIterations: 3 },
        training: { gradNorm: 1e-15, testAccuracy: 0.92 },
        panels: [panel(0), panel(1)],
      }),
    );
    const only = figure2ResultsPanel(root);
    expect(only.body.match(/<svg /g)).toHaveLength(4); // 2 test images × (exact, LiSSA)
    expect(only.body).toContain('Pearson 0.999');
    expect(only.body).toContain('abcdef0123'); // commit
    expect(only.body).toContain('50.0 minutes');
    expect(only.body).toContain('r &amp; &lt;s&gt;'); // escaped
    expect(only.body).toContain('No committed results/koh-figure2-cnn.json');
    expect(only.result).toMatch(/Pearson 0\.99910 exact, 0\.9800 LiSSA/);
    writeFileSync(
      join(root, FIGURE2_RESULTS.cnn),
      JSON.stringify({
        command: 'unequal figure2 --panel cnn',
        commit: null,
        wallSeconds: 600,
        nTrain: 300,
        nParams: 2010,
        retrained: 3,
        config: { channels: 4, trainSteps: 300, retrainSteps: 40, l2: 0.001, damping: 0.01 },
        training: { finalGradNorm: 1e-3, trainAccuracy: 1, testAccuracy: 0.85 },
        testIndex: 6,
        testRule: 'first misclassified',
        control: -0.01,
        predicted: [0.1, -0.05, 0.02],
        actual: [0.4, -0.2, 0.1],
        pearson: 0.99,
        spearman: 1,
      }),
    );
    const both = figure2ResultsPanel(root);
    expect(both.body.match(/<svg /g)).toHaveLength(5);
    expect(both.body).toContain('commit unknown');
    expect(both.result).toContain('CNN: Pearson 0.990 over 3 points');
  });

  it('says so when nothing is committed', () => {
    const r = figure2ResultsPanel(mkdtempSync(join(tmpdir(), 'fig2-none-')));
    expect(r.result).toBe('10-class LR: no committed result; CNN: no committed result');
    expect(r.body).not.toContain('<svg');
  });
});

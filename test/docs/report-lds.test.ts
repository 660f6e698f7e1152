/**
 * The report's LDS panel (src/apps/report/lds-results.ts) shows the committed MNIST-10 attribution
 * result beside dattri's figures, sorted by LDS, with its provenance, and says plainly when the
 * result is missing; and it reads the real committed file.
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DATTRI_LDS, LDS_EXACT_RESULT, LDS_RESULT, ldsResultsPanel, NOISY_RESULT } from '../../src/apps/report/lds-results.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('report: LDS on MNIST-10', () => {
  it('draws one bar chart and one table per model, best method first, with dattri beside', () => {
    const root = mkdtempSync(join(tmpdir(), 'lds-'));
    mkdirSync(join(root, 'results'));
    writeFileSync(
      join(root, LDS_RESULT),
      JSON.stringify({
        command: 'unequal merge --combine a.json b.json',
        commit: 'abcdef0123456789',
        wallSeconds: 1800,
        config: { logreg: { subsets: 100, tests: 100, parameters: 7850 } },
        logreg: {
          methods: {
            'grad-dot': { lds: 0.26, loo: 0.02, seconds: 0.1 },
            cg: { lds: 0.77, loo: 0.06, seconds: 17.5 },
            kfac: { lds: 0.69, seconds: 23 },
            'trak-10': { lds: 0.67, seconds: 56, ensemble: true },
          },
        },
      }),
    );
    const r = ldsResultsPanel(root);
    expect(r.body.match(/<svg /g)).toHaveLength(1); // no MLP in this file
    expect(r.body.indexOf('<td>cg</td>')).toBeLessThan(r.body.indexOf('<td>kfac</td>'));
    expect(r.body.indexOf('<td>kfac</td>')).toBeLessThan(r.body.indexOf('<td>grad-dot</td>'));
    expect(r.body).toContain('<td>0.80</td>'); // dattri's CG figure beside ours
    expect(r.body).toContain('abcdef0123');
    expect(r.body).toContain('30.0 minutes');
    expect(r.result).toBe('logreg: best cg 0.770 (100 subsets)');
  });

  it('adds the exact-optimum variant (LDS and LOO bars, its table and provenance) when its file is committed', () => {
    const root = mkdtempSync(join(tmpdir(), 'lds-exact-'));
    mkdirSync(join(root, 'results'));
    const provenanceOf = (commit: string) => ({ command: 'unequal lds --model logreg', commit, wallSeconds: 60 });
    writeFileSync(join(root, LDS_RESULT), JSON.stringify({ ...provenanceOf('1111111111'), config: { logreg: { subsets: 100, tests: 100, parameters: 7850 } }, logreg: { methods: { cg: { lds: 0.77, seconds: 1 } } } }));
    writeFileSync(
      join(root, LDS_EXACT_RESULT),
      JSON.stringify({
        ...provenanceOf('2222222222'),
        config: { subsets: 100, tests: 500, looRows: 1000, training: { l2: 0.01, gradTol: 1e-11 } },
        fit: { maxGradNorm: 9e-12 },
        logreg: { methods: { 'grad-dot': { lds: 0.3, loo: 0.2, seconds: 0.1 }, exact: { lds: 0.9, loo: 0.95, seconds: 60 } } },
      }),
    );
    const r = ldsResultsPanel(root);
    expect(r.body.match(/<svg /g)).toHaveLength(2);
    expect(r.body).toContain('λ = 0.01');
    expect(r.body).toContain('1000 LOO removals');
    expect(r.body.indexOf('<td>exact</td>')).toBeLessThan(r.body.lastIndexOf('<td>grad-dot</td>'));
    expect(r.body).toContain('2222222222');
    expect(r.result).toBe('logreg: best cg 0.770 (100 subsets); logreg at the optimum: best exact 0.900, exact LOO 0.950');
  });

  it('adds the noisy-label detection chart (AUC per method, best first, the loss baseline named) when its file is committed', () => {
    const root = mkdtempSync(join(tmpdir(), 'lds-noisy-'));
    mkdirSync(join(root, 'results'));
    writeFileSync(join(root, LDS_RESULT), JSON.stringify({ command: 'unequal lds', commit: '1111111111', wallSeconds: 60, config: { logreg: { subsets: 100, tests: 100, parameters: 7850 } }, logreg: { methods: { cg: { lds: 0.77, seconds: 1 } } } }));
    writeFileSync(
      join(root, NOISY_RESULT),
      JSON.stringify({
        command: 'unequal merge --combine a.json b.json',
        commit: '3333333333',
        wallSeconds: 900,
        config: { mlp: { data: { train: 1000 }, flip: { fraction: 0.1, rows: 100 } } },
        mlp: { methods: { loss: { auc: 0.95, seconds: 0.1 }, tracin: { auc: 0.98, seconds: 0.3 }, 'trak-1': { auc: 0.86, seconds: 19 } } },
      }),
    );
    const r = ldsResultsPanel(root);
    expect(r.body.match(/<svg /g)).toHaveLength(2);
    expect(r.body).toContain('finding 100 flipped labels of 1000');
    expect(r.body).toContain('3333333333');
    expect(r.result).toBe('logreg: best cg 0.770 (100 subsets); mlp flipped labels: best tracin AUC 0.980 (loss 0.950)');
  });

  it('says so when nothing is committed', () => {
    const r = ldsResultsPanel(mkdtempSync(join(tmpdir(), 'lds-none-')));
    expect(r.result).toBe('no committed result');
    expect(r.body).not.toContain('<svg');
  });

  it('reads the committed result: both models, every logistic method dattri reports', () => {
    const r = ldsResultsPanel(ROOT);
    const extra = [LDS_EXACT_RESULT].filter((f) => existsSync(join(ROOT, f))).length + (existsSync(join(ROOT, NOISY_RESULT)) ? 2 : 0);
    expect(r.body.match(/<svg /g)).toHaveLength(2 + extra);
    for (const m of Object.keys(DATTRI_LDS.logreg)) expect(r.body).toContain(`<td>${m}</td>`);
    expect(r.result).toMatch(/^logreg: best .* mlp: best /);
  });
});

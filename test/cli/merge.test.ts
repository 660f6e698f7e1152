/**
 * `unequal merge --combine`: finished results of runs that differ only in their methods (or model)
 * join into one file; a second configuration or a repeated method is refused. Synthetic inputs:
 * the check is about the bookkeeping, not the numbers (lds-mnist10.test.ts merges real shards).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runInProcess } from './cli-helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'unequal-merge-'));
const config = (model: string, methods: string[], extra: Record<string, unknown> = {}) => ({ model, subsets: 100, tests: 100, seed: 0, methods, ...extra });
function result(name: string, model: string, methods: Record<string, number>, extra: Record<string, unknown> = {}): string {
  const path = join(dir, name);
  const entries = Object.fromEntries(Object.entries(methods).map(([m, lds]) => [m, { lds, seconds: 1, config: {}, cost: {} }]));
  writeFileSync(path, JSON.stringify({ command: `unequal lds --model ${model}`, commit: 'a'.repeat(40), wallSeconds: 10, config: config(model, Object.keys(methods), extra), [model]: { methods: entries } }));
  return path;
}

describe('unequal merge --combine', () => {
  it('joins methods of one model and a second model, keeping every run', async () => {
    const a = result('a.json', 'logreg', { cg: 0.77, 'grad-dot': 0.26 }, { dropped: ['trak-50: needs 50 trained models'], ensemble: 10 });
    const b = result('b.json', 'logreg', { kfac: 0.5 }, { ensemble: 0 });
    const c = result('c.json', 'mlp', { tracin: 0.1 });
    const r = await runInProcess(['merge', '--combine', a, b, c, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out.logreg.methods).sort()).toEqual(['cg', 'grad-dot', 'kfac']);
    expect(out.logreg.methods.cg.lds).toBe(0.77);
    expect(out.mlp.methods.tracin.lds).toBe(0.1);
    expect(out.config.logreg.methods).toEqual(['cg', 'grad-dot', 'kfac']);
    expect(out.config.logreg.dropped).toEqual(['trak-50: needs 50 trained models']);
    expect(out.config.logreg.ensemble).toBe(10);
    expect(out.runs).toHaveLength(3);
    expect(out.wallSeconds).toBe(30);
  });

  it('refuses another configuration and a repeated method', async () => {
    const a = result('d.json', 'logreg', { cg: 0.77 });
    const other = result('e.json', 'logreg', { kfac: 0.5 }, { seed: 1 });
    const again = result('f.json', 'logreg', { cg: 0.7 });
    const r1 = await runInProcess(['merge', '--combine', a, other]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/another configuration/);
    const r2 = await runInProcess(['merge', '--combine', a, again]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/method cg of logreg is in two inputs/);
  });
});

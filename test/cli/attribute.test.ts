/**
 * `unequal attribute` in-process through runCli: the exact method equals `unequal influence`'s
 * influence array, Grad-Dot equals its closed form for logistic regression, help, and one-line
 * usage errors.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.ts';
import { expectAllFinite, expectOneLineFailure, runInProcess, writeCsvFile } from './cli-helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'unequal-attribute-'));

function logregRows(n: number, seed: number): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const x0 = rng.normal();
    const x1 = rng.normal();
    return [x0, x1, x0 - 0.5 * x1 + 0.3 * rng.normal() > 0 ? 1 : 0];
  });
}

const trainRows = logregRows(12, 1);
const testRows = logregRows(4, 2);
const train = writeCsvFile(dir, 'train.csv', trainRows);
const test = writeCsvFile(dir, 'test.csv', testRows);
const base = ['--train', train, '--test', test, '--model', 'logreg', '--l2', '0.05', '--test-index', '2', '--quiet'];

async function json(args: string[]): Promise<Record<string, unknown>> {
  const r = await runInProcess(args);
  expect(r.code, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  expectAllFinite(out);
  return out;
}

describe('unequal attribute', () => {
  it('exact equals the influence command (same convention, 1/n included)', async () => {
    const inf = await json(['influence', ...base]);
    const att = await json(['attribute', ...base, '--method', 'exact']);
    expect(att.method).toBe('exact');
    expect(att.n).toBe(12);
    expect(att.includesOneOverN).toBe(true);
    expect(att.convention).toMatch(/positive = the point helps/);
    expect(att.scores).toEqual(inf.influence);
  });

  it('cg and lissa agree with exact', async () => {
    const exact = (await json(['attribute', ...base, '--method', 'exact'])).scores as number[];
    for (const m of ['cg', 'lissa']) {
      const s = (await json(['attribute', ...base, '--method', m])).scores as number[];
      s.forEach((v, i) => expect(Math.abs(v - exact[i]!)).toBeLessThan(1e-5 * Math.max(...exact.map(Math.abs))));
    }
  });

  it('grad-dot and grad-cos equal the closed form for logistic regression', async () => {
    const inf = await json(['influence', ...base]);
    const [w0, w1, b] = inf.params as number[];
    const sig = (z: number) => 1 / (1 + Math.exp(-z));
    // ∇ℓ(z) = (σ(wᵀx + b) − y)·[x, 1]
    const grad = (r: number[]) => {
      const e = sig(w0! * r[0]! + w1! * r[1]! + b!) - r[2]!;
      return [e * r[0]!, e * r[1]!, e];
    };
    const gt = grad(testRows[2]!);
    const dot = (a: number[], c: number[]) => a.reduce((s, v, j) => s + v * c[j]!, 0);
    const want = trainRows.map((r) => dot(gt, grad(r)));
    const att = await json(['attribute', ...base, '--method', 'grad-dot']);
    expect(att.includesOneOverN).toBe(false);
    const got = att.scores as number[];
    expect(got).toHaveLength(12);
    got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-9));
    const cos = (await json(['attribute', ...base, '--method', 'grad-cos'])).scores as number[];
    trainRows.forEach((r, i) => {
      const g = grad(r);
      expect(Math.abs(cos[i]! - dot(gt, g) / Math.sqrt(dot(gt, gt) * dot(g, g)))).toBeLessThan(1e-9);
    });
  });

  it('trak-1 runs on logreg and writes its projection; refused for linreg', async () => {
    const att = await json(['attribute', ...base, '--method', 'trak-1']);
    expect(att.trak).toEqual({ k: 3, seed: 0, models: 1 });
    expect(att.scores as number[]).toHaveLength(12);
    expectOneLineFailure(await runInProcess(['attribute', ...base.map((a) => (a === 'logreg' ? 'linreg' : a)), '--method', 'trak-1']), 1, /trak-1 needs a cross-entropy model/);
  });

  it('writes --out', async () => {
    const out = join(dir, 'a.json');
    const r = await runInProcess(['attribute', ...base, '--method', 'grad-dot', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8')).method).toBe('grad-dot');
  });

  it('help exits 0 and the command is listed', async () => {
    const r = await runInProcess(['attribute', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--method exact\|cg\|lissa\|grad-dot\|grad-cos\|trak-1/);
    expect((await runInProcess(['--help'])).stdout).toMatch(/^\s+attribute\s/m);
  });

  it('a bad or missing method exits 2 with one line', async () => {
    expectOneLineFailure(await runInProcess(['attribute', ...base, '--method', 'tracin']), 2, /--method: 'tracin' is not one of exact, cg/);
    expectOneLineFailure(await runInProcess(['attribute', ...base]), 2, /--method is required/);
    expectOneLineFailure(await runInProcess(['attribute', ...base, '--method', 'exact', '--bogus', '1']), 2);
  });
});

describe('unequal lds', () => {
  const ldsBase = ['lds', '--train', train, '--test', test, '--model', 'logreg', '--l2', '0.05', '--quiet'];

  it('writes { <model>: { methods: { <name>: { lds, loo, seconds } } } } with command and wallSeconds', async () => {
    const out = join(dir, 'lds.json');
    const r = await runInProcess([...ldsBase, '--subsets', '20', '--methods', 'exact,grad-dot', '--loo', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(readFileSync(out, 'utf8'));
    expectAllFinite(res);
    expect(res.command).toMatch(/^unequal lds /);
    expect(res.wallSeconds).toBeGreaterThan(0);
    expect(Object.keys(res.logreg.methods)).toEqual(['exact', 'grad-dot']);
    const exact = res.logreg.methods.exact;
    expect(Object.keys(exact).sort()).toEqual(['lds', 'loo', 'seconds']);
    // Exact influence on a small convex problem tracks LOO closely, and the subset retraining well.
    expect(exact.loo).toBeGreaterThan(0.9);
    expect(exact.lds).toBeGreaterThan(0.5);
    expect(Math.abs(res.logreg.methods['grad-dot'].lds)).toBeLessThanOrEqual(1);
  });

  it('help exits 0; a bad method exits 2 with one line', async () => {
    expect((await runInProcess(['lds', '--help'])).code).toBe(0);
    expectOneLineFailure(await runInProcess([...ldsBase, '--methods', 'exact,tracin']), 2, /--methods: unknown 'tracin'/);
    expectOneLineFailure(await runInProcess([...ldsBase, '--subsets', '1']), 2, /--subsets/);
  });
});

/**
 * `unequal influence` and `unequal loo` end to end: spawn `node bin/unequal.js` on small CSVs and
 * compare with an independent float64 reference written here (Newton on the closed-form logistic
 * gradient/Hessian and the normal equations for linreg, solved by Gaussian elimination), not with
 * the library's own code path. The usage errors run in-process (runCli: the same code without the
 * process start-up), which keeps the file fast.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.ts';
import { pearson } from '../../src/linalg/vector.ts';
import { expectClose } from '../helpers.ts';
import { runInProcess } from './cli-helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'unequal-influence-'));
const cli = (args: string[]) => spawnSync(process.execPath, ['bin/unequal.js', ...args], { encoding: 'utf8', cwd: process.cwd() });

function writeData(name: string, n: number, d: number, kind: 'logreg' | 'linreg' | 'softmax', seed: number) {
  const rng = new Rng(seed);
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) {
    const x = Array.from({ length: d }, () => rng.normal());
    const z = x[0]! - 0.5 * x[1]! + 0.2;
    const y = kind === 'linreg' ? z + 0.3 * rng.normal() : kind === 'logreg' ? (z + rng.normal() > 0 ? 1 : 0) : z + rng.normal() < -0.5 ? 0 : z + rng.normal() < 0.7 ? 1 : 2;
    rows.push([...x, y]);
  }
  const path = join(dir, name);
  writeFileSync(path, [[...Array.from({ length: d }, (_, j) => `x${j}`), 'label'].join(','), ...rows.map((r) => r.join(','))].join('\n') + '\n');
  return { path, rows };
}

function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((r, i) => [...r, b[i]!]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[piv]![c]!)) piv = r;
    [M[c], M[piv]] = [M[piv]!, M[c]!];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r]![c]! / M[c]![c]!;
      for (let k = c; k <= n; k++) M[r]![k] -= f * M[c]![k]!;
    }
  }
  return M.map((r, i) => r[n]! / r[i]!);
}

/** Reference: θ̂, then influence[i] = (1/n) ∇ℓ_testᵀ H⁻¹ ∇ℓᵢ, for logreg or linreg (loss (z − y)²). */
function reference(kind: 'logreg' | 'linreg', train: number[][], test: number[], l2: number) {
  const n = train.length;
  const p = train[0]!.length; // d features + intercept
  const xt = (r: number[]) => [...r.slice(0, -1), 1];
  const sig = (z: number) => 1 / (1 + Math.exp(-z));
  let th = new Array<number>(p).fill(0);
  const dz = (r: number[], t: number[]) => {
    const z = xt(r).reduce((a, v, j) => a + v * t[j]!, 0);
    return kind === 'logreg' ? [sig(z) - r[r.length - 1]!, sig(z) * (1 - sig(z))] : [2 * (z - r[r.length - 1]!), 2];
  };
  const hess = (t: number[]) => {
    const H = Array.from({ length: p }, (_, a) => Array.from({ length: p }, (_, b) => (a === b && a < p - 1 ? l2 : 0)));
    for (const r of train) {
      const [, c] = dz(r, t);
      const x = xt(r);
      for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) H[a]![b] += (c! * x[a]! * x[b]!) / n;
    }
    return H;
  };
  for (let it = 0; it < 50; it++) {
    const g = th.map((v, j) => (j < p - 1 ? l2 * v : 0));
    for (const r of train) {
      const [e] = dz(r, th);
      xt(r).forEach((v, j) => (g[j] += (e! * v) / n));
    }
    const step = solve(hess(th), g);
    th = th.map((v, j) => v - step[j]!);
  }
  const H = hess(th);
  const s = solve(H, xt(test).map((v) => v * dz(test, th)[0]!));
  const influence = train.map((r) => xt(r).reduce((a, v, j) => a + v * dz(r, th)[0]! * s[j]!, 0) / n);
  return { theta: th, influence };
}

describe('unequal influence / loo (spawned CLI)', () => {
  it.each(['logreg', 'linreg'] as const)('%s: params and influence match an independent float64 reference; loo agrees with it', (kind) => {
    const train = writeData(`${kind}-train.csv`, 60, 3, kind, 1);
    const test = writeData(`${kind}-test.csv`, 6, 3, kind, 2);
    const out = join(dir, `${kind}.json`);
    const r = cli(['influence', '--train', train.path, '--test', test.path, '--model', kind, '--l2', '0.05', '--test-index', '4', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(readFileSync(out, 'utf8'));
    expect(j).toMatchObject({ model: kind, n: 60, l2: 0.05, solver: 'exact', testIndex: 4 });
    const ref = reference(kind, train.rows, test.rows[4]!, 0.05);
    // Both are Newton to ~1e-16 gradients; the solves differ in order of summation only.
    expectClose(j.params, ref.theta, { rtol: 1e-9, atol: 1e-12, what: 'params' });
    expectClose(j.influence, ref.influence, { rtol: 1e-8, atol: 1e-12, what: 'influence' });
    const loo = cli(['loo', '--train', train.path, '--test', test.path, '--model', kind, '--l2', '0.05', '--test-index', '4', '--indices', '0,7,14,21,28,35', '--quiet']);
    expect(loo.status, loo.stderr).toBe(0);
    expect(loo.stderr).toBe('');
    const L = JSON.parse(loo.stdout);
    expect(L.testIndex).toBe(4);
    expectClose(L.testLoss, j.testLoss, { rtol: 1e-12 });
    const idx = [0, 7, 14, 21, 28, 35];
    expect(Object.keys(L.loo)).toEqual(idx.map(String));
    expect(pearson(idx.map((i) => j.influence[i]), idx.map((i) => L.loo[String(i)]))).toBeGreaterThan(0.98);
  });

  it('softmax and the iterative solvers: cg and lissa agree with exact', () => {
    const train = writeData('sm-train.csv', 50, 2, 'softmax', 3);
    const test = writeData('sm-test.csv', 4, 2, 'softmax', 4);
    const run = (solver: string) => {
      const r = cli(['influence', '--train', train.path, '--test', test.path, '--model', 'softmax', '--l2', '0.1', '--solver', solver, '--quiet']);
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout);
    };
    const exact = run('exact');
    expect(exact.params).toHaveLength(3 * 3); // W (3 classes × 2 features) then 3 intercepts
    expect(Math.abs(exact.params.slice(6).reduce((a: number, b: number) => a + b, 0))).toBeLessThan(1e-10);
    const scale = Math.max(...exact.influence.map(Math.abs));
    expectClose(run('cg').influence, exact.influence, { rtol: 1e-6, atol: 1e-6 * scale, what: 'cg' });
    const lissa = run('lissa');
    expect(lissa.solverInfo.effectiveDamping).toBe(0);
    expect(pearson(lissa.influence, exact.influence)).toBeGreaterThan(0.99999);
  });

  it('errors name the flag, the file or the shape; --help works', async () => {
    const train = writeData('e-train.csv', 10, 2, 'logreg', 5);
    const wide = writeData('e-wide.csv', 3, 3, 'logreg', 6);
    const bad = [
      [['influence', '--test', train.path, '--model', 'logreg', '--l2', '0.1'], /--train is required/],
      [['influence', '--train', join(dir, 'missing.csv'), '--test', train.path, '--model', 'logreg', '--l2', '0.1'], /--train: .*missing\.csv: cannot read/],
      [['influence', '--train', train.path, '--test', wide.path, '--model', 'logreg', '--l2', '0.1'], /--test: .* has 3 feature columns but --train .* has 2/],
      [['influence', '--train', train.path, '--test', train.path, '--model', 'svm', '--l2', '0.1'], /--model: 'svm'/],
      [['influence', '--train', train.path, '--test', train.path, '--model', 'logreg', '--l2', 'x'], /--l2: 'x' is not a number/],
      [['influence', '--train', train.path, '--test', train.path, '--model', 'logreg', '--l2', '0.1', '--test-index', '10'], /--test-index: '10' must be an integer in 0..9/],
      [['loo', '--train', train.path, '--test', train.path, '--model', 'logreg', '--l2', '0.1', '--indices', '1,99'], /--indices: '99' must be an integer in 0\.\.9/],
      // Numbers follow the CSV reader's grammar: a hex literal is refused, an exponent is accepted.
      [['influence', '--train', train.path, '--test', train.path, '--model', 'logreg', '--l2', '0x1'], /^unequal: --l2: '0x1' is not a number\n$/],
      [['influence', '--train', train.path, '--test', train.path, '--model', 'logreg', '--l2=-1e-2'], /^unequal: --l2: '-1e-2' must be a number ≥ 0\n$/],
      [['influence', '--train', train.path, '--test', train.path, '--model', 'logreg', '--l2', '0.1', '--test-index', '1e1'], /--test-index: '1e1' must be an integer in 0\.\.9/],
      [['influence', '--train', train.path, '--test', train.path, '--model', 'logreg', '--l2', '0.1', '--lissa-scale', '0'], /--lissa-scale: '0' must be a number > 0/],
      [['influence', '--train', train.path, '--test', train.path, '--model', 'logreg', '--l2', '0.1', '--l2', '0.2'], /--l2 is given more than once/],
      [['nonsense'], /^unequal: unknown command 'nonsense'; the commands are influence, loo, reweight, metagrad/],
    ] as const;
    for (const [args, msg] of bad) {
      const r = await runInProcess([...args]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1); // one line, no stack trace
    }
    expect(cli(['influence', '--help']).stdout).toMatch(/influence\[i\] = \(1\/n\)/);
    expect(cli(['loo', '--help']).stdout).toMatch(/R\(θ\) − \(1\/n\) ℓ\(zᵢ, θ\)/);
  });
});

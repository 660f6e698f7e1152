/**
 * `unequal noisy` (src/apps/cli/noisy-mnist10.ts) on a tiny configuration: the output's shape, the
 * flipped rows (their number, each label changed, the rule in the config), AUCs in [0, 1], the
 * dropped methods with their reasons, `merge --combine` of a logreg and an MLP run, and the usage
 * errors. The self-scores themselves are checked against the full score matrices in
 * test/influence/self-influence.test.ts.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dattriMnist10 } from '../../src/data/dattri.ts';
import { flipLabels, forwardSquaredNorms, selfScores } from '../../src/apps/cli/noisy-mnist10.ts';
import { Rng } from '../../src/core/rng.ts';
import { cholesky, choleskySolve } from '../../src/linalg/dense.ts';
import { DATTRI_TRAINING, objectiveOf, trainModel } from '../../src/apps/cli/mnist10.ts';
import { scoreMethod, type ScoringContext } from '../../src/apps/cli/mnist10-methods.ts';
import { maxRelErr } from '../helpers.ts';
import { expectOneLineFailure, runInProcess } from './cli-helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'unequal-noisy-'));
const n = 200;

interface NoisyOutput {
  command: string;
  commit: string | null;
  wallSeconds: number;
  config: { model: string; flip: { fraction: number; rows: number; flippedRows: number[]; rule: string }; methods: string[]; dropped?: string[]; ensemble: number };
  [model: string]: unknown;
}

describe('the flip rule', () => {
  it('flips ⌊f·n⌋ distinct rows, each to another class, uniformly over the other nine', () => {
    const y = dattriMnist10({ nTrain: 2000, nTest: 500 }).train.y;
    const { y: flipped, rows } = flipLabels(y, 0.1, 0);
    expect(rows).toHaveLength(200);
    expect(new Set(rows).size).toBe(200);
    expect(rows).toEqual([...rows].sort((a, b) => a - b));
    for (const i of rows) expect(flipped[i]).not.toBe(y[i]);
    // Every other row keeps its label.
    const set = new Set(rows);
    for (let i = 0; i < y.length; i++) if (!set.has(i)) expect(flipped[i]).toBe(y[i]);
    // The shift (new − old) mod 10 is uniform over 1..9: 200 draws, each shift expected 22.2 times;
    // a count outside [5, 45] has probability < 1e-4 per shift under the binomial(200, 1/9).
    const shifts = new Array(10).fill(0);
    for (const i of rows) shifts[(flipped[i]! - y[i]! + 10) % 10]++;
    expect(shifts[0]).toBe(0);
    for (let s = 1; s < 10; s++) expect(shifts[s]).toBeGreaterThanOrEqual(5), expect(shifts[s]).toBeLessThanOrEqual(45);
  });
});

describe('the CLI self-scores are the diagonals of the lds scores (test split = training split)', () => {
  // Tolerance: the same solves and products summed in other orders (chunked GEMMs against one
  // GEMM, a row loop against gradientTimes): float64 reassociation over p = 7,850 terms, ≤ 1e-10
  // relative at the conditioning of δ ≥ 0.01 (the lds test's bound for the same paths).
  const n = 40;
  const data = dattriMnist10({ nTrain: n, nTest: 500 });
  const train = { ...data.train, y: flipLabels(data.train.y, 0.1, 0).y };
  const rows = Array.from({ length: n }, (_, i) => i);
  const full = trainModel('logreg', train, rows, 1, [1, 2], { ...DATTRI_TRAINING.logreg, epochs: 2 });
  const members = Array.from({ length: 10 }, (_, m) => trainModel('logreg', train, rows.slice(0, 30 + m), 5 + m, [], { ...DATTRI_TRAINING.logreg, epochs: 1 }).theta);
  const ctx = (tests: number): ScoringContext => ({
    model: 'logreg', train, test: train, tests, theta: full.theta, checkpoints: full.checkpoints, ensemble: members, obj: objectiveOf('logreg', train),
    dampings: [0.1, 0.01], exactDampings: [], trakK: 8, lissaBatches: [10, 25], rpsL2s: [1, 0.01], log: () => {},
  });
  const diag = (v: Float64Array) => Float64Array.from({ length: n }, (_, i) => v[i * n + i]!);
  it.each(['grad-dot', 'tracin', 'cg', 'lissa', 'arnoldi', 'kfac', 'ekfac', 'trak-1', 'trak-10', 'rps'] as const)('%s', (method) => {
    const self = selfScores(ctx(1), method, []);
    const lds = scoreMethod(ctx(n), method);
    expect(self.candidates.map((c) => c.config)).toEqual(lds.candidates.map((c) => c.config));
    self.candidates.forEach((c, k) => expect(maxRelErr(c.values, diag(lds.candidates[k]!.values)), JSON.stringify(c.config)).toBeLessThan(1e-10));
  });

  it('TRAK-10 after TRAK-1 reuses the cached member and gives the same scores as from scratch', () => {
    const cache: { kernel: Float64Array; q: Float64Array }[] = [];
    selfScores(ctx(1), 'trak-1', cache);
    expect(cache).toHaveLength(1);
    const cached = selfScores(ctx(1), 'trak-10', cache);
    expect(cache).toHaveLength(10);
    expect(Array.from(cached.candidates[0]!.values)).toEqual(Array.from(selfScores(ctx(1), 'trak-10', []).candidates[0]!.values));
  });

  it('exact: the blocked forward substitution gives ‖L⁻¹g‖² = gᵀ(LLᵀ)⁻¹g', () => {
    const p = 300;
    const rng = new Rng(3);
    const B = Float64Array.from({ length: p * p }, () => rng.normal());
    const A = new Float64Array(p * p);
    for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) {
      let s = i === j ? p : 0;
      for (let k = 0; k < p; k++) s += B[i * p + k]! * B[j * p + k]!;
      A[i * p + j] = s;
    }
    const L = cholesky(A, p);
    const T = 7;
    const G = Float64Array.from({ length: T * p }, () => rng.normal());
    const want = Float64Array.from({ length: T }, (_, t) => {
      const g = G.slice(t * p, (t + 1) * p);
      const x = choleskySolve(L, p, g);
      return g.reduce((s, v, j) => s + v * x[j]!, 0);
    });
    // nb = 64 leaves a last block of 44: uneven blocks are covered.
    expect(maxRelErr(forwardSquaredNorms(L, p, G, T, 64), want)).toBeLessThan(1e-10);
  });
});

describe('unequal noisy', () => {
  const logregFile = join(dir, 'logreg.json');
  const mlpFile = join(dir, 'mlp.json');

  it('logreg: the output shape, the flipped rows, AUCs in [0, 1], grids with their search', async () => {
    const r = await runInProcess(['noisy', '--model', 'logreg', '--train-size', String(n), '--epochs', '2', '--trak-k', '8', '--dampings', '0.1,0.01', '--methods', 'loss,grad-dot,grad-cos,tracin,cg,kfac,trak-1', '--out', logregFile, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(readFileSync(logregFile, 'utf8')) as NoisyOutput;
    expect(out.command).toMatch(/^unequal noisy --model logreg/);
    expect(out.wallSeconds).toBeGreaterThan(0);
    expect(out.config.model).toBe('logreg');
    expect(out.config.flip.rows).toBe(n / 10);
    expect(out.config.flip.rule).toMatch(/permutation\(n\)/);
    // The recorded rows are the rule's rows, and each has a new label.
    const y = dattriMnist10({ nTrain: n, nTest: 500 }).train.y;
    const { y: flipped, rows } = flipLabels(y, 0.1, 0);
    expect(out.config.flip.flippedRows).toEqual(rows);
    for (const i of rows) expect(flipped[i]).not.toBe(y[i]);
    // grad-cos is refused with its reason, not reported.
    expect(out.config.methods).toEqual(['loss', 'grad-dot', 'tracin', 'cg', 'kfac', 'trak-1']);
    expect(out.config.dropped).toEqual([expect.stringMatching(/^grad-cos: .*= 1 for every point/)]);
    const methods = (out.logreg as { methods: Record<string, { auc: number; seconds: number; config: object; cost: object; search?: { auc: number }[] }> }).methods;
    expect(Object.keys(methods)).toEqual(out.config.methods);
    for (const [name, m] of Object.entries(methods)) {
      expect(m.auc, name).toBeGreaterThanOrEqual(0);
      expect(m.auc, name).toBeLessThanOrEqual(1);
      expect(m.seconds).toBeGreaterThanOrEqual(0);
      expect(m.cost).toBeTypeOf('object');
    }
    // A grid reports its best configuration and the whole search.
    for (const name of ['cg', 'kfac']) {
      expect(methods[name]!.search).toHaveLength(2);
      expect(methods[name]!.auc).toBe(Math.max(...methods[name]!.search!.map((s) => s.auc)));
    }
    expect(methods.cg!.cost).toMatchObject({ hvps: 10 * n });
    // The baseline's AUC is not a constant: a random score would sit near 0.5 (|AUC − 0.5| ≤ 0.2 with
    // overwhelming probability at 20 vs 180 rows); the training loss of a flipped row is high.
    expect(methods.loss!.auc).toBeGreaterThan(0.7);
  });

  it('mlp: cg, lissa and exact are dropped with their cost; merge --combine joins the two runs', async () => {
    const r = await runInProcess(['noisy', '--model', 'mlp', '--train-size', '100', '--epochs', '1', '--methods', 'loss,grad-dot,cg,lissa,exact', '--out', mlpFile, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(readFileSync(mlpFile, 'utf8')) as NoisyOutput;
    expect(out.config.methods).toEqual(['loss', 'grad-dot']);
    expect(out.config.dropped).toHaveLength(3);
    expect(out.config.dropped![0]).toMatch(/^exact: .*83 GB/);
    expect(out.config.dropped![1]).toMatch(/^cg: n separate solves: 100 × 10 = 1,000 engine HVPs/);
    expect(out.config.dropped![2]).toMatch(/^lissa: n separate recursions/);
    const both = join(dir, 'both.json');
    const m = await runInProcess(['merge', '--combine', logregFile, mlpFile, '--out', both, '--quiet']);
    expect(m.code, m.stderr).toBe(0);
    const joined = JSON.parse(readFileSync(both, 'utf8')) as Record<string, { methods?: Record<string, { auc: number }> } & Record<string, unknown>>;
    expect(Object.keys(joined.logreg!.methods!)).toContain('cg');
    expect(Object.keys(joined.mlp!.methods!)).toEqual(['loss', 'grad-dot']);
    expect(joined.config!.mlp).toMatchObject({ model: 'mlp', flip: { rows: 10 } });
  });

  it('usage errors are one line with exit 2', async () => {
    for (const bad of ['0', '1', '-0.1', 'x']) expectOneLineFailure(await runInProcess(['noisy', '--model', 'logreg', '--flip', bad, '--quiet']), 2, /--flip/);
    expectOneLineFailure(await runInProcess(['noisy', '--model', 'logreg', '--flip', '0.001', '--train-size', '100', '--quiet']), 2, /--flip 0\.001: .* 0 rows would be flipped/);
    expectOneLineFailure(await runInProcess(['noisy', '--model', 'mlp', '--fit', 'optimum', '--quiet']), 2, /--fit optimum: only --model logreg/);
    expectOneLineFailure(await runInProcess(['noisy', '--model', 'logreg', '--l2', '0.1', '--quiet']), 2, /--l2: only with --fit optimum/);
    expectOneLineFailure(await runInProcess(['noisy', '--model', 'logreg', '--methods', 'influence', '--quiet']), 2, /--methods/);
    const help = await runInProcess(['noisy', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--flip <f>/);
    const top = await runInProcess(['--help']);
    expect(top.stdout).toMatch(/\n {2}noisy +noisy-label detection/);
  });
});

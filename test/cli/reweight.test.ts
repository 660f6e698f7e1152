/**
 * `unequal metagrad` and `unequal reweight` end to end: spawned as a user would run them
 * (`node bin/unequal.js …`), on tiny inputs, checked against the library and the output contract.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tensor } from '../../src/index.ts';
import { mlpFromJson } from '../../src/nn/mlp.ts';
import { l2rwWeights, metaGradientAutodiff, mlpLoss } from '../../src/reweight/l2rw.ts';
import { runInProcess } from './cli-helpers.ts';

const root = join(import.meta.dirname, '..', '..');
const cli = (args: string[]) => spawnSync(process.execPath, [join(root, 'bin', 'unequal.js'), ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
const dir = mkdtempSync(join(tmpdir(), 'unequal-reweight-'));

const net = {
  activation: 'tanh',
  layers: [
    { W: [[0.5, -0.3], [0.2, 0.8], [-0.6, 0.1]], b: [0.1, 0, -0.2] },
    { W: [[1.0, -0.5, 0.7]], b: [0.05] },
  ],
};
const netPath = join(dir, 'net.json');
const trainPath = join(dir, 'train.csv');
const valPath = join(dir, 'val.csv');
writeFileSync(netPath, JSON.stringify(net));
writeFileSync(trainPath, 'x1,x2,y\n1,0,1\n0,1,0\n0.5,0.5,1\n-1,2,0\n');
writeFileSync(valPath, 'x1,x2,y\n1,1,1\n-1,0,0\n');

describe('unequal metagrad', () => {
  it('writes the meta-gradient and weights, equal to the library’s autodiff route to 1e-12', () => {
    const out = join(dir, 'meta.json');
    const r = cli(['metagrad', '--net', netPath, '--train', trainPath, '--val', valPath, '--lr', '0.1', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(readFileSync(out, 'utf8')) as { metaGradient: number[]; weights: number[] };
    const { params, activation } = mlpFromJson(net);
    const train = { X: tensor([[1, 0], [0, 1], [0.5, 0.5], [-1, 2]]), y: tensor([1, 0, 1, 0]) };
    const val = { X: tensor([[1, 1], [-1, 0]]), y: tensor([1, 0]) };
    const g = metaGradientAutodiff(mlpLoss(activation), params, train, val, 0.1);
    expect(got.metaGradient.length).toBe(4);
    got.metaGradient.forEach((v, i) => expect(Math.abs(v - g[i]!)).toBeLessThan(1e-12));
    expect(got.weights).toEqual(Array.from(l2rwWeights(got.metaGradient)));
    // Without --out the JSON goes to stdout and progress to stderr.
    const r2 = cli(['metagrad', '--net', netPath, '--train', trainPath, '--val', valPath, '--lr', '0.1', '--route', 'per-example']);
    expect(r2.status, r2.stderr).toBe(0);
    const viaStdout = JSON.parse(r2.stdout) as { metaGradient: number[] };
    viaStdout.metaGradient.forEach((v, i) => expect(Math.abs(v - g[i]!)).toBeLessThan(1e-12));
    expect(r2.stderr).toMatch(/4 training rows, 2 validation rows/);
  });

  it('rejects bad input with exit code 2 and a message naming the flag, file or shape', async () => {
    const badCsv = join(dir, 'bad.csv');
    writeFileSync(badCsv, 'a,b,c,y\n1,2,3,1\n');
    const cases: [string[], RegExp][] = [
      [['metagrad', '--train', trainPath, '--val', valPath, '--lr', '0.1'], /--net is required/],
      [['metagrad', '--net', netPath, '--train', trainPath, '--val', valPath, '--lr', 'abc'], /--lr: 'abc' is not a number/],
      [['metagrad', '--net', netPath, '--train', trainPath, '--val', valPath, '--lr', '0'], /--lr: '0' must be a number > 0/],
      [['metagrad', '--net', netPath, '--train', badCsv, '--val', valPath, '--lr', '0.1'], /--train: .*bad\.csv' has 3 feature columns .* takes 2 inputs/],
      [['metagrad', '--net', join(dir, 'missing.json'), '--train', trainPath, '--val', valPath, '--lr', '0.1'], /--net: cannot read .*missing\.json/],
      [['metagrad', '--net', trainPath, '--train', trainPath, '--val', valPath, '--lr', '0.1'], /--net: .* is not valid JSON/],
      [['metagrad', '--net', netPath, '--train', trainPath, '--val', valPath, '--lr', '0.1', '--bogus'], /bogus/],
    ];
    for (const [args, pattern] of cases) {
      const r = await runInProcess(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(pattern);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    }
    const twoOut = join(dir, 'two.json');
    writeFileSync(twoOut, JSON.stringify({ activation: 'tanh', layers: [{ W: [[1, 0], [0, 1]], b: [0, 0] }] }));
    const r = await runInProcess(['metagrad', '--net', twoOut, '--train', trainPath, '--val', valPath, '--lr', '0.1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/last layer must have one output/);
  });

  it('prints help', () => {
    const r = cli(['metagrad', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--net <file>/);
  });
});

describe('unequal reweight', () => {
  it('writes the contract JSON (experiment, config, methods.<name>.testError.{mean,std,runs}) and an SVG', () => {
    const out = join(dir, 'imb.json');
    const r = cli(['reweight', '--experiment', 'imbalance', '--quick', '--seeds', '1', '--methods', 'uniform,l2rw', '--steps', '40', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const json = JSON.parse(readFileSync(out, 'utf8'));
    expect(json.experiment).toBe('imbalance');
    expect(json.config.posRatios).toEqual([0.995]);
    expect(json.config.steps).toBe(40);
    expect(json.config.sizes['0.995'].nTrainMinority).toBe(4);
    expect(Object.keys(json.methods)).toEqual(['uniform', 'l2rw']);
    for (const m of Object.values(json.methods) as { testError: { mean: number; std: number; runs: number[] } }[]) {
      expect(m.testError.runs.length).toBe(1);
      expect(m.testError.mean).toBe(m.testError.runs[0]);
      expect(m.testError.std).toBe(0);
      expect(m.testError.mean).toBeGreaterThanOrEqual(0);
      expect(m.testError.mean).toBeLessThanOrEqual(1);
    }
    expect(r.stderr).toMatch(/796 nines, 4 fours/);
    expect(readFileSync(out.replace(/\.json$/, '.svg'), 'utf8')).toMatch(/^<svg[\s\S]*l2rw[\s\S]*<\/svg>$/);
  });

  it('rejects a bad experiment, seed count or method name with exit code 2', async () => {
    for (const [args, pattern] of [
      [['reweight', '--experiment', 'cifar'], /--experiment: 'cifar' is not one of imbalance, noise/],
      [['reweight'], /--experiment is required/],
      [['reweight', '--experiment', 'noise', '--seeds', '0'], /--seeds: '0' must be an integer ≥ 1/],
      [['reweight', '--experiment', 'noise', '--methods', 'uniform,magic'], /--methods: unknown 'magic'; choose from uniform/],
    ] as [string[], RegExp][]) {
      const r = await runInProcess(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(pattern);
    }
    expect((await runInProcess(['reweight', '--help'])).stdout).toMatch(/--experiment <e>/);
  });
});

/**
 * `unequal reweight --experiment imbalance --protocol paper`: the L2RW paper's Figure 3 protocol
 * (LeNet on full MNIST 4 vs 9), run in-process at a smoke-test size (2 steps, 200 training
 * images, 20 test images), checked against the output contract of issue 13.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectAllFinite, runInProcess } from './cli-helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'unequal-reweight-paper-'));

describe('unequal reweight --protocol paper', () => {
  it('writes command, commit, wallSeconds, config (what ran) and byPosRatio.<ratio>.<method>.testError', async () => {
    const out = join(dir, 'paper.json');
    const args = ['reweight', '--experiment', 'imbalance', '--protocol', 'paper', '--steps', '2', '--seeds', '1', '--ratios', '0.9',
      '--methods', 'uniform,l2rw', '--ntrain', '200', '--ntest', '20', '--out', out];
    const r = await runInProcess(args);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    const json = JSON.parse(readFileSync(out, 'utf8'));
    expectAllFinite({ ...json, commit: 0 });
    expect(json.command).toBe(`unequal ${args.join(' ')}`);
    expect(json.commit === null || /^[0-9a-f]{40}$/.test(json.commit)).toBe(true);
    expect(json.wallSeconds).toBeGreaterThan(0);
    const c = json.config;
    expect(c.model).toBe('lenet');
    expect([c.ntrain, c.nval, c.ntest]).toEqual([200, 10, 20]);
    expect(c.posRatios).toEqual([0.9]);
    expect(c.seeds).toEqual([0]);
    expect(c.methods).toEqual(['uniform', 'l2rw']);
    expect(c.stepsByMethod).toEqual({ uniform: 2, l2rw: 2 });
    expect(c.stepsOverridden).toBe(true);
    expect([c.lr, c.lrDecayFactor, c.lrDecayAfter, c.momentum, c.batchSize, c.pixelScale]).toEqual([1e-3, 0.5, 0.5, 0.9, 100, 255]);
    expect(c.sizes['0.9']).toMatchObject({ nTrain: 200, nTrainMajority: 180, nTrainMinority: 20, nVal: 10, nTest: 20 });
    expect(c.missingBaselines).toEqual([]);
    expect(c.hardMiningCandidates).toBe(500);
    expect(Object.keys(json.byPosRatio)).toEqual(['0.9']);
    expect(Object.keys(json.byPosRatio['0.9'])).toEqual(['uniform', 'l2rw']);
    for (const m of Object.values(json.byPosRatio['0.9']) as { testError: { mean: number; std: number; runs: number[] } }[]) {
      expect(m.testError.runs).toHaveLength(1);
      expect(m.testError.mean).toBe(m.testError.runs[0]);
      expect(m.testError.std).toBe(0);
      expect(m.testError.mean).toBeGreaterThanOrEqual(0);
      expect(m.testError.mean).toBeLessThanOrEqual(1);
    }
    expect(r.stderr).toMatch(/pos_ratio 0\.9: train 200 \(180 nines, 20 fours\), val 10 \(balanced\), test 20/);
    expect(r.stderr).toMatch(/l2rw .*test error/);
  }, 60_000);

  it('defaults to the paper schedule and checks its flags with exit code 2', async () => {
    const { paperSteps } = await import('../../src/apps/experiments/reweight-paper.ts');
    expect([paperSteps('uniform'), paperSteps('class-balanced'), paperSteps('l2rw'), paperSteps('l2rw', 7)]).toEqual([8000, 8000, 4000, 7]);
    for (const [args, pattern] of [
      [['--protocol', 'paper', '--ratios', '0.3'], /--ratios: '0\.3' is not a number in \[0\.5, 1\)/],
      [['--protocol', 'paper', '--ratios', '0.9,abc'], /--ratios: 'abc'/],
      [['--protocol', 'paper', '--methods', 'data-dropout'], /--methods: unknown 'data-dropout'/],
      [['--protocol', 'paper', '--ntest', '21'], /--ntest: '21' must be even/],
      [['--protocol', 'paper', '--quick'], /--quick does not apply to --protocol paper/],
      [['--protocol', 'mine'], /--protocol: 'mine' is not one of default, paper/],
      [['--ratios', '0.9'], /--ratios needs --protocol paper/],
    ] as [string[], RegExp][]) {
      const r = await runInProcess(['reweight', '--experiment', 'imbalance', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(pattern);
    }
    const noise = await runInProcess(['reweight', '--experiment', 'noise', '--protocol', 'paper']);
    expect(noise.code).toBe(2);
    expect(noise.stderr).toMatch(/--protocol paper is for --experiment imbalance only/);
  });
});

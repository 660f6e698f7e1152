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
    expect([c.lr, c.lrDecayFactor, c.lrDecayAfter, c.momentum, c.batchSize, c.pixelScale]).toEqual([1e-3, 0.5, 0.5, 0.9, 100, 1]);
    expect(c.l2rwMetaGradient).toBe('forward');
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

  it('runs Data Dropout on LeNet: ranks with the uniform model it trains first, records what it dropped and its λ, and combines with runs without it', async () => {
    const base = ['reweight', '--experiment', 'imbalance', '--protocol', 'paper', '--steps', '2', '--seeds', '1', '--ratios', '0.9',
      '--ntrain', '200', '--ntest', '20', '--threads', '1'];
    const dd = join(dir, 'dd.json'), u = join(dir, 'dd-u.json');
    const r = await runInProcess([...base, '--methods', 'data-dropout', '--out', dd]);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(readFileSync(dd, 'utf8'));
    expect(json.config.methods).toEqual(['data-dropout']);
    expect(json.config.dropoutL2).toBe(1e-3);
    const row = json.byPosRatio['0.9']['data-dropout'];
    expect(row.dropped).toHaveLength(1);
    expect(json.runs[0].dropped).toBe(row.dropped[0]);
    expect(row.dropped[0]).toBeGreaterThanOrEqual(0);
    expect(row.dropped[0]).toBeLessThan(200);
    expect(r.stderr).toMatch(new RegExp(`data-dropout +drops ${row.dropped[0]} of 200 training points`));
    // Its time includes the uniform model it ranked with, which is not reported as a method.
    expect(Object.keys(json.byPosRatio['0.9'])).toEqual(['data-dropout']);
    expect((await runInProcess([...base, '--methods', 'uniform', '--quiet', '--out', u])).code).toBe(0);
    const out = join(dir, 'dd-combined.json');
    const c = await runInProcess(['merge', '--combine', u, dd, '--out', out, '--quiet']);
    expect(c.code, c.stderr).toBe(0);
    const both = JSON.parse(readFileSync(out, 'utf8'));
    expect(both.config.methods).toEqual(['uniform', 'data-dropout']);
    expect(both.config.dropoutL2).toBe(1e-3);
    expect(both.byPosRatio['0.9']['data-dropout'].dropped).toEqual(row.dropped);
  }, 120_000);

  it('defaults to the paper schedule and checks its flags with exit code 2', async () => {
    const { paperSteps } = await import('../../src/apps/experiments/reweight-paper.ts');
    expect([paperSteps('uniform'), paperSteps('class-balanced'), paperSteps('l2rw'), paperSteps('l2rw', 7)]).toEqual([8000, 8000, 4000, 7]);
    for (const [args, pattern] of [
      [['--protocol', 'paper', '--ratios', '0.3'], /--ratios: '0\.3' is not a number in \[0\.5, 1\)/],
      [['--protocol', 'paper', '--ratios', '0.9,abc'], /--ratios: 'abc'/],
      [['--protocol', 'paper', '--methods', 'dropout'], /--methods: unknown 'dropout'/],
      [['--protocol', 'paper', '--ntest', '21'], /--ntest: '21' must be even/],
      [['--protocol', 'paper', '--quick'], /--quick does not apply to --protocol paper/],
      [['--protocol', 'mine'], /--protocol: 'mine' is not one of default, paper/],
      [['--ratios', '0.9'], /--ratios needs --protocol paper/],
      [['--shard', '0/2'], /--shard needs --protocol paper/],
      [['--threads', '1'], /--threads needs --protocol paper/],
      [['--protocol', 'paper', '--threads', '0'], /--threads/],
      [['--protocol', 'paper', '--shard', '2/2'], /--shard: '2\/2' must be i\/k with 0 ≤ i < k/],
    ] as [string[], RegExp][]) {
      const r = await runInProcess(['reweight', '--experiment', 'imbalance', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(pattern);
    }
    const noise = await runInProcess(['reweight', '--experiment', 'noise', '--protocol', 'paper']);
    expect(noise.code).toBe(2);
    expect(noise.stderr).toMatch(/--protocol paper is for --experiment imbalance only/);
  });

  it('--shard i/k: k shards merged (in any order) equal one unsharded run exactly; merge refuses gaps, repeats and mixed configurations', async () => {
    // 2 ratios × 2 seeds = 4 jobs; 3 shards take [0, 1), [1, 2), [2, 4) of them (contiguous shares).
    const base = ['reweight', '--experiment', 'imbalance', '--protocol', 'paper', '--steps', '1', '--seeds', '2', '--ratios', '0.9,0.95',
      '--methods', 'uniform', '--ntrain', '100', '--ntest', '10', '--threads', '1', '--quiet'];
    const whole = join(dir, 'whole.json');
    expect((await runInProcess([...base, '--out', whole])).code).toBe(0);
    const shards = [0, 1, 2].map((i) => join(dir, `shard-${i}.json`));
    for (const [i, f] of shards.entries()) {
      const r = await runInProcess([...base, '--shard', `${i}/3`, '--out', f]);
      expect(r.code, r.stderr).toBe(0);
      const part = JSON.parse(readFileSync(f, 'utf8'));
      expect(part.kind).toBe('reweight-paper-shard');
      expect(part.shard).toEqual({ index: i, count: 3, start: [0, 1, 2][i], end: [1, 2, 4][i] });
      expect(part.byPosRatio).toBeUndefined();
      expect(part.runs).toHaveLength(part.shard.end - part.shard.start);
    }
    const merged = join(dir, 'merged.json');
    const m = await runInProcess(['merge', shards[2]!, shards[0]!, shards[1]!, '--out', merged, '--quiet']);
    expect(m.code, m.stderr).toBe(0);
    const a = JSON.parse(readFileSync(whole, 'utf8'));
    const b = JSON.parse(readFileSync(merged, 'utf8'));
    // Every run is deterministic given its (ratio, seed, method), so the errors agree exactly; the
    // per-run seconds differ between processes and are compared by count only.
    const errors = (j: { runs: { posRatio: number; seed: number; method: string; testError: number }[] }) => j.runs.map((r) => [r.posRatio, r.seed, r.method, r.testError]);
    expect(errors(b)).toEqual(errors(a));
    const strip = (byPosRatio: Record<string, Record<string, { testError: unknown; seconds: number[] }>>) =>
      Object.fromEntries(Object.entries(byPosRatio).map(([r, row]) => [r, Object.fromEntries(Object.entries(row).map(([k, v]) => [k, [v.testError, v.seconds.length]]))]));
    expect(strip(b.byPosRatio)).toEqual(strip(a.byPosRatio));
    expect({ ...b.config, sizes: null }).toEqual({ ...a.config, sizes: null });
    expect(b.config.sizes).toEqual(a.config.sizes);
    expect(b.shards.map((x: { shard: string }) => x.shard)).toEqual(['0/3', '1/3', '2/3']);
    for (const [files, pattern] of [
      [[shards[0]!, shards[1]!], /shards 2\/3 are missing/],
      [[shards[0]!, shards[0]!, shards[1]!, shards[2]!], /shard 0\/3 is given twice/],
      [[shards[0]!, whole], /is not a shard of unequal reweight --protocol paper/],
    ] as [string[], RegExp][]) {
      const r = await runInProcess(['merge', ...files]);
      expect(r.code, files.join(' ')).toBe(2);
      expect(r.stderr).toMatch(pattern);
    }
    const other = join(dir, 'other-1.json');
    expect((await runInProcess([...base.map((x) => (x === '0.9,0.95' ? '0.9,0.98' : x)), '--shard', '0/3', '--out', other])).code).toBe(0);
    const mixed = await runInProcess(['merge', other, shards[1]!, shards[2]!]);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toMatch(/was run with another configuration/);
  }, 120_000);

  it('merge --combine joins finished runs of different methods into the run of all of them; refuses repeats and other configurations', async () => {
    const base = ['reweight', '--experiment', 'imbalance', '--protocol', 'paper', '--steps', '1', '--seeds', '1', '--ratios', '0.9',
      '--ntrain', '100', '--threads', '1', '--quiet'];
    const files = { both: join(dir, 'c-both.json'), u: join(dir, 'c-u.json'), cb: join(dir, 'c-cb.json'), other: join(dir, 'c-other.json') };
    for (const [f, methods, extra] of [
      [files.both, 'uniform,class-balanced', '10'], [files.u, 'uniform', '10'], [files.cb, 'class-balanced', '10'], [files.other, 'class-balanced', '12'],
    ] as [string, string, string][]) {
      expect((await runInProcess([...base, '--methods', methods, '--ntest', extra, '--out', f])).code).toBe(0);
    }
    const out = join(dir, 'c-merged.json');
    const r = await runInProcess(['merge', '--combine', files.u, files.cb, '--out', out, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const a = JSON.parse(readFileSync(files.both, 'utf8'));
    const b = JSON.parse(readFileSync(out, 'utf8'));
    expect(b.config.methods).toEqual(a.config.methods);
    expect(b.config.stepsByMethod).toEqual(a.config.stepsByMethod);
    const errors = (j: { byPosRatio: Record<string, Record<string, { testError: unknown }>> }) =>
      Object.fromEntries(Object.entries(j.byPosRatio['0.9']!).map(([m, v]) => [m, v.testError]));
    expect(errors(b)).toEqual(errors(a));
    expect(b.inputs.map((x: { methods: string[] }) => x.methods)).toEqual([['uniform'], ['class-balanced']]);
    const twice = await runInProcess(['merge', '--combine', files.u, files.both]);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/method uniform is in two inputs/);
    const mixed = await runInProcess(['merge', '--combine', files.u, files.other]);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toMatch(/another configuration/);
  }, 120_000);
});

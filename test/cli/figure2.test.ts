/**
 * `unequal figure2`: listed, documented, and its flags checked before any long work starts.
 */
import { describe, expect, it } from 'vitest';
import { runInProcess } from './cli-helpers.ts';

describe('unequal figure2', () => {
  it('is listed and has help naming both panels and the paper settings', async () => {
    expect((await runInProcess(['--help'])).stdout).toMatch(/^\s+figure2\s/m);
    const r = await runInProcess(['figure2', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--panel mnist10/);
    expect(r.stdout).toMatch(/--panel cnn/);
    expect(r.stdout).toMatch(/scale 25, depth 5000, damping 0, batch 1, 10 repeats/);
  });

  it('rejects a missing or unknown panel and bad numbers with a usage error (exit 2)', async () => {
    for (const args of [['figure2'], ['figure2', '--panel', 'left'], ['figure2', '--panel', 'mnist10', '--ntrain', '5'], ['figure2', '--panel', 'cnn', '--points', 'x']]) {
      const r = await runInProcess(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/unequal/);
    }
  });
});

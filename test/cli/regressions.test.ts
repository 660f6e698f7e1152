/**
 * Issue 11, case by case: every input that used to exit 0 with a non-finite or meaningless answer,
 * stall, crash or print a stack trace now exits non-zero with one line that names the cause and the
 * fix. Most cases run in-process (runCli with buffered streams); a few are spawned, so that the
 * real process (exit status, stderr without a stack trace) is checked too.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatError, UsageError } from '../../src/apps/cli/errors.ts';
import { Rng } from '../../src/core/rng.ts';
import { cholesky, NotPositiveDefiniteError } from '../../src/linalg/dense.ts';
import { expectAllFinite, expectOneLineFailure, runInProcess, spawnCli, STACK_LINE, writeCsvFile } from './cli-helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'unequal-issue11-'));
const rng = new Rng(11);
const normal = () => rng.normal();

/** n rows of d standard normal features and a label from `label(x)`. */
function rows(n: number, d: number, label: (x: number[]) => number): number[][] {
  return Array.from({ length: n }, () => {
    const x = Array.from({ length: d }, normal);
    return [...x, label(x)];
  });
}
const noisyLogistic = (x: number[]) => (x[0]! - 0.5 * x[1]! + normal() > 0 ? 1 : 0);
const logregTrain = writeCsvFile(dir, 'logreg.csv', rows(40, 2, noisyLogistic));
const linregTrain = writeCsvFile(dir, 'linreg.csv', rows(40, 2, (x) => x[0]! + 0.3 * normal()));

describe('1. exit 0 with non-finite output', () => {
  it('a test row holding 1e308 is refused before any work, naming the file, row and column (spawned: one line, no stack)', () => {
    const test = writeCsvFile(dir, 'test-1e308.csv', [[1e308, 0.5, 1], [0.1, 0.2, 0]]);
    const r = spawnCli(['influence', '--train', logregTrain, '--test', test, '--model', 'logreg', '--l2', '0.01', '--quiet']);
    expectOneLineFailure(r, 2, /--test .*test-1e308\.csv row 1 \(line 2\), column 1 \("x0"\) = 1e\+308 is too large: .*1e150.*rescale that column/);
  });

  it('a linear-regression test label of 1e200 is refused for loo and influence', async () => {
    const test = writeCsvFile(dir, 'test-1e200.csv', [[0.1, 0.2, 1e200]]);
    for (const args of [
      ['loo', '--indices', '0,1'],
      ['influence'],
    ]) {
      const r = await runInProcess([...args, '--train', linregTrain, '--test', test, '--model', 'linreg', '--l2', '0.01', '--quiet']);
      expectOneLineFailure(r, 2, /column 3 \("y"\) = 1e\+200 is too large/);
    }
  });

  it('a result that overflows from finite inputs (test x = 1e149 against weights ~1e140) is caught before writing, naming the entry and the input', async () => {
    const train = writeCsvFile(dir, 'tiny-scale.csv', rows(20, 1, (x) => x[0]! + 0.1 * normal()).map(([x, y]) => [x! * 1e-140, y!]));
    const test = writeCsvFile(dir, 'huge-test.csv', [[1e149, 0]]);
    const out = join(dir, 'never.json');
    for (const command of [['influence'], ['loo', '--indices', '0']]) {
      const r = await runInProcess([...command, '--train', train, '--test', test, '--model', 'linreg', '--l2', '0', '--out', out, '--quiet']);
      expectOneLineFailure(r, 1, /the result is not finite: testLoss is Infinity .*--test .*huge-test\.csv row 1 \(line 2\), column 1 \("x0"\) = 1e\+149.*nothing was written/);
      expect(existsSync(out)).toBe(false);
    }
  });

  it('metagrad: a net whose activations overflow gives exit 1 naming the weight, not null meta-gradients and zero weights; weights ≥ 1e150 are refused up front', async () => {
    const train = writeCsvFile(dir, 'mg-train.csv', [[1, 0, 1], [0, 1, 0], [0.5, 0.5, 1]]);
    const val = writeCsvFile(dir, 'mg-val.csv', [[1, 1, 1], [-1, 0, 0]]);
    const layer = (w: number) => ({ W: [[w, w], [1, 1]], b: [0, 0] });
    const deep = join(dir, 'net-1e100.json');
    writeFileSync(deep, JSON.stringify({ activation: 'relu', layers: [layer(1e100), layer(1e100), { W: [[1e100, 1]], b: [0] }] }));
    const out = join(dir, 'meta.json');
    const r = await runInProcess(['metagrad', '--net', deep, '--train', train, '--val', val, '--lr', '0.1', '--out', out, '--quiet']);
    expectOneLineFailure(r, 1, /metaGradient\[0\] is NaN.*largest weight is layers\[0\]\.W\[0\]\[0\] = 1e\+100.*rescale the weights or the inputs/);
    expect(existsSync(out)).toBe(false);
    const huge = join(dir, 'net-1e200.json');
    writeFileSync(huge, JSON.stringify({ activation: 'relu', layers: [layer(1e200), { W: [[1e200, 1]], b: [0] }] }));
    const r2 = await runInProcess(['metagrad', '--net', huge, '--train', train, '--val', val, '--lr', '0.1', '--quiet']);
    expectOneLineFailure(r2, 2, /--net .*: layers\[0\]\.W\[0\]\[0\] = 1e\+200 is too large/);
  });
});

describe('2. solver errors reach the user as one line with exit 1, naming the flag', () => {
  // Nearly collinear columns at λ = 0: H's condition number is ~1e7.
  const ill = writeCsvFile(dir, 'ill.csv', rows(30, 1, () => 0).map(([a]) => [a!, a! + 1e-3 * normal(), a! + 0.3 * normal()]));
  // Column j scaled by 10^(−j/2): κ ≈ 1e11, beyond CG's 2p iterations at tol 1e-10.
  const illCg = writeCsvFile(dir, 'ill-cg.csv', rows(60, 12, () => 0).map((r) => {
    const x = r.slice(0, 12).map((v, j) => v * 10 ** (-j / 2));
    return [...x, x[0]! + 0.3 * normal()];
  }));
  const base = (train: string) => ['influence', '--train', train, '--test', train, '--model', 'linreg', '--l2', '0', '--quiet'];

  it('LiSSA at its cap (it returned a result 31% off with exit 0)', async () => {
    expectOneLineFailure(await runInProcess([...base(ill), '--solver', 'lissa']), 1, /^unequal: --solver lissa did not settle in 20000 iterations .* > --lissa-tol 1e-7.*--lissa-tol.*--solver exact or cg/);
  });

  it('CG at its cap; --cg-tol 0 (it gave converged: false with exit 0) is a usage error', async () => {
    expectOneLineFailure(await runInProcess([...base(illCg), '--solver', 'cg']), 1, /^unequal: --solver cg stopped at its cap of \d+ iterations .* > --cg-tol 1e-10.*larger --cg-tol/);
    expectOneLineFailure(await runInProcess([...base(illCg), '--solver', 'cg', '--cg-tol', '0']), 2, /--cg-tol: '0' must be a number ≥ 1e-15/);
  });

  it('a LiSSA scale too small diverges: the message names --lissa-scale (it was a LissaDivergenceError stack trace)', async () => {
    const r = await runInProcess(['influence', '--train', logregTrain, '--test', logregTrain, '--model', 'logreg', '--l2', '0.01', '--solver', 'lissa', '--lissa-scale', '0.001', '--lissa-depth', '100', '--quiet']);
    expectOneLineFailure(r, 1, /^unequal: --solver lissa diverged at iteration \d+ with scale s = 0\.001000.*give a larger --lissa-scale/);
  });

  it('the exact solver on a singular Hessian names the identical or constant columns and --l2 / --damping', async () => {
    const dup = writeCsvFile(dir, 'dup.csv', rows(20, 1, () => 0).map(([a]) => [a!, a!, a! + 0.2 * normal()]));
    const r = await runInProcess(['influence', '--train', dup, '--test', dup, '--model', 'linreg', '--l2', '0', '--quiet']);
    expectOneLineFailure(r, 1, /the Hessian H = ∇²R\(θ̂\) is singular to working precision \(smallest eigenvalue .*\(columns "x0" and "x1" are identical\); raise --l2 \(e\.g\. --l2 1e-3\).*--damping/);
    expect(r.stderr).not.toMatch(/≥ 0\.00|NaN/);
    const constant = writeCsvFile(dir, 'const.csv', rows(20, 1, () => 0).map(([a]) => [a!, 0, a! + 0.2 * normal()]));
    const r2 = await runInProcess(['influence', '--train', constant, '--test', constant, '--model', 'linreg', '--l2', '0', '--quiet']);
    expectOneLineFailure(r2, 1, /column "x1" is constant, so it duplicates the intercept/);
  });

  it('LiSSA flags the library would refuse are usage errors (exit 2)', async () => {
    const args = ['influence', '--train', logregTrain, '--test', logregTrain, '--model', 'logreg', '--l2', '0.01', '--solver', 'lissa', '--quiet'];
    expectOneLineFailure(await runInProcess([...args, '--lissa-damping', '2']), 2, /--lissa-damping: '2' must be a number ≥ 0 and < 2/);
    expectOneLineFailure(await runInProcess([...args, '--lissa-damping', '1.9']), 2, /automatic full-batch scale .* needs d < 1\.8/);
    expectOneLineFailure(await runInProcess([...args, '--lissa-scale', '0']), 2, /--lissa-scale: '0' must be a number > 0/);
  });
});

describe('3. objectives without a minimiser are reported, not "converged"', () => {
  const separable = writeCsvFile(dir, 'separable.csv', rows(30, 2, (x) => (x[0]! > 0 ? 1 : 0)));
  const args = (cmd: string[], train: string, test: string, model: string, l2: string) => [...cmd, '--train', train, '--test', test, '--model', model, '--l2', l2, '--quiet'];

  it('separable logreg at λ = 0 (influence −12.5 against LOO +14.4): influence and loo exit 1 and say add --l2; with --l2 both run', async () => {
    for (const cmd of [['influence'], ['loo', '--indices', '0,1']]) {
      const r = await runInProcess(args(cmd, separable, logregTrain, 'logreg', '0'));
      expectOneLineFailure(r, 1, /^unequal: --train .*separable\.csv: at λ = 0 R has no minimiser: the rows are linearly separable .*; add --l2 λ > 0 \(e\.g\. --l2 0\.001\)/);
      const ok = await runInProcess(args(cmd, separable, logregTrain, 'logreg', '0.01'));
      expect(ok.code, ok.stderr).toBe(0);
    }
  });

  it('quasi-separable logreg at λ = 0 (separable but for two boundary pairs of opposite labels)', async () => {
    const quasi = writeCsvFile(dir, 'quasi.csv', [...rows(30, 2, (x) => (x[0]! > 0 ? 1 : 0)), [0, 0.5, 1], [0, 0.5, 0], [0, -1, 0], [0, -1, 1]]);
    const r = await runInProcess(args(['influence'], quasi, logregTrain, 'logreg', '0'));
    expectOneLineFailure(r, 1, /at λ = 0 R has no minimiser: the rows are quasi-separable .*add --l2/);
  });

  it('separable softmax at λ = 0', async () => {
    const sm = writeCsvFile(dir, 'sm-separable.csv', rows(40, 2, (x) => (x[0]! > 0.5 ? 2 : x[0]! < -0.5 ? 0 : 1)));
    expectOneLineFailure(await runInProcess(args(['influence'], sm, sm, 'softmax', '0')), 1, /linearly separable.*add --l2/);
  });

  it('a training set with one class only, for any λ (the intercept is not penalised)', async () => {
    const one = writeCsvFile(dir, 'one-class.csv', rows(30, 2, () => 1));
    for (const l2 of ['0', '0.01']) {
      const r = await runInProcess(args(['influence'], one, logregTrain, 'logreg', l2));
      expectOneLineFailure(r, 1, /every row has label 1 \(one class\): R keeps falling as the intercept b runs to \+∞.*add --train rows of the other class/);
    }
  });

  it('a softmax class in the test set but absent from training (its intercept runs to −∞; −0.025 against +3.0)', async () => {
    const train = writeCsvFile(dir, 'sm-two.csv', rows(30, 2, () => (rng.uniform() < 0.5 ? 0 : 1)));
    const test = writeCsvFile(dir, 'sm-test-three.csv', [[0.1, 0.2, 2], [0.3, 0.1, 0]]);
    for (const cmd of [['influence'], ['loo', '--indices', '0']]) {
      const r = await runInProcess(args(cmd, train, test, 'softmax', '0.01'));
      expectOneLineFailure(r, 1, /class 2 has no row: R keeps falling as its intercept b\[2\] runs to −∞.*class 2 appears in --test .*sm-test-three\.csv \(row 1\).*add --train rows of it, or drop it from --test/);
    }
    // --classes 3 with the same training set: the class still has no rows.
    const r = await runInProcess([...args(['influence'], train, train, 'softmax', '0.01'), '--classes', '3']);
    expectOneLineFailure(r, 1, /class 2 has no row.*--classes 3 counts classes --train does not have/);
  });

  it('a one-row training set: influence and loo exit 1 (nothing is left to train on without it)', async () => {
    const single = writeCsvFile(dir, 'single.csv', [[0.1, 0.2, 1]]);
    expectOneLineFailure(await runInProcess(args(['influence'], single, linregTrain, 'linreg', '0.01')), 1, /it has one row \(row 1\), and without it nothing is left to train on \(that is influence\[0\]\); give --train at least 2 rows/);
    expectOneLineFailure(await runInProcess(args(['loo', '--indices', '0'], single, linregTrain, 'linreg', '0.01')), 1, /leaving out --indices 0 \(row 1\):.*nothing to train on/);
  });

  it('a row that is its class’s only one: its removal has no minimiser, so influence and loo say so', async () => {
    const lone = writeCsvFile(dir, 'lone.csv', [...rows(12, 2, () => 0), [1, 1, 1], ...rows(12, 2, () => 0).map((r) => [...r.slice(0, 2), 2])]);
    expectOneLineFailure(await runInProcess(args(['influence'], lone, lone, 'softmax', '0.1')), 1, /row 13 is the only row of class 1: .*\(that is influence\[12\]\); add --train rows of class 1, or drop the row/);
    expectOneLineFailure(await runInProcess(args(['loo', '--indices', '3,12'], lone, lone, 'softmax', '0.1')), 1, /leaving out --indices 12 \(row 13\):.*class 1 has no row/);
    const ok = await runInProcess(args(['loo', '--indices', '3'], lone, lone, 'softmax', '0.1'));
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('loo at λ = 0: a removal that makes the rest separable is reported for that row', async () => {
    const almost = writeCsvFile(dir, 'almost.csv', [...rows(30, 2, (x) => (x[0]! > 0 ? 1 : 0)), [0.5, 0.1, 0]]);
    const r = await runInProcess(args(['loo', '--indices', '0,30'], almost, logregTrain, 'logreg', '0'));
    expectOneLineFailure(r, 1, /^unequal: retraining without --indices 30 \(row 31\): --train .*: at λ = 0 R has no minimiser: the rows are linearly separable/);
  });
});

describe('4. softmax labels: K is inferred only when every class appears; memory is checked first', () => {
  const labels = Array.from({ length: 50 }, (_, i) => i % 10);
  const data = (stray: number) => writeCsvFile(dir, `stray-${stray}.csv`, labels.map((c, i) => [normal(), normal(), i === 7 ? stray : c]));

  it('one label 3000 among 0..9 (it ran 120 s at 7.2 GB) is refused at once, naming the row; 1e6 no longer crashes with a RangeError', async () => {
    for (const stray of [3000, 1e6]) {
      const train = data(stray);
      const t0 = performance.now();
      const r = await runInProcess(['influence', '--train', train, '--test', train, '--model', 'softmax', '--l2', '0.01', '--quiet']);
      expect(performance.now() - t0).toBeLessThan(5000);
      // The same file is the test set, so 11 classes appear: 0..9 and the stray.
      expectOneLineFailure(r, 2, new RegExp(`the labels run to ${stray} but classes 10\\.\\.${stray - 1} never appear \\(11 of ${stray + 1} classes present; --train .* row 8 has ${stray}.*--classes K`));
    }
  });

  it('--classes K: a label outside 0..K−1 names its row; a K too large for memory is refused before allocating', async () => {
    const train = data(3000);
    const r = await runInProcess(['influence', '--train', train, '--test', train, '--model', 'softmax', '--l2', '0.01', '--classes', '10', '--quiet']);
    expectOneLineFailure(r, 2, /row 8 has label 3000; softmax with 10 classes needs integer labels 0\.\.9 \(--classes 10\)/);
    const t0 = performance.now();
    const big = await runInProcess(['influence', '--train', train, '--test', train, '--model', 'softmax', '--l2', '0.01', '--classes', '1000000', '--quiet']);
    expect(performance.now() - t0).toBeLessThan(5000);
    expectOneLineFailure(big, 1, /the problem needs about .* GB \(K = 1000000 classes, n = 50 rows, d = 2 features, 3000000 parameters, a 3000000×3000000 Hessian\) but half of this machine's memory is .*check --classes, use --solver cg or lissa/);
    const clean = data(3);
    const ok = await runInProcess(['influence', '--train', clean, '--test', clean, '--model', 'softmax', '--l2', '0.1', '--classes', '10', '--quiet']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).classes).toBe(10);
    expectOneLineFailure(await runInProcess(['influence', '--train', clean, '--test', clean, '--model', 'logreg', '--l2', '0.1', '--classes', '2']), 2, /--classes applies to --model softmax only/);
  });
});

describe('5. no stack traces; messages that do not contradict themselves', () => {
  it('library errors are one line (spawned); --debug adds the stack trace', () => {
    const args = ['influence', '--train', logregTrain, '--test', logregTrain, '--model', 'logreg', '--l2', '0.01', '--solver', 'lissa', '--lissa-scale', '0.001', '--lissa-depth', '100'];
    const r = spawnCli([...args, '--quiet']);
    expectOneLineFailure(r, 1, /--lissa-scale/);
    const d = spawnCli([...args, '--quiet', '--debug']);
    expect(d.code).toBe(1);
    expect(d.stderr).toMatch(/^unequal: --solver lissa diverged/);
    expect(d.stderr).toMatch(STACK_LINE);
  });

  it('a bare unequal is one line with exit 2', async () => {
    expectOneLineFailure(await runInProcess([]), 2, /^unequal: no command given; the commands are influence, loo, reweight, metagrad/);
  });

  it('formatError: usage 2, failures 1, bugs marked as such, all on one line', () => {
    expect(formatError('unequal', new UsageError('--l2 is required'), false)).toEqual({ text: 'unequal: --l2 is required\n', code: 2 });
    expect(formatError('unequal', new Error('two\n  lines'), false)).toEqual({ text: 'unequal: two lines\n', code: 1 });
    expect(formatError('unequal', new TypeError('x is undefined'), false).text).toMatch(/^unequal: internal error \(TypeError\): x is undefined; .*--debug.*\n$/);
    expect(formatError('unequal', new RangeError('Invalid typed array length: 1e12'), false).text).toMatch(/^unequal: out of memory: Invalid typed array length/);
    expect(formatError('unequal', new Error('boom'), true).text).toMatch(/^unequal: boom\nError: boom\n\s+at /);
  });

  it('Cholesky failures: non-finite entries, singular to working precision, indefinite (damping > |λ|), never "NaN … damping ≥ NaN" or "damping ≥ 0.00"', () => {
    const fail = (A: number[], d: number) => {
      try {
        cholesky(new Float64Array(A), d, 'H');
      } catch (e) {
        expect(e).toBeInstanceOf(NotPositiveDefiniteError);
        return e as NotPositiveDefiniteError;
      }
      throw new Error('cholesky did not throw');
    };
    const nan = fail([NaN, 0, 0, 1], 2);
    expect(nan.kind).toBe('non-finite');
    expect(nan.message).toMatch(/entry \[0, 0\] is NaN.*overflowed/);
    expect(nan.message).not.toMatch(/damping/);
    for (const corner of [1, 1 - 2 ** -52]) {
      // Exactly singular, and an eigenvalue of −1.1e-16 (rounding level): both singular, not "damping ≥ 0.00".
      const singular = fail([1, 1, 1, corner], 2);
      expect(singular.kind).toBe('singular');
      expect(singular.message).toMatch(/singular to working precision \(smallest eigenvalue .*, within rounding .* of 0/);
      expect(singular.message).not.toMatch(/≥ 0\.00/);
    }
    const indefinite = fail([1, 2, 2, 1], 2);
    expect(indefinite.kind).toBe('indefinite');
    expect(indefinite.message).toMatch(/smallest eigenvalue is -1\.00000 < 0.*damping greater than 1\.00 \(e\.g\. 2\.00/);
  });
});

/**
 * The shape every `unequal` subcommand has, and the output side they share: where text goes
 * ({@link CliIo}), the output files ({@link Outputs}: validated before any long work, written at
 * the end, all or none, each atomically), and the check that a result holds only finite numbers
 * ({@link finiteJson}). Each command lives in its own file in `src/apps/cli/` and is listed once in
 * `cli.ts`; flags are parsed by `flags.ts`.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, realpathSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from './flags.ts';
import { CliFailure } from './errors.ts';

/** Where a command's text goes: the process's streams, or buffers in a test. */
export interface CliIo {
  /** Standard output: the JSON result when no `--out` is given. */
  stdout(text: string): void;
  /** Standard error: progress, notes and the error line. */
  stderr(text: string): void;
}

/** The process's own stdout and stderr. */
export const processIo: CliIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
};

/** One subcommand of the `unequal` CLI. */
export interface Command {
  /** The word after `unequal`. */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The full `--help` text: usage, every flag with its default, and an example. */
  help: string;
  /**
   * Runs the command with the arguments after its name, writing to `io`; resolves to the exit
   * code, or throws a {@link UsageError} (exit 2) or {@link CliFailure} (exit 1).
   */
  run(argv: string[], io: CliIo): Promise<number>;
}

/**
 * A logger writing whole lines to `io.stderr`, or nothing when `quiet`.
 *
 * @example
 * ```ts
 * const log = lineLogger(processIo, false);
 * log('training…'); // stderr: training…
 * ```
 */
export function lineLogger(io: CliIo, quiet = false): (line: string) => void {
  return quiet ? () => {} : (line) => io.stderr(`${line}\n`);
}

/** One file an {@link Outputs} will write. */
interface OutputFile {
  flag: string;
  /** As the user gave it (for messages). */
  path: string;
  /** Where the bytes go: the path with symbolic links resolved, so a rename replaces the target, not the link. */
  target: string;
  /** An existing character device or FIFO (`/dev/stdout`): written in place, there is nothing to replace atomically. */
  special: boolean;
  text?: string;
}

/**
 * The output files of one run. {@link Outputs.add} checks a path as soon as its flag is read, before
 * any long work: its folder exists and is writable, and it is not a folder or a read-only file.
 * {@link Outputs.commit} writes them only once everything succeeded: every file first to a temporary
 * file in its own folder, then all are renamed into place, so a failure leaves every existing file
 * as it was (a rename within a folder is atomic).
 *
 * @example
 * ```ts
 * const outputs = new Outputs(log);
 * outputs.add('out', 'result.json');      // throws UsageError now if the folder is missing
 * // … the long computation …
 * outputs.set('out', JSON.stringify(result));
 * outputs.commit(io);                      // stderr: wrote result.json
 * ```
 */
export class Outputs {
  private readonly files: OutputFile[] = [];

  /** @param log where `wrote <path>` lines go. */
  constructor(private readonly log: (line: string) => void) {}

  /** Checks `path` for `--flag` and reserves it; a bad path is a {@link UsageError} naming the flag. */
  add(flag: string, path: string): void {
    const fail = (why: string): never => {
      throw new UsageError(`--${flag}: cannot write '${path}': ${why}`);
    };
    if (path === '') fail('the path is empty');
    let target = resolve(path);
    let special = false;
    let exists = false;
    try {
      target = realpathSync(target);
      exists = true;
    } catch {
      // Not there yet: its folder must be.
    }
    if (exists) {
      const st = statSync(target);
      if (st.isDirectory()) fail('it is a folder; give a file name');
      special = st.isCharacterDevice() || st.isFIFO();
      if (!st.isFile() && !special) fail('it is not a regular file');
      try {
        accessSync(target, constants.W_OK);
      } catch {
        fail('the file is not writable');
      }
    }
    const folder = dirname(target);
    if (!special) {
      let st;
      try {
        st = statSync(folder);
      } catch {
        fail(`the folder '${dirname(path) || '.'}' does not exist`);
      }
      if (!st!.isDirectory()) fail(`'${dirname(path)}' is not a folder`);
      try {
        accessSync(folder, constants.W_OK | constants.X_OK);
      } catch {
        fail(`the folder '${dirname(path) || '.'}' is not writable`);
      }
    }
    const clash = this.files.find((f) => f.target === target);
    if (clash) throw new UsageError(`--${flag} and --${clash.flag} name the same file '${path}'; give different files`);
    this.files.push({ flag, path, target, special });
  }

  /** Whether `--flag` was added. */
  has(flag: string): boolean {
    return this.files.some((f) => f.flag === flag);
  }

  /** Sets the text `--flag`'s file will receive at {@link Outputs.commit}. */
  set(flag: string, text: string): void {
    const file = this.files.find((f) => f.flag === flag);
    if (!file) throw new Error(`Outputs.set: --${flag} was not added`);
    file.text = text;
  }

  /**
   * The usual ending of a command: `text` (its JSON result) goes to `--flag`'s file when that flag
   * was given, else to standard output after the other files; then everything is written as
   * {@link Outputs.commit} does.
   */
  commitResult(io: CliIo, text: string, flag = 'out'): void {
    if (this.has(flag)) {
      this.set(flag, text);
      this.commit(io);
    } else this.commit(io, text);
  }

  /**
   * Writes every file that has text, all or none: temporaries first (a failure removes them and
   * leaves every existing file untouched), then renames. `stdout`, if given, goes to `io.stdout`
   * after the files.
   */
  commit(io: CliIo, stdout?: string): void {
    const pending = this.files.filter((f) => f.text !== undefined);
    const temps: { file: OutputFile; tmp: string }[] = [];
    const cleanUp = () => {
      for (const { tmp } of temps) {
        try {
          unlinkSync(tmp);
        } catch {
          // already gone
        }
      }
    };
    for (const file of pending.filter((f) => !f.special)) {
      const tmp = join(dirname(file.target), `.${basename(file.target)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
      try {
        writeFileSync(tmp, file.text!, { flag: 'wx' });
        temps.push({ file, tmp });
        try {
          chmodSync(tmp, statSync(file.target).mode & 0o7777); // keep an existing file's permissions
        } catch {
          // a new file: the default mode
        }
      } catch (e) {
        try {
          unlinkSync(tmp);
        } catch {
          // never created
        }
        cleanUp();
        throw new UsageError(`--${file.flag}: cannot write '${file.path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; no output file was changed`);
      }
    }
    for (const { file, tmp } of temps) {
      try {
        renameSync(tmp, file.target);
      } catch (e) {
        cleanUp();
        throw new UsageError(`--${file.flag}: cannot write '${file.path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    for (const file of pending.filter((f) => f.special)) {
      try {
        writeFileSync(file.target, file.text!);
      } catch (e) {
        throw new UsageError(`--${file.flag}: cannot write '${file.path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    for (const file of pending) this.log(`wrote ${file.path}`);
    if (stdout !== undefined) io.stdout(stdout);
  }
}

/**
 * `value` as indented JSON, after checking that every number in it is finite (JSON would write
 * NaN and ±Infinity as null: an answer that looks like one). A non-finite number is a
 * {@link CliFailure} naming where it is (`influence[3]`) and what `hint` says about its likely
 * cause (which input overflowed).
 *
 * @example
 * ```ts
 * finiteJson({ loss: 0.5 }, () => ''); // '{\n  "loss": 0.5\n}\n'
 * finiteJson({ loss: Infinity }, () => 'the test label is huge'); // throws CliFailure: loss is Infinity …
 * ```
 */
export function finiteJson(value: object, hint: (path: string) => string): string {
  const bad = firstNonFinite(value, '');
  if (bad) {
    const h = hint(bad.path);
    throw new CliFailure(`the result is not finite: ${bad.path} is ${bad.value} (an overflow or 0/0 in the computation)${h ? `; ${h}` : ''}; nothing was written`);
  }
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** The first non-finite number in a JSON-like value, with its path (`a.b[3]`). */
function firstNonFinite(v: unknown, path: string): { path: string; value: number } | null {
  if (typeof v === 'number') return Number.isFinite(v) ? null : { path: path || 'the result', value: v };
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) v = Array.from(v as unknown as ArrayLike<number>);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const r = firstNonFinite(v[i], `${path}[${i}]`);
      if (r) return r;
    }
    return null;
  }
  if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      const r = firstNonFinite(x, path ? `${path}.${k}` : k);
      if (r) return r;
    }
  }
  return null;
}

/** Writes a line to stderr, where every command's progress and notes go. */
export const logToStderr = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/**
 * Writes `text` to `path` (named by `--flag`) atomically (see {@link Outputs}) and logs
 * `wrote <path>`; a bad path or a failed write is a {@link UsageError}:
 * `--flag: cannot write '<path>': <reason>`. For scripts with a single output; commands that write
 * several files, or run long, use {@link Outputs} directly so that paths are checked first.
 *
 * @example
 * ```ts
 * writeFlagFile('svg', 'figure.svg', '<svg/>', logToStderr); // stderr: wrote figure.svg
 * ```
 */
export function writeFlagFile(flag: string, path: string, text: string, log: (line: string) => void): void {
  const outputs = new Outputs(log);
  outputs.add(flag, path);
  outputs.set(flag, text);
  outputs.commit(processIo);
}

/**
 * The git commit of the working tree (40 hex digits), or null outside a checkout or without git:
 * the provenance every committed result records next to its command and wall time.
 */
export function gitCommit(): string | null {
  try {
    const r = spawnSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', timeout: 10_000 });
    const sha = r.status === 0 ? r.stdout.trim() : '';
    return /^[0-9a-f]{40}$/.test(sha) ? sha : null;
  } catch {
    return null;
  }
}

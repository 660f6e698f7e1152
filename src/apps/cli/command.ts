/**
 * The shape every `unequal` subcommand has, and the output side they share: writing the result to
 * a file or to stdout. Each command lives in its own file in `src/apps/cli/` and is listed once in
 * `main.ts`; flags are parsed by `flags.ts`.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { UsageError } from './flags.ts';

/** One subcommand of the `unequal` CLI. */
export interface Command {
  /** The word after `unequal`. */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The full `--help` text: usage, every flag with its default, and an example. */
  help: string;
  /** Runs the command with the arguments after its name; resolves to the exit code. */
  run(argv: string[]): Promise<number>;
}

/**
 * Writes `text` to `path` (named by `--flag`) and logs `wrote <path>`; a failure becomes a
 * {@link UsageError}: `--flag: cannot write '<path>': <reason>`.
 *
 * @example
 * ```ts
 * writeFlagFile('svg', 'figure.svg', '<svg/>', logToStderr); // stderr: wrote figure.svg
 * ```
 */
export function writeFlagFile(flag: string, path: string, text: string, log: (line: string) => void): void {
  try {
    writeFileSync(path, text);
  } catch (e) {
    throw new UsageError(`--${flag}: cannot write '${path}': ${(e as Error).message}`);
  }
  log(`wrote ${path}`);
}

/**
 * Writes `result` as indented JSON to the `--out` file when one is given (see
 * {@link writeFlagFile}), else prints it to stdout.
 *
 * @example
 * ```ts
 * writeJsonResult({ influence: [0.1, -0.2] }, undefined, logToStderr); // prints the JSON
 * ```
 */
export function writeJsonResult(result: object, out: string | undefined, log: (line: string) => void): void {
  const text = `${JSON.stringify(result, null, 2)}\n`;
  if (out) writeFlagFile('out', out, text, log);
  else process.stdout.write(text);
}

/** Writes a line to stderr, where every command's progress and notes go. */
export const logToStderr = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

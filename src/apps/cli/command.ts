/**
 * The shape every `unequal` subcommand has, and the pieces they share: strict flag parsing whose
 * errors point at `--help`, and writing the result to a file or to stdout. Each command lives in
 * its own file in `src/apps/cli/` and is listed once in `main.ts`.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';

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

/** An error whose message is meant for the user as is (bad flags, unreadable files): no stack trace. */
export class UsageError extends Error {}

/** Parsed flag values by long name: strings for valued flags, `true` for boolean ones. */
export type FlagValues = Record<string, string | boolean | undefined>;

/**
 * Parses `argv` strictly (no positionals, no unknown flags); a parse error becomes a
 * {@link UsageError} that points at `unequal <command> --help`.
 */
export function parseFlags(command: string, argv: string[], options: NonNullable<ParseArgsConfig['options']>): FlagValues {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as FlagValues;
  } catch (e) {
    throw new UsageError(`${(e as Error).message} (see unequal ${command} --help)`);
  }
}

/** The message for a file that could not be written: the flag, the path, and the system's reason. */
export type WriteFailure = (path: string, reason: string) => string;

/**
 * Writes `text` to `path` (named by `--flag`) and logs `wrote <path>`; a failure becomes a
 * {@link UsageError}, by default `--flag: cannot write '<path>': <reason>`.
 */
export function writeFlagFile(
  flag: string,
  path: string,
  text: string,
  log: (line: string) => void,
  failure: WriteFailure = (p, reason) => `--${flag}: cannot write '${p}': ${reason}`,
): void {
  try {
    writeFileSync(path, text);
  } catch (e) {
    throw new UsageError(failure(path, (e as Error).message));
  }
  log(`wrote ${path}`);
}

/** Writes `text` to the `--out` file when one is given (see {@link writeFlagFile}), else prints it to stdout. */
export function writeOutput(text: string, out: string | undefined, log: (line: string) => void, failure?: WriteFailure): void {
  if (out) writeFlagFile('out', out, text, log, failure);
  else process.stdout.write(text);
}

/** Writes a line to stderr, where every command's progress and notes go. */
export const logToStderr = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

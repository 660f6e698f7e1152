/**
 * The shape every `unequal` subcommand has. Each command lives in its own file in `src/cli/` and
 * is listed once in `main.ts`.
 *
 * @module
 */

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

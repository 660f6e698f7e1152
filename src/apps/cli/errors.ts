/**
 * How the apps fail: every failure reaches the user as one line `name: message` (a stack trace only
 * with `--debug`), with exit code 2 for a usage error (a bad flag, an unreadable or malformed file,
 * a path that cannot be written) and 1 for a run that cannot give an answer it stands behind (a
 * numerical failure, an objective without a minimiser, a result that is not finite, not enough
 * memory). Messages name the cause and the fix (the flag, the row, the class).
 *
 * @module
 */

/**
 * An error whose message is meant for the user as is (bad flags, unreadable files): one line,
 * exit 2, no stack trace.
 *
 * @example
 * ```ts
 * throw new UsageError("--l2: 'x' is not a number");
 * ```
 */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * A run that cannot give an answer it stands behind, with a message for the user that names the
 * cause and the fix: one line, exit 1, no stack trace.
 *
 * @example
 * ```ts
 * throw new CliFailure('the Hessian is singular; raise --l2');
 * ```
 */
export class CliFailure extends Error {
  override name = 'CliFailure';
}

/** Errors that signal a bug rather than a property of the input: the line says so. */
const BUG_CLASSES = ['TypeError', 'ReferenceError', 'SyntaxError', 'EvalError'];

/**
 * The text and exit code for an error that ended an entry point: a {@link UsageError} exits 2, any
 * other error 1. The text is `name: message` on one line (line breaks inside a message are joined);
 * an error that looks like a bug says so; `debug` adds the stack trace below.
 *
 * @example
 * ```ts
 * formatError('unequal', new UsageError('--l2 is required'), false);
 * // { text: 'unequal: --l2 is required\n', code: 2 }
 * ```
 */
export function formatError(name: string, err: unknown, debug: boolean): { text: string; code: number } {
  const code = err instanceof UsageError ? 2 : 1;
  const e = err instanceof Error ? err : new Error(String(err));
  let message = e.message.replace(/\s*\n\s*/g, ' ').trim() || e.name;
  if (BUG_CLASSES.includes(e.name) || (e.name === 'RangeError' && !/memory|allocation|array length/i.test(message))) {
    message = `internal error (${e.name}): ${message}; please report it with the command line${debug ? '' : ' (rerun with --debug for the stack trace)'}`;
  } else if (e.name === 'RangeError') {
    message = `out of memory: ${message}; the problem is too large for this machine`;
  }
  const stack = debug && e.stack ? `${e.stack}\n` : '';
  return { text: `${name}: ${message}\n${stack}`, code };
}

/**
 * `unequal`: the command-line entry point. It runs {@link runCli} (cli.ts) on the process's
 * arguments and streams and sets the exit code.
 *
 * @module
 */
import { runCli } from './cli.ts';

runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});

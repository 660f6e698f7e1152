/**
 * The `unequal` command line as a function: {@link runCli} lists the subcommands, prints help, runs
 * one, and turns every error into one line on stderr and an exit code (2: usage, 1: a run that
 * cannot stand behind an answer), never a stack trace unless `--debug` is given. `main.ts` calls it
 * with the process's arguments and streams; tests call it in-process with buffers. Subcommands are
 * loaded lazily so that `unequal --help` starts instantly.
 *
 * @module
 */
import { type CliIo, type Command, processIo } from './command.ts';
import { formatError, UsageError } from './errors.ts';
import { wantsHelp } from './flags.ts';

/** Every subcommand: name, one-line summary, and the module that implements it. */
const COMMANDS: { name: string; summary: string; load: () => Promise<Command> }[] = [
  { name: 'influence', summary: 'influence of every training point on a test point (Koh & Liang 2017)', load: async () => (await import('./influence.ts')).command },
  { name: 'loo', summary: 'exact leave-one-out retraining for chosen training points', load: async () => (await import('./loo.ts')).command },
  { name: 'reweight', summary: 'compare sample-weighting methods on imbalanced or noisy MNIST', load: async () => (await import('./reweight.ts')).command },
  { name: 'metagrad', summary: 'Learning-to-Reweight meta-gradient and weights for one batch', load: async () => (await import('./metagrad.ts')).command },
  { name: 'attribute', summary: "one attribution method's scores for a test point (MNIST-10 or a CSV problem)", load: async () => (await import('./attribute.ts')).command },
  { name: 'figure2', summary: "Koh & Liang's Figure 2 at the paper's scale (10-class MNIST, exact LOO; CNN panel)", load: async () => (await import('./figure2.ts')).command },
  { name: 'lds', summary: "linear datamodeling score (and LOO) of attribution methods: dattri's MNIST-10 or a CSV problem", load: async () => (await import('./lds.ts')).command },
  { name: 'noisy', summary: "noisy-label detection: AUC of each attribution method's self-scores for flipped MNIST-10 labels", load: async () => (await import('./noisy-mnist10.ts')).command },
  { name: 'merge', summary: 'join the shards of `unequal lds --shard i/k` into the full result', load: async () => (await import('./merge.ts')).command },
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'unequal: second-order autodiff and training-sample weighting',
    '',
    'Usage: unequal <command> [options]',
    '       unequal <command> --help',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Numbers in flags are plain decimals, as in the CSV files (0.01, 1e-3; not 0x1 or Infinity).',
    'Exit codes: 0 success (the output holds only finite numbers the solver stands behind);',
    '2 a usage error (bad flag, unreadable or malformed file, unwritable output path);',
    '1 a run that cannot give such an answer (numerical failure, no minimiser, overflow, memory).',
    'Either error is one line on stderr naming the cause and the fix; --debug adds the stack trace.',
    'Output files are written only when everything succeeded, each atomically.',
  ].join('\n');
}

async function dispatch(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    io.stdout(`${usage()}\n`);
    return 0;
  }
  const names = COMMANDS.map((c) => c.name).join(', ');
  if (!name) throw new UsageError(`no command given; the commands are ${names} (see unequal --help)`);
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) throw new UsageError(`unknown command '${name}'; the commands are ${names} (see unequal --help)`);
  const command = await entry.load();
  if (wantsHelp(rest)) {
    io.stdout(`${command.help}\n`);
    return 0;
  }
  return command.run(rest, io);
}

/**
 * Runs `unequal` with `argv` (the words after the program name), writing to `io`; resolves to the
 * exit code and never rejects. `--debug` anywhere in `argv` adds stack traces to error lines.
 *
 * @example
 * ```ts
 * const code = await runCli(['influence', '--help']); // prints the help, 0
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const debug = argv.includes('--debug');
  try {
    return await dispatch(argv.filter((a) => a !== '--debug'), io);
  } catch (err) {
    const { text, code } = formatError('unequal', err, debug);
    io.stderr(text);
    return code;
  }
}

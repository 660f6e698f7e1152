/**
 * `unequal`: the command-line entry point. It lists the subcommands, prints help, and runs one.
 * Subcommands are loaded lazily so that `unequal --help` starts instantly.
 *
 * @module
 */
import { type Command, UsageError } from './command.ts';

/** Every subcommand: name, one-line summary, and the module that implements it. */
const COMMANDS: { name: string; summary: string; load: () => Promise<Command> }[] = [
  { name: 'influence', summary: 'influence of every training point on a test point (Koh & Liang 2017)', load: async () => (await import('./influence.ts')).command },
  { name: 'loo', summary: 'exact leave-one-out retraining for chosen training points', load: async () => (await import('./loo.ts')).command },
  { name: 'reweight', summary: 'compare sample-weighting methods on imbalanced or noisy MNIST', load: async () => (await import('./reweight.ts')).command },
  { name: 'metagrad', summary: 'Learning-to-Reweight meta-gradient and weights for one batch', load: async () => (await import('./metagrad.ts')).command },
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
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 1;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    console.error(`unequal: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  const command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.help);
    return 0;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) console.error(`unequal: ${err.message}`);
    else console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  },
);

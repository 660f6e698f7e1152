/**
 * `unequal`: the command-line entry point. It lists the subcommands, prints help, and runs one.
 * Subcommands are loaded lazily so that `unequal --help` starts instantly.
 *
 * @module
 */
import type { Command } from './command.ts';
import { runMain, UsageError, wantsHelp } from './flags.ts';

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
    '',
    'Numbers in flags are plain decimals, as in the CSV files (0.01, 1e-3; not 0x1 or Infinity).',
    'A usage error (bad flag, unreadable file) exits with code 2 and one line on stderr.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return 0;
  }
  if (!name) {
    // A bare `unequal` is a usage error, but the whole usage is what the user needs to see.
    console.error(usage());
    return 2;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) throw new UsageError(`unknown command '${name}'; the commands are ${COMMANDS.map((c) => c.name).join(', ')} (see unequal --help)`);
  const command = await entry.load();
  if (wantsHelp(rest)) {
    console.log(command.help);
    return 0;
  }
  return command.run(rest);
}

runMain('unequal', () => main(process.argv.slice(2)));

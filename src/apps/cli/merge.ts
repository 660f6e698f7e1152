/**
 * `unequal merge`: joins the partial results of `unequal lds --shard i/k` into the full result,
 * after checking that they fit (same configuration, every shard once, no gaps, no overlaps).
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { type Command, finiteJson, lineLogger, Outputs } from './command.ts';
import { UsageError } from './errors.ts';
import { parseFlags } from './flags.ts';
import { checkShards, finishLds, type LdsPartial } from './lds-mnist10.ts';

const help = `unequal merge: join the shards of an lds run into the full result

Usage: unequal merge <shard.json> <shard.json> … [--out full.json] [--quiet]

Each input is a partial result written by \`unequal lds … --shard i/k --out shard-i.json\`: it holds
the retrained outputs of its share of the subsets (and of the --loo rows) and every method's summed
subset scores for them. merge checks that the inputs fit together, then computes LDS and LOO
exactly as an unsharded run does (k merged shards equal one unsharded run exactly):
  - every input was run with the same configuration (model, sizes, seed, methods, grids, …);
  - every shard 0..k−1 of the same k is given exactly once (no gaps, no overlaps), in any order;
  - the shards' subset and LOO-row ranges are contiguous and cover them all.
A mismatch is an error (exit 2) naming the inputs and what differs.

Options:
  --out <file>   write the JSON there (default: print it to stdout)
  --quiet        no progress on stderr

Example (a Slurm array job of 4 tasks, then one merge):
  unequal lds --model logreg --subsets 100 --shard $SLURM_ARRAY_TASK_ID/4 --out shard-$SLURM_ARRAY_TASK_ID.json
  unequal merge shard-0.json shard-1.json shard-2.json shard-3.json --out lds.json`;

/** The `merge` subcommand. */
export const command: Command = {
  name: 'merge',
  summary: 'join the shards of `unequal lds --shard i/k` into the full result',
  help,
  async run(argv, io) {
    const flags = parseFlags('unequal merge', argv, { out: { type: 'string' }, quiet: { type: 'boolean' } }, { positionals: true });
    const log = lineLogger(io, flags.boolean('quiet'));
    const outputs = new Outputs(log);
    const out = flags.string('out');
    if (out !== undefined) outputs.add('out', out);
    const files = flags.positionals;
    if (files.length === 0) throw new UsageError('give the shard files to merge (see unequal merge --help)');
    const parts = files.map((f) => {
      let text: string;
      try {
        text = readFileSync(f, 'utf8');
      } catch (e) {
        throw new UsageError(`cannot read '${f}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      try {
        return JSON.parse(text) as LdsPartial;
      } catch (e) {
        throw new UsageError(`'${f}' is not JSON: ${(e as Error).message}`);
      }
    });
    checkShards(parts, files);
    const result = finishLds(checkShards(parts, files));
    log(`merged ${files.length} shard${files.length > 1 ? 's' : ''}`);
    const text = finiteJson(result, () => '');
    if (outputs.has('out')) {
      outputs.set('out', text);
      outputs.commit(io);
    } else outputs.commit(io, text);
    return 0;
  },
};

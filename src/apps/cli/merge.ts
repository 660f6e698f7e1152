/**
 * `unequal merge`: joins the partial results of `unequal lds --shard i/k` or of `unequal reweight
 * --protocol paper --shard i/k` into the full result, after checking that they fit (same
 * configuration, every shard once, no gaps, no overlaps).
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { type Command, finiteJson, gitCommit, lineLogger, Outputs } from './command.ts';
import { UsageError } from './errors.ts';
import { parseFlags } from './flags.ts';
import { checkShards, finishLds, type LdsConfig, type LdsMethodResult, type LdsPartial } from './lds-mnist10.ts';
import { combinePaperResults, mergePaperShards, type PaperImbalanceResult, type PaperShard } from '../experiments/reweight-paper.ts';

/** A finished `lds` result (MNIST-10 mode). */
interface FinishedResult {
  command: string;
  commit: string | null;
  wallSeconds: number;
  config: LdsConfig;
  [model: string]: unknown;
}

/**
 * Joins finished results of runs that differ only in their methods (or their model): see the help.
 */
function combineResults(parts: FinishedResult[], files: readonly string[], argv: readonly string[]): Record<string, unknown> {
  const config: Record<string, LdsConfig> = {};
  const models: Record<string, { methods: Record<string, LdsMethodResult> }> = {};
  const runs: Record<string, unknown>[] = [];
  parts.forEach((r, k) => {
    const model = r?.config?.model;
    if (!model || !(r as Record<string, unknown>)[model] || (r as { kind?: string }).kind) throw new UsageError(`merge --combine: ${files[k]} is not a finished lds result (a shard needs a plain merge first)`);
    const methods = ((r as Record<string, unknown>)[model] as { methods: Record<string, LdsMethodResult> }).methods;
    // The TRAK ensemble size belongs to the trak-N methods (each records its models in its cost).
    const { methods: _m, dropped: _d, ensemble: _e, ...rest } = r.config;
    const prev = config[model];
    if (prev) {
      const { methods: _pm, dropped: _pd, ensemble: _pe, ...prevRest } = prev;
      if (JSON.stringify(prevRest) !== JSON.stringify(rest)) throw new UsageError(`merge --combine: ${files[k]} ran ${model} with another configuration than an earlier input (only --methods may differ)`);
      for (const name of Object.keys(methods)) if (models[model]!.methods[name]) throw new UsageError(`merge --combine: method ${name} of ${model} is in two inputs (the second: ${files[k]})`);
      prev.methods = [...prev.methods, ...r.config.methods];
      prev.ensemble = Math.max(prev.ensemble, r.config.ensemble);
      const dropped = [...(prev.dropped ?? []), ...(r.config.dropped ?? [])].filter((d) => !prev.methods.some((m) => d.startsWith(`${m}:`)));
      if (dropped.length) prev.dropped = dropped;
      else delete prev.dropped;
    } else {
      config[model] = { ...r.config, methods: [...r.config.methods] };
      models[model] = { methods: {} };
    }
    Object.assign(models[model]!.methods, methods);
    runs.push({ file: files[k], model, methods: Object.keys(methods), command: r.command, commit: r.commit, wallSeconds: r.wallSeconds });
  });
  return {
    command: ['unequal', 'merge', ...argv].join(' '),
    commit: gitCommit(),
    wallSeconds: parts.reduce((s, r) => s + r.wallSeconds, 0),
    runs,
    config,
    ...models,
  };
}

/**
 * The CLI's output for a joined paper-protocol reweight result: the result as one run writes it,
 * the merge's own command and commit, and the inputs' provenance under `key` (`shards` for a merge
 * of shards, `inputs` for --combine), read once the join has checked the inputs. The join's
 * refusals are usage errors (exit 2).
 */
function paperOutput(join: () => PaperImbalanceResult, argv: readonly string[], key: 'shards' | 'inputs', provenance: () => Record<string, unknown>[]): Record<string, unknown> {
  let joined;
  try {
    joined = join();
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { experiment, protocol, wallSeconds, config, byPosRatio, runs } = joined;
  return { command: ['unequal', 'merge', ...argv].join(' '), commit: gitCommit(), experiment, protocol, wallSeconds, config, byPosRatio, runs, [key]: provenance() };
}

/** Joins the shards of a paper-protocol reweight run (checks in `mergePaperShards`). */
function mergeReweightShards(parts: PaperShard[], files: readonly string[], argv: readonly string[]): Record<string, unknown> {
  const shards = () => [...parts].sort((a, b) => a.shard.index - b.shard.index).map((p) => ({ shard: `${p.shard.index}/${p.shard.count}`, command: p.command, commit: p.commit, wallSeconds: p.wallSeconds }));
  return paperOutput(() => mergePaperShards(parts, files), argv, 'shards', shards);
}

/** Joins finished paper-protocol reweight results of different methods (checks in `combinePaperResults`). */
function combineReweightResults(parts: PaperImbalanceResult[], files: readonly string[], argv: readonly string[]): Record<string, unknown> {
  const inputs = () => parts.map((p, k) => ({ file: files[k], methods: p.config.methods, command: (p as unknown as FinishedResult).command, commit: (p as unknown as FinishedResult).commit, wallSeconds: p.wallSeconds }));
  return paperOutput(() => combinePaperResults(parts, files), argv, 'inputs', inputs);
}

const help = `unequal merge: join the shards of an lds or reweight --protocol paper run into the full result

Usage: unequal merge <shard.json> <shard.json> … [--out full.json] [--quiet]

Shards of \`unequal reweight --experiment imbalance --protocol paper … --shard i/k\` hold the test
errors of their (pos_ratio, seed) jobs; merge checks that all were run with the same configuration
and that every shard 0..k−1 is given once, and writes the result one unsharded run writes (the
wall time is the shards' sum). With --combine, finished reweight --protocol paper results that
differ only in --methods are joined into one (methods must not repeat).

Each input is a partial result written by \`unequal lds … --shard i/k --out shard-i.json\`: it holds
the retrained outputs of its share of the subsets (and of the --loo rows) and every method's summed
subset scores for them. merge checks that the inputs fit together, then computes LDS and LOO
exactly as an unsharded run does (k merged shards equal one unsharded run exactly):
  - every input was run with the same configuration (model, sizes, seed, methods, grids, …);
  - every shard 0..k−1 of the same k is given exactly once (no gaps, no overlaps), in any order;
  - the shards' subset and LOO-row ranges are contiguous and cover them all.
A mismatch is an error (exit 2) naming the inputs and what differs.

With --combine the inputs are finished results instead (unequal lds … --out, or merged shards) of
the same protocol run with different --methods or --model, e.g. one run per model or a method added
later: runs of one model must agree on everything but the methods (which must not repeat) and the TRAK
ensemble size; the output
holds each model's methods under "<model>", each model's configuration under config.<model>, and
every run's command, commit and wallSeconds under "runs".

Options:
  --combine      join finished results of different methods/models (see above)
  --out <file>   write the JSON there (default: print it to stdout)
  --quiet        no progress on stderr

Example (a Slurm array job of 4 tasks, then one merge):
  unequal lds --model logreg --subsets 100 --shard $SLURM_ARRAY_TASK_ID/4 --out shard-$SLURM_ARRAY_TASK_ID.json
  unequal merge shard-0.json shard-1.json shard-2.json shard-3.json --out lds.json`;

/** The `merge` subcommand. */
export const command: Command = {
  name: 'merge',
  summary: 'join the shards of `unequal lds` or `unequal reweight --protocol paper` (--shard i/k) into the full result',
  help,
  async run(argv, io) {
    const flags = parseFlags('unequal merge', argv, { out: { type: 'string' }, quiet: { type: 'boolean' }, combine: { type: 'boolean' } }, { positionals: true });
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
    const kinds = parts as unknown as { kind?: string; protocol?: string }[];
    const paperShards = kinds.some((p) => p?.kind === 'reweight-paper-shard');
    const paperResults = kinds.some((p) => p?.protocol === 'paper' && !p.kind);
    if (paperShards && flags.boolean('combine')) throw new UsageError('reweight shards need a plain merge first; --combine joins finished results');
    const result = paperShards
      ? mergeReweightShards(parts as unknown as PaperShard[], files, argv)
      : paperResults && flags.boolean('combine')
        ? combineReweightResults(parts as unknown as PaperImbalanceResult[], files, argv)
        : flags.boolean('combine')
        ? combineResults(parts as unknown as FinishedResult[], files, argv)
        : finishLds(checkShards(parts, files));
    log(flags.boolean('combine') ? `combined ${files.length} results` : `merged ${files.length} shard${files.length > 1 ? 's' : ''}`);
    const text = finiteJson(result, () => '');
    outputs.commitResult(io, text);
    return 0;
  },
};

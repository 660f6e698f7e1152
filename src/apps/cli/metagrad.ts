/**
 * `unequal metagrad`: the Learning-to-Reweight meta-gradient and weights of one training batch for
 * a given MLP, validation set and step size.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { type Command, finiteJson, lineLogger, Outputs } from './command.ts';
import { UsageError } from './errors.ts';
import { parseFlags } from './flags.ts';
import { cellText } from './linear-problem.ts';
import { tensor } from '../../core/create.ts';
import { type CsvData, firstCellAtLeast, largestCell, readCsv } from '../../data/csv.ts';
import { mlpFromJson, type MlpParams } from '../../nn/mlp.ts';
import { l2rwWeights, type MetaRoute, mlpMetaGradient } from '../../reweight/l2rw.ts';

/** Magnitudes from which a value's square nears float64's 1.8e308 (as for the linear problems). */
const MAGNITUDE_LIMIT = 1e150;

const help = `unequal metagrad: Learning-to-Reweight meta-gradient and weights for one batch

Usage: unequal metagrad --net net.json --train batch.csv --val val.csv --lr <α> [--out file.json]
                        [--route closed-form|autodiff|per-example]

For an MLP with one output (a logit) and binary cross-entropy with logits, computes
  gᵢ = ∂/∂εᵢ mean_j ℓᵛⱼ(θ − α ∇θ Σᵢ εᵢ ℓᵢ(θ)) at ε = 0     (one per training row)
and the weights w̃ᵢ = max(−gᵢ, 0), wᵢ = w̃ᵢ / Σ w̃ (all zero when the sum is zero).

Options:
  --net <file>    JSON { "activation": "tanh"|"relu", "layers": [ { "W": [[out × in]], "b": [out] }, … ] };
                  hidden layers apply the activation, the last layer (one output) is linear
  --train <file>  the batch: CSV with a header, features, and the label (0 or 1) last
  --val <file>    the validation set, same layout
  --lr <α>        the look-ahead step size α (> 0)
  --route <r>     closed-form (MLP formula, default), autodiff (through the look-ahead step),
                  per-example (vmap(grad) dot products); all give the same numbers to ~1e-12
  --out <file>    write the JSON there (default: stdout); checked before any work, written only
                  on success
  --quiet         no progress on stderr

Writes { "metaGradient": [m numbers], "weights": [m numbers] }. Values of magnitude ≥ 1e150 in the
CSVs or the net are refused (exit 2: their squares overflow float64); a result that is not finite
all the same (a net whose activations overflow) is an error (exit 1) naming the largest weight and
input, and nothing is written.

Example:
  unequal metagrad --net net.json --train batch.csv --val val.csv --lr 0.1 --out meta.json`;

function readJson(flag: string, path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`--${flag}: cannot read '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--${flag}: '${path}' is not valid JSON: ${(e as Error).message}`);
  }
}

function loadCsv(flag: string, path: string, inWidth: number) {
  let data: CsvData;
  try {
    data = readCsv(path);
  } catch (e) {
    throw new UsageError(`--${flag}: ${(e as Error).message}`);
  }
  if (data.n === 0) throw new UsageError(`--${flag}: '${path}' has no data rows`);
  if (data.d !== inWidth) {
    throw new UsageError(`--${flag}: '${path}' has ${data.d} feature columns (plus the label), but the network's first layer takes ${inWidth} inputs`);
  }
  const big = firstCellAtLeast(data, MAGNITUDE_LIMIT);
  if (big) throw new UsageError(`${cellText(flag, path, big)} is too large: values of magnitude ≥ 1e150 overflow float64 when squared; rescale that column`);
  data.y.forEach((v, i) => {
    if (!(v >= 0 && v <= 1)) throw new UsageError(`--${flag}: '${path}' row ${i + 1}: label ${v} is not in [0, 1] (binary cross-entropy)`);
  });
  return { data, X: tensor(data.X, [data.n, data.d]), y: tensor(data.y, [data.n]) };
}

/** The weight or bias of largest magnitude: `layers[l].W[r][c] = v`. */
function largestWeight(params: MlpParams): { where: string; value: number } {
  let best = { where: '', value: 0 };
  params.forEach((layer, l) => {
    const [rows, cols] = layer.W.shape as [number, number];
    const W = layer.W.toFloat64Array();
    const b = layer.b.toFloat64Array();
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) if (!best.where || Math.abs(W[r * cols + c]!) > Math.abs(best.value)) best = { where: `layers[${l}].W[${r}][${c}]`, value: W[r * cols + c]! };
      if (Math.abs(b[r]!) > Math.abs(best.value)) best = { where: `layers[${l}].b[${r}]`, value: b[r]! };
    }
  });
  return best;
}

/** The `metagrad` subcommand. */
export const command: Command = {
  name: 'metagrad',
  summary: 'Learning-to-Reweight meta-gradient and weights for one batch',
  help,
  async run(argv, io) {
    const flags = parseFlags('unequal metagrad', argv, {
      net: { type: 'string' },
      train: { type: 'string' },
      val: { type: 'string' },
      lr: { type: 'string' },
      route: { type: 'string' },
      out: { type: 'string' },
      quiet: { type: 'boolean' },
    });
    const log = lineLogger(io, flags.boolean('quiet'));
    const netPath = flags.requiredString('net');
    const trainPath = flags.requiredString('train');
    const valPath = flags.requiredString('val');
    const lr = flags.number('lr', { above: 0 });
    const route = flags.choice<MetaRoute>('route', ['closed-form', 'autodiff', 'per-example'], 'closed-form');
    const outputs = new Outputs(log);
    const out = flags.string('out');
    if (out !== undefined) outputs.add('out', out);
    let net;
    try {
      net = mlpFromJson(readJson('net', netPath), `--net ${netPath}`);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError((e as Error).message);
    }
    const last = net.params[net.params.length - 1]!;
    if (last.W.shape[0] !== 1) {
      throw new UsageError(`--net ${netPath}: the last layer must have one output (a logit), it has ${last.W.shape[0]} rows in W`);
    }
    const biggest = largestWeight(net.params);
    if (Math.abs(biggest.value) >= MAGNITUDE_LIMIT) {
      throw new UsageError(`--net ${netPath}: ${biggest.where} = ${biggest.value} is too large: weights of magnitude ≥ 1e150 overflow float64 when squared; rescale the network`);
    }
    const inWidth = net.params[0]!.W.shape[1]!;
    const train = loadCsv('train', trainPath, inWidth);
    const val = loadCsv('val', valPath, inWidth);
    log(`metagrad: ${train.X.shape[0]} training rows, ${val.X.shape[0]} validation rows, ${net.params.length} layers (${net.activation}), α = ${lr}, route ${route}`);
    const metaGradient = mlpMetaGradient(route, net.params, net.activation, train, val, lr);
    const weights = l2rwWeights(metaGradient);
    const text = finiteJson({ metaGradient: Array.from(metaGradient), weights: Array.from(weights) }, () => {
      const cells = [
        ['train', trainPath, largestCell(train.data)],
        ['val', valPath, largestCell(val.data)],
      ] as const;
      const inputs = cells.flatMap(([flag, path, c]) => (c ? [cellText(flag, path, c)] : []));
      return `the network overflows (its largest weight is ${biggest.where} = ${biggest.value}; the largest inputs are ${inputs.join(' and ')}): rescale the weights or the inputs, or lower --lr`;
    });
    outputs.commitResult(io, text);
    return 0;
  },
};

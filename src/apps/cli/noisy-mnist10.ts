/**
 * `unequal noisy --model logreg|mlp`: noisy-label detection on dattri's MNIST-10 (issue 14): flip a
 * fraction of the training labels, train the model on the flipped labels exactly as `lds` trains its
 * full model, score every training point with each method's self-score (the diagonal of its score
 * matrix with the training set as the test set; src/influence/self-influence.ts), and report the
 * AUC of those self-scores for finding the flipped rows (`detectionAuc`).
 *
 * The self-scores use the protocol's closed-form paths (mnist10.ts, mnist10-methods.ts) so that no
 * n × n matrix and no n × p gradient matrix is formed: influence-type scores solve for the training
 * gradients a chunk of rows at a time (exact: one blocked forward substitution with the Cholesky
 * factor per chunk; CG: the multi-shift Lanczos of `lds` with the rows as right-hand sides; LiSSA:
 * the same recursion), Arnoldi projects every gradient on its Ritz vectors once, K-FAC / EK-FAC use
 * `KroneckerInfluence.selfScores`, TRAK the leverage scores of each model's projected features.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { type CliIo, type Command, finiteJson, gitCommit, lineLogger, Outputs } from './command.ts';
import { CliFailure, UsageError } from './errors.ts';
import { type Flags, parseFlags } from './flags.ts';
import { Rng } from '../../core/rng.ts';
import { setBackend } from '../../backend/index.ts';
import { dattriMnist10, type DattriSplit } from '../../data/dattri.ts';
import { detectionAuc } from '../../influence/metrics.ts';
import { arnoldi } from '../../influence/solvers.ts';
import { KroneckerInfluence, linearKfacNetwork, mlpKfacNetwork } from '../../influence/kfac.ts';
import { linearLastLayer, mlpLastLayer } from '../../influence/representer.ts';
import { representerSelfScores, trakKernelSelfScores } from '../../influence/self-influence.ts';
import type { Objective } from '../../nn/objective.ts';
import { rowSquaredNorms } from '../../linalg/vector.ts';
import type { MlpParams } from '../../nn/mlp.ts';
import { blockedCholeskyInPlace } from '../experiments/softmax-regression.ts';
import { progressLine } from '../parallel/pool.ts';
import { DATTRI_TRAINING, forward, gatherRows, gradientSquaredNorms, mm, type Mnist10Model, objectiveOf, parameterCount, perExampleGradients } from './mnist10.ts';
import { defaultSetup, runJob, type JobSetup, ensembleRows } from './mnist10-jobs.ts';
import { blockHvp, blockLissa, DAMPING_GRID, gradientTimes, LISSA_CONFIGS, lissaPlan, logregHessian, multiShiftCg, RPS_L2S, type ScoringContext, trakFeatures } from './mnist10-methods.ts';
import { type OptimumTraining, retrainAtOptimum } from './mnist10-optimum.ts';

/** Every method `noisy` accepts; `loss` is the naive baseline, `grad-cos` is refused with its reason. */
export const NOISY_METHODS = ['loss', 'exact', 'cg', 'lissa', 'arnoldi', 'grad-dot', 'grad-cos', 'tracin', 'kfac', 'ekfac', 'trak-1', 'trak-10', 'trak-50', 'rps'] as const;
/** One of {@link NOISY_METHODS}. */
export type NoisyMethod = (typeof NOISY_METHODS)[number];

/** The seed offset of the flipped rows (after mnist10-jobs.ts's 1e6, 2e6, 3e6). */
export const FLIP_SEED = 4_000_000;

/** One method's result. */
export interface NoisyMethodResult {
  auc: number;
  seconds: number;
  ensemble?: boolean;
  config: Record<string, number | string>;
  search?: { config: Record<string, number | string>; auc: number }[];
  cost: Record<string, number | string>;
}

/**
 * The flipped labels: the rows are the first ⌊flip·n⌋ of `new Rng(seed + 4_000_000).permutation(n)`
 * (sorted); each, in permutation order, gets (y + 1 + int(9)) mod 10 with `int(9)` drawn from the
 * same generator after the permutation: uniform over the nine other classes.
 *
 * @example
 * ```ts
 * const { y, rows } = flipLabels(data.train.y, 0.1, 0); // 10% of the rows, each with a new label
 * ```
 */
export function flipLabels(y: ArrayLike<number>, flip: number, seed: number): { y: Float64Array; rows: number[] } {
  const n = y.length;
  const rng = new Rng(seed + FLIP_SEED);
  const chosen = rng.permutation(n).slice(0, Math.floor(flip * n));
  const out = Float64Array.from(y);
  for (const i of chosen) out[i] = (y[i]! + 1 + rng.int(9)) % 10;
  return { y: out, rows: [...chosen].sort((a, b) => a - b) };
}

const help = `unequal noisy: noisy-label detection on dattri's MNIST-10 (issue 14)

Usage: unequal noisy --model logreg|mlp [--flip f] [--train-size n] [--methods a,b,…]
                     [--fit sgd|optimum] [--seed s] [--threads t] [--trak-k k]
                     [--dampings a,b,…] [--exact-dampings a,b,…] [--epochs E] [--out f.json] [--quiet]

Flips a fraction f of the training labels of dattri's MNIST-10 (the first n training images of
MNIST, normalised as dattri does): the flipped rows are the first ⌊f·n⌋ of
new Rng(seed + 4000000).permutation(n), each given (y + 1 + int(9)) mod 10 from the same generator
(uniform over the other nine classes). The model is trained on the flipped labels exactly as
\`unequal lds\` trains its full model (dattri's SGD protocol, seed + 1000000; TRAK members on their
random halves with seed + 2000000 + m), and every training point gets each method's self-score:
the diagonal of its score matrix with the training set as the test set (higher = more suspicious;
src/influence/self-influence.ts). The AUC of the self-scores for the flipped rows is reported
(1 = every flipped row ranked above every clean one, 0.5 = chance). Methods with a configuration
grid report the configuration with the best AUC and the whole search (dattri reports its best).
Writes { "command", "commit", "wallSeconds", "config",
         "<model>": { "methods": { "<name>": { "auc", "seconds", "config", "search"?, "cost" } } } }
Two such files (one per model) join with \`unequal merge --combine a.json b.json\`.

Options:
  --model <m>             logreg (7,850 parameters) or mlp (784→128→10 ReLU, 101,770)
  --flip <f>              fraction of training labels flipped, 0 < f < 1 (default 0.1)
  --train-size <n>        training images (default 5000)
  --methods <list>        loss (the naive baseline: each point's training loss), exact (logreg),
                          cg, lissa, arnoldi, grad-dot, tracin, kfac, ekfac, trak-1, trak-10,
                          trak-50, rps (default all that apply). grad-cos is dropped: its self-score
                          is 1 for every point. On the MLP exact, cg and lissa are dropped with their
                          cost (n separate solves of 10 or 100+ engine HVPs each)
  --fit <sgd|optimum>     sgd (default): dattri's training. optimum (logreg only): the model at the
                          exact minimiser of the mean cross-entropy + (λ/2)‖θ‖² (as lds --fit optimum;
                          exact inverts H at δ = λ, λ joins the δ grid; tracin is dropped)
  --l2 <λ>, --grad-tol <t>, --fit-batch <B>   the optimum's settings (as lds)
  --seed <s>              seed of the flips, the training and the TRAK halves (default 0)
  --threads <t>           matrix-product threads (default 1; the run is one process)
  --trak-k <k>            TRAK projection dimension (default 512, as dattri; at most n)
  --dampings <list>       δ grid of cg, arnoldi, kfac, ekfac (default dattri's 1,0.1,0.01,0.005,0.001,1e-4,1e-5)
  --exact-dampings <list> δ of exact, one Cholesky factorisation each (default 0.001; λ with --fit optimum)
  --epochs <E>            shorten the SGD protocol (tests, quick looks)
  --out <file>            write the JSON there (default: stdout); finished methods also go to
                          <file>.progress as the run goes
  --quiet                 no progress on stderr

Example:
  unequal noisy --model logreg --flip 0.1 --out noisy-logreg.json
  unequal noisy --model mlp --methods loss,grad-dot,tracin,arnoldi,kfac,ekfac,trak-1,rps --out noisy-mlp.json
  unequal merge --combine noisy-logreg.json noisy-mlp.json --out noisy-mnist10.json`;

const FLAGS = {
  model: { type: 'string' },
  flip: { type: 'string' },
  'train-size': { type: 'string' },
  methods: { type: 'string' },
  fit: { type: 'string' },
  l2: { type: 'string' },
  'grad-tol': { type: 'string' },
  'fit-batch': { type: 'string' },
  seed: { type: 'string' },
  threads: { type: 'string' },
  'trak-k': { type: 'string' },
  dampings: { type: 'string' },
  'exact-dampings': { type: 'string' },
  epochs: { type: 'string' },
  out: { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

/** The `noisy` subcommand. */
export const command: Command = {
  name: 'noisy',
  summary: "noisy-label detection: AUC of each attribution method's self-scores for flipped MNIST-10 labels",
  help,
  async run(argv, io) {
    return runNoisy(parseFlags('unequal noisy', argv, FLAGS), argv, io);
  },
};

/** A method's candidate self-scores and what they cost. */
export interface SelfScored {
  candidates: { values: Float64Array; config: Record<string, number | string> }[];
  cost: Record<string, number | string>;
}

async function runNoisy(flags: Flags, argv: readonly string[], io: CliIo): Promise<number> {
  const start = performance.now();
  const log = lineLogger(io, flags.boolean('quiet'));
  const model = flags.choice('model', ['logreg', 'mlp'] as const);
  const fit = flags.choice('fit', ['sgd', 'optimum'] as const, 'sgd');
  if (fit === 'optimum' && model !== 'logreg') throw new UsageError('--fit optimum: only --model logreg has an optimum to train to (the MLP is not convex)');
  for (const name of ['l2', 'grad-tol', 'fit-batch']) if (fit !== 'optimum' && flags.has(name)) throw new UsageError(`--${name}: only with --fit optimum (the SGD protocol has no regulariser and no optimum)`);
  if (fit === 'optimum' && flags.has('epochs')) throw new UsageError('--epochs: the SGD protocol\'s flag; --fit optimum trains to the optimum (see --grad-tol)');
  const flip = flags.number('flip', { default: 0.1, above: 0, below: 1 });
  const nTrain = flags.integer('train-size', { default: 5000, min: 20, max: 60000 });
  const flipped = Math.floor(flip * nTrain);
  if (flipped < 1) throw new UsageError(`--flip ${flip}: ⌊${flip}·${nTrain}⌋ = 0 rows would be flipped; raise --flip or --train-size`);
  const seed = flags.integer('seed', { default: 0, min: 0 });
  const threads = flags.integer('threads', { default: 1, min: 1 });
  const trakK = flags.integer('trak-k', { default: 512, min: 1, max: nTrain });
  const l2 = flags.number('l2', { default: 1e-2, min: 1e-6 });
  const gradTol = flags.number('grad-tol', { default: 1e-11, min: 1e-14 });
  const fitBatch = flags.integer('fit-batch', { default: 50, min: 1 });
  const dampings = flags.has('dampings') ? dampingList(flags, 'dampings') : fit === 'optimum' && !DAMPING_GRID.includes(l2) ? [...DAMPING_GRID, l2].sort((a, b) => b - a) : DAMPING_GRID;
  const exactDampings = flags.has('exact-dampings') ? dampingList(flags, 'exact-dampings') : [fit === 'optimum' ? l2 : 1e-3];
  const epochs = flags.optionalInteger('epochs', { min: 1 });
  const asked = flags.choiceList<NoisyMethod>('methods', NOISY_METHODS) ?? [...NOISY_METHODS];
  const outputs = new Outputs(log);
  const out = flags.string('out');
  if (out !== undefined) outputs.add('out', out);

  const n = nTrain;
  const p = parameterCount(model);
  const dropped: string[] = [];
  const drop = (m: NoisyMethod, why: string) => {
    if (asked.includes(m)) dropped.push(`${m}: ${why}`);
  };
  drop('grad-cos', 'its self-score is cos(gᵢ, gᵢ) = 1 for every point with a non-zero gradient: it ranks nothing');
  if (model === 'mlp') {
    drop('exact', `the MLP's dense Hessian would be ${p.toLocaleString('en-US')}² float64 (83 GB)`);
    drop('cg', `n separate solves: ${n.toLocaleString('en-US')} × 10 = ${(10 * n).toLocaleString('en-US')} engine HVPs on the MLP (lds needs 10 per test point)`);
    drop('lissa', `n separate recursions: ${n.toLocaleString('en-US')} × ${LISSA_CONFIGS.reduce((s, c) => s + c.depth, 0)} mini-batch engine HVPs over dattri's and the spectrum-scaled configurations`);
  }
  if (fit === 'optimum') drop('tracin', 'Newton has no SGD trajectory to take checkpoints from');
  const droppedNames = dropped.map((d) => d.slice(0, d.indexOf(':')));
  const methods = asked.filter((m) => !droppedNames.includes(m));
  for (const d of dropped) log(`dropping ${d}`);
  const ensemble = Math.max(0, ...methods.filter((m) => m.startsWith('trak-')).map((m) => Number(m.slice(5))));

  // The data with flipped labels.
  const data = dattriMnist10({ nTrain, nTest: 500 });
  const flips = flipLabels(data.train.y, flip, seed);
  const train: DattriSplit = { ...data.train, y: flips.y };
  const isFlipped = new Uint8Array(n);
  for (const i of flips.rows) isFlipped[i] = 1;

  const training: JobSetup['training'] | OptimumTraining =
    fit === 'optimum'
      ? { optimizer: 'newton', l2, gradTol, batch: fitBatch, method: 'L-BFGS to ‖∇R‖ ≤ 1e-5, then Newton with backtracking, each system by CG preconditioned with the dense H⁻¹; TRAK members warm-started at θ̂' }
      : { ...DATTRI_TRAINING[model], ...(epochs ? { epochs } : {}) };
  const setup = defaultSetup(model, { nTrain, nTest: 500, tests: 1, seed, training: fit === 'optimum' ? DATTRI_TRAINING[model] : (training as JobSetup['training']), gemmThreads: threads, ...(fit === 'optimum' ? { checkpointEpochs: [] } : {}) });
  const config = {
    model,
    data: { train: nTrain, selection: data.selection },
    parameters: p,
    flip: {
      fraction: flip,
      rows: flips.rows.length,
      flippedRows: flips.rows,
      rule: `the first ⌊${flip}·n⌋ rows of new Rng(seed + ${FLIP_SEED}).permutation(n); each, in that order, relabelled (y + 1 + rng.int(9)) mod 10 with the same generator (uniform over the other nine classes)`,
    },
    training,
    tracinCheckpointEpochs: setup.checkpointEpochs,
    seed,
    methods,
    ...(dropped.length ? { dropped } : {}),
    ensemble,
    trakK,
    dampings,
    exactDampings,
    protocol: {
      model: fit === 'optimum' ? `the full model at the optimum of the mean cross-entropy on the flipped labels + (${l2}/2)‖θ‖²` : 'the full model trained on all rows (flipped labels) with seed + 1000000, as lds trains its full model',
      ensemble: 'TRAK member m: its own random half (new Rng(seed + 2000000 + m)), trained on the flipped labels ' + (fit === 'optimum' ? 'to its optimum from θ̂' : 'with seed + 2000000 + m'),
      selfScore: 'each method’s score of a training point for its own loss: the diagonal of its score matrix with the training set as the test set (src/influence/self-influence.ts); higher = more suspicious',
      auc: 'detectionAuc(self-scores, flipped): the probability that a flipped row outranks a clean one (ties count half)',
      search: 'methods with a configuration grid (exact, cg, arnoldi, kfac, ekfac: damping; lissa: batch, depth, scale; rps: λ) report the configuration with the best AUC, as dattri reports its best',
    },
  };
  log(`MNIST-10 ${model}: n = ${n}, ${flips.rows.length} labels flipped (${flip}), ${p} parameters; ${threads} thread(s)`);
  setBackend('cpu', { threads });

  // Train on the flipped labels (in this process: the worker pool's jobs load the files' labels).
  let theta: Float64Array;
  let checkpoints: { theta: Float64Array; lr: number; epoch: number }[] = [];
  let members: Float64Array[];
  if (fit === 'optimum') {
    const r = retrainAtOptimum({ train, test: data.test }, { l2, gradTol, batch: fitBatch, tests: 1, subsets: [], looRows: [], ensembleRows: Array.from({ length: ensemble }, (_, m) => ensembleRows(n, seed, m)), log });
    theta = r.theta;
    members = r.ensemble;
  } else {
    const flippedData = { ...data, train };
    log('training the full model on the flipped labels');
    const t0 = performance.now();
    const full = runJob(setup, flippedData, { type: 'full' }) as { theta: Float64Array; checkpoints: typeof checkpoints };
    theta = full.theta;
    checkpoints = full.checkpoints;
    log(`  ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    members = [];
    const progress = progressLine('  TRAK members trained', log);
    for (let m = 0; m < ensemble; m++) {
      members.push((runJob(setup, flippedData, { type: 'ensemble', m }) as { theta: Float64Array }).theta);
      progress(m + 1, ensemble);
    }
  }

  const ctx: ScoringContext = { model, train, test: data.test, tests: 1, theta, checkpoints, ensemble: members, obj: objectiveOf(model, train), dampings, exactDampings, trakK, log };
  const result: Record<string, NoisyMethodResult> = {};
  const trakCache: { kernel: Float64Array; q: Float64Array }[] = [];
  for (const method of methods) {
    log(`scoring: ${method}`);
    const t0 = performance.now();
    let scored: SelfScored;
    try {
      scored = selfScores(ctx, method, trakCache);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new CliFailure(`--methods ${method}: ${(e as Error).message}`);
    }
    const seconds = (performance.now() - t0) / 1000;
    const aucs = scored.candidates.map((c) => detectionAuc(c.values, isFlipped));
    let best = 0;
    for (let k = 1; k < aucs.length; k++) if (aucs[k]! > aucs[best]!) best = k;
    result[method] = {
      auc: aucs[best]!,
      seconds,
      ...(method.startsWith('trak-') && method !== 'trak-1' ? { ensemble: true } : {}),
      config: scored.candidates[best]!.config,
      ...(scored.candidates.length > 1 ? { search: scored.candidates.map((c, k) => ({ config: c.config, auc: aucs[k]! })) } : {}),
      cost: scored.cost,
    };
    log(`  ${method}: AUC ${aucs[best]!.toFixed(4)}, ${seconds.toFixed(1)} s`);
    if (out !== undefined) {
      try {
        writeFileSync(`${out}.progress`, JSON.stringify({ provisional: true, config, [model]: { methods: result } }, null, 2));
      } catch (e) {
        log(`  (could not write ${out}.progress: ${(e as Error).message})`);
      }
    }
  }
  const output = { command: ['unequal', 'noisy', ...argv].join(' '), commit: gitCommit(), wallSeconds: (performance.now() - start) / 1000, config, [model]: { methods: result } };
  outputs.commitResult(io, finiteJson(output, () => ''));
  return 0;
}

/** A comma-separated list of dampings ≥ 0. */
function dampingList(flags: Flags, name: string): number[] {
  return flags.string(name)!.split(',').map((x) => {
    const v = Number(x);
    if (x.trim() === '' || !(v >= 0) || !Number.isFinite(v)) throw new UsageError(`--${name}: '${x}' is not a damping ≥ 0`);
    return v;
  });
}

/** Rows per chunk of an n-row solve: about 2.5M doubles (20 MB) per T × p block. */
function chunkRows(p: number, n: number): number {
  return Math.max(1, Math.min(n, Math.floor(2.5e6 / p)));
}

/** The per-example gradients of training rows [a, b) (T × p). */
function rowGradients(ctx: ScoringContext, a: number, b: number): Float64Array {
  const rows = Array.from({ length: b - a }, (_, k) => a + k);
  const X = gatherRows(ctx.train.X, ctx.train.d, rows);
  const y = rows.map((i) => ctx.train.y[i]!);
  return perExampleGradients(ctx.model, forward(ctx.model, ctx.theta, X, y, rows.length), rows.length);
}

/** (1/n) gᵢ · sᵢ per row of two T × p blocks. */
function rowDots(G: Float64Array, S: Float64Array, T: number, p: number, n: number): Float64Array {
  const out = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    let s = 0;
    for (let j = 0; j < p; j++) s += G[t * p + j]! * S[t * p + j]!;
    out[t] = s / n;
  }
  return out;
}

/**
 * ‖L⁻¹gₜ‖² per row of G (T × p) for a lower-triangular L (p × p, row-major): the forward
 * substitution Z Lᵀ = G by column blocks, the off-diagonal part of each block by one GEMM.
 */
export function forwardSquaredNorms(L: Float64Array, p: number, G: Float64Array, T: number, nb = 256): Float64Array {
  const Z = new Float64Array(T * p);
  for (let k0 = 0; k0 < p; k0 += nb) {
    const b = Math.min(nb, p - k0);
    // R = G[:, k0:k0+b] − Z[:, :k0] L[k0:k0+b, :k0]ᵀ.
    const R = new Float64Array(T * b);
    for (let t = 0; t < T; t++) R.set(G.subarray(t * p + k0, t * p + k0 + b), t * b);
    if (k0 > 0) {
      const Zp = new Float64Array(T * k0);
      for (let t = 0; t < T; t++) Zp.set(Z.subarray(t * p, t * p + k0), t * k0);
      const Lb = new Float64Array(b * k0);
      for (let a = 0; a < b; a++) Lb.set(L.subarray((k0 + a) * p, (k0 + a) * p + k0), a * k0);
      const U = mm(Zp, T, k0, Lb, b, true); // T × b
      for (let q = 0; q < R.length; q++) R[q] -= U[q]!;
    }
    // The diagonal block, row by row.
    for (let t = 0; t < T; t++) {
      for (let a = 0; a < b; a++) {
        const row = (k0 + a) * p + k0;
        let v = R[t * b + a]!;
        for (let c = 0; c < a; c++) v -= L[row + c]! * Z[t * p + k0 + c]!;
        Z[t * p + k0 + a] = v / L[row + a]!;
      }
    }
  }
  return rowSquaredNorms(Z, T, p);
}

/** Runs `solve(a, b)` over row chunks [a, b) of the training set, with progress. */
function overChunks(ctx: ScoringContext, label: string, solve: (a: number, b: number) => void): void {
  const n = ctx.train.n;
  const T = chunkRows(parameterCount(ctx.model), n);
  const chunks = Math.ceil(n / T);
  const progress = progressLine(`  ${label}: chunks of ${T} rows`, ctx.log);
  for (let c = 0; c < chunks; c++) {
    solve(c * T, Math.min(n, (c + 1) * T));
    progress(c + 1, chunks);
  }
}

/**
 * One method's self-scores (every configuration of its search) on `ctx.train`, by the protocol's
 * closed-form paths; each equals the diagonal of `scoreMethod` (mnist10-methods.ts) with the
 * training split as the test split (test/cli/noisy-mnist10.test.ts). `trakCache` keeps the TRAK
 * members' kernel self-scores between trak-1, trak-10 and trak-50.
 */
export function selfScores(ctx: ScoringContext, method: NoisyMethod, trakCache: { kernel: Float64Array; q: Float64Array }[]): SelfScored {
  const { model } = ctx;
  const n = ctx.train.n;
  const p = parameterCount(model);
  const full = () => forward(model, ctx.theta, ctx.train.X, ctx.train.y, n);
  switch (method) {
    case 'loss':
      return { candidates: [{ values: Float64Array.from(full().losses), config: {} }], cost: { gradients: 0, forwardPasses: 1, models: 1 } };
    case 'grad-dot':
      return { candidates: [{ values: gradientSquaredNorms(full(), n), config: {} }], cost: { gradients: n, hvps: 0, models: 1 } };
    case 'tracin': {
      const values = new Float64Array(n);
      for (const c of ctx.checkpoints) {
        const s = gradientSquaredNorms(forward(model, c.theta, ctx.train.X, ctx.train.y, n), n);
        for (let i = 0; i < n; i++) values[i] += c.lr * s[i]!;
      }
      return { candidates: [{ values, config: { checkpoints: ctx.checkpoints.length, epochs: ctx.checkpoints.map((c) => c.epoch).join(',') } }], cost: { gradients: ctx.checkpoints.length * n, hvps: 0, models: 1 } };
    }
    case 'exact': {
      ctx.log(`  exact: forming the ${p}×${p} Hessian (one GEMM per class pair)`);
      const H = logregHessian(ctx.theta, ctx.train, full().probs);
      const candidates = ctx.exactDampings.map((delta) => {
        ctx.log(`  exact: Cholesky factor of H + ${delta}·I`);
        const Hd = Float64Array.from(H);
        for (let j = 0; j < p; j++) Hd[j * p + j] += delta;
        const L = blockedCholeskyInPlace(Hd, p);
        const values = new Float64Array(n);
        overChunks(ctx, `exact δ = ${delta}`, (a, b) => {
          const s = forwardSquaredNorms(L, p, rowGradients(ctx, a, b), b - a);
          for (let k = 0; k < b - a; k++) values[a + k] = s[k]! / n;
        });
        return { values, config: { damping: delta } };
      });
      return { candidates, cost: { gradients: n, hvps: 0, hessian: 'dense (one GEMM per class pair) + one Cholesky per damping; one forward substitution per training point', models: 1 } };
    }
    case 'cg': {
      const values = ctx.dampings.map(() => new Float64Array(n));
      overChunks(ctx, `cg (10 Lanczos steps, δ grid ${ctx.dampings.join(', ')})`, (a, b) => {
        const G = rowGradients(ctx, a, b);
        multiShiftCg(ctx, G, b - a, ctx.dampings, 10).forEach((S, k) => values[k]!.set(rowDots(G, S, b - a, p, n), a));
      });
      return { candidates: ctx.dampings.map((delta, k) => ({ values: values[k]!, config: { damping: delta, iterations: 10 } })), cost: { gradients: n, hvps: 10 * n, note: 'one 10-step Krylov space per training point serves every damping (multi-shift CG)', models: 1 } };
    }
    case 'lissa': {
      // As scoreMethod (ctx.lissaBatches, in tests, narrows the search to dattri's depth and scale).
      const { runs, top } = lissaPlan(ctx);
      const diverged: string[] = [];
      const candidates: SelfScored['candidates'] = [];
      for (const run of runs) {
        const values = new Float64Array(n);
        let ok = true;
        overChunks(ctx, `lissa ${run.label}`, (a, b) => {
          if (!ok) return;
          const G = rowGradients(ctx, a, b);
          // Seed 0 for every chunk: every training point's recursion draws the same mini-batches, as every test point's does in lds.
          const h = blockLissa(ctx, G, b - a, run.batch, run.depth, run.scale, 0);
          if (h === null) ok = false;
          else values.set(rowDots(G, h, b - a, p, n), a);
        });
        if (ok) candidates.push({ values, config: run.config });
        else diverged.push(run.label);
      }
      if (!candidates.length) throw new Error(`every LiSSA configuration diverged (${diverged.join('; ')})`);
      return { candidates, cost: { gradients: n, hvpsPerPoint: 'depth mini-batch HVPs per configuration (batch rows / n of a full HVP each)', ...(Number.isFinite(top) ? { lambdaMax: top, powerIterationHvps: 100 } : {}), ...(diverged.length ? { diverged: diverged.join('; ') } : {}), models: 1 } };
    }
    case 'arnoldi': {
      const iterations = 50;
      const r = arnoldi((v) => blockHvp(ctx, v, 1), p, { k: Math.min(100, iterations), iterations, seed: 0 });
      const E = r.values.length;
      const U = new Float64Array(E * p);
      r.vectors.forEach((u, j) => U.set(u, j * p));
      const GU = gradientTimes(model, full(), n, U, E); // E × n
      const candidates = ctx.dampings.map((delta) => {
        const values = new Float64Array(n);
        for (let j = 0; j < E; j++) {
          const lam = r.values[j]!;
          if (!(lam + delta > 0)) continue;
          for (let i = 0; i < n; i++) values[i] += GU[j * n + i]! ** 2 / (lam + delta) / n;
        }
        return { values, config: { damping: delta, iterations, eigenpairs: E } };
      });
      return { candidates, cost: { gradients: n, hvpsTotal: r.hvps, models: 1 } };
    }
    case 'kfac':
    case 'ekfac': {
      const network = model === 'logreg' ? linearKfacNetwork(ctx.obj, 'softmax-cross-entropy') : mlpKfacNetwork(ctx.obj as unknown as Objective<MlpParams>, 'relu', 'softmax-cross-entropy');
      const K = new KroneckerInfluence(network as never, ctx.theta, { method, damping: ctx.dampings[0]!, fisher: 'ggn' });
      const candidates = ctx.dampings.map((delta) => {
        ctx.log(`  ${method}: δ = ${delta}`);
        return { values: K.withDamping(delta).selfScores(), config: { damping: delta, fisher: 'ggn (true Fisher of the softmax output)' } };
      });
      return { candidates, cost: { gradients: `${n} per damping (plus one pass for the factors${method === 'ekfac' ? ' and one for the eigenbasis curvature' : ''}, once)`, hvps: 0, models: 1 } };
    }
    case 'trak-1':
    case 'trak-10':
    case 'trak-50': {
      const M = Number(method.slice(5));
      if (ctx.ensemble.length < M) throw new Error(`${method} needs ${M} ensemble models, ${ctx.ensemble.length} were trained`);
      const progress = progressLine(`  ${method}: models scored`, ctx.log, Math.max(1, Math.floor(M / 10)));
      for (let m = trakCache.length; m < M; m++) {
        const { Phi, q } = trakFeatures(ctx, ctx.ensemble[m]!, m);
        trakCache.push({ kernel: trakKernelSelfScores(Phi, n, ctx.trakK, 0, `TRAK model ${m}`), q });
        progress(m + 1, M);
      }
      const values = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        let k = 0;
        let q = 0;
        for (let m = 0; m < M; m++) (k += trakCache[m]!.kernel[i]!), (q += trakCache[m]!.q[i]!);
        values[i] = (k / M) * (q / M);
      }
      return { candidates: [{ values, config: { models: M, k: ctx.trakK, projection: 'Gaussian N(0,1), seed = model index' } }], cost: { gradients: M * n, hvps: 0, models: M } };
    }
    case 'rps': {
      const last = model === 'logreg' ? linearLastLayer(ctx.obj, ctx.theta) : mlpLastLayer(ctx.obj as unknown as Objective<MlpParams>, ctx.theta, 'relu');
      const candidates = (ctx.rpsL2s ?? RPS_L2S).map((l2) => {
        ctx.log(`  rps: λ = ${l2}`);
        const r = representerSelfScores(last, ctx.obj.spec, { l2, normalize: true, allowUnconverged: true });
        return { values: r.scores, config: { l2, normalize: 'true', converged: String(r.converged) } };
      });
      return { candidates, cost: { gradients: `${n} last-layer features; one L-BFGS fit of the surrogate per λ`, hvps: 0, models: 1 } };
    }
    case 'grad-cos':
      throw new UsageError('--methods grad-cos: its self-score is 1 for every point');
  }
}

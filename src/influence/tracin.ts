/**
 * TracIn (Pruthi et al. 2020), the checkpoint form TracInCP:
 *
 *   TracIn(z_test, zᵢ) = Σ_c η_c ∇ℓ(z_test, θ_c) · ∇ℓ(zᵢ, θ_c)
 *
 * over checkpoints θ_c saved during training, η_c the learning rate of the step that produced θ_c.
 * Its premise: one SGD step on zᵢ at θ changes ℓ(z_test) by −η ∇ℓ(z_test)·∇ℓ(zᵢ) to first order,
 * so positive = the point helps (the influence convention's orientation; not its units, and no 1/n
 * or batch-size factor: constant factors do not change rank or correlation metrics). Per-example
 * gradients exclude the regulariser, as everywhere in unequal.
 *
 * Checkpoints come from any training loop through a {@link CheckpointRecorder} (call `observe`
 * after each optimiser step), or from {@link trainSgdCheckpointed}, a small mini-batch loop over an
 * {@link Objective} that steps with the library's own `sgd` optimiser and records every epoch.
 *
 * @module
 */
import { fromFloat64 } from '../core/create.ts';
import type { Pytree } from '../core/pytree.ts';
import { Rng } from '../core/rng.ts';
import type { Tensor } from '../core/tensor.ts';
import type { Objective } from '../nn/objective.ts';
import { type LearningRate, sgd } from '../optim/sgd.ts';
import { gradientProducts, type ScoreMatrix, type TestSet, testGradients } from './scores.ts';

/** One saved point of a training run. */
export interface Checkpoint {
  /** The parameters after the recorded step, flat in the objective's layout (a copy). */
  theta: Float64Array;
  /** η_c: the learning rate of the step that produced `theta`. */
  lr: number;
  /** 0-based index of that step. */
  step: number;
}

/**
 * Collects TracIn checkpoints from any training loop: call {@link CheckpointRecorder.observe}
 * after each optimiser step with the step index and the parameters after it; every `every`-th
 * step (steps every−1, 2·every−1, …) is kept with the learning rate of that step.
 *
 * @example
 * ```ts
 * const rec = new CheckpointRecorder({ lr: 0.1, every: 50 });
 * for (let step = 0; step < 500; step++) {
 *   theta = myStep(theta);                 // any loop: SGD, momentum, trainWeighted's onStep, …
 *   rec.observe(step, theta);
 * }
 * tracin(obj, rec.checkpoints, { X: Xtest, Y: Ytest });
 * ```
 */
export class CheckpointRecorder {
  /** The checkpoints kept so far, in step order. */
  readonly checkpoints: Checkpoint[] = [];

  constructor(
    /** The learning rate and how often to keep a checkpoint. */
    readonly options: {
      /** The learning rate η, a number or a schedule of the step (TracIn weights checkpoint c by η_c). */
      lr: LearningRate;
      /** Keep every `every`-th observed step. Default 1. */
      every?: number;
    },
  ) {
    const every = options.every ?? 1;
    if (!(Number.isInteger(every) && every >= 1)) throw new Error(`CheckpointRecorder: every must be a positive integer, got ${every}`);
  }

  /** Records θ after step `step` if it is a checkpoint step; returns whether it did. */
  observe(step: number, theta: Float64Array): boolean {
    const every = this.options.every ?? 1;
    if ((step + 1) % every !== 0) return false;
    const { lr } = this.options;
    const eta = typeof lr === 'number' ? lr : lr(step);
    if (!Number.isFinite(eta)) throw new Error(`CheckpointRecorder: learning rate at step ${step} is ${eta}`);
    this.checkpoints.push({ theta: Float64Array.from(theta), lr: eta, step });
    return true;
  }
}

/** Options for {@link trainSgdCheckpointed}. */
export interface SgdCheckpointOptions {
  /** Learning rate: a number or a schedule of the step (from 0). */
  lr: LearningRate;
  /** Passes over the training set. */
  epochs: number;
  /** Mini-batch size (the last batch of an epoch may be smaller). */
  batchSize: number;
  /** Starting parameters (default zeros). */
  theta0?: Float64Array;
  /** Seed of the per-epoch shuffles. Default 0. */
  seed?: number;
  /** Keep a checkpoint at the end of every `every`-th epoch. Default 1. */
  every?: number;
}

/** What {@link trainSgdCheckpointed} returns. */
export interface SgdCheckpointResult {
  /** The final parameters. */
  theta: Float64Array;
  /** The recorded checkpoints (the last one is `theta` when `epochs` is a multiple of `every`). */
  checkpoints: Checkpoint[];
}

/**
 * Mini-batch SGD on R with shuffled epochs (as a PyTorch DataLoader with `shuffle=True` draws
 * them), recording a TracIn checkpoint at the end of every `every`-th epoch. Each step descends the
 * batch estimate (1/|B|) Σ_{i∈B} wᵢ ℓᵢ + (λ/2)‖w‖² of R, using the library's `sgd` optimiser.
 *
 * @example
 * ```ts
 * const { theta, checkpoints } = trainSgdCheckpointed(obj, { lr: 0.1, epochs: 10, batchSize: 32 });
 * const S = tracin(obj, checkpoints, { X: Xtest, Y: Ytest });
 * ```
 */
export function trainSgdCheckpointed<P extends Pytree>(obj: Objective<P>, options: SgdCheckpointOptions): SgdCheckpointResult {
  const { lr, epochs, batchSize, every = 1 } = options;
  if (!(Number.isInteger(epochs) && epochs >= 0)) throw new Error(`trainSgdCheckpointed: epochs must be a non-negative integer, got ${epochs}`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new Error(`trainSgdCheckpointed: batchSize must be a positive integer, got ${batchSize}`);
  if (!(Number.isInteger(every) && every >= 1)) throw new Error(`trainSgdCheckpointed: every must be a positive integer, got ${every}`);
  const p = obj.dim;
  const n = obj.n;
  const mask = obj.layout.regularized;
  const l2 = obj.spec.l2;
  const w = obj.spec.weights;
  const rng = new Rng(options.seed ?? 0);
  const opt = sgd({ lr });
  let params: Tensor[] = [fromFloat64(options.theta0 ? Float64Array.from(options.theta0) : new Float64Array(p), [p])];
  let state = opt.init(params);
  const rec = new CheckpointRecorder({ lr, every: 1 });
  let step = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = rng.permutation(n);
    for (let start = 0; start < n; start += batchSize) {
      const batch = order.slice(start, start + batchSize);
      const theta = params[0]!.toFloat64Array();
      const G = obj.perExampleGradients(theta, batch);
      const g = new Float64Array(p);
      batch.forEach((row, k) => {
        const wk = (w ? w[row]! : 1) / batch.length;
        for (let j = 0; j < p; j++) g[j] += wk * G[k * p + j]!;
      });
      for (let j = 0; j < p; j++) g[j] += l2 * mask[j]! * theta[j]!;
      ({ params, state } = opt.update(params, [fromFloat64(g, [p])], state));
      step++;
    }
    if ((epoch + 1) % every === 0) rec.observe(step - 1, params[0]!.toFloat64Array());
  }
  return { theta: params[0]!.toFloat64Array(), checkpoints: rec.checkpoints };
}

/**
 * TracInCP scores Σ_c η_c ∇ℓ(z_t, θ_c) · ∇ℓ(zᵢ, θ_c) for every test point t and training point i
 * (see the module notes for orientation and scale).
 *
 * @example
 * ```ts
 * const S = tracin(obj, checkpoints, { X: Xtest, Y: Ytest }); // tests × n, positive = the point helps
 * ```
 */
export function tracin<P extends Pytree>(obj: Objective<P>, checkpoints: readonly Checkpoint[], test: TestSet): ScoreMatrix {
  if (checkpoints.length === 0) throw new Error('tracin: no checkpoints');
  const tests = test.X.shape[0] ?? 0;
  const out = new Float64Array(tests * obj.n);
  for (const c of checkpoints) {
    const S = gradientProducts(testGradients(obj, c.theta, test), tests, obj.perExampleGradients(c.theta), obj.n, obj.dim, c.lr);
    for (let k = 0; k < out.length; k++) out[k] += S.values[k]!;
  }
  return { tests, train: obj.n, values: out };
}

/**
 * One training loop for every weighting method. A method ({@link Weighting}) decides, at each
 * step, which examples the batch may be drawn from and which objective the optimiser descends on
 * that batch; the loop draws the batch, differentiates, steps, and records the weights each method
 * gave, so that their evolution can be studied afterwards.
 *
 * @module
 */
import { tensor } from '../core/create.ts';
import { type Pytree, treeFlatten } from '../core/pytree.ts';
import type { Tensor } from '../core/tensor.ts';
import { valueAndGrad } from '../transforms/api.ts';
import { tidy } from '../core/memory.ts';
import { mul } from '../ops/arith.ts';
import { sum } from '../ops/reduce.ts';
import { Rng } from '../core/rng.ts';
import type { Optimizer } from '../optim/sgd.ts';
import type { PerExampleLoss } from '../nn/objective.ts';
import type { Batch } from './l2rw.ts';

/** A dense dataset: `X` row-major `n × d`, one target per row in `y`. */
export interface TrainingSet {
  /** The features, row-major `n × d`. */
  X: Float64Array;
  /** The targets, one per row, as the loss expects them. */
  y: Float64Array;
  /** Number of rows (examples). */
  n: number;
  /** Number of features per row. */
  d: number;
}

/** What a weighting method sees at one step. */
export interface StepInfo<P extends Pytree> {
  /** 0-based step number. */
  step: number;
  /** The number of steps the whole run takes (schedules such as self-paced learning use it). */
  totalSteps: number;
  /** The parameters before this step. */
  params: P;
  /** The batch's features, `[m, d]`. */
  X: Tensor;
  /** The batch's targets, `[m]`. */
  y: Tensor;
  /** The training-set rows the batch came from, in batch order. */
  indices: Int32Array;
  /** The per-example loss being trained. */
  loss: PerExampleLoss<P>;
}

/** A method's decision for one batch. */
export interface BatchDecision<P> {
  /** The scalar the optimiser descends on at this step (differentiated in `p`). */
  objective: (p: P) => Tensor;
  /** The weight each batch example received (for the record; sums to ≤ 1 for most methods). */
  weights: Float64Array;
}

/** A sample-weighting method. */
export interface Weighting<P extends Pytree> {
  /** The method's name as reported (`uniform`, `l2rw`, …). */
  readonly name: string;
  /** Training rows the batch at `step` may be drawn from (curriculum learning narrows it). Default: all. */
  pool?(step: number, totalSteps: number): ArrayLike<number>;
  /** The objective and weights for one batch. */
  decide(info: StepInfo<P>): BatchDecision<P>;
}

/**
 * The objective Σᵢ wᵢ ℓᵢ(p) for fixed weights w (no gradient flows through the weights).
 *
 * @example
 * ```ts
 * const loss = (p, X, y) => mul(p, sum(X, 1));               // ℓᵢ = p · Σ_k Xᵢₖ
 * weightedObjective(loss, tensor([[1], [3]]), tensor([0, 0]), [0.5, 0.5])(tensor(2)).item(); // 4
 * ```
 */
export function weightedObjective<P extends Pytree>(loss: PerExampleLoss<P>, X: Tensor, y: Tensor, weights: ArrayLike<number>): (p: P) => Tensor {
  const w = tensor(Float64Array.from(weights), [weights.length]);
  return (p: P) => sum(mul(w, loss(p, X, y)));
}

/** Options for {@link trainWeighted}. */
export interface WeightedTrainOptions<P extends Pytree> {
  /** Initial parameters. */
  params: P;
  /** The per-example loss. */
  loss: PerExampleLoss<P>;
  /** Training data. */
  data: TrainingSet;
  /** Optimiser steps. */
  steps: number;
  /** Batch size m (capped at the pool size). */
  batchSize: number;
  /** The optimiser that takes each step (its state is initialised from `params`). */
  optimizer: Optimizer<any>;
  /** The weighting method. */
  weighting: Weighting<P>;
  /** Seed for batch sampling. Default 0. */
  seed?: number;
  /** Keep every step's batch indices and weights in the result. Default false. */
  record?: boolean;
  /** Called after each step (progress reports). */
  onStep?: (step: number, objective: number) => void;
}

/** One recorded step. */
export interface StepRecord {
  /** 0-based step number. */
  step: number;
  /** Training rows in the batch. */
  indices: Int32Array;
  /** Their weights at this step. */
  weights: Float64Array;
}

/** What {@link trainWeighted} returns. */
export interface WeightedTrainResult<P> {
  /** The parameters after the last step. */
  params: P;
  /** The objective's value at each step (before the step). */
  objective: Float64Array;
  /** Per-step batches and weights, when `record` was set. */
  history: StepRecord[];
}

/**
 * Rows `idx` of `data` as tensors: features `[m, d]` and targets `[m]`.
 *
 * @example
 * ```ts
 * const data = { X: Float64Array.from([1, 2, 3, 4]), y: Float64Array.from([0, 1]), n: 2, d: 2 };
 * gatherRows(data, [1]).X.toArray(); // [[3, 4]]
 * ```
 */
export function gatherRows(data: TrainingSet, idx: ArrayLike<number>): Batch {
  const m = idx.length;
  const X = new Float64Array(m * data.d);
  const y = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    const r = idx[i]!;
    if (!(r >= 0 && r < data.n)) throw new Error(`gatherRows: row ${r} is outside the dataset (n = ${data.n})`);
    X.set(data.X.subarray(r * data.d, (r + 1) * data.d), i * data.d);
    y[i] = data.y[r]!;
  }
  return { X: tensor(X, [m, data.d]), y: tensor(y, [m]) };
}

/** Whether `x` is a pytree (`tidy` can find every tensor in it). */
function isPytree(x: unknown): boolean {
  try {
    treeFlatten(x as Pytree, 'optimiser state');
    return true;
  } catch {
    return false;
  }
}

/**
 * Trains with a weighting method: at each step draw a batch (without replacement, from the
 * method's pool), let the method pick the objective, take one optimiser step on it. Each step
 * runs under `tidy`, keeping only the new parameters and optimiser state, so the CPU backends
 * reuse its arrays; a weighting must not keep tensors it makes from one step to the next.
 *
 * @example
 * ```ts
 * const data = { X: Float64Array.from([0, 1, 2, 3]), y: Float64Array.from([0, 0, 1, 1]), n: 4, d: 1 };
 * const { params } = trainWeighted({
 *   params: mlpInit([1, 1], 0), loss: mlpLoss('tanh'), data, steps: 200, batchSize: 4,
 *   optimizer: momentum({ lr: 0.5 }), weighting: uniform(),
 * });
 * // params now separate x ≤ 1 from x ≥ 2
 * ```
 */
export function trainWeighted<P extends Pytree>(options: WeightedTrainOptions<P>): WeightedTrainResult<P> {
  const { loss, data, steps, batchSize, optimizer, weighting, record = false, onStep } = options;
  if (!Number.isInteger(steps) || steps < 0) throw new Error(`train: steps must be a non-negative integer, got ${steps}`);
  if (!Number.isInteger(batchSize) || batchSize <= 0) throw new Error(`train: batchSize must be a positive integer, got ${batchSize}`);
  const rng = new Rng(options.seed ?? 0);
  let params = options.params;
  let state = optimizer.init(params);
  const objective = new Float64Array(steps);
  const history: StepRecord[] = [];
  const all = Int32Array.from({ length: data.n }, (_, i) => i);
  for (let step = 0; step < steps; step++) {
    const pool = weighting.pool ? weighting.pool(step, steps) : all;
    if (pool.length === 0) throw new Error(`train: ${weighting.name} offered an empty pool at step ${step}`);
    const m = Math.min(batchSize, pool.length);
    // Partial Fisher–Yates: m distinct draws from the pool.
    const order = Array.from(pool);
    for (let i = 0; i < m; i++) {
      const j = i + rng.int(order.length - i);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const indices = Int32Array.from(order.slice(0, m));
    let weights: Float64Array | undefined;
    const takeStep = () => {
      const { X, y } = gatherRows(data, indices);
      const decision = weighting.decide({ step, totalSteps: steps, params, X, y, indices, loss });
      weights = decision.weights;
      const [value, grads] = valueAndGrad(decision.objective)(params);
      objective[step] = (value as Tensor).item();
      return optimizer.update(params, grads as P, state);
    };
    // Under tidy, everything the step makes except the new parameters and optimiser state is
    // released when it returns, and the CPU backends reuse those arrays the next step. tidy must
    // see the state's tensors to keep them, so an optimiser whose state is not a pytree (arrays and
    // plain objects of tensors and numbers) steps without it.
    if (isPytree(state)) {
      const next = tidy(() => {
        const up = takeStep();
        return { params: up.params, state: up.state as Pytree };
      });
      params = next.params as P;
      state = next.state;
    } else ({ params, state } = takeStep());
    if (record) history.push({ step, indices, weights: weights! });
    onStep?.(step, objective[step]!);
  }
  return { params, objective, history };
}

/**
 * Data Dropout (Wang, Huan & Li, 2018): train once, score every training point by its influence on
 * the total validation loss, drop the points whose removal is predicted to lower it, retrain.
 *
 * The criterion (../../proofs/data-dropout.md): with R(θ) = (1/n) Σᵢ ℓᵢ(θ) + (λ/2)‖w‖², θ̂ its
 * minimiser, f(θ) = Σⱼ ℓᵛⱼ(θ) the total validation loss and H = ∇²R(θ̂), removing point i changes f
 * by, to first order,
 *
 *   eᵢ = (1/n) ∇f(θ̂)ᵀ H⁻¹ ∇ℓᵢ(θ̂)   ( = −(1/n) I_up,loss(zᵢ, f) ),
 *
 * and removing a set S by Σ_{i∈S} eᵢ (removals are weight changes; to first order their effects add).
 * Point i is dropped when eᵢ < 0. The removal effects come from the influence engine
 * (`removalEffects` in src/influence).
 *
 * @module
 */
import { defaultGradTol } from '../core/precision.ts';
import type { Pytree } from '../core/pytree.ts';
import type { Tensor } from '../core/tensor.ts';
import { type InfluenceProblem, type RemovalOptions, removalEffects, totalLoss } from '../influence/index.ts';
import { Objective, type PerExampleLoss } from '../nn/objective.ts';
import { newton } from '../optim/newton.ts';
import { type Activation, type MlpLayer, type MlpParams, mlpForward, mlpLayerwise } from '../nn/mlp.ts';
import { type DenseParams, forwardInChunks, type Sequential, type SequentialParams, sequential } from '../nn/cnn.ts';
import { add } from '../ops/arith.ts';
import { tensor } from '../core/create.ts';
import { gemm } from '../prims/index.ts';
import { type Batch, binaryLogitLoss, type LossFromLogits } from './l2rw.ts';

/** What {@link dataDropoutSelect} returns. */
export interface DataDropoutSelection {
  /** eᵢ, the predicted change of the total validation loss when training point i is removed. */
  effects: Float64Array;
  /** Rows with eᵢ < 0, ascending: their removal is predicted to lower the validation loss. */
  drop: number[];
  /** The other rows, ascending. */
  keep: number[];
  /** Σ_{i∈drop} eᵢ: the first-order prediction of the validation-loss change from dropping them all. */
  predictedChange: number;
  /** The total validation loss f(θ̂) at the trained parameters. */
  valLoss: number;
}

/**
 * The Data Dropout selection: each training point's removal effect on the total validation loss,
 * and the split into points to drop (eᵢ < 0) and keep.
 *
 * @param problem the trained model (θ̂ should minimise R: train to ‖∇R‖ ≈ 0) and its training data.
 * @param val the clean validation set.
 * @param options inverse-HVP solver and damping (see the influence module); `rows` is not used.
 *
 * @example
 * ```ts
 * const { drop, keep, effects } = dataDropoutSelect(
 *   { params, loss, X, Y: y, l2: 0.01 },
 *   { X: Xval, y: yval },
 * );
 * // retrain on `keep`; `drop.length` points were predicted to hurt the validation loss
 * ```
 */
export function dataDropoutSelect<P extends Pytree>(
  problem: InfluenceProblem<P>,
  val: Batch,
  options: Omit<RemovalOptions, 'rows'> = {},
): DataDropoutSelection {
  const { effects, value } = removalEffects(problem, totalLoss(problem.loss, val.X, val.y), options);
  const drop: number[] = [];
  const keep: number[] = [];
  let predictedChange = 0;
  effects.forEach((e, i) => {
    if (e < 0) {
      drop.push(i);
      predictedChange += e;
    } else keep.push(i);
  });
  return { effects, drop, keep, predictedChange, valLoss: value };
}

/**
 * The first-order prediction of the change in the validation loss when the training rows `rows`
 * are all removed: Σ_{i∈rows} eᵢ.
 *
 * @example
 * ```ts
 * predictedRemovalChange(new Float64Array([0.1, -0.2, -0.05]), [1, 2]); // −0.25
 * ```
 */
export function predictedRemovalChange(effects: ArrayLike<number>, rows: readonly number[]): number {
  let s = 0;
  for (const i of rows) {
    if (!(i >= 0 && i < effects.length)) throw new Error(`predictedRemovalChange: row ${i} is outside 0..${effects.length - 1}`);
    s += effects[i]!;
  }
  return s;
}

/** Options for {@link mlpDataDropout}. */
export interface MlpDataDropoutOptions extends Omit<RemovalOptions, 'rows'> {
  /** λ of (λ/2)‖W‖² for the last-layer fit. Default 1e-3. */
  l2?: number;
  /** Per-example loss from logits. Default binary cross-entropy with logits. */
  lossFromLogits?: LossFromLogits;
}

/** How well {@link mlpDataDropout}'s Newton refit of the last layer converged. */
export interface LastLayerFit {
  /** Whether ‖∇R‖ fell below 1e-9 (1e-6 on a float32 backend, see `defaultGradTol`) within 100 Newton iterations. */
  converged: boolean;
  /** The final ‖∇R‖ of the last-layer objective. */
  gradNorm: number;
}

/** What {@link mlpDataDropout} returns: the selection, plus the refitted last layer it was computed at. */
export interface MlpDataDropoutResult extends DataDropoutSelection {
  /** The last layer refitted to the minimiser of its L2-regularised objective on the frozen features. */
  lastLayer: MlpLayer;
  /** How the refit converged. */
  fit: LastLayerFit;
}

/**
 * Data Dropout for an MLP, with influence taken over the last layer (Koh & Liang's treatment of
 * deep networks): the hidden layers are frozen as a feature map, the last layer is refitted by
 * Newton's method to the exact minimiser of the convex, L2-regularised objective on those features
 * (SGD never reaches ‖∇R‖ = 0, and the influence formula assumes it), and the removal effects on
 * the total validation loss are computed there. The caller retrains the whole network on `keep`.
 *
 * @param params the trained MLP.
 * @param activation its hidden nonlinearity.
 * @param train training set (`y` as the loss expects).
 * @param val clean validation set.
 *
 * @example
 * ```ts
 * const sel = mlpDataDropout(params, 'relu', { X, y }, { X: Xval, y: yval }, { l2: 1e-3 });
 * sel.drop.length; // how many training points Data Dropout removes
 * ```
 */
export function mlpDataDropout(
  params: MlpParams,
  activation: Activation,
  train: Batch,
  val: Batch,
  options: MlpDataDropoutOptions = {},
): MlpDataDropoutResult {
  const { lossFromLogits = binaryLogitLoss } = options;
  const L = params.length;
  const features = (X: Tensor): Tensor => mlpLayerwise(params, X, activation).inputs[L - 1]!;
  const head: PerExampleLoss<MlpLayer> = (p, F, y) => lossFromLogits(mlpForward([p], F, activation), y);
  const { head: lastLayer, ...rest } = lastLayerDataDropout(params[L - 1]!, head, { X: features(train.X), y: train.y }, { X: features(val.X), y: val.y }, options);
  return { ...rest, lastLayer };
}

/** What {@link sequentialDataDropout} returns: the selection, plus the refitted last layer it was computed at. */
export interface SequentialDataDropoutResult extends DataDropoutSelection {
  /** The last (dense) layer refitted to the minimiser of its L2-regularised objective on the frozen features. */
  lastLayer: DenseParams;
  /** How the refit converged. */
  fit: LastLayerFit;
}

/**
 * Data Dropout for a {@link Sequential} network whose last layer is dense (a CNN such as
 * `lenet()`), with influence over that layer as {@link mlpDataDropout} takes it: every layer before
 * it is frozen as a feature map (LeNet's 100 ReLU features), the last layer is refitted by Newton's
 * method to the exact minimiser of its L2-regularised objective on those features, and the removal
 * effects on the total validation loss are computed there. The caller retrains the whole network
 * on `keep`.
 *
 * @param net the network (its last layer must be `{ kind: 'dense' }`).
 * @param params its trained parameters.
 * @param train training set (`y` as the loss expects; binary cross-entropy with logits by default).
 * @param val clean validation set.
 *
 * @example
 * ```ts
 * const net = lenet();
 * const sel = sequentialDataDropout(net, trained, { X, y }, { X: Xval, y: yval }, { l2: 1e-3 });
 * sel.keep.length; // the training rows to retrain on
 * ```
 */
export function sequentialDataDropout(
  net: Sequential,
  params: SequentialParams,
  train: Batch,
  val: Batch,
  options: MlpDataDropoutOptions = {},
): SequentialDataDropoutResult {
  const last = net.layers.length - 1;
  if (net.layers[last]?.kind !== 'dense') {
    throw new Error(`sequentialDataDropout: the network's last layer must be dense (the influence is taken over it), got '${net.layers[last]?.kind}'`);
  }
  const { lossFromLogits = binaryLogitLoss } = options;
  const body = sequential(net.layers.slice(0, last), net.inputShape);
  const bodyParams = params.slice(0, -1);
  // The features are constants of the refit: computed in chunks of rows, so that a CNN's
  // convolutional activations for thousands of images never exist at once.
  const features = (X: Tensor): Tensor => {
    const n = X.shape[0]!;
    const F = forwardInChunks(body.forward, bodyParams, X.toFloat64Array(), n);
    return tensor(F, [n, F.length / n]);
  };
  const head: PerExampleLoss<DenseParams> = (p, F, y) => {
    const z = gemm(F, p.W, false, true); // F Wᵀ, as the network's own dense layer computes it
    return lossFromLogits(p.b ? add(z, p.b) : z, y);
  };
  const { head: lastLayer, ...rest } = lastLayerDataDropout(params[params.length - 1] as DenseParams, head, { X: features(train.X), y: train.y }, { X: features(val.X), y: val.y }, options);
  return { ...rest, lastLayer };
}

/**
 * The shared core of the last-layer Data Dropouts: refit `head` by Newton's method to the exact
 * minimiser of its L2-regularised objective on the frozen features (SGD never reaches ‖∇R‖ = 0,
 * and the influence formula assumes it), then select on the validation features there.
 */
function lastLayerDataDropout<P extends Pytree>(
  start: P,
  head: PerExampleLoss<P>,
  train: Batch,
  val: Batch,
  options: MlpDataDropoutOptions,
): DataDropoutSelection & { head: P; fit: LastLayerFit } {
  const { l2 = 1e-3, lossFromLogits: _loss, ...solver } = options;
  const obj = new Objective<P>({ params: start, loss: head, X: train.X, Y: train.y, l2 });
  // 1e-9 in float64; a float32 gradient cannot get below ~1e-7, so there the trainers' float32 default.
  const tol = Math.max(1e-9, defaultGradTol());
  const fit = newton(obj, { theta0: obj.layout.flatten(start), tol, maxIter: 100, allowUnconverged: true });
  const fitted = obj.params(fit.theta);
  const selection = dataDropoutSelect({ params: fitted, loss: head, X: train.X, Y: train.y, l2 }, { X: val.X, y: val.y }, solver);
  return { ...selection, head: fitted, fit: { converged: fit.converged, gradNorm: fit.gradNorm } };
}

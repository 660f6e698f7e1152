/**
 * Learning to Reweight (Ren, Zeng, Yang & Urtasun, ICML 2018): per-example weights for a training
 * batch from the meta-gradient of the validation loss through one SGD look-ahead.
 *
 * Definitions (../../proofs/l2rw.md derives the identities used here):
 *
 * - L2RW meta-gradient: gᵢ = ∂/∂εᵢ mean_j ℓᵛⱼ(θ − α ∇θ Σᵢ εᵢ ℓᵢ(θ)) at ε = 0;
 * - weights w̃ᵢ = max(−gᵢ, 0), wᵢ = w̃ᵢ / Σ w̃ (all zero when the sum is zero).
 * - At ε = 0 this equals −α · ∇ℓᵛ · ∇ℓᵢ (∇ℓᵛ the gradient of the mean validation loss), and for an
 *   MLP −(α/m) Σⱼ Σ_l (z̃ᵛⱼ,l−1 · z̃ᵢ,l−1)(gᵛⱼ,l · gᵢ,l), m the validation-set size.
 *
 * Four routes compute the same number, and test/reweight/l2rw.test.ts checks that they agree to
 * 1e-10 in float64 and match central finite differences in ε:
 *
 * - {@link metaGradientAutodiff}: reverse-over-reverse through the look-ahead. The general route:
 *   any model, any loss, and it does not rely on the ε = 0 simplification.
 * - {@link metaGradientPerExample}: dot products of per-example gradients from `vmap(grad(ℓ))`.
 * - {@link metaGradientMlp}: the MLP closed form from layer inputs and back-propagated signals;
 *   it never materialises a per-example gradient, which is why it is the fast one for MLPs.
 * - {@link metaGradientForward}: −α times one forward-mode derivative of the batch's per-example
 *   losses in the direction ∇ℓᵛ. Any model; about one forward pass with tangents plus a small
 *   validation gradient, which makes it the cheap route for CNNs (the paper protocol's LeNet).
 *
 * @module
 */
import { zeros } from '../core/create.ts';
import { type Pytree, treeFlatten } from '../core/pytree.ts';
import type { Tensor } from '../core/tensor.ts';
import { grad } from '../transforms/api.ts';
import { jvp } from '../transforms/jvp.ts';
import { vmap } from '../transforms/vmap.ts';
import { add, mul, neg } from '../ops/arith.ts';
import { matmul } from '../ops/products.ts';
import { bceWithLogits } from '../ops/losses.ts';
import { mean, sum } from '../ops/reduce.ts';
import { expandDims, reshape } from '../ops/shape-ops.ts';
import { gemm } from '../prims/index.ts';
import { type Activation, type MlpParams, mlpForward, mlpLayerwise, mlpSignals, withOnes } from '../nn/mlp.ts';
import { sgdStep } from '../optim/sgd.ts';

// Per-example losses (one loss per row of X, shape [n]) have the type the influence engine uses,
// so every weighting method, Data Dropout included, takes the same functions.
import type { PerExampleLoss } from '../nn/objective.ts';
export type { PerExampleLoss };

/** A set of examples: features `X` `[n, …]` and targets `y` (first axis `n`). */
export interface Batch {
  /** The features, examples along axis 0. */
  X: Tensor;
  /** The targets, one per example along axis 0. */
  y: Tensor;
}

/** A per-example loss from logits: `[n, out]` logits and targets to `[n]` losses. */
export type LossFromLogits = (logits: Tensor, y: Tensor) => Tensor;

/**
 * Binary cross-entropy with logits for a one-output network: logits `[n, 1]`, labels `[n]` in {0, 1}.
 *
 * @example
 * ```ts
 * binaryLogitLoss(tensor([[0]]), tensor([1])).toArray(); // [log 2]
 * ```
 */
export const binaryLogitLoss: LossFromLogits = (logits, y) => bceWithLogits(reshape(logits, [logits.shape[0]!]), y);

/**
 * The per-example loss of an MLP: `lossFromLogits(mlpForward(params, X), y)`, by default binary
 * cross-entropy with logits on a one-output network.
 *
 * @example
 * ```ts
 * const loss = mlpLoss('tanh');
 * loss(mlpInit([2, 1], 0), tensor([[1, 2]]), tensor([1])).toArray(); // [log 2]: zero weights give logit 0
 * ```
 */
export function mlpLoss(activation: Activation, lossFromLogits: LossFromLogits = binaryLogitLoss): PerExampleLoss<MlpParams> {
  return (params, X, y) => lossFromLogits(mlpForward(params, X, activation), y);
}

/**
 * Route (a): the meta-gradient by automatic differentiation through one SGD look-ahead,
 * gᵢ = ∂/∂εᵢ mean_j ℓᵛⱼ(θ − α ∇θ Σᵢ εᵢ ℓᵢ(θ)) at ε = 0. Reverse-over-reverse: the outer `grad`
 * differentiates through the inner one. Works for any model and loss.
 *
 * @param loss the per-example loss.
 * @param params θ.
 * @param train the batch being weighted (m examples).
 * @param val the clean validation set.
 * @param lr α, the look-ahead step size.
 * @returns g, one entry per training example.
 *
 * @example
 * ```ts
 * const loss = mlpLoss('tanh');
 * const params = mlpInit([2, 3, 1], 0);
 * const train = { X: tensor([[1, 0], [0, 1]]), y: tensor([1, 0]) };
 * const val = { X: tensor([[1, 1]]), y: tensor([1]) };
 * metaGradientAutodiff(loss, params, train, val, 0.1); // Float64Array of 2 meta-gradients
 * ```
 */
export function metaGradientAutodiff<P extends Pytree>(
  loss: PerExampleLoss<P>,
  params: P,
  train: Batch,
  val: Batch,
  lr: number,
): Float64Array {
  const m = train.X.shape[0]!;
  const valAfterLookAhead = (eps: Tensor): Tensor => {
    const g = grad((p: P) => sum(mul(eps, loss(p, train.X, train.y))))(params) as P;
    const ahead = sgdStep(params, g, lr);
    return mean(loss(ahead, val.X, val.y));
  };
  return (grad(valAfterLookAhead)(zeros([m])) as Tensor).toFloat64Array();
}

/**
 * Route (d): the meta-gradient at ε = 0 in forward mode. By part 1 of proofs/l2rw.md,
 * gᵢ = −α ∇ℓᵛ(θ)·∇ℓᵢ(θ), and ∇ℓᵢ(θ)·v is the directional derivative of ℓᵢ at θ along v, so the
 * whole vector g is −α times one Jacobian-vector product of θ ↦ [ℓ₁(θ), …, ℓₙ(θ)] with the tangent
 * v = ∇ℓᵛ(θ). Cost: the validation gradient (m examples) plus one forward pass with tangents over
 * the batch: no second-order reverse pass and no per-example gradient, which is why the paper
 * protocol's LeNet uses it. It relies on ε = 0 (the look-ahead starts at θ), as the paper's does.
 *
 * @example
 * ```ts
 * const loss = mlpLoss('tanh');
 * const params = mlpInit([2, 3, 1], 0);
 * const train = { X: tensor([[1, 0], [0, 1]]), y: tensor([1, 0]) };
 * const val = { X: tensor([[1, 1]]), y: tensor([1]) };
 * metaGradientForward(loss, params, train, val, 0.1); // equals metaGradientAutodiff(…)
 * ```
 */
export function metaGradientForward<P extends Pytree>(
  loss: PerExampleLoss<P>,
  params: P,
  train: Batch,
  val: Batch,
  lr: number,
): Float64Array {
  const [, directional] = jvp((p: P) => loss(p, train.X, train.y), [params], [validationGradient(loss, params, val)]);
  return mul(directional, -lr).toFloat64Array();
}

/** ∇ℓᵛ: the gradient of the mean validation loss at θ, the direction routes (c) and (d) project on. */
function validationGradient<P extends Pytree>(loss: PerExampleLoss<P>, params: P, val: Batch): P {
  return grad((p: P) => mean(loss(p, val.X, val.y)))(params) as P;
}

/** Flattens a pytree of per-example gradients (leading axis n) to `[n, P]` blocks, one per leaf. */
function perExampleBlocks(tree: Pytree, n: number): Tensor[] {
  return treeFlatten(tree).leaves.map((leaf) => reshape(leaf as Tensor, [n, -1]));
}

/**
 * Route (c): the meta-gradient at ε = 0 from per-example gradients, gᵢ = −α ∇ℓᵛ · ∇ℓᵢ, where
 * ∇ℓᵢ comes from `vmap(grad(ℓ))` over the batch and ∇ℓᵛ is the gradient of the mean validation
 * loss. Works for any model whose loss handles a batch of one.
 *
 * @example
 * ```ts
 * const loss = mlpLoss('relu');
 * const params = mlpInit([2, 3, 1], 0, 'relu');
 * const train = { X: tensor([[1, 0], [0, 1]]), y: tensor([1, 0]) };
 * const val = { X: tensor([[1, 1]]), y: tensor([1]) };
 * metaGradientPerExample(loss, params, train, val, 0.1); // equals metaGradientAutodiff(…)
 * ```
 */
export function metaGradientPerExample<P extends Pytree>(
  loss: PerExampleLoss<P>,
  params: P,
  train: Batch,
  val: Batch,
  lr: number,
): Float64Array {
  const m = train.X.shape[0]!;
  const one = (p: P, x: Tensor, y: Tensor): Tensor => sum(loss(p, expandDims(x, 0), expandDims(y, 0)));
  const perExample = vmap(grad(one), [null, 0, 0])(params, train.X, train.y) as Pytree;
  const valGrad = validationGradient(loss, params, val);
  const blocks = perExampleBlocks(perExample, m);
  const v = treeFlatten(valGrad).leaves.map((leaf) => reshape(leaf as Tensor, [-1, 1]));
  let dots: Tensor = zeros([m, 1]);
  blocks.forEach((G, k) => (dots = add(dots, matmul(G, v[k]!))));
  return mul(neg(reshape(dots, [m])), lr).toFloat64Array();
}

/** Options for {@link metaGradientMlp}. */
export interface MlpMetaOptions {
  /** The per-example loss from logits. Default: binary cross-entropy with logits. */
  lossFromLogits?: LossFromLogits;
}

/**
 * Route (b): the MLP closed form −(α/m) Σⱼ Σ_l (z̃ᵛⱼ,l−1 · z̃ᵢ,l−1)(gᵛⱼ,l · gᵢ,l), with z̃ a layer
 * input with a 1 appended (the bias) and g the back-propagated signal at the layer's
 * pre-activation. Per layer this is two Gram matrices, `[m, n]` each, multiplied elementwise and
 * summed over validation rows: no per-example gradient is ever formed.
 *
 * @param params the MLP.
 * @param activation its hidden nonlinearity.
 * @param train the batch being weighted (n examples).
 * @param val the validation set (m examples).
 * @param lr α.
 *
 * @example
 * ```ts
 * const params = mlpInit([2, 3, 1], 0);
 * const train = { X: tensor([[1, 0], [0, 1]]), y: tensor([1, 0]) };
 * const val = { X: tensor([[1, 1]]), y: tensor([1]) };
 * metaGradientMlp(params, 'tanh', train, val, 0.1); // the same two numbers as the other routes
 * ```
 */
export function metaGradientMlp(
  params: MlpParams,
  activation: Activation,
  train: Batch,
  val: Batch,
  lr: number,
  options: MlpMetaOptions = {},
): Float64Array {
  const lossFromLogits = options.lossFromLogits ?? binaryLogitLoss;
  const m = val.X.shape[0]!;
  const side = (b: Batch) => {
    const trace = mlpLayerwise(params, b.X, activation);
    // Each loss depends only on its own row of logits, so the gradient of the sum holds every
    // example's own ∂ℓᵢ/∂logitsᵢ in its row.
    const dLogits = grad((z: Tensor) => sum(lossFromLogits(z, b.y)))(trace.logits) as Tensor;
    return { trace, signals: mlpSignals(params, trace, dLogits, activation) };
  };
  const tr = side(train);
  const va = side(val);
  let total: Tensor | null = null;
  for (let l = 0; l < params.length; l++) {
    const zz = gemm(withOnes(va.trace.inputs[l]!), withOnes(tr.trace.inputs[l]!), false, true); // [m, n]
    const gg = gemm(va.signals[l]!, tr.signals[l]!, false, true); // [m, n]
    const layer = sum(mul(zz, gg), 0); // Σⱼ over validation rows → [n]
    total = total ? add(total, layer) : layer;
  }
  return mul(total!, -lr / m).toFloat64Array();
}

/**
 * L2RW weights from a meta-gradient: w̃ᵢ = max(−gᵢ, 0), wᵢ = w̃ᵢ / Σ w̃, and all zero when the sum is
 * zero (no example's up-weighting would lower the validation loss). All-zero weights make the batch
 * contribute no gradient; the optimiser step is not skipped, as in the paper's Algorithm 1 (the
 * optimiser step runs on the weighted loss whatever the weights): with momentum, θ still moves by
 * the decayed velocity, and weight decay still shrinks it.
 *
 * @example
 * ```ts
 * l2rwWeights([-1, 2, -3]);  // Float64Array [0.25, 0, 0.75]
 * l2rwWeights([1, 0]);       // Float64Array [0, 0]
 * ```
 */
export function l2rwWeights(metaGradient: ArrayLike<number>): Float64Array {
  const w = Float64Array.from(metaGradient, (g) => Math.max(-g, 0));
  let total = 0;
  for (const v of w) total += v;
  if (!(total > 0)) return w.fill(0);
  return w.map((v) => v / total);
}

/** Which route computes the meta-gradient. */
export type MetaRoute = 'autodiff' | 'closed-form' | 'per-example' | 'forward';

/**
 * The meta-gradient by a chosen route, for an MLP with a per-example loss from logits.
 *
 * @example
 * ```ts
 * const params = mlpInit([2, 3, 1], 0);
 * const train = { X: tensor([[1, 0], [0, 1]]), y: tensor([1, 0]) };
 * const val = { X: tensor([[1, 1]]), y: tensor([1]) };
 * mlpMetaGradient('autodiff', params, 'tanh', train, val, 0.1);
 * ```
 */
export function mlpMetaGradient(
  route: MetaRoute,
  params: MlpParams,
  activation: Activation,
  train: Batch,
  val: Batch,
  lr: number,
  lossFromLogits: LossFromLogits = binaryLogitLoss,
): Float64Array {
  switch (route) {
    case 'closed-form':
      return metaGradientMlp(params, activation, train, val, lr, { lossFromLogits });
    case 'autodiff':
      return metaGradientAutodiff(mlpLoss(activation, lossFromLogits), params, train, val, lr);
    case 'per-example':
      return metaGradientPerExample(mlpLoss(activation, lossFromLogits), params, train, val, lr);
    case 'forward':
      return metaGradientForward(mlpLoss(activation, lossFromLogits), params, train, val, lr);
    default:
      throw new Error(`meta-gradient route must be 'autodiff', 'closed-form', 'per-example' or 'forward', got '${route as string}'`);
  }
}

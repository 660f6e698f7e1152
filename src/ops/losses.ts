/**
 * Per-example losses. Each returns one loss per example (no averaging), so that weighting methods
 * can weight them; average with `mean` for the usual objective.
 *
 * @module
 */
import { asTensor } from '../core/create.ts';
import { fmt, shapesEqual } from '../base/shape.ts';
import type { Tensor, TensorLike } from '../core/tensor.ts';
import { mul, square, sub } from './arith.ts';
import { logSoftmax, softplus } from './nn.ts';
import { mean, sum } from './reduce.ts';

function sameShape(op: string, a: Tensor, b: Tensor): void {
  if (!shapesEqual(a.shape, b.shape)) {
    throw new Error(`${op}: predictions of shape ${fmt(a.shape)} and targets of shape ${fmt(b.shape)} must match`);
  }
}

/**
 * Binary cross-entropy from logits z and labels y ∈ [0, 1], elementwise:
 * ℓ = softplus(z) − y·z = −y log σ(z) − (1 − y) log(1 − σ(z)), with no overflow for any z.
 * @example
 * ```ts
 * bceWithLogits(tensor([0]), tensor([1])).toArray(); // [log 2]
 * ```
 */
export function bceWithLogits(logits: TensorLike, labels: TensorLike): Tensor {
  const z = asTensor(logits);
  const y = asTensor(labels);
  sameShape('bceWithLogits', z, y);
  return sub(softplus(z), mul(y, z));
}

/**
 * Softmax cross-entropy along the last axis from logits and one-hot (or soft) targets:
 * ℓ = −Σ_c y_c log softmax(z)_c. Returns one loss per row.
 * @example
 * ```ts
 * softmaxCrossEntropy(tensor([[0, 0]]), tensor([[1, 0]])).toArray(); // [log 2]
 * ```
 */
export function softmaxCrossEntropy(logits: TensorLike, targets: TensorLike): Tensor {
  const z = asTensor(logits);
  const y = asTensor(targets);
  sameShape('softmaxCrossEntropy', z, y);
  return sub(0, sum(mul(y, logSoftmax(z, -1)), -1));
}

/**
 * Squared error, elementwise: (prediction − target)².
 * @example
 * ```ts
 * squaredError(tensor([1, 2]), tensor([0, 0])).toArray(); // [1, 4]
 * ```
 */
export function squaredError(predictions: TensorLike, targets: TensorLike): Tensor {
  const p = asTensor(predictions);
  const y = asTensor(targets);
  sameShape('squaredError', p, y);
  return square(sub(p, y));
}

/**
 * Mean squared error, a scalar: mean over all elements of (prediction − target)².
 * @example
 * ```ts
 * mse(tensor([1, 2]), tensor([0, 0])).item(); // 2.5
 * ```
 */
export function mse(predictions: TensorLike, targets: TensorLike): Tensor {
  return mean(squaredError(predictions, targets));
}

/**
 * Activation functions and normalisers, built from primitives in numerically stable forms. They
 * have no derivative rules of their own: autodiff goes through the primitives they are made of.
 *
 * @module
 */
import { asTensor } from '../core/create.ts';
import { normalizeAxes } from '../base/shape.ts';
import type { Tensor, TensorLike } from '../core/tensor.ts';
import * as p from '../prims/index.ts';
import { add, div, erf, exp, greaterEqual, log1p, mul, neg, sub, where } from './arith.ts';
import { type Axis, type ReduceOptions, reduceArgs } from './reduce.ts';

/**
 * −|x| written with `where` rather than `abs`, so that its derivative is −1 or +1 on each side and,
 * at 0, the one-sided derivative of the branch `where` picks there (the same side as the callers'
 * own `where`). Using `abs`, whose derivative at 0 is 0, would make σ'(0) come out as 0.
 */
function negAbs(t: Tensor): Tensor {
  return where(greaterEqual(t, 0), neg(t), t);
}

/**
 * The logistic function 1/(1 + e^−x), computed through e^−|x| so that exp never overflows and no
 * branch, even the one `where` discards, produces an infinity (which would turn into NaN in the
 * gradient).
 * @example
 * ```ts
 * sigmoid(0).item();     // 0.5
 * sigmoid(-800).item();  // 0 (not NaN)
 * ```
 */
export function sigmoid(x: TensorLike): Tensor {
  const t = asTensor(x);
  const e = exp(negAbs(t)); // in (0, 1]
  const onePlus = add(1, e);
  return where(greaterEqual(t, 0), div(1, onePlus), div(e, onePlus));
}

/**
 * softplus(x) = log(1 + eˣ) = max(x, 0) + log1p(e^−|x|): exact for large |x| and tiny results.
 * @example
 * ```ts
 * softplus(0).item();    // log 2
 * softplus(1000).item(); // 1000
 * ```
 */
export function softplus(x: TensorLike): Tensor {
  const t = asTensor(x);
  return add(where(greaterEqual(t, 0), t, 0), log1p(exp(negAbs(t))));
}

/**
 * max(x, 0), with derivative 0 at 0 (as in JAX and PyTorch). NaN propagates: the test is x ≤ 0,
 * which is false for NaN, so NaN takes the x branch (a test x > 0 would turn NaN into 0 and hide it).
 * @example
 * ```ts
 * relu(tensor([-1, 2])).toArray();  // [0, 2]
 * relu(tensor([NaN])).toArray();    // [NaN]
 * ```
 */
export function relu(x: TensorLike): Tensor {
  return p.relu(asTensor(x));
}

/**
 * The Gaussian error linear unit in its exact form, GELU(x) = x · Φ(x) = x · ½(1 + erf(x/√2))
 * (Hendrycks & Gimpel 2016), not the tanh approximation. Far in the negative tail 1 + erf(x/√2)
 * cancels: the absolute error stays a few |x|·1e-16, but the relative error grows as x falls below
 * about −5 (1e-9 there, order 1 near −8), as in any float64 evaluation of this formula.
 * @example
 * ```ts
 * gelu(tensor([-1, 0, 1])).toArray(); // [-0.15865525393145707, 0, 0.8413447460685429]
 * ```
 */
export function gelu(x: TensorLike): Tensor {
  const t = asTensor(x);
  return mul(mul(t, 0.5), add(1, erf(mul(t, Math.SQRT1_2))));
}

/**
 * log Σ exp(x) over axes (all of them when omitted), evaluated as m + log Σ exp(x − m) with m the
 * maximum, so no exponent is positive. It is a primitive (`src/prims/log-sum-exp.ts`) whose
 * derivative is softmax(x) = exp(x − logSumExp(x)) itself, not a difference of large terms: over a
 * size-1 or saturated axis, where logSoftmax is constant, every derivative of logSoftmax, softmax
 * and softmaxCrossEntropy is exactly 0, at any order. An empty axis gives −∞ (log 0).
 * @example
 * ```ts
 * logSumExp(tensor([1000, 1000])).item();        // 1000 + log 2
 * logSumExp(tensor([[0, 0], [1, -Infinity]]), 1).toArray(); // [log 2, 1]
 * ```
 */
export function logSumExp(x: TensorLike, axisOrOptions?: Axis | ReduceOptions, keepDims = false): Tensor {
  const [axis, keepdims] = reduceArgs(axisOrOptions, keepDims);
  const t = asTensor(x);
  const axes = normalizeAxes('logSumExp', axis, t.ndim);
  const out = axes.length ? p.logSumExp(t, axes) : t; // over no axes: log exp x = x
  return keepdims ? p.reshape(out, p.keptShape(t.shape, axes)) : out;
}

/**
 * log softmax along an axis (default: the last): x − logSumExp(x).
 * @example
 * ```ts
 * logSoftmax(tensor([0, 0])).toArray(); // [-log 2, -log 2]
 * ```
 */
export function logSoftmax(x: TensorLike, axis = -1): Tensor {
  const t = asTensor(x);
  return sub(t, logSumExp(t, axis, true));
}

/**
 * softmax along an axis (default: the last).
 * @example
 * ```ts
 * softmax(tensor([0, 0])).toArray(); // [0.5, 0.5]
 * ```
 */
export function softmax(x: TensorLike, axis = -1): Tensor {
  return exp(logSoftmax(x, axis));
}

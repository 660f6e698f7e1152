/**
 * Reductions over axes, numpy style: `axis` is a number, a list, or omitted for all axes; negative
 * axes count from the end; `keepdims` keeps reduced axes with size 1.
 *
 * @module
 */
import { asTensor } from '../core/create.ts';
import { normalizeAxes, sizeOf } from '../base/shape.ts';
import type { Tensor, TensorLike } from '../core/tensor.ts';
import * as p from '../prims/index.ts';
import { div, neg } from './arith.ts';

/** An axis, several axes, or `undefined` for all of them. */
export type Axis = number | readonly number[] | undefined;

/** The options-object form, `{ axis, keepdims }`, as in `sum(x, { axis: 0, keepdims: true })`. */
export interface ReduceOptions {
  /** The axis or axes to reduce; all of them when omitted. */
  axis?: Axis;
  /** Keep reduced axes with size 1. */
  keepdims?: boolean;
}

/**
 * Accepts both call shapes, numpy's positional `(axis, keepdims)` and an options object, so code
 * ported from JAX (`jnp.sum(x, axis=0)`) reads naturally either way.
 *
 * @example
 * ```ts
 * reduceArgs({ axis: 1, keepdims: true }, false); // [1, true]
 * reduceArgs(1, false);                           // [1, false]
 * ```
 */
export function reduceArgs(axisOrOptions: Axis | ReduceOptions, keepdims: boolean): [Axis, boolean] {
  if (axisOrOptions !== null && typeof axisOrOptions === 'object' && !Array.isArray(axisOrOptions)) {
    const o = axisOrOptions as ReduceOptions;
    return [o.axis, o.keepdims ?? keepdims];
  }
  return [axisOrOptions as Axis, keepdims];
}

function reduceWith(op: string, prim: (x: Tensor, axes: number[]) => Tensor) {
  return (x: TensorLike, axisOrOptions?: Axis | ReduceOptions, keepDims = false): Tensor => {
    const [axis, keepdims] = reduceArgs(axisOrOptions, keepDims);
    const t = asTensor(x);
    const axes = normalizeAxes(op, axis, t.ndim);
    const out = axes.length ? prim(t, axes) : t;
    return keepdims ? p.reshape(out, p.keptShape(t.shape, axes)) : out;
  };
}

/**
 * Sum over axes.
 * @example
 * ```ts
 * sum(tensor([[1, 2], [3, 4]])).item();          // 10
 * sum(tensor([[1, 2], [3, 4]]), 0).toArray();    // [4, 6]
 * sum(tensor([[1, 2], [3, 4]]), -1, true).shape; // [2, 1]
 * sum(tensor([[1, 2], [3, 4]]), { axis: 0, keepdims: true }).shape; // [1, 2]
 * ```
 */
export const sum = reduceWith('sum', p.reduceSum);

/**
 * Maximum over axes (the gradient is split among ties).
 * @example
 * ```ts
 * max(tensor([[1, 5], [3, 4]]), 1).toArray(); // [5, 4]
 * ```
 */
export const max = reduceWith('max', p.reduceMax);

/**
 * Minimum over axes.
 * @example
 * ```ts
 * min(tensor([3, 1, 2])).item(); // 1
 * ```
 */
export const min = (x: TensorLike, axis?: Axis | ReduceOptions, keepdims = false): Tensor => neg(max(neg(x), axis, keepdims));

/**
 * Mean over axes.
 * @example
 * ```ts
 * mean(tensor([1, 2, 3, 6])).item(); // 3
 * ```
 */
export function mean(x: TensorLike, axisOrOptions?: Axis | ReduceOptions, keepDims = false): Tensor {
  const [axis, keepdims] = reduceArgs(axisOrOptions, keepDims);
  const t = asTensor(x);
  const axes = normalizeAxes('mean', axis, t.ndim);
  const count = sizeOf(axes.map((a) => t.shape[a]!));
  if (count === 0) throw new Error(`mean: cannot average over an empty axis (shape [${t.shape.join(', ')}])`);
  return div(sum(t, axes, keepdims), count);
}

/**
 * `reduceSum(x, axes)`: sums the given axes away. Linear; its transpose spreads the cotangent back
 * over the summed axes (reshape to keep the axes, then broadcast).
 * @module
 */
import { ConcreteTensor, type Tensor } from '../core/tensor.ts';
import { type Primitive, bind } from '../core/trace.ts';
import { type Shape, normalizeAxes } from '../base/shape.ts';
import { broadcastTo } from './broadcast-to.ts';
import { reshape } from './reshape.ts';

export interface ReduceParams {
  /** Sorted, distinct, non-negative axes. */
  axes: number[];
}

/** The shape with `axes` removed. */
export function reducedShape(shape: Shape, axes: readonly number[]): number[] {
  return shape.filter((_, i) => !axes.includes(i));
}
/** The shape with `axes` kept as size 1. */
export function keptShape(shape: Shape, axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

export const reduceSumP: Primitive<ReduceParams> = {
  name: 'sum',
  shape([s], { axes }) {
    normalizeAxes('sum', axes, s!.length);
    return reducedShape(s!, axes);
  },
  impl([x], { axes }, be) {
    return new ConcreteTensor(be.reduce('sum', x!.storage, x!.shape, axes), reducedShape(x!.shape, axes), be);
  },
  jvp: (_x, [t], p) => reduceSum(t!, p.axes),
  vjp: (ct, [x], { axes }) => [broadcastTo(reshape(ct, keptShape(x!.shape, axes)), x!.shape)],
  batch: ([x], _d, { axes }) => reduceSum(x!, axes.map((a) => a + 1)),
};
/** Sums over sorted, distinct axes (primitive binder). */
export const reduceSum = (x: Tensor, axes: number[]): Tensor => bind(reduceSumP, [x], { axes });

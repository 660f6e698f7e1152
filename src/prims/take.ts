/**
 * `take(x, indices, axis)` as `numpy.take`: picks slices along an axis. The indices are constant
 * integers (a parameter, not a traced input). Linear in x; its transpose is `scatterAdd`.
 * @module
 */
import { ConcreteTensor, type Tensor } from '../core/tensor.ts';
import { type Primitive, bind } from '../core/trace.ts';
import { fmt } from '../base/shape.ts';
import { scatterAdd } from './scatter-add.ts';

export interface TakeParams {
  indices: Float64Array;
  indicesShape: number[];
  axis: number;
}

export const takeP: Primitive<TakeParams> = {
  name: 'take',
  shape([s], { indices, indicesShape, axis }) {
    if (!Number.isInteger(axis) || axis < 0 || axis >= s!.length) {
      throw new Error(`take: axis ${axis} is out of range for shape ${fmt(s!)}`);
    }
    const len = s![axis]!;
    for (const i of indices) {
      if (!Number.isInteger(i) || i < 0 || i >= len) {
        throw new Error(`take: index ${i} is out of range for axis ${axis} of size ${len} (shape ${fmt(s!)})`);
      }
    }
    return [...s!.slice(0, axis), ...indicesShape, ...s!.slice(axis + 1)];
  },
  impl([x], { indices, indicesShape, axis }, be) {
    const shape = [...x!.shape.slice(0, axis), ...indicesShape, ...x!.shape.slice(axis + 1)];
    return new ConcreteTensor(be.take(x!.storage, x!.shape, indices, axis), shape, be);
  },
  jvp: (_x, [t], p) => bind(takeP, [t!], p),
  vjp: (ct, [x], { indices, indicesShape, axis }) => [
    scatterAdd(ct, indices, indicesShape, axis, x!.shape[axis]!),
  ],
  batch: ([x], _d, p) => bind(takeP, [x!], { ...p, axis: p.axis + 1 }),
};
/** Picks entries along an axis at constant integer indices (primitive binder). */
export function take(x: Tensor, indices: Float64Array, indicesShape: number[], axis: number): Tensor {
  return bind(takeP, [x], { indices, indicesShape, axis });
}

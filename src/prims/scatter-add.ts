/**
 * `scatterAdd(g, indices, axis, size)`: the transpose of `take`. Starts from zeros with `size`
 * entries along `axis` and adds the slices of g at the indices (repeated indices accumulate).
 * Linear; its transpose is `take`.
 * @module
 */
import { ConcreteTensor, type Tensor } from '../core/tensor.ts';
import { type Primitive, bind } from '../core/trace.ts';
import { fmt } from '../base/shape.ts';
import { take } from './take.ts';

export interface ScatterAddParams {
  indices: Float64Array;
  indicesShape: number[];
  axis: number;
  axisSize: number;
}

function outShape(g: readonly number[], { indicesShape, axis, axisSize }: ScatterAddParams): number[] {
  return [...g.slice(0, axis), axisSize, ...g.slice(axis + indicesShape.length)];
}

export const scatterAddP: Primitive<ScatterAddParams> = {
  name: 'scatterAdd',
  shape([s], p) {
    const k = p.indicesShape.length;
    const mid = s!.slice(p.axis, p.axis + k);
    if (p.axis < 0 || mid.length !== k || mid.some((d, i) => d !== p.indicesShape[i])) {
      throw new Error(`scatterAdd: shape ${fmt(s!)} does not hold indices of shape ${fmt(p.indicesShape)} at axis ${p.axis}`);
    }
    return outShape(s!, p);
  },
  impl([g], p, be) {
    // The backends take one index axis: a multi-axis (or empty) index is the same storage with its
    // axes collapsed into one of length indices.length.
    const s = g!.shape;
    const flat = [...s.slice(0, p.axis), p.indices.length, ...s.slice(p.axis + p.indicesShape.length)];
    return new ConcreteTensor(be.scatterAdd(g!.storage, flat, p.indices, p.axis, p.axisSize), outShape(s, p), be);
  },
  jvp: (_g, [t], p) => bind(scatterAddP, [t!], p),
  vjp: (ct, _g, p) => [take(ct, p.indices, p.indicesShape, p.axis)],
  batch: ([g], _d, p) => bind(scatterAddP, [g!], { ...p, axis: p.axis + 1 }),
};
/** Adds slices of g into zeros at constant indices (primitive binder). */
export function scatterAdd(g: Tensor, indices: Float64Array, indicesShape: number[], axis: number, axisSize: number): Tensor {
  return bind(scatterAddP, [g], { indices, indicesShape, axis, axisSize });
}

/**
 * `reshape(x, shape)`: the same row-major values under another shape. Free on every backend
 * (storage is shared) and linear; its transpose reshapes back.
 * @module
 */
import { ConcreteTensor, type Tensor } from '../core/tensor.ts';
import { type Primitive, bind } from '../core/trace.ts';
import { type Shape, checkShape, fmt, shapesEqual, sizeOf } from '../base/shape.ts';

export interface ReshapeParams {
  shape: number[];
}

export const reshapeP: Primitive<ReshapeParams> = {
  name: 'reshape',
  shape([s], { shape }) {
    checkShape('reshape', shape);
    if (sizeOf(s!) !== sizeOf(shape)) {
      throw new Error(`reshape: cannot reshape ${fmt(s!)} (${sizeOf(s!)} elements) to ${fmt(shape)} (${sizeOf(shape)} elements)`);
    }
    return shape;
  },
  impl: ([x], { shape }) => new ConcreteTensor(x!.storage, shape, x!.backend),
  jvp: (_x, [t], { shape }) => reshape(t!, shape),
  vjp: (ct, [x]) => [reshape(ct, x!.shape)],
  batch: ([x], _d, { shape }, n) => reshape(x!, [n, ...shape]),
};
/** Reshapes, resolving one `-1` entry; a no-op for an equal shape (primitive binder). */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const holes = shape.filter((d) => d === -1).length;
  let target = [...shape];
  if (holes > 1) throw new Error(`reshape: at most one -1 is allowed, got ${fmt(shape)}`);
  if (holes === 1) {
    const known = sizeOf(shape.filter((d) => d !== -1));
    if (known === 0 || x.size % known !== 0) {
      throw new Error(`reshape: cannot reshape ${fmt(x.shape)} to ${fmt(shape)}`);
    }
    target = shape.map((d) => (d === -1 ? x.size / known : d));
  }
  if (shapesEqual(x.shape, target)) return x;
  return bind(reshapeP, [x], { shape: target });
}

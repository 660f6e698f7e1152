/**
 * `broadcastTo(x, shape)`: numpy broadcasting (new leading axes, size-1 axes stretched). Linear; its
 * transpose sums the cotangent over every stretched or added axis.
 * @module
 */
import { ConcreteTensor, type Tensor } from '../core/tensor.ts';
import { type Primitive, bind } from '../core/trace.ts';
import { type Shape, broadcastShapes, fmt, shapesEqual } from '../base/shape.ts';
import { reduceSum } from './reduce-sum.ts';
import { reshape } from './reshape.ts';

export interface BroadcastParams {
  shape: number[];
}

export const broadcastToP: Primitive<BroadcastParams> = {
  name: 'broadcastTo',
  shape([s], { shape }) {
    const b = broadcastShapes('broadcastTo', s!, shape);
    if (!shapesEqual(b, shape)) {
      throw new Error(`broadcastTo: cannot broadcast shape ${fmt(s!)} to ${fmt(shape)}`);
    }
    return shape;
  },
  impl([x], { shape }, be) {
    const padded = [...new Array<number>(shape.length - x!.ndim).fill(1), ...x!.shape];
    return new ConcreteTensor(be.broadcast(x!.storage, padded, shape), shape, be);
  },
  jvp: (_x, [t], { shape }) => broadcastTo(t!, shape),
  vjp(ct, [x], { shape }) {
    const lead = shape.length - x!.ndim;
    const axes: number[] = [];
    for (let i = 0; i < shape.length; i++) {
      if (i < lead || (x!.shape[i - lead] === 1 && shape[i] !== 1)) axes.push(i);
    }
    return [reshape(axes.length ? reduceSum(ct, axes) : ct, x!.shape)];
  },
  batch([x], _d, { shape }, n) {
    // Keep the batch axis in front and align the example axes to the right, as numpy would.
    const lead = shape.length - (x!.ndim - 1);
    const aligned = reshape(x!, [n, ...new Array<number>(lead).fill(1), ...x!.shape.slice(1)]);
    return broadcastTo(aligned, [n, ...shape]);
  },
};
/** Broadcasts to `shape`; a no-op when the shape already matches (primitive binder). */
export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  if (shapesEqual(x.shape, shape)) return x;
  return bind(broadcastToP, [x], { shape: [...shape] });
}

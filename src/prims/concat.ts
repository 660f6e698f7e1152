/**
 * `concat(xs, axis)`: joins tensors along an axis. Linear; the transpose slices the cotangent into
 * the pieces.
 * @module
 */
import { ConcreteTensor, type Tensor } from '../core/tensor.ts';
import { type Primitive, bind } from '../core/trace.ts';
import { fmt } from '../base/shape.ts';
import { fullLike, withBatchAxis } from './elementwise.ts';
import { slice } from './slice.ts';

export interface ConcatParams {
  axis: number;
}

export const concatP: Primitive<ConcatParams> = {
  name: 'concat',
  shape(shapes, { axis }) {
    if (shapes.length === 0) throw new Error('concat: needs at least one tensor');
    const first = shapes[0]!;
    if (!Number.isInteger(axis) || axis < 0 || axis >= first.length) {
      throw new Error(`concat: axis ${axis} is out of range for shape ${fmt(first)}`);
    }
    for (const s of shapes) {
      if (s.length !== first.length || s.some((d, i) => i !== axis && d !== first[i])) {
        throw new Error(`concat: shapes ${shapes.map(fmt).join(', ')} differ outside axis ${axis}`);
      }
    }
    const out = [...first];
    out[axis] = shapes.reduce((n, s) => n + s[axis]!, 0);
    return out;
  },
  impl(xs, { axis }, be) {
    const shapes = xs.map((x) => x.shape);
    const out = [...shapes[0]!];
    out[axis] = shapes.reduce((n, s) => n + s[axis]!, 0);
    return new ConcreteTensor(be.concat(xs.map((x) => x.storage), shapes, axis), out, be);
  },
  jvp: (xs, ts, { axis }) => concat(xs.map((x, i) => ts[i] ?? fullLike(x, 0)), axis),
  vjp(ct, xs, { axis }, _out, active) {
    let offset = 0;
    return xs.map((x, i) => {
      const starts = ct.shape.map((_, j) => (j === axis ? offset : 0));
      offset += x.shape[axis]!;
      return active && !active[i] ? null : slice(ct, starts, [...x.shape]);
    });
  },
  batch: (xs, dims, { axis }, n) => concat(xs.map((x, i) => withBatchAxis(x, dims[i]!, n)), axis + 1),
};
/** Joins along a non-negative axis (primitive binder). */
export const concat = (xs: Tensor[], axis: number): Tensor => bind(concatP, xs, { axis });

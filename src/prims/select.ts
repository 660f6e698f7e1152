/**
 * `select(cond, a, b)`: `a` where cond ≠ 0, else `b` (numpy's `where`). The condition gets no
 * derivative; each branch gets the cotangent where it was chosen and zero elsewhere.
 * @module
 */
import { ConcreteTensor, type Tensor } from '../core/tensor.ts';
import { type Primitive, bind } from '../core/trace.ts';
import { fullLike, sameShapes, withBatchAxis } from './elementwise.ts';

export const selectP: Primitive<Record<string, never>> = {
  name: 'select',
  shape: (s) => sameShapes('select', s),
  impl([c, a, b], _p, be) {
    return new ConcreteTensor(be.select(c!.storage, a!.storage, b!.storage, a!.size), a!.shape, be);
  },
  jvp: ([c, a, b], [, ta, tb]) => select(c!, ta ?? fullLike(a!, 0), tb ?? fullLike(b!, 0)),
  vjp(ct, [c], _p, _out, active = [false, true, true]) {
    const zero = fullLike(ct, 0);
    return [null, active[1] ? select(c!, ct, zero) : null, active[2] ? select(c!, zero, ct) : null];
  },
  batch: (args, dims, _p, n) => bind(selectP, args.map((x, i) => withBatchAxis(x, dims[i]!, n)), {}),
};
/** Elementwise choice between equal shapes (primitive binder). */
export const select = (cond: Tensor, a: Tensor, b: Tensor): Tensor => bind(selectP, [cond, a, b], {});

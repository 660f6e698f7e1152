/**
 * `reduceMax(x, axes)`: the maximum over the given axes. The derivative flows to the positions
 * that attain the maximum, split equally among ties (so it is a valid subgradient and symmetric,
 * as in JAX).
 * @module
 */
import { ConcreteTensor, type Tensor } from '../core/tensor.ts';
import { type Primitive, bind } from '../core/trace.ts';
import { normalizeAxes } from '../base/shape.ts';
import { broadcastTo } from './broadcast-to.ts';
import { reshape } from './reshape.ts';
import { equal } from './compare.ts';
import { div } from './div.ts';
import { mul } from './mul.ts';
import { type ReduceParams, keptShape, reducedShape, reduceSum } from './reduce-sum.ts';

/** Where x attains its maximum, divided by the number of ties: weights that sum to 1. */
function tieWeights(x: Tensor, out: Tensor, axes: number[]): Tensor {
  const kept = keptShape(x.shape, axes);
  const mask = equal(x, broadcastTo(reshape(out, kept), x.shape));
  const count = reduceSum(mask, axes);
  return div(mask, broadcastTo(reshape(count, kept), x.shape));
}

export const reduceMaxP: Primitive<ReduceParams> = {
  name: 'max',
  shape([s], { axes }) {
    normalizeAxes('max', axes, s!.length);
    for (const a of axes) {
      if (s![a] === 0) throw new Error(`max: cannot reduce axis ${a} of size 0 (shape [${s!.join(', ')}])`);
    }
    return reducedShape(s!, axes);
  },
  impl([x], { axes }, be) {
    return new ConcreteTensor(be.reduce('max', x!.storage, x!.shape, axes), reducedShape(x!.shape, axes), be);
  },
  jvp: ([x], [t], { axes }, out) => reduceSum(mul(t!, tieWeights(x!, out, axes)), axes),
  vjp: (ct, [x], { axes }, out) => [
    mul(broadcastTo(reshape(ct, keptShape(x!.shape, axes)), x!.shape), tieWeights(x!, out, axes)),
  ],
  batch: ([x], _d, { axes }) => reduceMax(x!, axes.map((a) => a + 1)),
};
/** Maximum over sorted, distinct axes (primitive binder). */
export const reduceMax = (x: Tensor, axes: number[]): Tensor => bind(reduceMaxP, [x], { axes });

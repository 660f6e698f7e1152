/**
 * `logSumExp(x, axes)`: log Σ exp(x) over the given axes. A primitive for numerical stability, not
 * speed: its JVP is Σ softmax(x)·t and its VJP is ct·softmax(x), with softmax(x) = exp(x − out)
 * (every exponent ≤ 0). Composed from `max`, `exp`, `sum`, `log`, the derivative appears only as a
 * difference of large terms (−dt² + (d²t + dt²) at second order) and an exactly zero derivative,
 * as for logSoftmax over a size-1 or saturated axis, came out as rounding noise. With these rules
 * d out = 1·t exactly on a size-1 axis, so x − logSumExp(x) has a derivative of exactly 0 there at
 * every order (proofs/primitive-rules.md §3).
 * @module
 */
import { ConcreteTensor, type Tensor } from '../core/tensor.ts';
import { type Primitive, bind } from '../core/trace.ts';
import { normalizeAxes, sizeOf } from '../base/shape.ts';
import type { Backend, Storage } from '../backend/backend.ts';
import { broadcastTo } from './broadcast-to.ts';
import { reshape } from './reshape.ts';
import { exp } from './exp.ts';
import { mul } from './mul.ts';
import { sub } from './sub.ts';
import { type ReduceParams, keptShape, reducedShape, reduceSum } from './reduce-sum.ts';

/**
 * softmax(x) = exp(x − out) over the reduced axes, `out` the primitive's own output: stable (no
 * exponent is positive) and written with primitives, so the rules differentiate again.
 */
function softmaxOf(x: Tensor, out: Tensor, axes: number[]): Tensor {
  return exp(sub(x, broadcastTo(reshape(out, keptShape(x.shape, axes)), x.shape)));
}

/**
 * m + log Σ exp(x − m) with m the maximum over the axes, on backend storage. A non-finite maximum
 * (±∞, NaN) is replaced by a shift of 0, so that ∞ − ∞ does not turn an all-(−∞) row into NaN: the
 * result is then −∞, +∞ or NaN, as log Σ exp says. An empty axis gives log 0 = −∞.
 */
function evaluate(be: Backend, x: Storage, shape: readonly number[], axes: number[]): Storage {
  const n = sizeOf(reducedShape(shape, axes));
  const size = sizeOf(shape);
  const temps: Storage[] = [];
  const keep = (s: Storage): Storage => (temps.push(s), s);
  const m = keep(be.reduce('max', x, shape, axes));
  const zero = keep(be.fill(n, 0));
  const finite = keep(be.binary('equal', keep(be.binary('sub', m, m, n)), zero, n)); // m − m = 0 iff m is finite
  const shift = keep(be.select(finite, m, zero, n));
  const shifted = keep(be.binary('sub', x, keep(be.broadcast(shift, keptShape(shape, axes), shape)), size));
  const total = keep(be.reduce('sum', keep(be.unary('exp', shifted, size)), shape, axes));
  const out = be.binary('add', keep(be.unary('log', total, n)), shift, n);
  for (const s of temps) be.release?.(s);
  return out;
}

export const logSumExpP: Primitive<ReduceParams> = {
  name: 'logSumExp',
  shape([s], { axes }) {
    normalizeAxes('logSumExp', axes, s!.length);
    return reducedShape(s!, axes);
  },
  impl([x], { axes }, be) {
    return new ConcreteTensor(evaluate(be, x!.storage, x!.shape, axes), reducedShape(x!.shape, axes), be);
  },
  // d out = Σ softmax(x) ⊙ t over the axes.
  jvp: ([x], [t], { axes }, out) => reduceSum(mul(t!, softmaxOf(x!, out, axes)), axes),
  // x̄ = ct (spread over the axes) ⊙ softmax(x).
  vjp: (ct, [x], { axes }, out) => [
    mul(broadcastTo(reshape(ct, keptShape(x!.shape, axes)), x!.shape), softmaxOf(x!, out, axes)),
  ],
  batch: ([x], _d, { axes }) => logSumExp(x!, axes.map((a) => a + 1)),
};
/** log Σ exp over sorted, distinct axes (primitive binder). */
export const logSumExp = (x: Tensor, axes: number[]): Tensor => bind(logSumExpP, [x], { axes });

/**
 * `maximum(a, b)`: the derivative follows the larger input; at ties each input gets half, the
 * symmetric choice (JAX does the same), so maximum(x, x) = x has derivative 1.
 * @module
 */
import type { Tensor } from '../core/tensor.ts';
import { bind } from '../core/trace.ts';
import { binaryPrimitive, fullLike } from './elementwise.ts';
import { add } from './add.ts';
import { equal, greater } from './compare.ts';
import { mul } from './mul.ts';
import { sub } from './sub.ts';

/** The share of the derivative that goes to `a`: 1, 0 or ½ at a tie. */
function shareOfA(a: Tensor, b: Tensor): Tensor {
  return add(greater(a, b), mul(fullLike(a, 0.5), equal(a, b)));
}

export const maximumP = binaryPrimitive('maximum', 'maximum', {
  jvp(a, b, ta, tb) {
    const m = shareOfA(a, b);
    const l = ta ? mul(ta, m) : null;
    const r = tb ? mul(tb, sub(fullLike(m, 1), m)) : null;
    return l && r ? add(l, r) : (l ?? r);
  },
  vjp(ct, a, b, _out, active) {
    const m = shareOfA(a, b);
    return [active[0] ? mul(ct, m) : null, active[1] ? mul(ct, sub(fullLike(m, 1), m)) : null];
  },
});
/** Elementwise maximum of equal shapes (primitive binder). */
export const maximum = (a: Tensor, b: Tensor): Tensor => bind(maximumP, [a, b], {});

/** `div(a, b) = a / b`: d(a/b) = da/b − (a/b)·db/b, reusing the output a/b. @module */
import type { Tensor } from '../core/tensor.ts';
import { bind } from '../core/trace.ts';
import { binaryPrimitive } from './elementwise.ts';
import { mul } from './mul.ts';
import { neg } from './neg.ts';
import { sub } from './sub.ts';

export const divP = binaryPrimitive('div', 'div', {
  jvp(_a, b, ta, tb, out) {
    const l = ta ? div(ta, b) : null;
    const r = tb ? div(mul(tb, out), b) : null;
    return l && r ? sub(l, r) : l ?? neg(r!);
  },
  vjp: (ct, _a, b, out, active) => {
    const ctb = active[0] || active[1] ? div(ct, b) : null;
    return [active[0] ? ctb : null, active[1] ? neg(mul(ctb!, out)) : null];
  },
});
/** Elementwise quotient of equal shapes (primitive binder). */
export const div = (a: Tensor, b: Tensor): Tensor => bind(divP, [a, b], {});

/** `mul(a, b)`: the product rule, d(ab) = da·b + a·db. @module */
import type { Tensor } from '../core/tensor.ts';
import { bind } from '../core/trace.ts';
import { binaryPrimitive } from './elementwise.ts';
import { add } from './add.ts';

export const mulP = binaryPrimitive('mul', 'mul', {
  jvp(a, b, ta, tb) {
    // x·x (a regulariser's W ⊙ W): both terms are the same product, bit for bit, so make it once.
    if (a === b && ta && ta === tb) {
      const once = mul(ta, b);
      return add(once, once);
    }
    const l = ta ? mul(ta, b) : null;
    const r = tb ? mul(a, tb) : null;
    return l && r ? add(l, r) : (l ?? r);
  },
  vjp(ct, a, b, _out, active) {
    // x·x: one product serves both inputs (the engine adds the two cotangents).
    if (a === b && active[0] && active[1]) {
      const once = mul(ct, a);
      return [once, once];
    }
    return [active[0] ? mul(ct, b) : null, active[1] ? mul(ct, a) : null];
  },
});
/** Elementwise product of equal shapes (primitive binder). */
export const mul = (a: Tensor, b: Tensor): Tensor => bind(mulP, [a, b], {});

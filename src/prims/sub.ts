/** `sub(a, b) = a − b`: linear; the second input receives the negated cotangent. @module */
import type { Tensor } from '../core/tensor.ts';
import { bind } from '../core/trace.ts';
import { binaryPrimitive } from './elementwise.ts';
import { neg } from './neg.ts';

export const subP = binaryPrimitive('sub', 'sub', {
  jvp: (_a, _b, ta, tb) => (ta && tb ? sub(ta, tb) : ta ?? neg(tb!)),
  vjp: (ct, _a, _b, _out, active) => [ct, active[1] ? neg(ct) : null],
});
/** Elementwise difference of equal shapes (primitive binder). */
export const sub = (a: Tensor, b: Tensor): Tensor => bind(subP, [a, b], {});

/**
 * `pow(a, b) = a^b`: ∂/∂a = b·a^(b−1), ∂/∂b = log(a)·a^b.
 *
 * The base's derivative is 0 where b = 0. The exponent's derivative uses log a, which is −∞ at a = 0. We define it as 0 there (a^b is 0
 * for b > 0, so that is the one-sided limit), with the "double select" trick: the log is taken of a
 * safe value, so neither this derivative nor the next one through `select` ever multiplies an
 * infinity by zero into NaN.
 * @module
 */
import type { Tensor } from '../core/tensor.ts';
import { bind } from '../core/trace.ts';
import { binaryPrimitive, fullLike } from './elementwise.ts';
import { add } from './add.ts';
import { equal } from './compare.ts';
import { log } from './log.ts';
import { mul } from './mul.ts';
import { select } from './select.ts';
import { sub } from './sub.ts';

/**
 * ∂aᵇ/∂a = b·a^(b−1), defined as 0 where b = 0 (aᵇ = 1 is constant there). Without the select,
 * a = 0, b = 0 would give 0·0⁻¹ = NaN, which is what the fourth derivative of x³ at 0 hits. The
 * exponent inside is made safe (1 where b = 0) so no infinity exists even in the unused branch.
 */
function dBase(a: Tensor, b: Tensor): Tensor {
  const zero = equal(b, fullLike(b, 0));
  const safeB = select(zero, fullLike(b, 1), b);
  return select(zero, fullLike(b, 0), mul(b, pow(a, sub(safeB, fullLike(b, 1)))));
}
function dExponent(a: Tensor, out: Tensor): Tensor {
  const zero = equal(a, fullLike(a, 0));
  const safeLog = log(select(zero, fullLike(a, 1), a));
  return mul(out, select(zero, fullLike(a, 0), safeLog));
}

export const powP = binaryPrimitive('pow', 'pow', {
  jvp(a, b, ta, tb, out) {
    const l = ta ? mul(ta, dBase(a, b)) : null;
    const r = tb ? mul(tb, dExponent(a, out)) : null;
    return l && r ? add(l, r) : (l ?? r);
  },
  vjp: (ct, a, b, out, active) => [
    active[0] ? mul(ct, dBase(a, b)) : null,
    active[1] ? mul(ct, dExponent(a, out)) : null,
  ],
});
/** Elementwise power of equal shapes (primitive binder). */
export const pow = (a: Tensor, b: Tensor): Tensor => bind(powP, [a, b], {});

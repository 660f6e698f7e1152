/**
 * `reluGrad(x, g) = x ≤ 0 ? 0 : g`: ReLU's derivative rule as one mask pass (the composite
 * `select(lessEqual(x, 0), 0, g)` also builds two constant arrays and a condition). NaN in x
 * passes g, as relu passes NaN. Linear in g, piecewise constant in x: its JVP is the same mask on
 * ġ, its transpose the same mask on the cotangent, and x gets a zero derivative (as a comparison
 * does), so it differentiates to any order.
 * @module
 */
import type { Tensor } from '../core/tensor.ts';
import { bind } from '../core/trace.ts';
import { binaryPrimitive } from './elementwise.ts';

export const reluGradP = binaryPrimitive('reluGrad', 'reluGrad', {
  jvp: (x, _g, _tx, tg) => (tg ? reluGrad(x, tg) : null),
  vjp: (ct, x, _g, _out, active) => [null, active[1] ? reluGrad(x, ct) : null],
});
/** `x ≤ 0 ? 0 : g` elementwise, on equal shapes (primitive binder). */
export const reluGrad = (x: Tensor, g: Tensor): Tensor => bind(reluGradP, [x, g], {});

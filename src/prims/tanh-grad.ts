/**
 * `tanhGrad(y, g) = g · (1 − y²)`: tanh's derivative rule from its output y, fused into one pass
 * (the composite `mul(g, sub(1, mul(y, y)))` takes three passes and a constant of ones). It is
 * what tanh's JVP and VJP bind, so a second derivative differentiates this:
 *   ∂/∂g = 1 − y²  (the same op on ġ),   ∂/∂y = −2 y g.
 * @module
 */
import type { Tensor } from '../core/tensor.ts';
import { bind } from '../core/trace.ts';
import { binaryPrimitive } from './elementwise.ts';
import { add } from './add.ts';
import { mul } from './mul.ts';
import { neg } from './neg.ts';
import { sub } from './sub.ts';

export const tanhGradP = binaryPrimitive('tanhGrad', 'tanhGrad', {
  jvp(y, g, ty, tg) {
    const viaG = tg ? tanhGrad(y, tg) : null;
    if (!ty) return viaG;
    const yTimesTy = mul(y, ty);
    // −2 y ẏ g, with 2g as g + g (exact) so that no constant array is made.
    return viaG ? sub(viaG, mul(yTimesTy, add(g, g))) : neg(mul(yTimesTy, add(g, g)));
  },
  vjp: (ct, y, g, _out, active) => [
    active[0] ? neg(mul(mul(ct, g), add(y, y))) : null,
    active[1] ? tanhGrad(y, ct) : null,
  ],
});
/** `g · (1 − y²)` elementwise, on equal shapes (primitive binder). */
export const tanhGrad = (y: Tensor, g: Tensor): Tensor => bind(tanhGradP, [y, g], {});

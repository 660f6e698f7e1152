/** `tanh(x)`; d/dx tanh x = 1 − tanh² x, so the rule reuses the output. @module */
import type { Tensor } from '../core/tensor.ts';
import { bind } from '../core/trace.ts';
import { fullLike, unaryPrimitive } from './elementwise.ts';
import { mul } from './mul.ts';
import { sub } from './sub.ts';

export const tanhP = unaryPrimitive('tanh', 'tanh', (v, _x, out) => mul(v, sub(fullLike(out, 1), mul(out, out))));
/** Elementwise hyperbolic tangent (primitive binder). */
export const tanh = (x: Tensor): Tensor => bind(tanhP, [x], {});

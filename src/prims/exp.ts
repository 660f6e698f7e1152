/** `exp(x)`; d/dx exp x = exp x, so the rule reuses the output. @module */
import type { Tensor } from '../core/tensor.ts';
import { bind } from '../core/trace.ts';
import { unaryPrimitive } from './elementwise.ts';
import { mul } from './mul.ts';

export const expP = unaryPrimitive('exp', 'exp', (v, _x, out) => mul(v, out));
/** Elementwise exponential (primitive binder). */
export const exp = (x: Tensor): Tensor => bind(expP, [x], {});

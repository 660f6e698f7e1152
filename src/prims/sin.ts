/** `sin(x)`; d/dx sin x = cos x. @module */
import type { Tensor } from '../core/tensor.ts';
import { bind } from '../core/trace.ts';
import { unaryPrimitive } from './elementwise.ts';
import { mul } from './mul.ts';
import { cos } from './cos.ts';

export const sinP = unaryPrimitive('sin', 'sin', (v, x) => mul(v, cos(x)));
/** Elementwise sine (primitive binder). */
export const sin = (x: Tensor): Tensor => bind(sinP, [x], {});

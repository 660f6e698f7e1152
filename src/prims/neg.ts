/** `neg(x) = −x`. Linear: its JVP and VJP are negation again. @module */
import type { Tensor } from '../core/tensor.ts';
import { bind } from '../core/trace.ts';
import { unaryPrimitive } from './elementwise.ts';

export const negP = unaryPrimitive('neg', 'neg', (v) => neg(v));
/** Elementwise negation on a tensor (primitive binder). */
export const neg = (x: Tensor): Tensor => bind(negP, [x], {});

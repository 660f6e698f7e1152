/** `sign(x)` ∈ {−1, 0, 1}: piecewise constant, so it has no derivative rules (zero). @module */
import type { Tensor } from '../core/tensor.ts';
import { bind } from '../core/trace.ts';
import { unaryPrimitive } from './elementwise.ts';

export const signP = unaryPrimitive('sign', 'sign');
/** Elementwise sign (primitive binder). */
export const sign = (x: Tensor): Tensor => bind(signP, [x], {});

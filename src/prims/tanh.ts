/**
 * `tanh(x)`; d/dx tanh x = 1 − tanh² x, so the rule reuses the output, in one fused pass
 * (`tanhGrad`, which has rules of its own).
 * @module
 */
import type { Tensor } from '../core/tensor.ts';
import { bind } from '../core/trace.ts';
import { unaryPrimitive } from './elementwise.ts';
import { tanhGrad } from './tanh-grad.ts';

export const tanhP = unaryPrimitive('tanh', 'tanh', (v, _x, out) => tanhGrad(out, v));
/** Elementwise hyperbolic tangent (primitive binder). */
export const tanh = (x: Tensor): Tensor => bind(tanhP, [x], {});

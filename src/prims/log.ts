/** `log(x)` (natural); d/dx log x = 1/x. @module */
import type { Tensor } from '../core/tensor.ts';
import { bind } from '../core/trace.ts';
import { unaryPrimitive } from './elementwise.ts';
import { div } from './div.ts';

export const logP = unaryPrimitive('log', 'log', (v, x) => div(v, x));
/** Elementwise natural logarithm (primitive binder). */
export const log = (x: Tensor): Tensor => bind(logP, [x], {});

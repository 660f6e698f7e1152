/** `sqrt(x)`; d/dx √x = 1/(2√x), so the rule reuses the output. @module */
import type { Tensor } from '../core/tensor.ts';
import { bind } from '../core/trace.ts';
import { fullLike, unaryPrimitive } from './elementwise.ts';
import { div } from './div.ts';
import { mul } from './mul.ts';

export const sqrtP = unaryPrimitive('sqrt', 'sqrt', (v, _x, out) => div(v, mul(fullLike(out, 2), out)));
/** Elementwise square root (primitive binder). */
export const sqrt = (x: Tensor): Tensor => bind(sqrtP, [x], {});

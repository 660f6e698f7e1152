/**
 * `log1p(x) = log(1 + x)`, accurate for tiny x (softplus needs it); d/dx = 1/(1 + x).
 * @module
 */
import type { Tensor } from '../core/tensor.ts';
import { bind } from '../core/trace.ts';
import { fullLike, unaryPrimitive } from './elementwise.ts';
import { add } from './add.ts';
import { div } from './div.ts';

export const log1pP = unaryPrimitive('log1p', 'log1p', (v, x) => div(v, add(fullLike(x, 1), x)));
/** Elementwise log(1 + x) (primitive binder). */
export const log1p = (x: Tensor): Tensor => bind(log1pP, [x], {});

/** `cos(x)`; d/dx cos x = −sin x. @module */
import type { Tensor } from '../core/tensor.ts';
import { bind } from '../core/trace.ts';
import { unaryPrimitive } from './elementwise.ts';
import { mul } from './mul.ts';
import { neg } from './neg.ts';
import { sin } from './sin.ts';

export const cosP = unaryPrimitive('cos', 'cos', (v, x) => neg(mul(v, sin(x))));
/** Elementwise cosine (primitive binder). */
export const cos = (x: Tensor): Tensor => bind(cosP, [x], {});

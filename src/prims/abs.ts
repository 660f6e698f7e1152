/**
 * `abs(x)`; d/dx |x| = sign x, taking 0 at x = 0 (the subgradient JAX and PyTorch use too).
 * @module
 */
import type { Tensor } from '../core/tensor.ts';
import { bind } from '../core/trace.ts';
import { unaryPrimitive } from './elementwise.ts';
import { mul } from './mul.ts';
import { sign } from './sign.ts';

export const absP = unaryPrimitive('abs', 'abs', (v, x) => mul(v, sign(x)));
/** Elementwise absolute value (primitive binder). */
export const abs = (x: Tensor): Tensor => bind(absP, [x], {});

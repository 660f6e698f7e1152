/**
 * `relu(x) = x ≤ 0 ? 0 : x` (NaN passes through). One pass instead of the composite's comparison,
 * constant and select; its rule is the fused mask `reluGrad(x, v)`.
 * @module
 */
import type { Tensor } from '../core/tensor.ts';
import { bind } from '../core/trace.ts';
import { unaryPrimitive } from './elementwise.ts';
import { reluGrad } from './relu-grad.ts';

export const reluP = unaryPrimitive('relu', 'relu', (v, x) => reluGrad(x, v));
/** Elementwise rectified linear unit (primitive binder). */
export const relu = (x: Tensor): Tensor => bind(reluP, [x], {});

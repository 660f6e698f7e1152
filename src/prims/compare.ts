/**
 * Comparisons: `greater`, `greaterEqual`, `less`, `lessEqual`, `equal`, `notEqual`. They return
 * 1 or 0 and are piecewise constant, so they have no derivative rules: every trace treats their
 * outputs as constants. (One family in one file: six primitives with identical rules.)
 * @module
 */
import type { Tensor } from '../core/tensor.ts';
import { bind } from '../core/trace.ts';
import { binaryPrimitive } from './elementwise.ts';

export const greaterP = binaryPrimitive('greater', 'greater');
export const greaterEqualP = binaryPrimitive('greaterEqual', 'greaterEqual');
export const lessP = binaryPrimitive('less', 'less');
export const lessEqualP = binaryPrimitive('lessEqual', 'lessEqual');
export const equalP = binaryPrimitive('equal', 'equal');
export const notEqualP = binaryPrimitive('notEqual', 'notEqual');

/** a > b as 1/0 (primitive binder, equal shapes). */
export const greater = (a: Tensor, b: Tensor): Tensor => bind(greaterP, [a, b], {});
/** a ≥ b as 1/0 (primitive binder, equal shapes). */
export const greaterEqual = (a: Tensor, b: Tensor): Tensor => bind(greaterEqualP, [a, b], {});
/** a < b as 1/0 (primitive binder, equal shapes). */
export const less = (a: Tensor, b: Tensor): Tensor => bind(lessP, [a, b], {});
/** a ≤ b as 1/0 (primitive binder, equal shapes). */
export const lessEqual = (a: Tensor, b: Tensor): Tensor => bind(lessEqualP, [a, b], {});
/** a = b as 1/0 (primitive binder, equal shapes). */
export const equal = (a: Tensor, b: Tensor): Tensor => bind(equalP, [a, b], {});
/** a ≠ b as 1/0 (primitive binder, equal shapes). */
export const notEqual = (a: Tensor, b: Tensor): Tensor => bind(notEqualP, [a, b], {});

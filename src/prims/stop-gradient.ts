/**
 * `stopGradient(x)`: the identity whose derivative is zero. It has no derivative rules, so every
 * differentiating trace treats its output as a constant.
 * @module
 */
import type { Tensor } from '../core/tensor.ts';
import { type Primitive, bind } from '../core/trace.ts';

export const stopGradientP: Primitive<Record<string, never>> = {
  name: 'stopGradient',
  shape: ([s]) => s!,
  impl: ([x]) => x!,
  batch: ([x]) => stopGradient(x!),
};
/**
 * Blocks differentiation through `x`: `grad(x => mul(x, stopGradient(x)))(3)` is 3, not 6.
 *
 * @example
 * ```ts
 * grad((x) => mul(x, stopGradient(x)))(tensor(3)).item(); // 3
 * ```
 */
export const stopGradient = (x: Tensor): Tensor => bind(stopGradientP, [x], {});

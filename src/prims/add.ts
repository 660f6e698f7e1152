/** `add(a, b)`: linear, so tangents add and the cotangent passes to both inputs. @module */
import type { Tensor } from '../core/tensor.ts';
import { bind } from '../core/trace.ts';
import { binaryPrimitive } from './elementwise.ts';

export const addP = binaryPrimitive('add', 'add', {
  jvp: (_a, _b, ta, tb) => (ta && tb ? add(ta, tb) : (ta ?? tb)),
  vjp: (ct) => [ct, ct],
});
/** Elementwise sum of equal shapes (primitive binder). */
export const add = (a: Tensor, b: Tensor): Tensor => bind(addP, [a, b], {});

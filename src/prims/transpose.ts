/**
 * `transpose(x, perm)`: output axis i is input axis perm[i]. Linear; its transpose applies the
 * inverse permutation.
 * @module
 */
import { ConcreteTensor, type Tensor } from '../core/tensor.ts';
import { type Primitive, bind } from '../core/trace.ts';

export interface TransposeParams {
  perm: number[];
}

/** The inverse of a permutation. */
export function invertPermutation(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

export const transposeP: Primitive<TransposeParams> = {
  name: 'transpose',
  shape([s], { perm }) {
    const ok = perm.length === s!.length && [...perm].sort((a, b) => a - b).every((p, i) => p === i);
    if (!ok) throw new Error(`transpose: [${perm.join(', ')}] is not a permutation of the ${s!.length} axes of shape [${s!.join(', ')}]`);
    return perm.map((p) => s![p]!);
  },
  impl([x], { perm }, be) {
    return new ConcreteTensor(be.transpose(x!.storage, x!.shape, perm), perm.map((p) => x!.shape[p]!), be);
  },
  jvp: (_x, [t], { perm }) => transpose(t!, perm),
  vjp: (ct, _x, { perm }) => [transpose(ct, invertPermutation(perm))],
  batch: ([x], _d, { perm }) => transpose(x!, [0, ...perm.map((p) => p + 1)]),
};
/** Permutes axes; the identity permutation is a no-op (primitive binder). */
export function transpose(x: Tensor, perm: number[]): Tensor {
  if (perm.every((p, i) => p === i) && perm.length === x.ndim) return x;
  return bind(transposeP, [x], { perm });
}

/**
 * `slice(x, starts, sizes)`: the box [starts, starts + sizes). Linear; its transpose pads the
 * cotangent back into place with zeros.
 * @module
 */
import { ConcreteTensor, type Tensor } from '../core/tensor.ts';
import { type Primitive, bind } from '../core/trace.ts';
import { fmt } from '../base/shape.ts';
import { pad } from './pad.ts';

export interface SliceParams {
  starts: number[];
  sizes: number[];
}

export const sliceP: Primitive<SliceParams> = {
  name: 'slice',
  shape([s], { starts, sizes }) {
    const ok =
      starts.length === s!.length &&
      sizes.length === s!.length &&
      starts.every((b, i) => Number.isInteger(b) && Number.isInteger(sizes[i]) && b >= 0 && sizes[i]! >= 0 && b + sizes[i]! <= s![i]!);
    if (!ok) throw new Error(`slice: starts ${fmt(starts)} with sizes ${fmt(sizes)} do not fit inside shape ${fmt(s!)}`);
    return sizes;
  },
  impl([x], { starts, sizes }, be) {
    return new ConcreteTensor(be.slice(x!.storage, x!.shape, starts, sizes), sizes, be);
  },
  jvp: (_x, [t], p) => slice(t!, p.starts, p.sizes),
  vjp: (ct, [x], { starts, sizes }) => [pad(ct, starts, x!.shape.map((d, i) => d - starts[i]! - sizes[i]!))],
  batch: ([x], _d, { starts, sizes }, n) => slice(x!, [0, ...starts], [n, ...sizes]),
};
/** Takes the box [starts, starts + sizes) (primitive binder). */
export const slice = (x: Tensor, starts: number[], sizes: number[]): Tensor => bind(sliceP, [x], { starts, sizes });

/**
 * `pad(x, lo, hi)`: zeros before and after each axis. Linear; its transpose slices the cotangent.
 * @module
 */
import { ConcreteTensor, type Tensor } from '../core/tensor.ts';
import { type Primitive, bind } from '../core/trace.ts';
import { fmt } from '../base/shape.ts';
import { slice } from './slice.ts';

export interface PadParams {
  lo: number[];
  hi: number[];
}

export const padP: Primitive<PadParams> = {
  name: 'pad',
  shape([s], { lo, hi }) {
    const ok = lo.length === s!.length && hi.length === s!.length && [...lo, ...hi].every((v) => Number.isInteger(v) && v >= 0);
    if (!ok) throw new Error(`pad: widths lo ${fmt(lo)} and hi ${fmt(hi)} must be non-negative integers, one per axis of ${fmt(s!)}`);
    return s!.map((d, i) => d + lo[i]! + hi[i]!);
  },
  impl([x], { lo, hi }, be) {
    return new ConcreteTensor(be.pad(x!.storage, x!.shape, lo, hi), x!.shape.map((d, i) => d + lo[i]! + hi[i]!), be);
  },
  jvp: (_x, [t], p) => pad(t!, p.lo, p.hi),
  vjp: (ct, [x], { lo }) => [slice(ct, lo, [...x!.shape])],
  batch: ([x], _d, { lo, hi }) => pad(x!, [0, ...lo], [0, ...hi]),
};
/** Pads with zeros (primitive binder). */
export const pad = (x: Tensor, lo: number[], hi: number[]): Tensor => bind(padP, [x], { lo, hi });

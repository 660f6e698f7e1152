/**
 * Shape manipulation with numpy conventions (negative axes, `-1` in reshape, default reversed
 * transpose), over the shape primitives.
 *
 * @module
 */
import { asTensor } from '../core/create.ts';
import { type Shape, fmt, normalizeAxes, normalizeAxis, shapesEqual } from '../base/shape.ts';
import type { Tensor, TensorLike } from '../core/tensor.ts';
import * as p from '../prims/index.ts';

/**
 * The same values under a new shape (one entry may be -1).
 * @example
 * ```ts
 * reshape(arange(6), [2, -1]).shape; // [2, 3]
 * ```
 */
export const reshape = (x: TensorLike, shape: Shape): Tensor => p.reshape(asTensor(x), shape);

/**
 * Permutes axes; without `perm`, reverses them (the matrix transpose for rank 2).
 * @example
 * ```ts
 * transpose(tensor([[1, 2, 3]])).shape;        // [3, 1]
 * transpose(zeros([2, 3, 4]), [1, 0, 2]).shape; // [3, 2, 4]
 * ```
 */
export function transpose(x: TensorLike, perm?: readonly number[]): Tensor {
  const t = asTensor(x);
  const q = perm ? perm.map((a) => normalizeAxis('transpose', a, t.ndim)) : [...t.shape.keys()].reverse();
  return p.transpose(t, q);
}

/**
 * Broadcasts to a shape with numpy rules.
 * @example
 * ```ts
 * broadcastTo(tensor([1, 2]), [3, 2]).toArray(); // [[1, 2], [1, 2], [1, 2]]
 * ```
 */
export const broadcastTo = (x: TensorLike, shape: Shape): Tensor => p.broadcastTo(asTensor(x), shape);

/**
 * A box of the tensor: `starts` per axis and `sizes` per axis (-1: to the end). A negative start
 * counts from the end of its axis (−1 is the last entry), as in numpy; a box that does not fit is an
 * error (numpy would clip it silently), reported with the starts and sizes as given.
 * @example
 * ```ts
 * slice(arange(10), [2], [3]).toArray();  // [2, 3, 4]
 * slice(arange(10), [-3]).toArray();      // [7, 8, 9]
 * slice(arange(3), [-5]);                 // throws: start -5 is out of range for axis 0 of size 3 …
 * ```
 */
export function slice(x: TensorLike, starts: readonly number[], sizes?: readonly number[]): Tensor {
  const t = asTensor(x);
  const given = `starts ${fmt(starts)}${sizes ? ` and sizes ${fmt(sizes)}` : ''}`;
  if (starts.length !== t.ndim || (sizes && sizes.length !== t.ndim)) {
    throw new Error(`slice: need one start and one size per axis of shape ${fmt(t.shape)}, got ${given}`);
  }
  const b: number[] = [];
  const z: number[] = [];
  t.shape.forEach((d, i) => {
    const s = starts[i]!;
    if (!Number.isInteger(s) || s < -d || s > d) {
      throw new Error(
        `slice: start ${s} is out of range for axis ${i} of size ${d} in shape ${fmt(t.shape)} (got ${given}); ` +
          `a start runs from ${-d} to ${d}, negative ones counting from the end`,
      );
    }
    const begin = s < 0 ? s + d : s;
    const n = sizes ? sizes[i]! : -1;
    if (!Number.isInteger(n) || n < -1 || (n !== -1 && begin + n > d)) {
      throw new Error(
        `slice: size ${n} from start ${s} does not fit axis ${i} of size ${d} in shape ${fmt(t.shape)} (got ${given}); ` +
          `at most ${d - begin} entries remain (-1 takes them all)`,
      );
    }
    b.push(begin);
    z.push(n === -1 ? d - begin : n);
  });
  return p.slice(t, b, z);
}

/**
 * Pads with zeros: `widths[i] = [before, after]` for axis i.
 * @example
 * ```ts
 * pad(tensor([1, 2]), [[1, 0]]).toArray(); // [0, 1, 2]
 * ```
 */
export function pad(x: TensorLike, widths: readonly (readonly [number, number])[]): Tensor {
  const t = asTensor(x);
  if (widths.length !== t.ndim) throw new Error(`pad: need one [before, after] pair per axis of shape ${fmt(t.shape)}`);
  return p.pad(t, widths.map((w) => w[0]), widths.map((w) => w[1]));
}

/**
 * Joins tensors along an existing axis.
 * @example
 * ```ts
 * concat([tensor([1]), tensor([2, 3])]).toArray(); // [1, 2, 3]
 * ```
 */
export function concat(xs: readonly TensorLike[], axis = 0): Tensor {
  const ts = xs.map(asTensor);
  if (ts.length === 0) throw new Error('concat: needs at least one tensor');
  return p.concat(ts, normalizeAxis('concat', axis, ts[0]!.ndim));
}

/** The position of a new axis in a result of rank `rank + 1`, with errors in the input's terms. */
function newAxis(op: string, axis: number, shape: Shape): number {
  const rank = shape.length;
  if (!Number.isInteger(axis) || axis < -(rank + 1) || axis > rank) {
    throw new Error(
      `${op}: axis ${axis} is out of range for an input of rank ${rank} (shape ${fmt(shape)}); ` +
        `the new axis can be ${-(rank + 1)} to ${rank}`,
    );
  }
  return axis < 0 ? axis + rank + 1 : axis;
}

/**
 * Stacks equal-shaped tensors along a new axis (axis −1 puts it last).
 * @example
 * ```ts
 * stack([tensor([1, 2]), tensor([3, 4])]).shape;    // [2, 2]
 * stack([tensor([1, 2]), tensor([3, 4])], 1).shape; // [2, 2], transposed
 * ```
 */
export function stack(xs: readonly TensorLike[], axis = 0): Tensor {
  const ts = xs.map(asTensor);
  if (ts.length === 0) throw new Error('stack: needs at least one tensor');
  const first = ts[0]!.shape;
  ts.forEach((t, i) => {
    if (!shapesEqual(t.shape, first)) {
      throw new Error(`stack: every tensor must have the same shape, but tensor 0 has shape ${fmt(first)} and tensor ${i} has shape ${fmt(t.shape)}`);
    }
  });
  const a = newAxis('stack', axis, first);
  return p.concat(ts.map((t) => p.reshape(t, [...first.slice(0, a), 1, ...first.slice(a)])), a);
}

/**
 * Inserts a size-1 axis at `axis` of the result (from −(rank + 1) to rank of the input).
 * @example
 * ```ts
 * expandDims(tensor([1, 2]), 1).shape;  // [2, 1]
 * expandDims(tensor([1, 2]), -1).shape; // [2, 1]
 * ```
 */
export function expandDims(x: TensorLike, axis: number): Tensor {
  const t = asTensor(x);
  const a = newAxis('expandDims', axis, t.shape);
  return p.reshape(t, [...t.shape.slice(0, a), 1, ...t.shape.slice(a)]);
}

/**
 * Removes size-1 axes (all of them, or the given ones).
 * @example
 * ```ts
 * squeeze(zeros([2, 1, 3])).shape; // [2, 3]
 * ```
 */
export function squeeze(x: TensorLike, axis?: number | readonly number[]): Tensor {
  const t = asTensor(x);
  const axes = axis === undefined ? [...t.shape.keys()].filter((i) => t.shape[i] === 1) : normalizeAxes('squeeze', axis, t.ndim);
  for (const a of axes) {
    if (t.shape[a] !== 1) throw new Error(`squeeze: axis ${a} of shape ${fmt(t.shape)} has size ${t.shape[a]}, not 1`);
  }
  return p.reshape(t, t.shape.filter((_, i) => !axes.includes(i)));
}

/**
 * `numpy.take`: entries at integer indices along an axis. Indices are constants (not differentiated).
 * @example
 * ```ts
 * take(tensor([[1, 2], [3, 4], [5, 6]]), [2, 0]).toArray(); // [[5, 6], [1, 2]]
 * ```
 */
export function take(x: TensorLike, indices: readonly number[] | Float64Array | Int32Array | Tensor, axis = 0): Tensor {
  const t = asTensor(x);
  let idx: Float64Array;
  let idxShape: number[];
  if (indices instanceof Float64Array || indices instanceof Int32Array || Array.isArray(indices)) {
    idx = Float64Array.from(indices as ArrayLike<number>);
    idxShape = [idx.length];
  } else {
    idx = (indices as Tensor).toFloat64Array();
    idxShape = [...(indices as Tensor).shape];
  }
  const a = normalizeAxis('take', axis, t.ndim);
  const len = t.shape[a]!;
  idx = idx.map((i) => (i < 0 ? i + len : i)); // numpy-style negative indices
  return p.take(t, idx, idxShape, a);
}

/**
 * Reductions (sum, max) along one axis.
 *
 * The input is viewed as [outer, len, inner] with the reduced axis in the middle, so one kernel
 * covers every axis of every rank: a thread owns one (outer, inner) cell and walks `len` elements
 * `inner` apart. Sums use four interleaved accumulators (see matmul.ts for why).
 *
 * @module
 */
import type { KernelContext, KernelInput, KernelValue, MaybePromise } from './context.ts';
import { sizeOf } from './context.ts';
import type { KernelThis } from './types.ts';
import type { ReduceOp } from '../src/base/op-list.ts';

export type { ReduceOp };

function sumBody(this: KernelThis, x: Float32Array): number {
  const o = Math.floor((this.thread.x + 0.5) / this.constants.INNER);
  const i = this.thread.x - o * this.constants.INNER;
  let p = o * this.constants.LEN * this.constants.INNER + i;
  const st = this.constants.INNER;
  let s0 = 0.0;
  let s1 = 0.0;
  let s2 = 0.0;
  let s3 = 0.0;
  for (let t = 0; t < this.constants.L4; t++) {
    s0 = s0 + x[p]!;
    s1 = s1 + x[p + st]!;
    s2 = s2 + x[p + 2.0 * st]!;
    s3 = s3 + x[p + 3.0 * st]!;
    p = p + 4.0 * st;
  }
  for (let t = 0; t < this.constants.LR; t++) {
    s0 = s0 + x[p]!;
    p = p + st;
  }
  return s0 + s1 + (s2 + s3);
}

function maxBody(this: KernelThis, x: Float32Array): number {
  const o = Math.floor((this.thread.x + 0.5) / this.constants.INNER);
  const i = this.thread.x - o * this.constants.INNER;
  let p = o * this.constants.LEN * this.constants.INNER + i;
  let m = x[p]!;
  for (let t = 1; t < this.constants.LEN; t++) {
    p = p + this.constants.INNER;
    m = Math.max(m, x[p]!);
  }
  return m;
}

/** The kernel body of each reduction (a `Record`, so a ReduceOp without a kernel fails to compile). */
const REDUCE_BODY: Record<ReduceOp, typeof sumBody> = { sum: sumBody, max: maxBody };

/**
 * Reduces `axis` of a row-major tensor of shape `shape`; the result has that axis removed.
 * The axis must be non-empty (an empty max has no value; an empty sum is a fill of zeros).
 *
 * @example
 * ```ts
 * await reduceAxis(ctx, 'sum', new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3], 1); // Float32Array [6, 15]
 * await reduceAxis(ctx, 'max', new Float32Array([1, 5, 3, 4, 2, 6]), [2, 3], 0); // Float32Array [4, 5, 6]
 * ```
 */
export function reduceAxis(
  ctx: KernelContext,
  op: ReduceOp,
  x: KernelInput,
  shape: readonly number[],
  axis: number,
): MaybePromise<KernelValue> {
  if (!Object.hasOwn(REDUCE_BODY, op)) throw new Error(`unknown reduction ${String(op)}`);
  if (!Number.isInteger(axis) || axis < 0 || axis >= shape.length) {
    throw new RangeError(`reduceAxis: axis ${axis} out of range for [${shape.join(', ')}]`);
  }
  const len = shape[axis]!;
  const outer = sizeOf(shape.slice(0, axis));
  const inner = sizeOf(shape.slice(axis + 1));
  if (len < 1) throw new RangeError('reduceAxis: cannot reduce an empty axis');
  const kern = ctx.kernel(`reduce:${op}:${outer}x${len}x${inner}`, () => ({
    source: REDUCE_BODY[op],
    size: outer * inner,
    constants: { INNER: inner, LEN: len, L4: Math.floor(len / 4), LR: len % 4 },
    maxLoop: len,
  }));
  return ctx.call(kern, [x]);
}

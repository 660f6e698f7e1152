/**
 * Data-movement kernels: strided views (transpose, broadcast, slice), padding, concatenation,
 * gather (`take`) and its transpose (`scatterAdd`), and fill.
 *
 * Transpose, broadcast and slice are one kernel: each output cell reads the input at
 * `offset + Σ coord·stride`, where a transpose permutes the strides, a broadcast zeroes them and a
 * slice shifts the offset. The host collapses the iteration first (see plan.ts).
 *
 * @module
 */
import type { KernelContext, KernelInput, KernelValue, MaybePromise } from './context.ts';
import { sizeOf, andThen } from './context.ts';
import { stridesOf } from '../src/base/shape.ts';
import { collapse, MAX_RANK, planConstants, planKey, stridedIndexSource } from './plan.ts';
import type { KernelThis } from './types.ts';

/** Reads `x` at the strided index of each output cell (see {@link stridedIndexSource}). */
const GATHER_SOURCE = `function (x) {${stridedIndexSource(['A'])}
  return x[ia];
}`;

/**
 * Reads `x` through a strided view: output coordinate `c` (over `outShape`) reads element
 * `offset + Σ c[i]·strides[i]`. The building block of transpose, broadcast and slice.
 *
 * `inputSize` is the number of elements of `x` (taken from `x` itself when it is a host array).
 * It is part of the kernel's cache key because gpu.js fixes the size of every argument the first
 * time a kernel runs: the same view of a longer array (the first six of seven weights, then the
 * first six of a stacked twelve) needs a kernel of its own.
 *
 * @example
 * ```ts
 * // the transpose of a 2×3 matrix
 * await stridedView(ctx, new Float32Array([1, 2, 3, 4, 5, 6]), [3, 2], [1, 3], 0); // [1, 4, 2, 5, 3, 6]
 * ```
 */
export function stridedView(
  ctx: KernelContext,
  x: KernelInput,
  outShape: readonly number[],
  strides: readonly number[],
  offset: number,
  inputSize?: number,
): MaybePromise<KernelValue> {
  const size = sizeOf(outShape);
  const length = inputSize ?? (x instanceof Float32Array || Array.isArray(x) ? (x as ArrayLike<number>).length : undefined);
  if (length === undefined) throw new TypeError('stridedView: inputSize is required when x is a device handle');
  const plan = collapse(outShape, [strides], [offset]);
  const kern = ctx.kernel(`gather:${length}:${planKey(plan)}`, () => ({
    source: GATHER_SOURCE,
    size,
    constants: planConstants(plan, ['A']),
  }));
  return ctx.call(kern, [x]);
}

/**
 * Permutes axes: output axis i is input axis `perm[i]`.
 *
 * @example
 * ```ts
 * await transpose(ctx, new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3], [1, 0]); // [1, 4, 2, 5, 3, 6]
 * ```
 */
export function transpose(
  ctx: KernelContext,
  x: KernelInput,
  shape: readonly number[],
  perm: readonly number[],
): MaybePromise<KernelValue> {
  if (perm.length !== shape.length || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) {
    throw new RangeError(`transpose: [${perm.join(', ')}] is not a permutation of ${shape.length} axes`);
  }
  const st = stridesOf(shape);
  return stridedView(ctx, x, perm.map((p) => shape[p]!), perm.map((p) => st[p]!), 0, sizeOf(shape));
}

/**
 * Numpy broadcasting of `x` (shape `shape`, same rank as `to`, size-1 axes stretched) to `to`.
 *
 * @example
 * ```ts
 * await broadcastTo(ctx, new Float32Array([1, 2]), [2, 1], [2, 3]); // [1, 1, 1, 2, 2, 2]
 * ```
 */
export function broadcastTo(
  ctx: KernelContext,
  x: KernelInput,
  shape: readonly number[],
  to: readonly number[],
): MaybePromise<KernelValue> {
  if (shape.length !== to.length || shape.some((d, i) => d !== 1 && d !== to[i])) {
    throw new RangeError(`broadcast: [${shape.join(', ')}] cannot broadcast to [${to.join(', ')}]`);
  }
  const st = stridesOf(shape);
  return stridedView(ctx, x, to, shape.map((d, i) => (d === 1 ? 0 : st[i]!)), 0, sizeOf(shape));
}

/**
 * The box `[starts, starts + sizes)` of `x`.
 *
 * @example
 * ```ts
 * await slice(ctx, new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3], [0, 1], [2, 2]); // [2, 3, 5, 6]
 * ```
 */
export function slice(
  ctx: KernelContext,
  x: KernelInput,
  shape: readonly number[],
  starts: readonly number[],
  sizes: readonly number[],
): MaybePromise<KernelValue> {
  if (starts.length !== shape.length || sizes.length !== shape.length ||
      shape.some((d, i) => starts[i]! < 0 || sizes[i]! < 0 || starts[i]! + sizes[i]! > d)) {
    throw new RangeError(`slice: box [${starts.join(', ')}] + [${sizes.join(', ')}] outside [${shape.join(', ')}]`);
  }
  const st = stridesOf(shape);
  const offset = starts.reduce((acc, s, i) => acc + s * st[i]!, 0);
  return stridedView(ctx, x, sizes, st, offset, sizeOf(shape));
}

function padBody(this: KernelThis, x: Float32Array): number {
  // Output coordinate minus the low padding is the input coordinate; outside [0, I) reads zero.
  let r = this.thread.x + 0.0;
  let ia = 0.0;
  let inside = 1.0;
  let q = Math.floor((r + 0.5) / this.constants.D5);
  let c = r - q * this.constants.D5 - this.constants.L5;
  if (c < 0.0 || c >= this.constants.I5) inside = 0.0;
  ia = ia + c * this.constants.S5;
  r = q;
  q = Math.floor((r + 0.5) / this.constants.D4);
  c = r - q * this.constants.D4 - this.constants.L4;
  if (c < 0.0 || c >= this.constants.I4) inside = 0.0;
  ia = ia + c * this.constants.S4;
  r = q;
  q = Math.floor((r + 0.5) / this.constants.D3);
  c = r - q * this.constants.D3 - this.constants.L3;
  if (c < 0.0 || c >= this.constants.I3) inside = 0.0;
  ia = ia + c * this.constants.S3;
  r = q;
  q = Math.floor((r + 0.5) / this.constants.D2);
  c = r - q * this.constants.D2 - this.constants.L2;
  if (c < 0.0 || c >= this.constants.I2) inside = 0.0;
  ia = ia + c * this.constants.S2;
  r = q;
  q = Math.floor((r + 0.5) / this.constants.D1);
  c = r - q * this.constants.D1 - this.constants.L1;
  if (c < 0.0 || c >= this.constants.I1) inside = 0.0;
  ia = ia + c * this.constants.S1;
  c = q - this.constants.L0;
  if (c < 0.0 || c >= this.constants.I0) inside = 0.0;
  ia = ia + c * this.constants.S0;
  if (inside === 0.0) {
    return 0.0;
  }
  return x[ia]!;
}

/**
 * Zero padding: `lo[i]` zeros before and `hi[i]` zeros after along axis i (rank ≤ 6).
 *
 * @example
 * ```ts
 * await pad(ctx, new Float32Array([1, 2]), [2], [1], [2]); // [0, 1, 2, 0, 0]
 * ```
 */
export function pad(
  ctx: KernelContext,
  x: KernelInput,
  shape: readonly number[],
  lo: readonly number[],
  hi: readonly number[],
): MaybePromise<KernelValue> {
  if (shape.length > MAX_RANK) throw new RangeError(`pad supports rank ≤ ${MAX_RANK}`);
  if (lo.length !== shape.length || hi.length !== shape.length || [...lo, ...hi].some((p) => !(p >= 0))) {
    throw new RangeError('pad: lo and hi must be non-negative, one per axis');
  }
  const front = MAX_RANK - shape.length;
  const at = (xs: readonly number[], i: number, fill: number) => (i < front ? fill : xs[i - front]!);
  const st = stridesOf(shape);
  const out = shape.map((d, i) => d + lo[i]! + hi[i]!);
  const constants: Record<string, number> = {};
  for (let i = 0; i < MAX_RANK; i++) {
    constants[`D${i}`] = at(out, i, 1);
    constants[`L${i}`] = at(lo, i, 0);
    constants[`I${i}`] = at(shape, i, 1);
    constants[`S${i}`] = at(st, i, 0);
  }
  const kern = ctx.kernel(`pad:${shape.join('x')}:${lo.join(',')}:${hi.join(',')}`, () => ({
    source: padBody,
    size: sizeOf(out),
    constants,
  }));
  // An empty input has nothing to read; any non-empty stand-in works since every cell is padding.
  return ctx.call(kern, [sizeOf(shape) === 0 ? new Float32Array(1) : x]);
}

function concat2Body(this: KernelThis, a: Float32Array, b: Float32Array): number {
  // Output viewed as [outer, NA + NB, inner].
  const w = this.constants.NA + this.constants.NB;
  const o = Math.floor((this.thread.x + 0.5) / (w * this.constants.INNER));
  const rest = this.thread.x - o * w * this.constants.INNER;
  const j = Math.floor((rest + 0.5) / this.constants.INNER);
  const i = rest - j * this.constants.INNER;
  if (j < this.constants.NA) {
    return a[(o * this.constants.NA + j) * this.constants.INNER + i]!;
  }
  return b[(o * this.constants.NB + (j - this.constants.NA)) * this.constants.INNER + i]!;
}

/**
 * Joins tensors along `axis`; all other axes agree. Folds pairwise, one kernel per join.
 *
 * @example
 * ```ts
 * await concat(ctx, [new Float32Array([1, 2]), new Float32Array([3])], [[2], [1]], 0); // [1, 2, 3]
 * ```
 */
export function concat(
  ctx: KernelContext,
  xs: readonly KernelInput[],
  shapes: readonly (readonly number[])[],
  axis: number,
): MaybePromise<KernelValue> {
  if (xs.length === 0 || xs.length !== shapes.length) throw new RangeError('concat: need one shape per input');
  const base = shapes[0]!;
  if (shapes.some((s) => s.length !== base.length || s.some((d, i) => i !== axis && d !== base[i]))) {
    throw new RangeError('concat: shapes disagree off the concatenation axis');
  }
  const outer = sizeOf(base.slice(0, axis));
  const inner = sizeOf(base.slice(axis + 1));
  // Empty pieces contribute nothing and cannot be uploaded; skip them.
  const parts = xs.map((x, i) => ({ x, n: shapes[i]![axis]! })).filter((p) => p.n > 0);
  if (parts.length === 0) throw new RangeError('concat: the result is empty');
  if (parts.length === 1) {
    const n = outer * parts[0]!.n * inner;
    return stridedView(ctx, parts[0]!.x, [n], [1], 0, n);
  }
  // Joins parts[0..p] with parts[p+1], then recurses; intermediate joins are ours to free.
  const join = (acc: KernelInput, na: number, p: number): MaybePromise<KernelValue> => {
    const next = parts[p]!;
    const nb = next.n;
    const kern = ctx.kernel(`concat:${outer}x(${na}+${nb})x${inner}`, () => ({
      source: concat2Body,
      size: outer * (na + nb) * inner,
      constants: { NA: na, NB: nb, INNER: inner },
    }));
    return andThen(ctx.call(kern, [acc, next.x]), (joined) => {
      if (p > 1) ctx.release(acc);
      return p + 1 < parts.length ? join(joined, na + nb, p + 1) : joined;
    });
  };
  return join(parts[0]!.x, parts[0]!.n, 1);
}

function takeBody(this: KernelThis, x: Float32Array, idx: Float32Array): number {
  // Output viewed as [outer, P, inner]; input as [outer, A, inner].
  const o = Math.floor((this.thread.x + 0.5) / (this.constants.P * this.constants.INNER));
  const rest = this.thread.x - o * this.constants.P * this.constants.INNER;
  const p = Math.floor((rest + 0.5) / this.constants.INNER);
  const i = rest - p * this.constants.INNER;
  return x[(o * this.constants.A + idx[p]!) * this.constants.INNER + i]!;
}

/** Validates integer indices against an axis of length `n` and resolves negative ones. */
function resolveIndices(indices: ArrayLike<number>, n: number): Float32Array {
  const out = new Float32Array(indices.length);
  for (let t = 0; t < indices.length; t++) {
    let v = indices[t]!;
    if (!Number.isInteger(v) || v < -n || v >= n) throw new RangeError(`index ${v} out of range for an axis of ${n}`);
    if (v < 0) v += n;
    out[t] = v;
  }
  return out;
}

/**
 * `numpy.take(x, indices, axis)` with flat integer `indices`: the output shape is
 * `shape[:axis] ++ [indices.length] ++ shape[axis+1:]`. Negative indices count from the end.
 *
 * @example
 * ```ts
 * await take(ctx, new Float32Array([1, 2, 3, 4, 5, 6]), [3, 2], [2, 0, 2], 0); // [5, 6, 1, 2, 5, 6]
 * ```
 */
export function take(
  ctx: KernelContext,
  x: KernelInput,
  shape: readonly number[],
  indices: ArrayLike<number>,
  axis: number,
): MaybePromise<KernelValue> {
  const a = shape[axis]!;
  const idx = resolveIndices(indices, a);
  const outer = sizeOf(shape.slice(0, axis));
  const inner = sizeOf(shape.slice(axis + 1));
  const kern = ctx.kernel(`take:${outer}x${a}x${inner}:${idx.length}`, () => ({
    source: takeBody,
    size: outer * idx.length * inner,
    constants: { A: a, P: idx.length, INNER: inner },
  }));
  return ctx.call(kern, [x, idx]);
}

function scatterAddBody(this: KernelThis, g: Float32Array, order: Float32Array, start: Float32Array): number {
  // Output viewed as [outer, S, inner]; g as [outer, P, inner]. Cell (o, j, i) sums the g rows
  // whose index is j: order[start[j] .. start[j+1]) lists them (built on the host, so the kernel
  // gathers instead of scattering, which GPUs cannot do without atomics).
  const o = Math.floor((this.thread.x + 0.5) / (this.constants.S * this.constants.INNER));
  const rest = this.thread.x - o * this.constants.S * this.constants.INNER;
  const j = Math.floor((rest + 0.5) / this.constants.INNER);
  const i = rest - j * this.constants.INNER;
  const s = start[j]!;
  const count = start[j + 1]! - s;
  let acc = 0.0;
  for (let t = 0; t < this.constants.MAXC; t++) {
    if (t >= count) break;
    acc = acc + g[(o * this.constants.P + order[s + t]!) * this.constants.INNER + i]!;
  }
  return acc;
}

/**
 * The transpose of {@link take}: a zero tensor of shape `gShape[:axis] ++ [axisSize] ++ rest`
 * into which the slices of `g` are added at `indices` (repeated indices accumulate).
 *
 * @example
 * ```ts
 * await scatterAdd(ctx, new Float32Array([1, 2, 3]), [3], [0, 2, 0], 0, 3); // [4, 0, 2]
 * ```
 */
export function scatterAdd(
  ctx: KernelContext,
  g: KernelInput,
  gShape: readonly number[],
  indices: ArrayLike<number>,
  axis: number,
  axisSize: number,
): MaybePromise<KernelValue> {
  const idx = resolveIndices(indices, axisSize);
  const p = idx.length;
  if (gShape[axis] !== p) throw new RangeError(`scatterAdd: g has ${gShape[axis]} slices for ${p} indices`);
  const outer = sizeOf(gShape.slice(0, axis));
  const inner = sizeOf(gShape.slice(axis + 1));
  const size = outer * axisSize * inner;
  if (p === 0) return fill(ctx, size, 0);
  // Counting sort of the slice numbers by target index: a CSR of "who lands on j".
  const start = new Float32Array(axisSize + 1);
  for (const v of idx) start[v + 1]! += 1;
  let maxCount = 0;
  for (let j = 0; j < axisSize; j++) {
    maxCount = Math.max(maxCount, start[j + 1]!);
    start[j + 1]! += start[j]!;
  }
  const cursor = start.slice(0, axisSize);
  const order = new Float32Array(p);
  idx.forEach((v, t) => (order[cursor[v]!++] = t));
  const kern = ctx.kernel(`scatterAdd:${outer}x${p}x${inner}:${axisSize}:${maxCount}`, () => ({
    source: scatterAddBody,
    size,
    constants: { S: axisSize, P: p, INNER: inner, MAXC: maxCount },
    maxLoop: maxCount,
  }));
  return ctx.call(kern, [g, order, start]);
}

function fillBody(this: KernelThis, v: number): number {
  // The value is an argument, not a constant, so one compiled kernel serves every fill value.
  return v;
}

/**
 * A tensor of `size` elements all equal to `value`.
 *
 * @example
 * ```ts
 * await fill(ctx, 3, 0.5); // Float32Array [0.5, 0.5, 0.5]
 * ```
 */
export function fill(ctx: KernelContext, size: number, value: number): MaybePromise<KernelValue> {
  const kern = ctx.kernel(`fill:${size}`, () => ({ source: fillBody as never, size }));
  return ctx.call(kern, [value]);
}

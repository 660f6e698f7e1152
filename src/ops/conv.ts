/**
 * 2-D convolution and pooling in the layout of torch.nn.functional and of JAX's `lax.conv`
 * defaults: images `[N, C, H, W]`, kernels `[O, C, kh, kw]`. Cross-correlation, as every deep
 * learning library computes it: y[n, o, i, j] = Σ_{c,a,b} x[n, c, i·sh + a − pt, j·sw + b − pl] · w[o, c, a, b].
 *
 * Design: the convolution is one primitive family, `conv` with its two transposes
 * `convInputGrad` and `convKernelGrad` (src/prims/conv.ts), channels first, padding read as zeros.
 * The three are bilinear and each one's VJPs are the other two, so JVP, VJP, vmap and every higher
 * order (HVPs of a CNN, the L2RW meta-gradient) stay exact: the JVP is conv(ẋ, w) + conv(x, ẇ), the
 * VJP for x is the transposed convolution and for w the correlation of x with the cotangent. The
 * family earns its place by speed (tinygrad's rule): it replaced a composite (pad → channels-last
 * transpose → `take` (im2col) → `gemm` → transpose back) that materialised kh·kw copies of the
 * input (63 MB for LeNet's second layer at batch 100) and packed them again for the GEMM; the
 * fast CPU backend now packs each window straight into the GEMM kernel's panels. Backends without
 * a direct path (the reference oracle, gpu.js) run that same composite on backend ops
 * (`src/backend/conv-composed.ts`), which is the family's definition and what the tests compare
 * the direct path against. A vmapped image batch with shared kernels folds into the image axis
 * (per-example gradients stay large products).
 *
 * Padding follows TensorFlow for `'same'` (out = ⌈in/stride⌉, pad_total = max((out−1)·stride + k − in, 0),
 * pad_before = ⌊pad_total/2⌋, pad_after = the rest, so odd totals put the extra zero after) and
 * `'valid'` (no padding); a number p or a pair [ph, pw] pads both sides of each axis equally (torch).
 *
 * Pooling runs over the last two axes of any tensor of rank ≥ 2 (so `[N, C, H, W]` and `[C, H, W]`
 * both work):
 * - max pooling is `windowMaxGather(x, x)` (src/prims/max-pool.ts): the mean of x over each
 *   window's maximising positions, which is the maximum. Padding never wins. The derivative is
 *   split equally among tied maxima of a window (as JAX does; torch gives it all to the first
 *   maximum), and overlapping windows each send their share, so an element that is the maximum of
 *   two windows collects from both: the same rule `reduceMax` over gathered windows gives, in one
 *   pass instead of a gather to 2.25× the input and seven passes over it (that composition is the
 *   fallback for backends without a direct loop);
 * - average pooling gathers each window with `take` (padded positions gather one 0 entry appended
 *   to each plane) and sums it:
 *   it divides by the number of real (unpadded) entries in each window: TensorFlow's SAME
 *   behaviour, and torch's `count_include_pad=False`.
 *
 * proofs/conv.md derives all of this; test/ops/conv.test.ts checks it.
 *
 * @module
 */
import type { Tensor, TensorLike } from '../core/tensor.ts';
import { fmt } from '../base/shape.ts';
import * as p from '../prims/index.ts';
import { add, mul } from './arith.ts';
import { asTensor, full, tensor } from '../core/create.ts';

/** A window size or stride of a 2-D window op: one number for both axes, or `[rows, cols]`. */
export type Size2d = number | readonly [number, number];

/** Padding of a 2-D window op: a number, `[ph, pw]` (both sides of each axis), `'same'` or `'valid'`. */
export type Padding2d = number | readonly [number, number] | 'same' | 'valid';

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  /** Step between windows, one number or `[sh, sw]`. Default 1. */
  stride?: Size2d;
  /** Default `'valid'` (no padding), as in torch and `lax.conv`. */
  padding?: Padding2d;
  /**
   * One bias per output channel, `[O]`, added in the same pass as the product (the same as
   * {@link addChannelBias} on the result, without its broadcast and extra pass). Default: none.
   */
  bias?: TensorLike;
}

/** Options of {@link maxPool2d} and {@link avgPool2d}. */
export interface Pool2dOptions {
  /** Window size, one number or `[kh, kw]`. */
  size: Size2d;
  /** Step between windows. Default: the window size (non-overlapping windows, as torch). */
  stride?: Size2d;
  /** Default `'valid'`. */
  padding?: Padding2d;
}

/** One axis of a window op: input size, window, stride, padding before and after, output size. */
interface AxisPlan {
  size: number;
  k: number;
  stride: number;
  before: number;
  after: number;
  out: number;
}

function pair(op: string, what: string, v: number | readonly [number, number], min: number): [number, number] {
  const [a, b] = typeof v === 'number' ? [v, v] : v;
  for (const x of [a, b]) {
    if (!Number.isInteger(x) || x! < min) throw new Error(`${op}: ${what} must be integers ≥ ${min}, got ${JSON.stringify(v)}`);
  }
  return [a!, b!];
}

/**
 * TensorFlow's SAME padding for one axis: `[before, after]` with out = ⌈in/stride⌉,
 * total = max((out − 1)·stride + k − in, 0), before = ⌊total/2⌋, after = total − before.
 *
 * @example
 * ```ts
 * samePadding(28, 5, 1); // [2, 2]
 * samePadding(28, 3, 2); // [0, 1]: out 14, total (13·2 + 3 − 28) = 1, the odd zero goes after
 * samePadding(7, 3, 2);  // [1, 1]: out 4
 * ```
 */
export function samePadding(size: number, k: number, stride: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + k - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

function plan(op: string, size: number, k: number, stride: number, padding: 'same' | 'valid' | number): AxisPlan {
  const [before, after] = padding === 'same' ? samePadding(size, k, stride) : padding === 'valid' ? [0, 0] : [padding, padding];
  if (size + before + after < k) {
    throw new Error(`${op}: a window of ${k} does not fit an axis of ${size} padded by [${before}, ${after}]`);
  }
  const out = Math.floor((size + before + after - k) / stride) + 1;
  return { size, k, stride, before, after, out };
}

function plans(op: string, h: number, w: number, k: [number, number], stride: [number, number], padding: Padding2d): [AxisPlan, AxisPlan] {
  if (padding === 'same' || padding === 'valid') return [plan(op, h, k[0], stride[0], padding), plan(op, w, k[1], stride[1], padding)];
  if (typeof padding === 'string') throw new Error(`${op}: padding must be a number, a pair, 'same' or 'valid', got '${padding as string}'`);
  const [ph, pw] = pair(op, 'padding', padding, 0);
  return [plan(op, h, k[0], stride[0], ph), plan(op, w, k[1], stride[1], pw)];
}

/**
 * Flat indices into a padded [Hp, Wp] plane of every window's entries, in shape [Ho, Wo, kh, kw]
 * (row-major window order). Cached: a network asks for the same few layouts at every step.
 */
const windowCache = new Map<string, Float64Array>();
function windowIndices(ph: AxisPlan, pw: AxisPlan): Float64Array {
  const wp = pw.size + pw.before + pw.after;
  const key = `${ph.out},${pw.out},${ph.k},${pw.k},${ph.stride},${pw.stride},${wp}`;
  let idx = windowCache.get(key);
  if (idx) return idx;
  idx = new Float64Array(ph.out * pw.out * ph.k * pw.k);
  let q = 0;
  for (let i = 0; i < ph.out; i++) {
    for (let j = 0; j < pw.out; j++) {
      for (let a = 0; a < ph.k; a++) {
        for (let b = 0; b < pw.k; b++) idx[q++] = (i * ph.stride + a) * wp + j * pw.stride + b;
      }
    }
  }
  if (windowCache.size > 64) windowCache.clear();
  windowCache.set(key, idx);
  return idx;
}

/**
 * The most float64 entries one gathered band may hold: 2²¹ (16 MB). An array above the C
 * allocator's mmap threshold (glibc's tops out at 32 MB) is mapped fresh and page-faulted in on
 * every call, which costs more than the gather itself; smaller blocks are reused from the heap. So
 * the output rows are split into bands that each gather at most this much (LeNet's second layer at
 * batch 100: four bands instead of one 63 MB matrix). Bands change no value and no derivative.
 * (Average pooling uses them; convolution chunks its images inside the backend instead.)
 */
const BAND_ENTRIES = 1 << 21;

/** [first output row, rows] of each band when one output row gathers `perRow` entries. */
function bands(rows: number, perRow: number): [number, number][] {
  const step = Math.max(1, Math.floor(BAND_ENTRIES / Math.max(1, perRow)));
  const out: [number, number][] = [];
  for (let i = 0; i < rows; i += step) out.push([i, Math.min(step, rows - i)]);
  return out;
}

/** The indices of output rows [i0, i0 + r) of a window layout (a cached view of `idx`). */
function bandOf(idx: Float64Array, perRow: number, i0: number, r: number): Float64Array {
  return i0 === 0 && r * perRow === idx.length ? idx : idx.subarray(i0 * perRow, (i0 + r) * perRow);
}

/**
 * 2-D cross-correlation (what torch's `conv2d` and `lax.conv` compute): x `[N, C, H, W]` (or one
 * image `[C, H, W]`) with kernels w `[O, C, kh, kw]` gives `[N, O, Ho, Wo]` (or `[O, Ho, Wo]`),
 * Ho = ⌊(H + pad_h − kh)/sh⌋ + 1, plus an optional bias per output channel (`bias`). Differentiable in
 * both arguments at any order, and batches under `vmap` (module notes: the `conv` primitive family).
 *
 * @param x images `[N, C, H, W]` or `[C, H, W]`.
 * @param w kernels `[O, C, kh, kw]`.
 * @param options stride (default 1), padding (default `'valid'`; `'same'` is TensorFlow's rule) and bias `[O]`.
 *
 * @example
 * ```ts
 * const x = reshape(arange(16), [1, 1, 4, 4]);
 * conv2d(x, ones([1, 1, 2, 2])).toArray();                 // [[[[10, 14, 18], [26, 30, 34], [42, 46, 50]]]]
 * conv2d(x, ones([2, 1, 3, 3]), { padding: 'same' }).shape; // [1, 2, 4, 4]
 * conv2d(x, ones([1, 1, 3, 3]), { stride: 2, padding: 1 }).shape; // [1, 1, 2, 2]
 * conv2d(x, ones([1, 1, 2, 2]), { bias: [1] }).toArray();  // [[[[11, 15, 19], [27, 31, 35], [43, 47, 51]]]]
 * ```
 */
export function conv2d(x: TensorLike, w: TensorLike, { stride = 1, padding = 'valid', bias }: Conv2dOptions = {}): Tensor {
  const xt0 = asTensor(x);
  const wt = asTensor(w);
  const single = xt0.ndim === 3;
  const xt = single ? p.reshape(xt0, [1, ...xt0.shape]) : xt0;
  if (xt.ndim !== 4) throw new Error(`conv2d: x must be [N, C, H, W] or [C, H, W], got ${fmt(xt0.shape)}`);
  if (wt.ndim !== 4) throw new Error(`conv2d: w must be [O, C, kh, kw], got ${fmt(wt.shape)}`);
  const [n, c, h, wd] = xt.shape as [number, number, number, number];
  const [o, c2, kh, kw] = wt.shape as [number, number, number, number];
  if (c !== c2) throw new Error(`conv2d: x has ${c} channels (shape ${fmt(xt0.shape)}) but w expects ${c2} (shape ${fmt(wt.shape)})`);
  const s = pair('conv2d', 'strides', stride, 1);
  const [ph, pw] = plans('conv2d', h, wd, [kh, kw], s, padding);
  // The convolution primitive (src/prims/conv.ts): channels first in and out, padding read as zeros.
  const plan = { c, o, h, w: wd, kh, kw, sh: s[0], sw: s[1], top: ph.before, left: pw.before, ho: ph.out, wo: pw.out };
  const bt = bias === undefined ? undefined : asTensor(bias);
  if (bt && (bt.ndim !== 1 || bt.shape[0] !== o)) throw new Error(`conv2d: bias must be [O] = [${o}] for w ${fmt(wt.shape)}, got ${fmt(bt.shape)}`);
  const out = p.conv(xt, wt, plan, bt);
  return single ? p.reshape(out, out.shape.slice(1)) : out;
}

/**
 * Adds one bias per channel to a feature map: y `[N, O, H, W]` (or `[O, H, W]`) plus b `[O]`,
 * broadcast over the batch and the plane (the same as `add(y, reshape(b, [1, O, 1, 1]))`).
 *
 * @example
 * ```ts
 * addChannelBias(zeros([1, 2, 1, 2]), tensor([1, -1])).toArray(); // [[[[1, 1]], [[-1, -1]]]]
 * ```
 */
export function addChannelBias(y: TensorLike, b: TensorLike): Tensor {
  const yt = asTensor(y);
  const bt = asTensor(b);
  const o = yt.shape[yt.ndim - 3];
  if ((yt.ndim !== 3 && yt.ndim !== 4) || bt.ndim !== 1 || bt.shape[0] !== o) {
    throw new Error(`addChannelBias: need y [N, O, H, W] or [O, H, W] and b [O], got ${fmt(yt.shape)} and ${fmt(bt.shape)}`);
  }
  return add(yt, p.reshape(bt, [o!, 1, 1]));
}

/**
 * Flat indices of every window's entries in the UNPADDED [H, W] plane, shape [Ho, Wo, kh·kw]; a
 * position in the padding points at index H·W, one sentinel entry appended to the plane (−∞ for
 * max pooling, 0 for average pooling). One small concat replaces pad + mask + select.
 */
function poolIndices(ph: AxisPlan, pw: AxisPlan): Float64Array {
  const key = `pool ${ph.size},${pw.size},${ph.k},${pw.k},${ph.stride},${pw.stride},${ph.before},${pw.before},${ph.out},${pw.out}`;
  let idx = windowCache.get(key);
  if (idx) return idx;
  const sentinel = ph.size * pw.size;
  idx = new Float64Array(ph.out * pw.out * ph.k * pw.k);
  let q = 0;
  for (let i = 0; i < ph.out; i++) {
    for (let j = 0; j < pw.out; j++) {
      for (let a = 0; a < ph.k; a++) {
        const r = i * ph.stride + a - ph.before;
        for (let b = 0; b < pw.k; b++) {
          const c = j * pw.stride + b - pw.before;
          idx[q++] = r >= 0 && r < ph.size && c >= 0 && c < pw.size ? r * pw.size + c : sentinel;
        }
      }
    }
  }
  if (windowCache.size > 64) windowCache.clear();
  windowCache.set(key, idx);
  return idx;
}

/**
 * `reduce` applied to every window of a pooling op over x's last two axes: the windows are gathered
 * as [..., r, Wo, kh·kw] bands of output rows, reduced over their last axis, and joined: [..., Ho, Wo].
 */
function poolPlans(op: string, x: Tensor, options: Pool2dOptions): [AxisPlan, AxisPlan] {
  if (x.ndim < 2) throw new Error(`${op}: x needs at least two axes (…, H, W), got ${fmt(x.shape)}`);
  const k = pair(op, 'window sizes', options.size, 1);
  const s = pair(op, 'strides', options.stride ?? k, 1);
  const [h, w] = x.shape.slice(-2) as [number, number];
  const [ph, pw] = plans(op, h, w, k, s, options.padding ?? 'valid');
  for (const a of [ph, pw]) {
    // A window made only of padding has no maximum and no average (torch requires padding ≤ k/2).
    if (a.before >= a.k || (a.out - 1) * a.stride >= a.before + a.size) {
      throw new Error(`${op}: padding [${a.before}, ${a.after}] leaves a window of ${a.k} with no input entry (axis of ${a.size}, stride ${a.stride})`);
    }
  }
  return [ph, pw];
}

function pool(op: string, x: Tensor, options: Pool2dOptions, padValue: number, reduce: (win: Tensor, axis: number) => Tensor): { y: Tensor; ph: AxisPlan; pw: AxisPlan } {
  const [ph, pw] = poolPlans(op, x, options);
  const k = [ph.k, pw.k];
  const [h, w] = x.shape.slice(-2) as [number, number];
  const lead = x.shape.slice(0, -2);
  const b = lead.reduce((m, d) => m * d, 1);
  const padded = ph.before + ph.after + pw.before + pw.after > 0;
  let flat = p.reshape(x, [b, h * w]);
  if (padded) flat = p.concat([flat, full([b, 1], padValue)], 1); // the sentinel entry, index h·w
  const idx = padded ? poolIndices(ph, pw) : windowIndices(ph, pw);
  const kk = k[0] * k[1];
  const perRow = pw.out * kk;
  const parts = bands(ph.out, b * perRow).map(([i0, r]) => {
    const band = bandOf(idx, perRow, i0, r);
    const win = p.take(flat, band, [band.length], 1); // one flat index axis, as in conv2d
    return reduce(p.reshape(win, [...lead, r, pw.out, kk]), lead.length + 2);
  });
  return { y: parts.length === 1 ? parts[0]! : p.concat(parts, lead.length), ph, pw };
}

/**
 * Max pooling over the last two axes (x `[N, C, H, W]`, `[C, H, W]`, …). Padding is −∞, so it is
 * never a maximum (torch and TensorFlow agree). Ties: the derivative is split equally among the
 * tied maxima of each window (the rule of `reduceMax`, as in JAX; torch sends all of it to the first
 * maximum), and a value that is the maximum of several overlapping windows collects from each.
 *
 * @param options `size`, `stride` (default: `size`), `padding` (default `'valid'`).
 *
 * @example
 * ```ts
 * const x = reshape(arange(16), [1, 1, 4, 4]);
 * maxPool2d(x, { size: 2 }).toArray();                              // [[[[5, 7], [13, 15]]]]
 * maxPool2d(x, { size: 3, stride: 2, padding: 'same' }).toArray(); // [[[[10, 11], [14, 15]]]]
 * ```
 */
export function maxPool2d(x: TensorLike, options: Pool2dOptions): Tensor {
  const xt = asTensor(x);
  const [ph, pw] = poolPlans('maxPool2d', xt, options);
  // The selection primitives (src/prims/max-pool.ts): max pooling is the mean of x over each
  // window's maximising positions, one pass, with rules that are each other's transpose.
  const win = { kh: ph.k, kw: pw.k, sh: ph.stride, sw: pw.stride, top: ph.before, left: pw.before, ho: ph.out, wo: pw.out };
  return p.windowMaxGather(xt, xt, win);
}

/**
 * Average pooling over the last two axes. At padded borders it divides by the number of real
 * entries in the window, not the window size: TensorFlow's SAME behaviour, and torch's
 * `avg_pool2d(…, count_include_pad=False)` (torch's default, `True`, would divide by kh·kw).
 *
 * @param options `size`, `stride` (default: `size`), `padding` (default `'valid'`).
 *
 * @example
 * ```ts
 * const x = reshape(arange(16), [1, 1, 4, 4]);
 * avgPool2d(x, { size: 2 }).toArray();                  // [[[[2.5, 4.5], [10.5, 12.5]]]]
 * avgPool2d(ones([1, 1, 3, 3]), { size: 2, padding: 1 }).toArray(); // all 1: padding is not counted
 * ```
 */
export function avgPool2d(x: TensorLike, options: Pool2dOptions): Tensor {
  const { y: sums, ph, pw } = pool('avgPool2d', asTensor(x), options, 0, (win, axis) => p.reduceSum(win, [axis]));
  // 1 / (real entries per window): the product of the real lengths along each axis.
  const real = (a: AxisPlan, i: number) => Math.min(i * a.stride + a.k, a.before + a.size) - Math.max(i * a.stride, a.before);
  const inv = new Float64Array(ph.out * pw.out);
  for (let i = 0; i < ph.out; i++) for (let j = 0; j < pw.out; j++) inv[i * pw.out + j] = 1 / (real(ph, i) * real(pw, j));
  return mul(sums, tensor(inv, [ph.out, pw.out]));
}

/**
 * The backend interface: the only place where numbers are actually computed.
 *
 * Everything above this layer (primitives, transformations, models) talks about tensors and shapes;
 * a backend receives opaque storage handles plus the shapes it needs and returns new storage. All
 * storage is dense and row-major. A backend never mutates its inputs, so a storage handle can be
 * shared by many tensors (reshape is free).
 *
 * Three backends implement it: `reference` (float64, plain TypeScript in `cpu.ts`: the oracle
 * every test compares against), `cpu` (float64, the default: the oracle with its matrix products on
 * a WebAssembly SIMD kernel over all cores, `wasm/`; tested against `reference` with derived
 * bounds) and `gpu` (float32, gpu.js kernels from `kernels/`).
 *
 * @module
 */

import type { BinaryOp, ReduceOp, UnaryOp } from '../base/op-list.ts';

// The op vocabulary lives in the bottom layer (one `as const` list per kind); backends implement it.
export type { BinaryOp, ReduceOp, UnaryOp };

/** Opaque storage owned by one backend (a `Float64Array` on the CPU). */
export type Storage = unknown;

/**
 * What a backend must provide. Shapes are plain `number[]`; sizes are products of shapes. Every
 * method returns fresh storage and leaves its inputs untouched.
 */
export interface Backend {
  /** A short name: `'cpu'` (both float64 backends) or `'gpu'`. */
  readonly name: string;
  /** The precision results are computed in; tests pick their tolerances from it. */
  readonly precision: 'float64' | 'float32';

  /** Copies host numbers into backend storage. */
  fromFloat64(data: Float64Array): Storage;
  /** Reads storage back to the host (a fresh array the caller may keep). */
  toFloat64(s: Storage, size: number): Float64Array;
  /**
   * Reads storage back without blocking (backends whose kernels are asynchronous, such as gpu.js
   * `webgpu`, can only read this way). Optional: when absent, `toFloat64` is used.
   */
  toFloat64Async?(s: Storage, size: number): Promise<Float64Array>;
  /**
   * Frees device memory now (see `tidy`), or on the CPU gives the array back for reuse
   * (`f64-pool.ts`). Using released storage afterwards is an error.
   */
  release?(s: Storage): void;
  /**
   * Whether `s` was released (`tidy`, `dispose`): the engine refuses to compute with it. Backends
   * that detect use after release in their kernels need not say.
   */
  isReleased?(s: Storage): boolean;
  /** A tensor of `size` elements all equal to `value`. */
  fill(size: number, value: number): Storage;

  /** Applies an elementwise function of one argument to `size` elements. */
  unary(op: UnaryOp, x: Storage, size: number): Storage;
  /** Applies an elementwise function of two same-sized arguments. */
  binary(op: BinaryOp, a: Storage, b: Storage, size: number): Storage;
  /** `cond ≠ 0 ? a : b`, elementwise, all three the same size. */
  select(cond: Storage, a: Storage, b: Storage, size: number): Storage;
  /** Reduces `axes` (sorted, distinct) away; the result has shape `shape` without those axes. */
  reduce(op: ReduceOp, x: Storage, shape: readonly number[], axes: readonly number[]): Storage;
  /** Numpy broadcasting from `shape` (same rank as `to`, size-1 axes stretched) to `to`. */
  broadcast(x: Storage, shape: readonly number[], to: readonly number[]): Storage;
  /** Permutes axes: output axis i is input axis `perm[i]`. */
  transpose(x: Storage, shape: readonly number[], perm: readonly number[]): Storage;
  /** The box `[starts, starts + sizes)`. */
  slice(x: Storage, shape: readonly number[], starts: readonly number[], sizes: readonly number[]): Storage;
  /** Zero padding: `lo[i]` zeros before and `hi[i]` after along axis i. */
  pad(x: Storage, shape: readonly number[], lo: readonly number[], hi: readonly number[]): Storage;
  /** Joins tensors along `axis`; all other axes agree. */
  concat(xs: readonly Storage[], shapes: readonly (readonly number[])[], axis: number): Storage;
  /**
   * `numpy.take(x, indices, axis)`: the output shape is
   * `shape[:axis] ++ indicesShape ++ shape[axis+1:]`. Indices are integers stored as floats.
   */
  take(x: Storage, shape: readonly number[], indices: Float64Array, axis: number): Storage;
  /**
   * The transpose of `take`: a zero tensor of shape `shape[:axis] ++ [axisSize] ++ rest` into
   * which the slices of `g` are added at `indices` (repeated indices accumulate). `gShape` has one
   * index axis, `gShape[axis] = indices.length` (the primitive collapses a multi-axis index first).
   */
  scatterAdd(
    g: Storage,
    gShape: readonly number[],
    indices: Float64Array,
    axis: number,
    axisSize: number,
  ): Storage;
  /**
   * Batched matrix product C[b] = op(A[b]) op(B[b]) where op transposes when asked.
   * Stored shapes: A is [batch, m, k] (or [batch, k, m] when `transA`), B is [batch, k, n]
   * (or [batch, n, k] when `transB`); C is [batch, m, n].
   */
  matmul(
    a: Storage,
    b: Storage,
    batch: number,
    m: number,
    k: number,
    n: number,
    transA: boolean,
    transB: boolean,
  ): Storage;
  /**
   * Max pooling's selection, over `planes` planes of `h × w` (row-major, the planes stacked), with
   * the windows of `win` (positions in the padding never count). For each window let S be the
   * positions where `x` attains the window's maximum (a window holding NaN: every position):
   * - `'gather'`: the mean of `t` over S, one value per window: `[planes, ho, wo]`;
   * - `'scatter'`: its transpose in t, `g[window] / |S|` added at each position of S: `[planes, h, w]`.
   * Optional: `src/prims/max-pool.ts` composes it from `take`, `reduce` and elementwise ops where
   * a backend lacks it.
   */
  windowMax?(op: 'gather' | 'scatter', x: Storage, t: Storage, planes: number, h: number, w: number, win: WindowPlan): Storage;
  /**
   * 2-D cross-correlation and its two transposes, channels first, over `groups` independent
   * problems stacked in front (each with its own images and kernels; 1 outside `vmap`), with the
   * geometry of `plan` (positions outside the `h × w` plane read as zero):
   * - `'forward'`: a = x `[groups, n, c, h, w]`, b = kernels `[groups, o, c, kh, kw]` → y `[groups, n, o, ho, wo]`,
   *   y[n, o, i, j] = Σ_{c,a,b} x[n, c, i·sh − top + a, j·sw − left + b] · k[o, c, a, b];
   * - `'inputGrad'`: a = g `[groups, n, o, ho, wo]`, b = kernels → `[groups, n, c, h, w]`, the transpose in x;
   * - `'kernelGrad'`: a = x, b = g → `[groups, o, c, kh, kw]`, the transpose in the kernels.
   * `bias` (`'forward'` only, `[groups, o]`) is added to every output of its channel.
   * Optional: `src/prims/conv.ts` composes it from `pad`, `take`, `transpose`, `matmul`,
   * `scatterAdd` and `slice` where a backend lacks it.
   */
  conv?(op: ConvOp, a: Storage, b: Storage, groups: number, n: number, plan: ConvPlan, bias?: Storage): Storage;
}

/** The three products of a convolution (see `Backend.conv`). */
export type ConvOp = 'forward' | 'inputGrad' | 'kernelGrad';

/**
 * The geometry of a 2-D convolution: `c` input and `o` output channels, an `h × w` input plane,
 * `kh × kw` kernels at strides `sh`, `sw`, the zero padding before each axis (`top`, `left`; the
 * padding after is implied by the output size `ho × wo`). Output (i, j) reads rows
 * `i·sh − top + a` and columns `j·sw − left + b` of the input, a < kh, b < kw.
 */
export interface ConvPlan extends WindowPlan {
  /** Input channels. */
  c: number;
  /** Output channels (kernels). */
  o: number;
  /** Input height. */
  h: number;
  /** Input width. */
  w: number;
}

/**
 * The windows of a 2-D pooling op over an `h × w` plane: size `kh × kw`, strides `sh`, `sw`, the
 * padding before each axis (`top`, `left`; the padding after is implied by the output size), and
 * the output size `ho × wo`. Window (i, j) covers rows `i·sh − top + a` and columns `j·sw − left + b`.
 */
export interface WindowPlan {
  /** Window height. */
  kh: number;
  /** Window width. */
  kw: number;
  /** Vertical stride. */
  sh: number;
  /** Horizontal stride. */
  sw: number;
  /** Padding rows before the first input row. */
  top: number;
  /** Padding columns before the first input column. */
  left: number;
  /** Output height. */
  ho: number;
  /** Output width. */
  wo: number;
}

/**
 * The zero-padded plane a {@link ConvPlan} reads: `[hp, wp, bottom, right]`, with every window
 * inside it (hp = max(top + h, (ho − 1)·sh + kh), likewise wp) and the zero rows and columns it
 * adds after the input (bottom = hp − top − h, right = wp − left − w).
 *
 * @example
 * ```ts
 * // 28 × 28, 5 × 5 kernels, SAME at stride 1: two zeros on every side
 * convPaddedPlane({ c: 1, o: 16, h: 28, w: 28, kh: 5, kw: 5, sh: 1, sw: 1, top: 2, left: 2, ho: 28, wo: 28 }); // [32, 32, 2, 2]
 * ```
 */
export function convPaddedPlane(plan: ConvPlan): [number, number, number, number] {
  const hp = Math.max(plan.top + plan.h, (plan.ho - 1) * plan.sh + plan.kh);
  const wp = Math.max(plan.left + plan.w, (plan.wo - 1) * plan.sw + plan.kw);
  return [hp, wp, hp - plan.top - plan.h, wp - plan.left - plan.w];
}

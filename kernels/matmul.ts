/**
 * Batched matrix product with optional transposed operands.
 *
 * gpu.js exposes neither workgroup shared memory nor thread groups, so the shared-memory tiling of
 * a CUDA matmul cannot be written here. What can be tiled is the reduction: each output cell walks
 * k in blocks of four with four independent accumulators. That removes three quarters of the loop
 * bookkeeping, gives the shader compiler four independent multiply-add chains to schedule, and
 * shortens each float32 accumulation chain fourfold (the rounding-error bound keeps its form, γ_k,
 * but the typical error drops). Transposes cost nothing: they only change the strides.
 *
 * @module
 */
import type { KernelContext, KernelInput, KernelValue, MaybePromise } from './context.ts';
import type { KernelThis } from './types.ts';

/** The shape of a (batched) matrix product C[b] = op(A[b]) · op(B[b]). */
export interface MatmulShape {
  /** Number of independent products; 1 for a plain matmul. */
  batch?: number;
  m: number;
  k: number;
  n: number;
  /** A is stored [batch, k, m] and used transposed. */
  transA?: boolean;
  /** B is stored [batch, n, k] and used transposed. */
  transB?: boolean;
  /**
   * Set to 0 to use one B for every batch entry (a shared weight matrix); the default is one B per
   * batch entry.
   */
  bBatchStride?: number;
}

function matmulBody(this: KernelThis, a: Float32Array, b: Float32Array): number {
  const row = Math.floor((this.thread.x + 0.5) / this.constants.N); // batch·M + i
  const j = this.thread.x - row * this.constants.N;
  const bt = Math.floor((row + 0.5) / this.constants.M);
  const i = row - bt * this.constants.M;
  let pa = bt * this.constants.AB + i * this.constants.AI;
  let pb = bt * this.constants.BB + j * this.constants.BJ;
  let s0 = 0.0;
  let s1 = 0.0;
  let s2 = 0.0;
  let s3 = 0.0;
  for (let t = 0; t < this.constants.K4; t++) {
    s0 = s0 + a[pa]! * b[pb]!;
    s1 = s1 + a[pa + this.constants.AK]! * b[pb + this.constants.BK]!;
    s2 = s2 + a[pa + 2.0 * this.constants.AK]! * b[pb + 2.0 * this.constants.BK]!;
    s3 = s3 + a[pa + 3.0 * this.constants.AK]! * b[pb + 3.0 * this.constants.BK]!;
    pa = pa + 4.0 * this.constants.AK;
    pb = pb + 4.0 * this.constants.BK;
  }
  for (let t = 0; t < this.constants.KR; t++) {
    s0 = s0 + a[pa]! * b[pb]!;
    pa = pa + this.constants.AK;
    pb = pb + this.constants.BK;
  }
  return s0 + s1 + (s2 + s3);
}

/**
 * C[b] = op(A[b]) · op(B[b]) for `b < batch`, all row-major and flat. A is [batch, m, k] (or
 * [batch, k, m] with `transA`), B is [batch, k, n] (or [batch, n, k] with `transB`, and shared by
 * every batch entry when `bBatchStride` is 0); C is [batch, m, n]. `k` may be 0 (C is zero).
 *
 * @example
 * ```ts
 * const c = await matmul(ctx, new Float32Array([1, 2, 3, 4]), new Float32Array([5, 6, 7, 8]), { m: 2, k: 2, n: 2 });
 * // Float32Array [19, 22, 43, 50]
 * ```
 */
export function matmul(
  ctx: KernelContext,
  a: KernelInput,
  b: KernelInput,
  shape: MatmulShape,
): MaybePromise<KernelValue> {
  const { m, k, n } = shape;
  const batch = shape.batch ?? 1;
  const transA = shape.transA ?? false;
  const transB = shape.transB ?? false;
  const bBatch = shape.bBatchStride ?? k * n;
  for (const [name, v] of [['batch', batch], ['m', m], ['k', k], ['n', n]] as const) {
    if (!Number.isInteger(v) || v < (name === 'k' ? 0 : 1)) throw new RangeError(`matmul: bad ${name} = ${v}`);
  }
  const key = `matmul:${batch}x${m}x${k}x${n}:${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}:${bBatch}`;
  const kern = ctx.kernel(key, () => ({
    source: matmulBody,
    size: batch * m * n,
    constants: {
      M: m,
      N: n,
      K4: Math.floor(k / 4),
      KR: k % 4,
      AB: m * k,
      AI: transA ? 1 : k,
      AK: transA ? m : 1,
      BB: bBatch,
      BJ: transB ? k : 1,
      BK: transB ? 1 : n,
    },
    maxLoop: Math.ceil(k / 4),
  }));
  // A zero-length reduction still needs readable (non-empty) arguments on the GL backends.
  if (k === 0) return ctx.call(kern, [new Float32Array(1), new Float32Array(1)]);
  return ctx.call(kern, [a, b]);
}

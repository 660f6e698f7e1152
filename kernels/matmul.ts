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
 * gpu.js `webasm` gets two kernels of its own, shaped for how its wasm emitter vectorises. It runs
 * four consecutive `thread.x` cells as one f32x4 quad; a load whose index does not depend on
 * `thread.x` is *uniform* (one scalar load, splat), and every other load is a *gather* (index
 * arithmetic, a clamp, four scalar loads and three lane inserts: about twenty wasm instructions —
 * there is no contiguous `v128.load` of an argument). The gathers, not the multiply-adds, bound a
 * matmul there, so:
 * - `n ≥ 4` ({@link matmulBody4}): a 2-D output with `thread.x` = column (lanes share their rows)
 *   and an `Array(4)` return, so one cell computes four rows of one column. Per step of k: one
 *   gather of B, four uniform loads of A, sixteen multiply-adds (the 1-D kernel: two gathers for
 *   four). The host then unpacks the row quads into row-major C.
 * - `n = 1` with one B (a matrix–vector product, the shape of the logistic-regression gradient):
 *   the vector's index starts at a constant, so its loads are uniform and only A is gathered.
 * - `n = 2, 3` with one B ({@link matvecColumnsSource}): the joint JVP of a matrix–vector product (the
 *   forward-over-reverse HVP of a linear model multiplies X by [w, v]). One gather of A feeds n
 *   multiply-adds and the `Array(n)` cells are C's rows.
 *
 * What bounds these kernels, and what was measured and dropped, is in docs/guides/gpu-backend.md.
 *
 * @module
 */
import { andThen } from './context.ts';
import type { KernelContext, KernelInput, KernelSpec, KernelValue, MaybePromise } from './context.ts';
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
  /**
   * `'generic'` forces the 1-D kernel every mode can run, bypassing the `webasm` kernels (for
   * side-by-side benchmarks and tests); the default `'auto'` picks by {@link matmulPath}.
   */
  kernel?: 'auto' | 'generic';
  /**
   * `webasm`: A is a `Float32Array` that nobody modifies and that will likely come again (the data
   * matrix of an iterative solver): keep it resident in the kernel's memory and skip copying it in
   * when the same array comes back (see {@link KernelContext.callResident}). Ignored elsewhere.
   */
  residentA?: boolean;
}

/**
 * The resident-A form of a kernel body `(a, b)`: the same statements with A read from the
 * constant array `RA` (which stays in the wasm module's memory between calls) instead of from an
 * argument (which gpu.js copies in on every call).
 */
function residentASource(body: ((...args: never[]) => unknown) | string): string {
  const src = body.toString();
  const open = src.indexOf('{');
  if (!/^function\s*[\w$]*\s*\(\s*a\s*,\s*b\s*\)\s*$/.test(src.slice(0, open))) {
    throw new Error(`residentASource: expected a body of (a, b), got ${src.slice(0, open)}`);
  }
  return `function (b) ${src.slice(open).replace(/(?<![\w$.])a\[/g, 'this.constants.RA[')}`;
}

/**
 * The source of a kernel that computes one strided dot product per cell,
 * Σ_{t < 4·K4 + KR} a[pa + t·AK] · b[pb + t·BK], walking k in blocks of four with four independent
 * accumulators. `start` is the statements that place `pa` and `pb` for the cell; the kernel
 * returns `result`, an expression of the sum `s`. The generic matmul and the `webasm`
 * matrix–vector kernel differ only there, so they share the loop.
 *
 * @example
 * ```ts
 * // row i of a row-major [n, d] matrix against one vector (AI = d, AK = BK = 1)
 * stridedDotSource('let pa = this.thread.x * this.constants.AI; let pb = 0.0;');
 * ```
 */
export function stridedDotSource(start: string, { args = ['a', 'b'], result = 's' }: { args?: readonly string[]; result?: string } = {}): string {
  return `function (${args.join(', ')}) {
  ${start}
  let s0 = 0.0;
  let s1 = 0.0;
  let s2 = 0.0;
  let s3 = 0.0;
  for (let t = 0; t < this.constants.K4; t++) {
    s0 = s0 + a[pa] * b[pb];
    s1 = s1 + a[pa + this.constants.AK] * b[pb + this.constants.BK];
    s2 = s2 + a[pa + 2.0 * this.constants.AK] * b[pb + 2.0 * this.constants.BK];
    s3 = s3 + a[pa + 3.0 * this.constants.AK] * b[pb + 3.0 * this.constants.BK];
    pa = pa + 4.0 * this.constants.AK;
    pb = pb + 4.0 * this.constants.BK;
  }
  for (let t = 0; t < this.constants.KR; t++) {
    s0 = s0 + a[pa] * b[pb];
    pa = pa + this.constants.AK;
    pb = pb + this.constants.BK;
  }
  const s = s0 + s1 + (s2 + s3);
  return ${result};
}`;
}

/** The generic kernel every mode runs: one cell of C[b] per thread, C laid out [batch, M, N]. */
const MATMUL_SOURCE = stridedDotSource(`const row = Math.floor((this.thread.x + 0.5) / this.constants.N); // batch·M + i
  const j = this.thread.x - row * this.constants.N;
  const bt = Math.floor((row + 0.5) / this.constants.M);
  const i = row - bt * this.constants.M;
  let pa = bt * this.constants.AB + i * this.constants.AI;
  let pb = bt * this.constants.BB + j * this.constants.BJ;`);

/**
 * The `webasm` matrix–vector kernel (n = 1, one B): as {@link MATMUL_SOURCE}, but B's index starts
 * at a constant instead of depending on `thread.x`, so B's loads are uniform and only A is gathered.
 */
const MATVEC_SOURCE = stridedDotSource(`const bt = Math.floor((this.thread.x + 0.5) / this.constants.M);
  const i = this.thread.x - bt * this.constants.M;
  let pa = bt * this.constants.AB + i * this.constants.AI;
  let pb = 0.0;`);

/**
 * The `webasm` kernel for n ≥ 4: cell (x = j, y = q) is rows 4q'..4q'+3 of column j of product
 * b = ⌊q / MQ⌋ (q' = q − b·MQ), as one `Array(4)`. Rows past M repeat row M − 1 (and are dropped by
 * the unpack), which keeps every load inside A.
 */
function matmulBody4(this: KernelThis, a: Float32Array, b: Float32Array): number[] {
  const bt = Math.floor((this.thread.y + 0.5) / this.constants.MQ);
  const i0 = (this.thread.y - bt * this.constants.MQ) * 4.0;
  let pa0 = bt * this.constants.AB + Math.min(i0, this.constants.M1) * this.constants.AI;
  let pa1 = bt * this.constants.AB + Math.min(i0 + 1.0, this.constants.M1) * this.constants.AI;
  let pa2 = bt * this.constants.AB + Math.min(i0 + 2.0, this.constants.M1) * this.constants.AI;
  let pa3 = bt * this.constants.AB + Math.min(i0 + 3.0, this.constants.M1) * this.constants.AI;
  let pb = bt * this.constants.BB + this.thread.x * this.constants.BJ;
  let s0 = 0.0;
  let s1 = 0.0;
  let s2 = 0.0;
  let s3 = 0.0;
  for (let t = 0; t < this.constants.K; t++) {
    const bv = b[pb]!;
    s0 = s0 + a[pa0]! * bv;
    s1 = s1 + a[pa1]! * bv;
    s2 = s2 + a[pa2]! * bv;
    s3 = s3 + a[pa3]! * bv;
    pa0 = pa0 + this.constants.AK;
    pa1 = pa1 + this.constants.AK;
    pa2 = pa2 + this.constants.AK;
    pa3 = pa3 + this.constants.AK;
    pb = pb + this.constants.BK;
  }
  return [s0, s1, s2, s3];
}

/**
 * The source of the `webasm` kernel for n = 2 or 3 columns with one B (the joint JVP of a
 * matrix–vector product stacks the primal and tangent vectors into two columns): cell i is row i of
 * C as one `Array(n)`, so lanes are rows, A is gathered once per step of k and feeds n
 * multiply-adds, and B's loads are uniform (B's index never depends on `thread.x`). The cells'
 * floats are C in row-major order, so nothing is unpacked. Generated because the column count
 * fixes the number of accumulators and the returned array literal; for n = 2 it reads:
 *
 * ```js
 * function (a, b) {
 *   const bt = Math.floor((this.thread.x + 0.5) / this.constants.M);   // which product
 *   const i = this.thread.x - bt * this.constants.M;                    // which row
 *   let pa = bt * this.constants.AB + i * this.constants.AI;
 *   let pb = 0.0;
 *   let s0 = 0.0; let s1 = 0.0;
 *   for (let t = 0; t < this.constants.K; t++) {
 *     const x = a[pa];                                                  // the one gather
 *     s0 = s0 + x * b[pb];                                              // uniform loads
 *     s1 = s1 + x * b[pb + 1.0 * this.constants.BJ];
 *     pa = pa + this.constants.AK;
 *     pb = pb + this.constants.BK;
 *   }
 *   return [s0, s1];
 * }
 * ```
 */
function matvecColumnsSource(n: 2 | 3): string {
  const cols = Array.from({ length: n }, (_, c) => c);
  return `function (a, b) {
  const bt = Math.floor((this.thread.x + 0.5) / this.constants.M);
  const i = this.thread.x - bt * this.constants.M;
  let pa = bt * this.constants.AB + i * this.constants.AI;
  let pb = 0.0;
${cols.map((c) => `  let s${c} = 0.0;`).join('\n')}
  for (let t = 0; t < this.constants.K; t++) {
    const x = a[pa];
${cols.map((c) => `    s${c} = s${c} + x * b[${c === 0 ? 'pb' : `pb + ${c}.0 * this.constants.BJ`}];`).join('\n')}
    pa = pa + this.constants.AK;
    pb = pb + this.constants.BK;
  }
  return [${cols.map((c) => `s${c}`).join(', ')}];
}`;
}

/** Unpacks {@link matmulBody4}'s row quads (cell (j, q), row r at ((q·n + j)·4 + r)) into row-major C. */
function unpackRowQuads(packed: Float32Array, batch: number, m: number, n: number): Float32Array {
  const mq = Math.ceil(m / 4);
  const c = new Float32Array(batch * m * n);
  for (let bt = 0; bt < batch; bt++) {
    for (let i = 0; i < m; i++) {
      const src = ((bt * mq + (i >> 2)) * n) * 4 + (i & 3);
      const dst = (bt * m + i) * n;
      for (let j = 0; j < n; j++) c[dst + j] = packed[src + 4 * j]!;
    }
  }
  return c;
}

/**
 * The flat floats of a gpu.js webasm `Array(width)` result: a 1-D (`rows = false`) or 2-D array of
 * cells, each cell a view of one buffer that holds them all in order.
 */
function packedFloats(result: unknown, cells: number, width: number, rows: boolean): Float32Array {
  const first = rows ? (result as Float32Array[][])[0]![0]! : (result as Float32Array[])[0]!;
  return new Float32Array(first.buffer, first.byteOffset, cells * width);
}

/**
 * Which kernel a matmul of this shape runs in this context's mode: `'quad'` ({@link matmulBody4}),
 * `'matvec'` ({@link MATVEC_SOURCE}, {@link matvecColumnsSource}) or `'generic'` ({@link MATMUL_SOURCE}; every
 * other mode and shape).
 *
 * @example
 * ```ts
 * matmulPath('webasm', { m: 512, k: 512, n: 512 }); // 'quad'
 * ```
 */
export function matmulPath(mode: KernelContext['mode'], shape: MatmulShape): 'quad' | 'matvec' | 'generic' {
  if (mode !== 'webasm' || shape.k === 0 || shape.kernel === 'generic') return 'generic';
  if (shape.n >= 4) return 'quad';
  if (shape.n <= 3 && ((shape.batch ?? 1) === 1 || shape.bBatchStride === 0)) return 'matvec';
  return 'generic';
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
  const path = matmulPath(ctx.mode, shape);
  const resident = shape.residentA === true && ctx.mode === 'webasm' && a instanceof Float32Array && a.length === batch * m * k;
  if (path === 'quad') {
    const mq = Math.ceil(m / 4);
    const spec = (res: boolean) => (): KernelSpec => ({
      source: res ? residentASource(matmulBody4) : (matmulBody4 as unknown as (...args: never[]) => number),
      size: n * batch * mq,
      output: [n, batch * mq],
      returnType: 'Array(4)',
      constants: {
        MQ: mq,
        M1: m - 1,
        K: k,
        AB: m * k,
        AI: transA ? 1 : k,
        AK: transA ? m : 1,
        BB: bBatch,
        BJ: transB ? k : 1,
        BK: transB ? 1 : n,
        ...(res ? { RA: a as Float32Array } : {}),
      },
      maxLoop: k,
    });
    const run = (resident && ctx.callResident(ctx.kernel(`${key}:quad:resA`, spec(true)), 'RA', a, [b])) ||
      ctx.call(ctx.kernel(`${key}:quad`, spec(false)), [a, b]);
    return andThen(run, (r) => unpackRowQuads(packedFloats(r, n * batch * mq, 4, true), batch, m, n));
  }
  if (path === 'matvec' && n > 1) {
    const body = matvecColumnsSource(n as 2 | 3);
    const spec = (res: boolean) => (): KernelSpec => ({
      source: res ? residentASource(body) : body,
      size: batch * m,
      returnType: n === 2 ? 'Array(2)' : 'Array(3)',
      constants: {
        M: m,
        K: k,
        AB: m * k,
        AI: transA ? 1 : k,
        AK: transA ? m : 1,
        BJ: transB ? k : 1,
        BK: transB ? 1 : n,
        ...(res ? { RA: a as Float32Array } : {}),
      },
      maxLoop: k,
    });
    const run = (resident && ctx.callResident(ctx.kernel(`${key}:matvec:resA`, spec(true)), 'RA', a, [b])) ||
      ctx.call(ctx.kernel(`${key}:matvec`, spec(false)), [a, b]);
    return andThen(run, (r) => packedFloats(r, batch * m, n, false));
  }
  if (path === 'matvec') {
    const spec = (res: boolean) => (): KernelSpec => ({
      source: res ? residentASource(MATVEC_SOURCE) : MATVEC_SOURCE,
      size: batch * m,
      constants: {
        M: m,
        K4: Math.floor(k / 4),
        KR: k % 4,
        AB: m * k,
        AI: transA ? 1 : k,
        AK: transA ? m : 1,
        BK: 1,
        ...(res ? { RA: a as Float32Array } : {}),
      },
      maxLoop: Math.ceil(k / 4),
    });
    return (resident && ctx.callResident(ctx.kernel(`${key}:matvec:resA`, spec(true)), 'RA', a, [b])) ||
      ctx.call(ctx.kernel(`${key}:matvec`, spec(false)), [a, b]);
  }
  const kern = ctx.kernel(key, () => ({
    source: MATMUL_SOURCE,
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

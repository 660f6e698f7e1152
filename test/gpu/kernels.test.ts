/**
 * Every kernel in `kernels/` against its float64 reference, under the gpu.js modes Node can run:
 * `cpu` (JavaScript; note it computes in float64 and rounds only the output, so it checks the
 * kernels' logic, not their float32 behaviour) and `webasm` (WebAssembly f32 with SIMD: real
 * float32 arithmetic). The browser run (test/gpu/browser/run.ts) repeats the same checks under
 * `webgl2` and `webgpu`. Tolerances are derived in suite.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { KernelContext, KernelFallbackError, matmul, matmulPath, binary, reduceAxis, transpose, unary } from '../../kernels/index.ts';
import type { GpuMode } from '../../kernels/index.ts';
import { checkBinary, checkMatmul, checkReduce, checkTranspose, expectClose, kernelChecks, normals, pipelineChecks, refMatmul } from './suite.ts';
import { Rng } from '../../src/core/rng.ts';
import { BINARY_OPS } from '../../kernels/index.ts';

const NODE_MODES: GpuMode[] = ['cpu', 'webasm'];

/** Kernel functions throw synchronously on synchronous backends and reject on async ones. */
const attempt = <T>(f: () => T): Promise<Awaited<T>> => Promise.resolve().then(f) as Promise<Awaited<T>>;

for (const mode of NODE_MODES) {
  describe(`gpu.js mode ${mode}`, () => {
    const ctx = new KernelContext({ mode });
    const pctx = new KernelContext({ mode, pipeline: true });
    afterAll(async () => {
      await ctx.destroy();
      await pctx.destroy();
    });

    for (const check of kernelChecks()) {
      it(check.name, () => check.run(ctx));
    }
    for (const check of pipelineChecks()) {
      it(check.name, () => check.run(pctx));
    }

    // Random shapes: each draw compiles a fresh kernel, so keep the run count modest.
    test.prop(
      [fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 17 }), fc.integer({ min: 1, max: 9 }), fc.boolean(), fc.boolean(), fc.integer()],
      { numRuns: 12 },
    )('matmul matches the float64 reference for random shapes', async (batch, m, k, n, ta, tb, seed) => {
      await checkMatmul(ctx, batch, m, k, n, ta, tb, seed);
    });

    const shapeArb = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 4 });
    test.prop([shapeArb, fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), fc.constantFrom(...BINARY_OPS), fc.integer()], { numRuns: 12 })(
      'binary ops broadcast like numpy for random shapes',
      async (shape, keep, op, seed) => {
        // b takes a's shape with random axes set to 1 and a random number of leading axes dropped.
        const bShape = shape.map((d, i) => (keep[i] ? d : 1)).slice(seed % (shape.length + 1 || 1));
        await checkBinary(ctx, op, shape, bShape, seed);
      },
    );

    test.prop([fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }), fc.nat(), fc.constantFrom('sum' as const, 'max' as const), fc.integer()], { numRuns: 12 })(
      'reductions match the reference along any axis',
      async (shape, axisSeed, op, seed) => {
        await checkReduce(ctx, op, shape, axisSeed % shape.length, seed);
      },
    );

    test.prop([fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 5 }), fc.integer()], { numRuns: 12 })(
      'transpose by a random permutation',
      async (shape, seed) => {
        const perm = shape.map((_, i) => i).sort((p, q) => ((p * 7919 + seed) % 13) - ((q * 7919 + seed) % 13));
        await checkTranspose(ctx, shape, perm, seed);
      },
    );

    it('compiles each (op, shapes) once and reuses it', async () => {
      // k = 19 and 20 lie outside the random-shape property above (k ≤ 17), which shares this
      // context: a shape it happened to draw would already be compiled here.
      const before = ctx.compiledCount;
      const a = new Float32Array(2 * 19).map((_, i) => i - 19);
      await matmul(ctx, a, a, { m: 2, k: 19, n: 2, transB: true });
      const once = ctx.compiledCount;
      await matmul(ctx, a, a, { m: 2, k: 19, n: 2, transB: true });
      await matmul(ctx, a.map((v) => -v), a, { m: 2, k: 19, n: 2, transB: true });
      expect(once).toBe(before + 1);
      expect(ctx.compiledCount).toBe(once);
      const b = new Float32Array(3 * 20).map((_, i) => i);
      await matmul(ctx, b, b, { m: 3, k: 20, n: 3, transB: true });
      expect(ctx.compiledCount).toBe(once + 1);
    });

    it('returns a fresh array per call', async () => {
      const first = (await binary(ctx, 'add', [1, 2], [2], [3, 4], [2])) as Float32Array;
      const second = (await binary(ctx, 'add', [10, 20], [2], [30, 40], [2])) as Float32Array;
      expect(first).not.toBe(second);
      expect(Array.from(first)).toEqual([4, 6]);
      expect(Array.from(second)).toEqual([40, 60]);
    });

    it('fails loudly when gpu.js falls back to another backend', async () => {
      const k = ctx.kernel('probe:fallback', () => ({
        source: function (this: { thread: { x: number } }, x: Float32Array) {
          return x[this.thread.x]!;
        },
        size: 2,
      }));
      await ctx.call(k, [new Float32Array([1, 2])]);
      // Simulate what gpu.js records when it swaps in its CPU kernel.
      (k.kernel as { fallbackReason: string | null }).fallbackReason = 'simulated: unsupported argument';
      await expect(attempt(() => ctx.call(k, [new Float32Array([1, 2])]))).rejects.toThrow(KernelFallbackError);
    });

    it('rejects shapes it cannot index exactly', async () => {
      await expect(attempt(() => reduceAxis(ctx, 'sum', new Float32Array(4), [2, 2], 2))).rejects.toThrow(RangeError);
      await expect(attempt(() => transpose(ctx, new Float32Array(4), [2, 2], [0, 0]))).rejects.toThrow(RangeError);
      await expect(attempt(() => binary(ctx, 'add', [1, 2], [2], [1, 2, 3], [3]))).rejects.toThrow(/broadcast/);
    });
  });
}

// The webasm matmul kernels (kernels/matmul.ts, `matmulPath`) are only fast if gpu.js runs them on
// its f32x4 path: a shape or code change that silently drops them to scalar code keeps every
// answer right and loses the speed, so the path is asserted here (the speed itself is measured in
// bench/gpu.ts, never here).
describe('gpu.js mode webasm: matmul kernels', () => {
  const ctx = new KernelContext({ mode: 'webasm' });
  afterAll(() => ctx.destroy());
  const lastRunPath = (key: string): unknown =>
    ((ctx as unknown as { cache: Map<string, { kernel: { _lastRunPath?: unknown } }> }).cache.get(`${key}|host`))?.kernel._lastRunPath;

  it('picks the row-quad kernel for n ≥ 4, a matvec kernel for n ≤ 3 with one B, generic otherwise', () => {
    expect(matmulPath('webasm', { m: 512, k: 512, n: 512 })).toBe('quad');
    expect(matmulPath('webasm', { m: 2000, k: 784, n: 1 })).toBe('matvec');
    expect(matmulPath('webasm', { batch: 3, m: 5, k: 4, n: 1, bBatchStride: 0 })).toBe('matvec');
    expect(matmulPath('webasm', { batch: 3, m: 5, k: 4, n: 1 })).toBe('generic');
    expect(matmulPath('webasm', { m: 5, k: 4, n: 2 })).toBe('matvec');
    expect(matmulPath('webasm', { m: 5, k: 4, n: 3 })).toBe('matvec');
    expect(matmulPath('webasm', { batch: 2, m: 5, k: 4, n: 2 })).toBe('generic');
    expect(matmulPath('webasm', { m: 8, k: 0, n: 8 })).toBe('generic');
    expect(matmulPath('webasm', { m: 8, k: 4, n: 8, kernel: 'generic' })).toBe('generic');
    for (const mode of ['cpu', 'webgl2', 'webgpu'] as const) expect(matmulPath(mode, { m: 8, k: 8, n: 8 })).toBe('generic');
  });

  it('the row-quad kernel runs on the f32x4 path and is right for every layout', async () => {
    await checkMatmul(ctx, 1, 16, 33, 12, false, false, 501);
    expect(lastRunPath('matmul:1x16x33x12:NN:396:quad')).toBe('simd');
    // rows not a multiple of 4 (clamped, dropped by the unpack), a ragged last quad of columns,
    // transposes, batches and a shared B
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      await checkMatmul(ctx, 3, 7, 9, 6, ta, tb, 502);
      await checkMatmul(ctx, 2, 5, 4, 5, ta, tb, 503, true);
    }
    expect(lastRunPath('matmul:3x7x9x6:TT:54:quad')).toBe('simd+scalar-tail');
  });

  it('the matvec kernel runs on the f32x4 path and is right transposed and with a shared vector', async () => {
    await checkMatmul(ctx, 1, 40, 37, 1, false, false, 504);
    expect(lastRunPath('matmul:1x40x37x1:NN:37:matvec')).toBe('simd');
    await checkMatmul(ctx, 1, 40, 37, 1, true, false, 505);
    await checkMatmul(ctx, 1, 9, 6, 1, false, true, 506);
    await checkMatmul(ctx, 3, 6, 11, 1, true, false, 507, true);
  });

  // The joint JVP of X·w stacks [w, v] into two columns: the shape of every forward-over-reverse
  // HVP of a linear model, so n = 2 (and 3) get their own Array(n) kernels.
  it('the n = 2 and n = 3 matvec kernels run on the f32x4 path and are right for every layout', async () => {
    await checkMatmul(ctx, 1, 40, 37, 2, false, false, 510);
    expect(lastRunPath('matmul:1x40x37x2:NN:74:matvec')).toBe('simd');
    await checkMatmul(ctx, 1, 24, 19, 3, false, false, 511);
    expect(lastRunPath('matmul:1x24x19x3:NN:57:matvec')).toBe('simd');
    for (const n of [2, 3]) {
      for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
        await checkMatmul(ctx, 1, 9, 13, n, ta, tb, 512 + n);
        await checkMatmul(ctx, 3, 6, 11, n, ta, tb, 514 + n, true); // a shared B over a batch
      }
    }
  });

  // A resident A is copied into the kernel's memory only when a different array arrives; identity
  // is the whole check, so the danger is a stale copy: every call below is checked for values.
  it('a resident A is uploaded once, reused while the same array comes back, and swapped for another', () => {
    const rng = new Rng(508);
    const check = (what: string, a: { f: Float32Array; d: Float64Array }, b: { f: Float32Array; d: Float64Array }, m: number, k: number, n: number, transA: boolean) => {
      const { c, abs } = refMatmul(a.d, b.d, 1, m, k, n, transA, false);
      const out = matmul(ctx, a.f, b.f, { m, k, n, transA, residentA: true }) as Float32Array;
      expectClose(what, out, c, (i) => 4 * (k + 2) * 2 ** -24 * abs[i]!);
    };
    const stats = ctx.residentStats;
    const before = { ...stats };
    for (const [m, k, n, transA] of [[37, 23, 1, false], [23, 37, 1, true], [41, 29, 2, true], [9, 13, 6, false]] as const) {
      const a1 = normals(rng, m * k);
      const a2 = normals(rng, m * k);
      const path = matmulPath('webasm', { m, k, n });
      check(`${path} first`, a1, normals(rng, k * n), m, k, n, transA);
      check(`${path} same A, new B`, a1, normals(rng, k * n), m, k, n, transA);
      check(`${path} another A`, a2, normals(rng, k * n), m, k, n, transA);
      check(`${path} the first A again`, a1, normals(rng, k * n), m, k, n, transA);
      ctx.release(a1.f); // forgotten: the next call with it uploads again
      check(`${path} after release`, a1, normals(rng, k * n), m, k, n, transA);
      const key = `matmul:1x${m}x${k}x${n}:${transA ? 'T' : 'N'}N:${k * n}:${path}:resA`;
      expect(lastRunPath(key)).toMatch(/^simd/); // ragged shapes add a scalar tail
    }
    expect(stats.fallbacks - before.fallbacks).toBe(0);
    expect(stats.uploads - before.uploads).toBe(4 * 4);
    expect(stats.reuses - before.reuses).toBe(4 * 1);
  });
});

// Elementwise kernels are generated per operation so the operation sits inline in the body, where
// gpu.js' webasm backend vectorises it (a helper function would run once per lane, scalar).
describe('gpu.js mode webasm: elementwise kernels', () => {
  const ctx = new KernelContext({ mode: 'webasm' });
  afterAll(() => ctx.destroy());
  const lastRunPath = (key: string): unknown =>
    ((ctx as unknown as { cache: Map<string, { kernel: { _lastRunPath?: unknown } }> }).cache.get(`${key}|host`))?.kernel._lastRunPath;

  it('run on the f32x4 path, same-shape and broadcast alike', async () => {
    const x = new Float32Array(64).map((_, i) => i - 31.5);
    unary(ctx, 'tanh', x);
    expect(lastRunPath('unary:tanh:64')).toBe('simd');
    binary(ctx, 'pow', x, [64], x, [64]);
    expect(lastRunPath('binary:pow:64')).toBe('simd');
    await checkBinary(ctx, 'greaterEqual', [4, 8], [8], 509);
    const keys = [...(ctx as unknown as { cache: Map<string, unknown> }).cache.keys()];
    const bkey = keys.find((k) => k.startsWith('binary:greaterEqual:') && k !== 'binary:greaterEqual:32|host');
    expect(bkey).toBeDefined();
    expect(lastRunPath(bkey!.replace(/\|host$/, ''))).toBe('simd');
  });
});

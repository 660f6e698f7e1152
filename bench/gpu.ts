/**
 * GPU-kernel benchmarks: matmul throughput of the kernels in `kernels/` under gpu.js `webasm`
 * (WebAssembly with f32x4 SIMD, single-threaded: the synchronous call path, which is the one the
 * backend uses). The browser modes run under SwiftShader here, a CPU emulation of a GPU, so their
 * timings would say nothing about GPUs and are not measured.
 *
 * @module
 */
import { KernelContext, matmul } from '../kernels/index.ts';
import type { GpuMode } from '../kernels/index.ts';
import { Rng } from '../src/data/rng.ts';

/** One measurement: square size, gpu.js mode, and achieved GFLOP/s (2·n³ flops per product). */
export interface GpuMatmulResult {
  size: number;
  mode: string;
  gflops: number;
}

/** Runs per size after warm-up: fewer for the big sizes so the whole bench stays in seconds. */
const RUNS: Record<number, number> = { 256: 9, 512: 5, 1024: 3 };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Measures n×n·n×n matmul GFLOP/s for n = 256, 512, 1024 under gpu.js `webasm`: the median of
 * several timed runs after one warm-up run (which also compiles the kernel). Each timed run
 * includes argument upload and result readback (and, for the row-quad kernel, the host unpack),
 * as a backend call does. Mode `webasm` is the kernel the backend runs (see `matmulPath`);
 * `webasm-generic` is the 1-D kernel every mode runs, timed alternately in the same loop so the
 * ratio is fair on a busy machine.
 *
 * @example
 * ```ts
 * for (const r of await benchGpuMatmul()) console.log(`${r.size}: ${r.gflops.toFixed(2)} GFLOP/s (${r.mode})`);
 * ```
 */
export async function benchGpuMatmul(): Promise<Array<{ size: number; mode: string; gflops: number }>> {
  const mode: GpuMode = 'webasm';
  const ctx = new KernelContext({ mode });
  const results: GpuMatmulResult[] = [];
  try {
    const rng = new Rng(2024);
    for (const n of [256, 512, 1024]) {
      const a = Float32Array.from({ length: n * n }, () => rng.normal());
      const b = Float32Array.from({ length: n * n }, () => rng.normal());
      const variants = [
        { label: mode as string, kernel: 'auto' as const, times: [] as number[] },
        { label: `${mode}-generic`, kernel: 'generic' as const, times: [] as number[] },
      ];
      for (const v of variants) await matmul(ctx, a, b, { m: n, k: n, n, kernel: v.kernel }); // warm-up and compile
      for (let r = 0; r < RUNS[n]!; r++) {
        for (const v of variants) {
          const t0 = performance.now();
          const c = (await matmul(ctx, a, b, { m: n, k: n, n, kernel: v.kernel })) as Float32Array;
          v.times.push(performance.now() - t0);
          if (c.length !== n * n) throw new Error('benchGpuMatmul: wrong result size');
        }
      }
      for (const v of variants) results.push({ size: n, mode: v.label, gflops: (2 * n ** 3) / (median(v.times) / 1000) / 1e9 });
    }
  } finally {
    await ctx.destroy();
  }
  return results;
}

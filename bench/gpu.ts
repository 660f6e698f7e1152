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
import { Rng } from '../src/core/rng.ts';
import { grad, hvp, setBackend } from '../src/index.ts';
import { type LogregParams, logregObjective } from './engine.ts';
import { checkAgainstReference, logregHvpReference, logregReference, makeLogregProblem, relativeError } from './peers/problems.ts';
import { median } from './peers/timing.ts';

/** One measurement: square size, gpu.js mode, and achieved GFLOP/s (2·n³ flops per product). */
export interface GpuMatmulResult {
  size: number;
  mode: string;
  gflops: number;
}

/** Runs per size after warm-up: fewer for the big sizes so the whole bench stays in seconds. */
const RUNS: Record<number, number> = { 256: 9, 512: 5, 1024: 3 };

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

/** One logistic-regression quantity timed on both backends in one loop: medians in ms and their ratio. */
export interface AlternatedTiming {
  /** Median ms on the float64 CPU backend (including the readback). */
  cpuMs: number;
  /** Median ms of the same computation on `setBackend('gpu', { mode: 'webasm' })`. */
  gpuMs: number;
  /** gpuMs / cpuMs: below 1 the gpu backend is faster. */
  ratio: number;
  /** Relative error of the gpu backend's result against the float64 reference. */
  gpuRelErr: number;
}

/** {@link benchGpuLogreg}'s result: the gradient and the HVP. */
export interface GpuLogregResult {
  grad: AlternatedTiming;
  hvp: AlternatedTiming;
}

/**
 * The engine's logistic-regression gradient and HVP (n = 2000, d = 784; forward-over-reverse `hvp`)
 * on the float64 CPU backend and on the gpu backend (`webasm`), alternated call by call in one loop
 * so that a busy machine slows both alike; reports the medians and their ratios. Each backend gets
 * its own tensors (made while it is current), so no call moves data between backends. The gpu
 * results are checked against the float64 reference first (float32 tolerance 1e-4).
 *
 * @example
 * ```ts
 * const r = benchGpuLogreg();
 * console.log(`HVP: cpu ${r.hvp.cpuMs.toFixed(2)} ms, gpu ${r.hvp.gpuMs.toFixed(2)} ms, ratio ${r.hvp.ratio.toFixed(2)}`);
 * ```
 */
export function benchGpuLogreg({ warmup = 5, repeats = 41 }: { warmup?: number; repeats?: number } = {}): GpuLogregResult {
  const p = makeLogregProblem(0);
  // Tensors are made while each backend is current, so no call moves data between backends.
  const setup = () => {
    const { loss, at, dir } = logregObjective(p);
    const gradient = grad(loss);
    return { grad: () => gradient(at) as LogregParams, hvp: () => hvp(loss, at, dir) };
  };
  const useCpu = () => setBackend('cpu');
  const useGpu = () => setBackend('gpu', { mode: 'webasm' });
  try {
    useCpu();
    const onCpu = setup();
    useGpu();
    const onGpu = setup();
    const ref = logregReference(p);
    const refH = logregHvpReference(p);
    const g = onGpu.grad();
    const h = onGpu.hvp();
    const errs = {
      grad: relativeError([g.w.toFloat64Array(), [g.b.item()]], [ref.gw, [ref.gb]]),
      hvp: relativeError([h.w.toFloat64Array(), [h.b.item()]], [refH.hw, [refH.hb]]),
    };
    for (const [what, err] of Object.entries(errs)) checkAgainstReference('unequal (gpu backend)', what, err, 1e-4);
    const times = { grad: { cpu: [] as number[], gpu: [] as number[] }, hvp: { cpu: [] as number[], gpu: [] as number[] } };
    for (let r = 0; r < warmup + repeats; r++) {
      for (const what of ['grad', 'hvp'] as const) {
        useCpu();
        let t0 = performance.now();
        onCpu[what]().w.toFloat64Array();
        const tc = performance.now() - t0;
        useGpu();
        t0 = performance.now();
        onGpu[what]().w.toFloat64Array();
        const tg = performance.now() - t0;
        if (r >= warmup) {
          times[what].cpu.push(tc);
          times[what].gpu.push(tg);
        }
      }
    }
    const summarize = (what: 'grad' | 'hvp'): AlternatedTiming => {
      const cpuMs = median(times[what].cpu);
      const gpuMs = median(times[what].gpu);
      return { cpuMs, gpuMs, ratio: gpuMs / cpuMs, gpuRelErr: errs[what] };
    };
    return { grad: summarize('grad'), hvp: summarize('hvp') };
  } finally {
    useCpu();
  }
}

// `node --expose-gc --import tsx bench/gpu.ts`: the side-by-side gradient and HVP alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const r = benchGpuLogreg();
  for (const what of ['grad', 'hvp'] as const) {
    const t = r[what];
    process.stdout.write(
      `logreg ${what} (n = 2000, d = 784), medians of alternated runs: cpu-f64 ${t.cpuMs.toFixed(2)} ms, ` +
        `gpu-webasm ${t.gpuMs.toFixed(2)} ms, gpu/cpu ${t.ratio.toFixed(2)} (gpu rel. err ${t.gpuRelErr.toExponential(1)})\n`,
    );
  }
}

/**
 * Browser entry for the kernel checks: bundled by run.ts (gpu.js included) and driven through
 * `window.runKernelChecks(mode)`. It runs the same checks as the Node tests (test/kernels/suite.ts)
 * under one gpu.js mode and reports each check's outcome; a kernel that gpu.js silently moved to
 * another backend fails with KernelFallbackError.
 */
import { GPU } from 'gpu.js';
import { KernelContext } from '../../kernels/index.ts';
import type { GpuMode } from '../../kernels/index.ts';
import { GpuBackend } from '../../src/backend/gpu.ts';
import { Rng } from '../../src/data/rng.ts';
import { expectClose, gamma, kernelChecks, pipelineChecks } from '../kernels/suite.ts';

/**
 * The GPU backend end to end on device storage: a chain of methods whose intermediates never
 * leave the GPU, read back with toFloat64Async (the only readback webgpu has), checked against
 * float64; plus release semantics.
 */
async function backendCheck(mode: GpuMode): Promise<void> {
  const gpu = new GpuBackend({ mode });
  try {
    const rng = new Rng(900);
    const [m, k, n] = [5, 9, 6];
    const a = Float64Array.from({ length: m * k }, () => Math.fround(rng.normal()));
    const b = Float64Array.from({ length: n * k }, () => Math.fround(rng.normal()));
    const sa = gpu.fromFloat64(a);
    const sb = gpu.fromFloat64(b);
    const c = gpu.matmul(sa, sb, 1, m, k, n, false, true); // A Bᵀ
    const e = gpu.unary('abs', c, m * n);
    const t = gpu.transpose(e, [m, n], [1, 0]);
    const r = gpu.reduce('sum', t, [n, m], [0, 1]);
    const want = new Float64Array(1);
    const tol = new Float64Array(1);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        let sabs = 0;
        for (let p = 0; p < k; p++) {
          s += a[i * k + p]! * b[j * k + p]!;
          sabs += Math.abs(a[i * k + p]! * b[j * k + p]!);
        }
        want[0]! += Math.abs(s);
        tol[0]! += gamma(k + 2) * sabs + gamma(m * n + 2) * Math.abs(s);
      }
    expectClose('backend chain', await gpu.toFloat64Async(r, 1), want, () => tol[0]!);
    gpu.release(c);
    let threw = false;
    try {
      gpu.unary('neg', c, m * n);
    } catch {
      threw = true;
    }
    if (!threw) throw new Error('backend: using released storage did not throw');
    // Live storage is unaffected by releasing another.
    expectClose('after release', await gpu.toFloat64Async(sa, m * k), a, () => 0);
    for (const s of [sa, sb, e, t, r]) gpu.release(s);
  } finally {
    await gpu.destroy();
  }
}

/** The outcome of one check in one mode. */
export interface CheckOutcome {
  name: string;
  ok: boolean;
  error?: string;
  ms: number;
}

async function available(mode: GpuMode): Promise<string | null> {
  const g = GPU as unknown as { isWebGL2Supported: boolean; isWebGPUAvailable(): Promise<boolean> };
  if (mode === 'webgl2' && !g.isWebGL2Supported) return 'WebGL2 is not available in this browser';
  if (mode === 'webgpu' && !(await g.isWebGPUAvailable())) return 'no WebGPU adapter answered';
  return null;
}

async function runKernelChecks(mode: GpuMode): Promise<CheckOutcome[]> {
  const checks = [
    ...kernelChecks().map((c) => ({ ...c, pipeline: false })),
    ...pipelineChecks().map((c) => ({ ...c, pipeline: true })),
    { name: 'GpuBackend chain on device storage', run: () => backendCheck(mode), pipeline: false },
  ];
  const missing = await available(mode);
  if (missing) return checks.map((c) => ({ name: c.name, ok: false, error: missing, ms: 0 }));
  const ctx = new KernelContext({ mode });
  const pctx = new KernelContext({ mode, pipeline: true });
  const outcomes: CheckOutcome[] = [];
  for (const c of checks) {
    const t0 = performance.now();
    try {
      await c.run(c.pipeline ? pctx : ctx);
      outcomes.push({ name: c.name, ok: true, ms: performance.now() - t0 });
    } catch (e) {
      const err = e as Error;
      outcomes.push({ name: c.name, ok: false, error: `${err.name}: ${err.message}`, ms: performance.now() - t0 });
    }
  }
  await ctx.destroy();
  await pctx.destroy();
  return outcomes;
}

(window as unknown as { runKernelChecks: typeof runKernelChecks }).runKernelChecks = runKernelChecks;

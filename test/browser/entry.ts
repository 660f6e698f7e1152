/**
 * Browser entry for the kernel checks: bundled by run.ts (gpu.js included) and driven through
 * `window.runKernelChecks(mode)`. It runs the same checks as the Node tests (test/kernels/suite.ts)
 * under one gpu.js mode and reports each check's outcome; a kernel that gpu.js silently moved to
 * another backend fails with KernelFallbackError.
 */
import { GPU } from 'gpu.js';
import { KernelContext } from '../../kernels/index.ts';
import type { GpuMode } from '../../kernels/index.ts';
import { kernelChecks, pipelineChecks } from '../kernels/suite.ts';

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

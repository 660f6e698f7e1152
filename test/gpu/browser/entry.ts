/**
 * Browser entry for the kernel checks: bundled by run.ts (gpu.js included) and driven through
 * `window.runKernelChecks(mode)`. It runs the same checks as the Node tests (test/gpu/suite.ts)
 * under one gpu.js mode and reports each check's outcome; a kernel that gpu.js silently moved to
 * another backend fails with KernelFallbackError.
 */
import { GPU } from 'gpu.js';
import { KernelContext } from '../../../kernels/index.ts';
import type { GpuMode } from '../../../kernels/index.ts';
import { GpuBackend } from '../../../src/backend/gpu.ts';
import { Rng } from '../../../src/core/rng.ts';
import { expectClose, gamma, kernelChecks, pipelineChecks } from '../suite.ts';
// The engine itself (not the package root, whose data loaders use Node's file system).
import { setBackend } from '../../../src/backend/index.ts';
import { tensor } from '../../../src/core/create.ts';
import type { ConcreteTensor, Tensor } from '../../../src/core/tensor.ts';
import { grad, hvp } from '../../../src/transforms/api.ts';
import { vmap } from '../../../src/transforms/vmap.ts';
import { add, mul, tanh } from '../../../src/ops/arith.ts';
import { matmul } from '../../../src/ops/products.ts';
import { bceWithLogits } from '../../../src/ops/losses.ts';
import { mean, sum } from '../../../src/ops/reduce.ts';

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

/**
 * The autodiff engine unchanged on the gpu backend in this mode: gradient, forward-over-reverse
 * HVP and per-example gradients (vmap of grad) of a small tanh network with a logistic loss, read
 * back with the asynchronous `data()` (the only readback webgpu has) and compared with the same
 * code on the float64 CPU backend. float32 tolerance: sums of ≤ 24 products in a chain of ~40
 * primitives stay near 1e-6 relative; 1e-4 leaves margin and still catches any wrong rule.
 */
async function engineCheck(mode: GpuMode): Promise<void> {
  const rng = new Rng(901);
  const data = (n: number) => Float64Array.from({ length: n }, () => rng.normal());
  const [X0, W0, v0, VW0, Vv0, w30] = [data(24), data(12), data(4), data(12), data(4), data(3)];
  const y0 = Float64Array.from({ length: 8 }, (_, i) => i % 2);
  const run = async () => {
    const X = tensor(X0, [8, 3]);
    const y = tensor(y0, [8]);
    // 3 → 4 tanh → 1 logit, mean binary cross-entropy
    const loss = (p: { W: Tensor; v: Tensor }) => mean(bceWithLogits(matmul(tanh(matmul(X, p.W)), p.v), y));
    const at = { W: tensor(W0, [3, 4]), v: tensor(v0, [4]) };
    const dir = { W: tensor(VW0, [3, 4]), v: tensor(Vv0, [4]) };
    const g = grad(loss)(at) as { W: Tensor; v: Tensor };
    const h = hvp(loss, at, dir);
    const perExample = (w: Tensor, x: Tensor, t: Tensor) => bceWithLogits(sum(mul(x, w)), t);
    const per = vmap(grad(perExample), [null, 0, 0])(tensor(w30, [3]), X, y) as Tensor;
    const read = (t: Tensor) => (t as ConcreteTensor).data();
    return Promise.all([read(g.W), read(g.v), read(h.W), read(h.v), read(per), read(add(sum(per), 0))]);
  };
  setBackend('cpu');
  const want = await run();
  setBackend('gpu', { mode });
  try {
    const got = await run();
    got.forEach((values, i) => {
      const ref = want[i]!;
      const scale = Math.max(1e-3, ...Array.from(ref, Math.abs));
      expectClose(`engine output ${i}`, values, ref, () => 1e-4 * scale);
    });
  } finally {
    setBackend('cpu');
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
    { name: 'autodiff engine (grad, HVP, vmap of grad) on the gpu backend', run: () => engineCheck(mode), pipeline: false },
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

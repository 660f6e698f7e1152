/**
 * The float64 `cpu` backend's WebAssembly GEMM on Web Workers in a real browser (Debian's
 * Chromium through playwright-core; issue 12, "All cores"). A 512 × 512 product, large enough to
 * split by row panels, runs with 1 and 2 threads in a cross-origin-isolated page (the calling
 * thread spins, as a window's main thread may not block), in a dedicated worker of that page (the
 * calling thread blocks in `Atomics.wait`), and in a page without isolation (no shared memory:
 * one thread); then the workers are stopped (the page's main thread spins for their goodbye) and
 * started again, and the product is computed once more.
 *
 * Bit for bit: the threads split C by row panels, and each entry of C is computed by one thread
 * running the one compiled module over the same packed panels in the same order, so the
 * two-thread product equals the one-thread product exactly. (Relaxed-SIMD `f64x2.relaxed_madd`
 * may fuse or not, but the choice is fixed for the whole run: the relaxed-SIMD proposal makes
 * each instruction's behaviour deterministic within an execution.)
 *
 * Against the reference backend: any order of summing k products, fused or not, satisfies
 * |ĉ − c| ≤ γ_k·(|A||B|) entrywise with γ_k = k·u/(1 − k·u), u = 2⁻⁵³ (Higham, Accuracy and
 * Stability of Numerical Algorithms, §3.5; proofs/conv.md uses the same bound). Both backends
 * obey it, so |ĉ_cpu − ĉ_ref| ≤ 2γ_k·(|A||B|); |A||B| computed in floating point is at least
 * (1 − γ_k) times its exact value (non-negative terms), hence the page's bound
 * 2γ_k·fl(|A||B|)/(1 − γ_k). A wrongly wired panel or a lost chunk is off by O(1) and fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ThreadsReport } from './entry.ts';
import { type ThreadsPages, startThreadsPages } from './harness.ts';

const N = 512;

let pages: ThreadsPages;
beforeAll(async () => {
  pages = await startThreadsPages();
}, 60_000);
afterAll(async () => {
  await pages?.close();
});

type Check = { check(n: number): Promise<ThreadsReport>; inWorker(n: number): Promise<ThreadsReport> };

/** The reports of one page: its own check and, when asked, a dedicated worker's. */
async function run(isolated: boolean, worker: boolean): Promise<{ reports: ThreadsReport[]; errors: string[] }> {
  const { page, errors } = await pages.open(isolated);
  try {
    const reports = [await page.evaluate((n) => (globalThis as unknown as { threadsCheck: Check }).threadsCheck.check(n), N)];
    if (worker) reports.push(await page.evaluate((n) => (globalThis as unknown as { threadsCheck: Check }).threadsCheck.inWorker(n), N));
    return { reports, errors };
  } finally {
    await page.close();
  }
}

/** What every report must show: bit-identical thread counts, within the bound, no errors. */
function expectSound(r: ThreadsReport): void {
  expect(r.errors, `${r.where}: errors`).toEqual([]);
  // At least the one-thread, threaded and restarted products (retries add more: see entry.ts).
  expect(r.kernelCalls, `${r.where}: the cpu products ran on the WebAssembly kernel`).toBeGreaterThanOrEqual(3);
  expect(r.bitDifferences, `${r.where}: entries where 2 threads differ from 1`).toBe(0);
  expect(r.worstBoundRatio, `${r.where}: worst |C_cpu − C_ref| / bound`).toBeLessThanOrEqual(1);
  expect(r.restart.readyAfterStop, `${r.where}: workers left after stopGemmThreads`).toBe(0);
  expect(r.restart.bitDifferences, `${r.where}: entries where the restarted threads differ`).toBe(0);
}

/** A stopped pool starts again (a fresh Worker from the same Blob URL) and shares the work. */
function expectRestarted(r: ThreadsReport): void {
  expect(r.restart.ready, `${r.where}: workers ready after the restart`).toBe(1);
  expect(r.restart.workerUnits, `${r.where}: units the restarted worker computed`).toBeGreaterThan(0);
}

describe('the threaded WebAssembly GEMM in Chromium', () => {
  let isolated: { reports: ThreadsReport[]; errors: string[] };
  let plain: { reports: ThreadsReport[]; errors: string[] };
  beforeAll(async () => {
    isolated = await run(true, true);
    plain = await run(false, false);
  }, 90_000);

  it('a cross-origin-isolated page splits the product over 2 threads, spinning on its main thread', () => {
    const [page] = isolated.reports;
    expect(page!.crossOriginIsolated).toBe(true);
    expect(page!.host).toBe(true);
    expect(page!.canBlock).toBe(false);
    expect(page!.cores).toBeGreaterThanOrEqual(1);
    expect(page!.shared).toBe(true);
    expect(page!.workersReady).toBe(1);
    // 512 rows are 171 (mr = 3) or 256 (mr = 2) row panels; the worker computed some of them.
    expect(page!.workerUnits).toBeGreaterThan(0);
    expectSound(page!);
    expectRestarted(page!);
  });

  it('a dedicated worker of that page splits it too, blocking in Atomics.wait', () => {
    const [page, worker] = isolated.reports;
    expect(worker!.where).toBe('worker');
    expect(worker!.crossOriginIsolated).toBe(true);
    expect(worker!.canBlock).toBe(true);
    expect(worker!.shared).toBe(true);
    expect(worker!.workersReady).toBe(1);
    expect(worker!.workerUnits).toBeGreaterThan(0);
    expectSound(worker!);
    expectRestarted(worker!);
    expect(worker!.hash).toBe(page!.hash);
  });

  it('a page without isolation stays on one thread with the same product', () => {
    const [page] = plain.reports;
    expect(page!.crossOriginIsolated).toBe(false);
    expect(page!.host).toBe(false);
    expect(page!.shared).toBe(false);
    expect(page!.workersReady).toBe(0);
    expect(page!.workerUnits).toBe(0);
    expectSound(page!);
    expect(page!.restart.workerUnits).toBe(0);
    // The same kernel on unshared memory: the very bits of the isolated page's product.
    expect(page!.hash).toBe(isolated.reports[0]!.hash);
  });

  it('no console or page error in either page or their workers', () => {
    expect(isolated.errors).toEqual([]);
    expect(plain.errors).toEqual([]);
  });
});

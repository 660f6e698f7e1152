/**
 * One timing run of the threaded WebAssembly GEMM in a cross-origin-isolated Chromium page:
 * `node --import tsx test/browser-threads/timing.ts [n] [reps]` (default 1024, 7). Products with 1
 * and 2 threads alternate call by call on the page's main thread; prints the medians, their
 * ratio and the load average before and after, as one JSON line. Not a test: on a shared 2-core
 * machine a second thread seldom holds a core of its own, so the ratio is a floor.
 */
import { loadavg } from 'node:os';
import { startThreadsPages } from './harness.ts';

const n = Number(process.argv[2] ?? 1024), reps = Number(process.argv[3] ?? 7);
const load0 = loadavg()[0]!;
const pages = await startThreadsPages();
try {
  const { page, errors } = await pages.open(true);
  process.stderr.write(`timing ${reps} alternated rounds of ${n}×${n}…\n`);
  const t = await page.evaluate(
    ([n, reps]) => (globalThis as unknown as { threadsCheck: { timing(n: number, reps: number): Promise<{ ms1: number; ms2: number; workersReady: number }> } }).threadsCheck.timing(n!, reps!),
    [n, reps],
  );
  const gflops = (ms: number) => Number(((2 * n ** 3) / (ms * 1e6)).toFixed(1));
  console.log(JSON.stringify({
    n, reps, workersReady: t.workersReady,
    ms1: Number(t.ms1.toFixed(1)), ms2: Number(t.ms2.toFixed(1)),
    gflops1: gflops(t.ms1), gflops2: gflops(t.ms2),
    speedup: Number((t.ms1 / t.ms2).toFixed(2)),
    loadavg1: [load0, loadavg()[0]], errors,
  }));
} finally {
  await pages.close();
}

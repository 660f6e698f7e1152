/**
 * A pool of worker threads for embarrassingly parallel jobs (retraining on subsets, leave-one-out
 * rows, ensemble members). The jobs run in a module that exports
 * `createJobHandler(setup) → (job) => result`; each worker imports it once, calls it with `setup`
 * (plain data: structured-cloned), then runs the jobs it is handed, one at a time. Results come
 * back in job order whatever thread ran them, so a run is bit-identical for any thread count as
 * long as each job is a pure function of itself (its own seed, never a shared generator).
 *
 * With `threads: 1` the jobs run on the calling thread (no worker is started).
 *
 * Workers are started from TypeScript sources through tsx's loader when the module is a `.ts`
 * file (a checkout), and directly from the build otherwise.
 *
 * @module
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** A job module: what each worker imports. */
export interface JobModule<S, J, R> {
  createJobHandler(setup: S): (job: J) => R | Promise<R>;
}

/** Options for {@link runPool}. */
export interface PoolOptions<S> {
  /** URL of the job module (see {@link JobModule}). */
  module: URL;
  /** Passed to the module's `createJobHandler` in every thread. */
  setup: S;
  /** Threads (default: one per core, at most the number of jobs). */
  threads?: number;
  /** Called after each finished job with the number done and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** One per core, as `os.availableParallelism()` reports. */
export function defaultThreads(): number {
  return Math.max(1, availableParallelism());
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  if (workerData.tsx) (await import(workerData.tsx)).register();
  const mod = await import(workerData.module);
  const handle = await mod.createJobHandler(workerData.setup);
  parentPort.on('message', async ({ id, job }) => {
    try {
      parentPort.postMessage({ id, result: await handle(job) });
    } catch (e) {
      parentPort.postMessage({ id, error: (e && e.stack) || String(e) });
    }
  });
  parentPort.postMessage({ ready: true });
})().catch((e) => parentPort.postMessage({ fatal: (e && e.stack) || String(e) }));
`;

/**
 * Runs every job and resolves to their results in job order. A job that throws rejects the whole
 * run with its message (the other workers are stopped).
 *
 * @example
 * ```ts
 * const losses = await runPool(jobs, { module: new URL('./retrain-jobs.ts', import.meta.url), setup: { seed: 0 }, threads: 2 });
 * ```
 */
export async function runPool<S, J, R>(jobs: readonly J[], opts: PoolOptions<S>): Promise<R[]> {
  const threads = Math.min(opts.threads ?? defaultThreads(), Math.max(jobs.length, 1));
  if (!(Number.isInteger(threads) && threads >= 1)) throw new Error(`runPool: threads must be a positive integer, got ${opts.threads}`);
  const results: R[] = new Array(jobs.length);
  let done = 0;
  if (threads === 1) {
    const mod = (await import(opts.module.href)) as JobModule<S, J, R>;
    const handle = mod.createJobHandler(opts.setup);
    for (let k = 0; k < jobs.length; k++) {
      results[k] = await handle(jobs[k]!);
      opts.onProgress?.(++done, jobs.length);
    }
    return results;
  }
  const tsx = opts.module.pathname.endsWith('.ts') ? import.meta.resolve('tsx/esm/api') : null;
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let next = 0;
      let failed = false;
      const fail = (e: Error) => {
        if (failed) return;
        failed = true;
        reject(e);
      };
      const feed = (w: Worker) => {
        if (failed) return;
        if (next >= jobs.length) {
          if (done === jobs.length) resolve();
          return;
        }
        const id = next++;
        w.postMessage({ id, job: jobs[id] });
      };
      for (let t = 0; t < threads; t++) {
        const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { module: opts.module.href, setup: opts.setup, tsx } });
        workers.push(w);
        w.on('message', (msg: { ready?: boolean; fatal?: string; id?: number; result?: R; error?: string }) => {
          if (msg.fatal) return fail(new Error(`worker ${t} could not start: ${msg.fatal}`));
          if (msg.ready) return feed(w);
          if (msg.error !== undefined) return fail(new Error(`job ${msg.id}: ${msg.error.split('\n')[0]}`));
          results[msg.id!] = msg.result as R;
          opts.onProgress?.(++done, jobs.length);
          if (done === jobs.length) resolve();
          else feed(w);
        });
        w.on('error', (e) => fail(e));
        w.on('exit', (code) => {
          if (code !== 0 && done < jobs.length) fail(new Error(`worker ${t} exited with code ${code}`));
        });
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results;
}

/**
 * A progress line with the estimated time left, for stderr: `label d/t (p%), elapsed, ~left`.
 *
 * @example
 * ```ts
 * const progress = progressLine('retraining', (line) => process.stderr.write(line + '\n'));
 * progress(5, 100); // "retraining 5/100 (5%), 12 s elapsed, ~3.8 min left"
 * ```
 */
export function progressLine(label: string, write: (line: string) => void, every = 1): (done: number, total: number) => void {
  const start = performance.now();
  return (done, total) => {
    if (done % every !== 0 && done !== total) return;
    const elapsed = (performance.now() - start) / 1000;
    const left = (elapsed / done) * (total - done);
    write(`${label} ${done}/${total} (${Math.round((100 * done) / total)}%), ${fmtSeconds(elapsed)} elapsed, ~${fmtSeconds(left)} left`);
  };
}

function fmtSeconds(s: number): string {
  return s < 90 ? `${s.toFixed(0)} s` : s < 5400 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(1)} h`;
}

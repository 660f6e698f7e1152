/**
 * The browser side of the threaded-GEMM check, bundled by esbuild into one classic script that
 * runs both in the page and, loaded again by `new Worker('bundle.js')`, in a dedicated worker.
 * It computes one float64 product C = A·B on the `cpu` backend with 1 thread and with 2, and on
 * the `reference` backend, and reports summaries (not the 2 MB products) to the test in Node.
 */
import { currentHost } from '../../src/backend/wasm/host.ts';
import { stopGemmThreads, warmGemmThreads, wasmGemmInfo } from '../../src/backend/wasm/gemm.ts';
import { type Tensor, abs, matmul, randomNormal, setBackend } from '../../src/index.ts';

/** What one check found, in the page or in a worker. */
export interface ThreadsReport {
  where: 'page' | 'worker';
  crossOriginIsolated: boolean;
  /** Whether a host was found, and whether it lets this thread block in `Atomics.wait`. */
  host: boolean;
  canBlock: boolean;
  cores: number;
  shared: boolean;
  fma: boolean;
  workersReady: number;
  /** Row-panel units the worker threads computed during the two-thread product. */
  workerUnits: number;
  /** Kernel calls during the first three products (3 when all ran on the WebAssembly kernel). */
  kernelCalls: number;
  /** Entries of the two-thread product whose bits differ from the one-thread product's. */
  bitDifferences: number;
  /** max over entries of |C_cpu − C_ref| / bound (≤ 1 passes; see the test for the bound). */
  worstBoundRatio: number;
  /**
   * After `stopGemmThreads()` (which on a page's main thread spins for the workers' goodbye):
   * workers ready right after it, then ready again once restarted, the units they computed in
   * another two-thread product, and that product's entries differing from the one-thread one.
   */
  restart: { readyAfterStop: number; ready: number; workerUnits: number; bitDifferences: number };
  /** A hash of the one-thread product's bits, to compare across pages. */
  hash: string;
  errors: string[];
}

/** FNV-1a over the product's bytes: equal bits give equal hashes across pages. */
function hashBits(x: Float64Array): string {
  const bytes = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return (h >>> 0).toString(16);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits, without blocking, until `threads − 1` workers are ready. A window's main thread must
 * return to its event loop for a Worker to start at all, so no caller here blocks for them.
 */
async function workersUp(threads: number, timeoutMs: number): Promise<number> {
  const end = Date.now() + timeoutMs;
  let got = warmGemmThreads(threads);
  while (got < threads && Date.now() < end) {
    await sleep(10);
    got = warmGemmThreads(threads);
  }
  return got;
}

/**
 * A·B on the threads set, retried until the workers took part (when `threaded`). Which thread
 * claims which row panels is dynamic: on a loaded machine the caller can take them all before a
 * worker is scheduled. Up to 5 tries, each after a product of another value (B·A) so that panels a
 * worker skipped could never hold the right numbers.
 */
function sharedProduct(A: Tensor, B: Tensor, threaded: boolean): Float64Array {
  const units = wasmGemmInfo()?.workerUnits ?? 0;
  let c = matmul(A, B).toFloat64Array();
  for (let tries = 1; threaded && (wasmGemmInfo()?.workerUnits ?? 0) === units && tries < 5; tries++) {
    matmul(B, A);
    c = matmul(A, B).toFloat64Array();
  }
  return c;
}

/** The check: C = A·B (n × n) with 1 and 2 threads against the reference backend. */
export async function check(n: number, where: 'page' | 'worker'): Promise<ThreadsReport> {
  const errors: string[] = [];
  const A = randomNormal([n, n], 1), B = randomNormal([n, n], 2);
  const host = currentHost();
  setBackend('cpu', { threads: 1 });
  const calls0 = wasmGemmInfo()?.calls ?? 0;
  const one = matmul(A, B).toFloat64Array();
  // Another product of the same shape overwrites the kernel's C region, so a panel the threaded
  // product failed to compute cannot pass by holding the one-thread product's values.
  matmul(B, A);
  setBackend('cpu', { threads: 2 });
  if (host) await workersUp(2, 20_000);
  const units0 = wasmGemmInfo()?.workerUnits ?? 0;
  const two = sharedProduct(A, B, host !== null);
  const info = wasmGemmInfo();
  stopGemmThreads();
  const readyAfterStop = wasmGemmInfo()?.workersReady ?? 0;
  matmul(B, A);
  if (host) await workersUp(2, 20_000);
  const units1 = wasmGemmInfo()?.workerUnits ?? 0;
  const again = sharedProduct(A, B, host !== null);
  const restart = {
    readyAfterStop,
    ready: wasmGemmInfo()?.workersReady ?? 0,
    workerUnits: (wasmGemmInfo()?.workerUnits ?? 0) - units1,
    bitDifferences: again.reduce((d, x, i) => d + (Object.is(x, one[i]) ? 0 : 1), 0),
  };
  setBackend('reference');
  const ref = matmul(A, B).toFloat64Array();
  const absProd = matmul(abs(A), abs(B)).toFloat64Array();
  setBackend('cpu');
  // γ_k = k·u/(1 − k·u), u = 2⁻⁵³; see the test file for why 2γ_k·(|A||B|)/(1 − γ_k) bounds it.
  const u = 2 ** -53, gamma = (n * u) / (1 - n * u);
  let bitDifferences = 0, worst = 0;
  for (let i = 0; i < one.length; i++) {
    if (!Object.is(one[i], two[i])) bitDifferences++;
    const bound = (2 * gamma * absProd[i]!) / (1 - gamma);
    const r = Math.abs(two[i]! - ref[i]!) / bound;
    if (!(r <= worst)) worst = Number.isNaN(r) ? Infinity : r;
  }
  return {
    where,
    crossOriginIsolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true,
    host: host !== null,
    canBlock: host?.canBlock ?? false,
    cores: host?.cores() ?? 1,
    shared: info?.shared ?? false,
    fma: info?.kernel.fma ?? false,
    workersReady: info?.workersReady ?? 0,
    workerUnits: (info?.workerUnits ?? 0) - units0,
    kernelCalls: (info?.calls ?? 0) - calls0,
    bitDifferences,
    worstBoundRatio: worst,
    restart,
    hash: hashBits(one),
    errors,
  };
}

/** Median milliseconds of an n × n product with 1 and with 2 threads, alternated `reps` times. */
export async function timing(n: number, reps: number): Promise<{ ms1: number; ms2: number; workersReady: number }> {
  const A = randomNormal([n, n], 3), B = randomNormal([n, n], 4);
  setBackend('cpu', { threads: 2 });
  const ready = (await workersUp(2, 20_000)) - 1;
  const t1: number[] = [], t2: number[] = [];
  for (let r = 0; r < reps; r++) {
    for (const [threads, into] of [[1, t1], [2, t2]] as const) {
      setBackend('cpu', { threads });
      const t0 = performance.now();
      matmul(A, B).toFloat64Array();
      into.push(performance.now() - t0);
    }
  }
  setBackend('cpu');
  const median = (x: number[]) => [...x].sort((a, b) => a - b)[x.length >> 1]!;
  return { ms1: median(t1), ms2: median(t2), workersReady: ready };
}

/** Runs `check` in a dedicated worker loaded from this same bundle. */
function inWorker(n: number): Promise<ThreadsReport> {
  return new Promise((resolve, reject) => {
    const w = new Worker('bundle.js', { name: 'threads-check' });
    w.onmessage = (e: MessageEvent<ThreadsReport>) => {
      w.terminate();
      resolve(e.data);
    };
    w.onerror = (e) => reject(new Error(`worker: ${e.message}`));
    w.postMessage(n);
  });
}

const scope = globalThis as unknown as {
  DedicatedWorkerGlobalScope?: unknown;
  onmessage: ((e: MessageEvent<number>) => void) | null;
  postMessage(x: unknown): void;
  threadsCheck?: unknown;
};
if (scope.DedicatedWorkerGlobalScope !== undefined) {
  scope.onmessage = (e) => {
    check(e.data, 'worker').then(
      (r) => scope.postMessage(r),
      (err) => scope.postMessage({ where: 'worker', errors: [String(err)] }),
    );
  };
} else {
  scope.threadsCheck = { check: (n: number) => check(n, 'page'), inWorker, timing };
}

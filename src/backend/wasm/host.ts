/**
 * The seam between the WebAssembly kernels and the platform they run on: how many cores there
 * are, how to turn on relaxed SIMD, how to start a thread that shares memory, and whether this
 * thread may block in `Atomics.wait`.
 *
 * Node's modules are reached through `process.getBuiltinModule` (Node ≥ 20.16), never through an
 * `import` statement, so a browser bundle of the library contains no `node:` import and simply
 * finds no host here: the kernels then run single-threaded, and without WebAssembly at all the
 * CPU backend keeps its plain TypeScript loops. A browser host (Web Workers from a Blob URL in a
 * cross-origin-isolated page, the calling thread spinning instead of `Atomics.wait`) slots in as
 * another implementation of {@link Host}.
 *
 * @module
 */

/** A started thread that can be stopped. */
export interface ThreadHandle {
  terminate(): void;
}

/** What the kernels need from the platform. */
export interface Host {
  /** Hardware threads available to this process. */
  cores(): number;
  /** Turns on relaxed SIMD for modules compiled from now on (a no-op where it is already on). */
  enableRelaxedSimd(): void;
  /**
   * Starts a thread running `source` (plain JavaScript, CommonJS, with `workerData` available
   * from `require('node:worker_threads')`), passing it `data` (structured-cloned; a shared
   * `WebAssembly.Memory` and a `WebAssembly.Module` are shared, not copied). The thread must not
   * keep the process alive. `onExit` runs if the thread dies.
   */
  spawn(source: string, data: unknown, onExit: () => void): ThreadHandle;
  /** Whether the calling thread may block in `Atomics.wait` (Node: yes, even the main thread). */
  readonly canBlock: boolean;
}

interface NodeProcess {
  versions?: { node?: string };
  getBuiltinModule?: (id: string) => unknown;
}

interface NodeWorker {
  unref(): void;
  terminate(): Promise<number>;
  on(event: 'exit' | 'error', cb: (x: unknown) => void): void;
}

let cached: Host | null | undefined;

/**
 * The host this code runs on, or `null` where no threads or V8 flags are reachable (a browser
 * today, or Node older than 20.16).
 *
 * @example
 * ```ts
 * const host = currentHost();
 * const threads = host ? host.cores() : 1;
 * ```
 */
export function currentHost(): Host | null {
  if (cached !== undefined) return cached;
  cached = null;
  const proc = (globalThis as { process?: NodeProcess }).process;
  const load = proc?.versions?.node ? proc.getBuiltinModule : undefined;
  if (!load) return cached;
  const os = load('node:os') as { availableParallelism?: () => number; cpus(): unknown[] };
  const v8 = load('node:v8') as { setFlagsFromString(flags: string): void };
  const wt = load('node:worker_threads') as {
    Worker: new (src: string, opts: { eval: boolean; workerData: unknown }) => NodeWorker;
  };
  cached = {
    cores: () => Math.max(1, os.availableParallelism ? os.availableParallelism() : os.cpus().length),
    enableRelaxedSimd: () => v8.setFlagsFromString('--experimental-wasm-relaxed-simd'),
    spawn(source, data, onExit) {
      const w = new wt.Worker(source, { eval: true, workerData: data });
      w.unref();
      w.on('exit', onExit);
      w.on('error', onExit);
      return { terminate: () => void w.terminate() };
    },
    canBlock: true,
  };
  return cached;
}

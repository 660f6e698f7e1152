/**
 * The seam between the WebAssembly kernels and the platform they run on: how many cores there
 * are, how to turn on relaxed SIMD, how to start a thread that shares memory, and whether this
 * thread may block in `Atomics.wait`.
 *
 * Two hosts exist. **Node**: its modules are reached through `process.getBuiltinModule`
 * (Node ≥ 20.16), never through an `import` statement, so a browser bundle of the library
 * contains no `node:` import; threads are `worker_threads`, and every thread may block.
 * **Browser**: only in a cross-origin-isolated page or worker (`crossOriginIsolated === true`,
 * which `SharedArrayBuffer` and a shared `WebAssembly.Memory` need); threads are classic Web
 * Workers started from a Blob URL and handed their data by `postMessage`; a dedicated worker may
 * block, a window's main thread may not (it spins on `Atomics.load` instead). Anywhere else
 * there is no host: the kernels run single-threaded on unshared memory, and without WebAssembly
 * the CPU backend keeps its plain TypeScript loops.
 *
 * A thread's program is written once, as a function of its data (`spawn`'s `main`); each host
 * only adds the few lines that hand the data to it.
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
   * Starts a thread that calls `main` with `data`. `main` is the source text of a plain
   * JavaScript function expression, `function (data) { … }`, that uses nothing but the
   * language's globals (`WebAssembly`, `Atomics`): it runs unchanged under every host. `data` is
   * structured-cloned (a shared `WebAssembly.Memory` and a `WebAssembly.Module` are shared, not
   * copied). The thread must not keep a Node process alive. `onExit` runs if the thread dies or
   * fails to start.
   */
  spawn(main: string, data: unknown, onExit: () => void): ThreadHandle;
  /**
   * Whether the calling thread may block in `Atomics.wait`: Node yes, even the main thread; a
   * browser's dedicated worker yes; a window's main thread no (it must spin on `Atomics.load`).
   */
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
 * The host this code runs on, or `null` where no threads are reachable (a page or worker that is
 * not cross-origin isolated, or Node older than 20.16).
 *
 * @example
 * ```ts
 * const host = currentHost();
 * const threads = host ? host.cores() : 1;
 * ```
 */
export function currentHost(): Host | null {
  if (cached === undefined) cached = nodeHost() ?? browserHost();
  return cached;
}

function nodeHost(): Host | null {
  const proc = (globalThis as { process?: NodeProcess }).process;
  const load = proc?.versions?.node ? proc.getBuiltinModule : undefined;
  if (!load) return null;
  const os = load('node:os') as { availableParallelism?: () => number; cpus(): unknown[] };
  const v8 = load('node:v8') as { setFlagsFromString(flags: string): void };
  const wt = load('node:worker_threads') as {
    Worker: new (src: string, opts: { eval: boolean; workerData: unknown }) => NodeWorker;
  };
  return {
    cores: () => Math.max(1, os.availableParallelism ? os.availableParallelism() : os.cpus().length),
    enableRelaxedSimd: () => v8.setFlagsFromString('--experimental-wasm-relaxed-simd'),
    spawn(main, data, onExit) {
      // The Node prologue: the data arrives as `workerData`.
      const w = new wt.Worker(`(${main})(require('node:worker_threads').workerData);`, { eval: true, workerData: data });
      w.unref();
      w.on('exit', onExit);
      w.on('error', onExit);
      return { terminate: () => void w.terminate() };
    },
    canBlock: true,
  };
}

/** The parts of a browser's global scope the browser host uses (absent in Node's types). */
interface BrowserScope {
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
  Worker?: new (url: string, opts?: { name?: string }) => BrowserWorker;
  Blob?: new (parts: string[], opts: { type: string }) => unknown;
  URL?: { createObjectURL(blob: unknown): string; revokeObjectURL(url: string): void };
  /** Defined only inside a dedicated worker, the one kind of worker that may block. */
  DedicatedWorkerGlobalScope?: unknown;
}

interface BrowserWorker {
  postMessage(data: unknown): void;
  terminate(): void;
  addEventListener(type: 'error' | 'messageerror', cb: () => void): void;
}

/**
 * Web Workers in a cross-origin-isolated page (or in a dedicated worker of one). Without
 * isolation a shared memory cannot be made or posted, so there is no host and the kernels stay
 * on the calling thread.
 */
function browserHost(): Host | null {
  const g = globalThis as unknown as BrowserScope;
  if (g.crossOriginIsolated !== true || !g.Worker || !g.Blob || !g.URL?.createObjectURL) return null;
  const { Worker, Blob, URL } = g as Required<BrowserScope>;
  // One Blob URL per distinct program, kept for the page's life: workers restart after a stop.
  const urls = new Map<string, string>();
  return {
    cores: () => Math.max(1, Math.floor(g.navigator?.hardwareConcurrency ?? 1)),
    // Chromium, Firefox and Safari decide relaxed SIMD themselves; a page cannot set V8 flags.
    enableRelaxedSimd: () => {},
    spawn(main, data, onExit) {
      let url = urls.get(main);
      if (url === undefined) {
        // The browser prologue: the data arrives as the first message, and the handler then
        // runs `main` for the worker's whole life (it blocks in Atomics.wait between jobs).
        const source = `self.onmessage = (e) => { self.onmessage = null; (${main})(e.data); };`;
        url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
        urls.set(main, url);
      }
      let w: BrowserWorker;
      try {
        w = new Worker(url, { name: 'unequal-gemm' });
      } catch {
        // A page whose policy forbids workers: the caller computes alone, as without a host.
        onExit();
        return { terminate: () => {} };
      }
      w.addEventListener('error', onExit);
      w.addEventListener('messageerror', onExit);
      w.postMessage(data);
      return {
        terminate: () => {
          w.terminate();
          onExit();
        },
      };
    },
    canBlock: g.DedicatedWorkerGlobalScope !== undefined,
  };
}

/**
 * Which backend evaluates primitives: `cpu` (float64, the default: the plain TypeScript oracle
 * with WebAssembly SIMD matrix products on all cores), `reference` (the oracle alone, every
 * operation in plain TypeScript) or `gpu` (float32 gpu.js kernels from `kernels/`, one instance
 * per gpu.js mode).
 *
 * @module
 */
import type { Backend } from './backend.ts';
import { cpuBackend } from './cpu.ts';
import { GpuBackend } from './gpu.ts';
import { fastCpuBackend, type CpuOptions } from './wasm/backend.ts';
import { GPU_MODES, type GpuMode } from '../../kernels/index.ts';

export type { Backend } from './backend.ts';
export type { CpuOptions } from './wasm/backend.ts';

/** Options for `setBackend('gpu', …)`. */
export interface GpuOptions {
  /** The gpu.js mode: `'webasm'` or `'cpu'` in Node; `'webgl2'`, `'webgpu'` in a browser. */
  mode?: GpuMode;
}

/** Builds a backend from the options given to `setBackend`. */
export type Factory = (options: Record<string, unknown>) => Backend;
/** One GPU backend per gpu.js mode, so switching back and forth keeps compiled kernels. */
const gpuBackends = new Map<string, GpuBackend>();
function gpuFactory(options: Record<string, unknown>): Backend {
  const mode = (options.mode as GpuOptions['mode']) ?? 'webasm';
  if (!(GPU_MODES as readonly string[]).includes(mode)) {
    throw new Error(`setBackend('gpu'): mode must be one of ${GPU_MODES.join(', ')}, got '${mode}'`);
  }
  let b = gpuBackends.get(mode);
  if (!b) gpuBackends.set(mode, (b = new GpuBackend({ mode })));
  return b;
}

/** The one default CPU backend; options reconfigure it, so its tensors never need moving. */
function cpuFactory(options: Record<string, unknown>): Backend {
  fastCpuBackend.configure(options as CpuOptions);
  return fastCpuBackend;
}

const factories = new Map<string, Factory>([
  ['cpu', cpuFactory],
  ['reference', () => cpuBackend],
  ['gpu', gpuFactory],
]);
let current: Backend = fastCpuBackend;

/**
 * Makes a backend available to `setBackend` under `name`, e.g. an instrumented CPU backend for a
 * study of which primitives a transformation runs.
 *
 * @example
 * ```ts
 * registerBackend('counting', () => new CountingBackend(getBackend()));
 * setBackend('counting');
 * ```
 */
export function registerBackend(name: string, factory: Factory): void {
  factories.set(name, factory);
}

/**
 * The backend new results are computed on.
 *
 * @example
 * ```ts
 * getBackend().precision; // 'float64' on the default CPU backend
 * ```
 */
export function getBackend(): Backend {
  return current;
}

/**
 * Chooses the backend for all following operations. Tensors made on another backend are moved
 * when an operation uses them.
 *
 * @example
 * ```ts
 * setBackend('gpu', { mode: 'webasm' }); // float32 gpu.js kernels
 * setBackend('cpu');                      // back to float64 on the CPU
 * setBackend('cpu', { threads: 1 });      // matrix products on the calling thread only
 * setBackend('reference');                // the plain TypeScript oracle, nothing else
 * ```
 */
export function setBackend(name: 'cpu', options?: CpuOptions): void;
export function setBackend(name: 'reference'): void;
export function setBackend(name: 'gpu', options?: GpuOptions): void;
export function setBackend(name: string, options?: Record<string, unknown>): void;
export function setBackend(name: string, options: Record<string, unknown> | GpuOptions | CpuOptions = {}): void {
  const factory = factories.get(name);
  if (!factory) {
    throw new Error(`setBackend: unknown backend '${name}'; available: ${[...factories.keys()].join(', ')}`);
  }
  current = factory(options as Record<string, unknown>);
}

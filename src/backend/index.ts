/**
 * Which backend evaluates primitives. The CPU float64 backend is the default; the GPU backend
 * registers itself when its module is loaded.
 *
 * @module
 */
import type { Backend } from './backend.ts';
import { cpuBackend } from './cpu.ts';

export type { Backend } from './backend.ts';

/** Options for `setBackend('gpu', …)`. */
export interface GpuOptions {
  /** The gpu.js mode: `'webasm'` or `'cpu'` in Node; `'webgl2'`, `'webgpu'` in a browser. */
  mode?: 'cpu' | 'webasm' | 'webgl' | 'webgl2' | 'webgpu' | 'gpu';
}

type Factory = (options: Record<string, unknown>) => Backend;
const factories = new Map<string, Factory>([['cpu', () => cpuBackend]]);
let current: Backend = cpuBackend;

/** Makes a backend available to `setBackend` under `name` (the GPU module calls this). */
export function registerBackend(name: string, factory: Factory): void {
  factories.set(name, factory);
}

/** The backend new results are computed on. */
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
 * setBackend('cpu');                      // back to the float64 reference
 * ```
 */
export function setBackend(name: 'cpu'): void;
export function setBackend(name: 'gpu', options?: GpuOptions): void;
export function setBackend(name: string, options?: Record<string, unknown>): void;
export function setBackend(name: string, options: Record<string, unknown> | GpuOptions = {}): void {
  const factory = factories.get(name);
  if (!factory) {
    throw new Error(`setBackend: unknown backend '${name}'; available: ${[...factories.keys()].join(', ')}`);
  }
  current = factory(options as Record<string, unknown>);
}

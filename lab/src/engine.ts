/**
 * Which backend the lab computes on: the float64 CPU backend (the library's default: the plain
 * TypeScript oracle with a WebAssembly SIMD matrix kernel; single-threaded in a page, since the
 * library starts threads only where Node's worker_threads are reachable), or the float32 gpu.js
 * backend in `webgl2` mode where the browser has WebGL2.
 *
 * @module
 */
import { add, exp, getBackend, setBackend, tensor, tidy } from '../../src/index.ts';
// A diagnostic only (not part of the public API): what the WebAssembly matrix kernel runs with here.
import { wasmGemmInfo } from '../../src/backend/wasm/gemm.ts';

/** The two engines the toggle offers. */
export type EngineName = 'cpu' | 'gpu';

/** Whether the GPU engine works in this browser, and why not when it does not. */
export interface GpuAvailability {
  available: boolean;
  reason: string;
}

let availability: GpuAvailability | undefined;

/**
 * Probes gpu.js' `webgl2` mode once: builds the backend and runs a small chain of kernels. A
 * silent fallback to another gpu.js mode throws inside the backend, so "available" means WebGL2.
 */
export function gpuAvailability(): GpuAvailability {
  if (availability) return availability;
  try {
    if (typeof document === 'undefined') throw new Error('no document: WebGL2 needs a browser page');
    const probe = document.createElement('canvas').getContext('webgl2');
    if (!probe) throw new Error('this browser offers no WebGL2 context');
    const got = onEngine('gpu', () => add(exp(tensor([0, 1])), 1).toFloat64Array());
    if (Math.abs(got[0]! - 2) > 1e-6 || Math.abs(got[1]! - (1 + Math.E)) > 1e-5) throw new Error(`the probe computed [${got.join(', ')}]`);
    availability = { available: true, reason: 'gpu.js webgl2' };
  } catch (e) {
    availability = { available: false, reason: e instanceof Error ? e.message : String(e) };
  }
  return availability;
}

/**
 * Runs `fn` with `name` as the backend and returns to the CPU backend afterwards, even on error.
 * On the GPU, `fn` must return plain numbers (its tensors are released when it returns).
 */
export function onEngine<T>(name: EngineName, fn: () => T): T {
  if (name === 'cpu') {
    setBackend('cpu');
    return fn();
  }
  setBackend('gpu', { mode: 'webgl2' });
  try {
    // Textures are not reclaimed by the garbage collector on any schedule: release every tensor
    // the computation made. The pages take plain numbers out of the GPU engine, never tensors.
    let out: T | undefined;
    tidy(() => {
      out = fn();
      return [];
    });
    return out as T;
  } finally {
    setBackend('cpu');
  }
}

/** A one-line description of a backend, for the "computed on" labels. */
export function describeEngine(name: EngineName): string {
  if (name === 'cpu') setBackend('cpu');
  if (name === 'gpu') return 'gpu (gpu.js webgl2, float32)';
  const info = wasmGemmInfo();
  const kernel = info
    ? `WebAssembly SIMD ${info.kernel.mr}×${info.kernel.nr} matrix kernel${info.kernel.fma ? ' with relaxed-SIMD FMA' : ''}, ` +
      `${info.threads} thread${info.threads === 1 ? '' : 's'}, ${info.shared ? 'shared' : 'unshared'} memory`
    : 'no WebAssembly: plain TypeScript loops';
  return `cpu (${getBackend().precision}; ${kernel})`;
}

/** The engine the student chose in the header's toggle. */
let selected: EngineName = 'cpu';
const listeners: ((e: EngineName) => void)[] = [];
export function selectedEngine(): EngineName {
  return selected;
}
export function selectEngine(e: EngineName): void {
  selected = e;
  for (const l of listeners) l(e);
}
export function onEngineChange(l: (e: EngineName) => void): void {
  listeners.push(l);
}

/** |a − b| / max(|b|, tiny): the relative difference the pages report. */
export function relDiff(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);
}

/** Lets the browser paint (a status line) before a long synchronous computation. */
export function nextFrame(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

/**
 * The `cpu` backend's elementwise tanh on the WebAssembly SIMD kernel of `tanh-module.ts`, for
 * arrays of at least {@link WASM_TANH_MIN} elements: the values are copied into the GEMM engine's
 * memory one slice (`STAGING_SLICE`, 1 MiB) at a time, transformed in place, and copied into
 * the fresh result.
 *
 * @module
 */
import { allocateF64 } from '../f64-pool.ts';
import { STAGING_SLICE, wasmKernelModule, wasmScratch } from './gemm.ts';
import { buildTanhModule } from './tanh-module.ts';

/** Arrays shorter than this use `Math.tanh` per element (the copies and the call cost more). */
export const WASM_TANH_MIN = 256;

let kernel: ((src: number, dst: number, pairs: number) => void) | null | undefined;
let enabled = true;

/**
 * Turns the WebAssembly tanh on or off (on by default; off, the backend calls `Math.tanh` per
 * element as the oracle does) and returns the previous setting, for benchmarks that compare both.
 *
 * @example
 * ```ts
 * const before = setWasmTanh(false);
 * try { tanh(x); } finally { setWasmTanh(before); }
 * ```
 */
export function setWasmTanh(on: boolean): boolean {
  const before = enabled;
  enabled = on;
  return before;
}

/** The instantiated kernel over the GEMM engine's memory; `null` where unavailable. */
function getKernel(): ((src: number, dst: number, pairs: number) => void) | null {
  if (kernel === undefined) {
    const exports = wasmKernelModule(({ memory }) => buildTanhModule(memory));
    kernel = (exports?.tanh as ((src: number, dst: number, pairs: number) => void) | undefined) ?? null;
  }
  return kernel;
}

/**
 * tanh of the first `n` elements of `x` as a fresh array, on the WebAssembly kernel; `undefined`
 * where it is unavailable or switched off (the caller then uses `Math.tanh`). Each element is within a few ulps of
 * `Math.tanh` (proofs/wasm-tanh.md); ±0, ±∞ and NaN map exactly as `Math.tanh` maps them.
 *
 * @example
 * ```ts
 * wasmTanh(Float64Array.of(0, 0.5, -Infinity), 3); // Float64Array [0, 0.46211715726000974, -1]
 * ```
 */
export function wasmTanh(x: Float64Array, n: number): Float64Array | undefined {
  const k = enabled ? getKernel() : null;
  if (!k) return undefined;
  const out = allocateF64(n, false);
  if (n === 0) return out;
  const len = Math.min(n, STAGING_SLICE);
  const s = wasmScratch(8 * (len + 2));
  if (!s) return undefined;
  const { H, base } = s;
  for (let i0 = 0; i0 < n; i0 += STAGING_SLICE) {
    const m = Math.min(STAGING_SLICE, n - i0);
    H.set(x.subarray(i0, i0 + m), base);
    // An odd count's last pair reads one float64 past the slice; its lane is never copied out.
    k(8 * base, 8 * base, (m + 1) >> 1);
    out.set(H.subarray(base, base + m), i0);
  }
  return out;
}

/**
 * The default float64 CPU backend: the plain TypeScript oracle (`../cpu.ts`) with its matrix
 * products routed through the WebAssembly SIMD GEMM (`gemm.ts`) when they are large enough to
 * gain, on all cores for the largest, and through the narrow kernels (`narrow.ts`) when one side
 * is thin; convolutions on the GEMM (`conv.ts`); and tanh of large arrays on a SIMD kernel
 * (`tanh.ts`), the one elementwise op that is compute-bound rather than memory-bound.
 *
 * Everything else (elementwise, reductions, movement) is inherited from the oracle unchanged, and
 * results are the same `Float64Array` storage, so tensors move between this backend and the
 * oracle (`setBackend('reference')`) by a copy at most. Products the kernel does not take, and
 * every product where WebAssembly SIMD is unavailable, run the oracle's own loops.
 *
 * @module
 */
import type { ConvOp, ConvPlan, Storage, UnaryOp } from '../backend.ts';
import { CpuBackend } from '../cpu.ts';
import { defaultThreads, wasmGemmAvailable, wasmMatmul } from './gemm.ts';
import { wasmConv } from './conv.ts';
import { wasmNarrowAvailable, wasmNarrowMatmul } from './narrow.ts';
import { WASM_TANH_MIN, wasmTanh } from './tanh.ts';
import { NARROW_MAX_COLUMNS } from './narrow-module.ts';
import { convComposed } from '../conv-composed.ts';

/** Options for `setBackend('cpu', …)`. */
export interface CpuOptions {
  /**
   * Threads a large matrix product may use, the calling thread included (default: the
   * machine's core count). `1` keeps every product on the calling thread.
   */
  threads?: number;
}

/**
 * The smallest product the WebAssembly GEMM takes: at least `WASM_MIN_COLUMNS` columns and
 * `WASM_MIN_MACS` multiply-adds per slice. Below that the oracle's loops are as fast or faster.
 * Products with at most seven columns, or at most {@link NARROW_MAX_ROWS} rows, go to the narrow
 * kernels instead (`narrow.ts`): they stream their large operand once, and packing it into the
 * GEMM's panels would cost as much as the product (figures in bench/README.md).
 */
export const WASM_MIN_COLUMNS = 8;
/** See {@link WASM_MIN_COLUMNS}; the narrow kernels take the same floor. */
export const WASM_MIN_MACS = 8192;
/** Products with at most this many rows go to the narrow kernels (as Cᵀ = op(B)ᵀ op(A)ᵀ). */
export const NARROW_MAX_ROWS = 4;

/**
 * Which products go where. `narrow`: `'measured'` (the default rule above: n ≤ 7 or m ≤ 4),
 * `'all'` (every product the narrow kernels can take, n ≤ 7 or m ≤ 7; for tests), or `'none'`
 * (the routing before the narrow kernels existed). Both narrow rules apply at or above `minMacs`.
 */
export interface WasmCutoff {
  minColumns: number;
  minMacs: number;
  narrow?: 'measured' | 'all' | 'none';
}

const DEFAULT_CUTOFF: Required<WasmCutoff> = { minColumns: WASM_MIN_COLUMNS, minMacs: WASM_MIN_MACS, narrow: 'measured' };
const cutoff: Required<WasmCutoff> = { ...DEFAULT_CUTOFF };

/**
 * Moves the cutoffs between the oracle's loops and the WebAssembly kernels; with no argument,
 * restores the measured defaults. For tests: `{ minColumns: 1, minMacs: 0, narrow: 'none' }`
 * sends every product to the GEMM, `{ minColumns: Infinity, minMacs: 0, narrow: 'all' }` every
 * narrow one to the narrow kernels, so that engine-level tests exercise them on small shapes too.
 *
 * @example
 * ```ts
 * setWasmCutoff({ minColumns: 1, minMacs: 0, narrow: 'none' }); // every matmul on the GEMM
 * setWasmCutoff();                                              // back to the measured default
 * ```
 */
export function setWasmCutoff(c: WasmCutoff = DEFAULT_CUTOFF): void {
  cutoff.minColumns = c.minColumns;
  cutoff.minMacs = c.minMacs;
  cutoff.narrow = c.narrow ?? 'measured';
}

/**
 * Where the default backend computes a product of these dimensions (per slice): the GEMM
 * (`'gemm'`), the narrow kernels (`'narrow'`) or the oracle's loops (`'oracle'`).
 *
 * @example
 * ```ts
 * matmulRoute(512, 512, 512); // 'gemm' where WebAssembly SIMD is available
 * matmulRoute(1, 784, 128);   // 'narrow': one row
 * matmulRoute(1000, 784, 2);  // 'narrow': two columns
 * matmulRoute(4, 4, 4);       // 'oracle': too small to gain
 * ```
 */
export function matmulRoute(m: number, k: number, n: number): 'gemm' | 'narrow' | 'oracle' {
  const macs = m * n * k;
  if (macs < cutoff.minMacs || !wasmGemmAvailable()) return 'oracle';
  const narrowShape = cutoff.narrow === 'all'
    ? Math.min(m, n) <= NARROW_MAX_COLUMNS
    : cutoff.narrow === 'measured' && (n <= NARROW_MAX_COLUMNS || m <= NARROW_MAX_ROWS);
  if (narrowShape && wasmNarrowAvailable()) return 'narrow';
  return n >= cutoff.minColumns ? 'gemm' : 'oracle';
}

/**
 * Whether a product of these dimensions goes to the WebAssembly GEMM ({@link matmulRoute}).
 *
 * @example
 * ```ts
 * usesWasmKernel(512, 512, 512); // true where WebAssembly SIMD is available
 * usesWasmKernel(1000, 784, 2);  // false: a two-column product goes to the narrow kernels
 * ```
 */
export function usesWasmKernel(m: number, k: number, n: number): boolean {
  return matmulRoute(m, k, n) === 'gemm';
}

/** The float64 CPU backend with WebAssembly SIMD matrix products. */
export class FastCpuBackend extends CpuBackend {
  /** Threads a large product may use (the calling thread included). */
  threads: number;

  constructor(options: CpuOptions = {}) {
    super();
    this.threads = 1;
    this.configure(options);
  }

  /** Applies `setBackend('cpu', options)`; options not given take their defaults. */
  configure(options: CpuOptions): void {
    const t = options.threads ?? defaultThreads();
    if (!Number.isInteger(t) || t < 1) throw new Error(`setBackend('cpu'): threads must be a positive integer, got ${t}`);
    this.threads = t;
  }

  override matmul(
    a: Storage, b: Storage, batch: number, m: number, k: number, n: number, transA: boolean, transB: boolean,
  ): Storage {
    const route = matmulRoute(m, k, n);
    if (route === 'narrow') {
      const c = wasmNarrowMatmul(a as Float64Array, b as Float64Array, batch, m, k, n, transA, transB);
      if (c) return c;
    } else if (route === 'gemm') {
      const c = wasmMatmul(a as Float64Array, b as Float64Array, batch, m, k, n, transA, transB, { threads: this.threads });
      if (c) return c;
    }
    return super.matmul(a, b, batch, m, k, n, transA, transB);
  }

  /**
   * tanh of a large array on the WebAssembly SIMD kernel (`tanh.ts`), within a few ulps of the
   * oracle's `Math.tanh`; everything else, and small arrays, as the oracle computes them.
   */
  override unary(op: UnaryOp, x: Storage, size: number): Storage {
    if (op === 'tanh' && size >= WASM_TANH_MIN) {
      const y = wasmTanh(x as Float64Array, size);
      if (y) return y;
    }
    return super.unary(op, x, size);
  }

  /**
   * Convolutions with the windows packed straight into the kernel's panels (`conv.ts`); where the
   * kernel is unavailable or a product does not fit its memory, the composition of the oracle's ops.
   */
  conv(op: ConvOp, a: Storage, b: Storage, groups: number, n: number, plan: ConvPlan, bias?: Storage): Storage {
    const fast = wasmGemmAvailable() ? wasmConv(op, a as Float64Array, b as Float64Array, groups, n, plan, { threads: this.threads }, bias as Float64Array | undefined) : undefined;
    return fast ?? convComposed(this, op, a, b, groups, n, plan, bias);
  }
}

/**
 * The one shared instance, the default backend.
 *
 * @example
 * ```ts
 * fastCpuBackend.configure({ threads: 1 }); // what setBackend('cpu', { threads: 1 }) does
 * ```
 */
export const fastCpuBackend = new FastCpuBackend();

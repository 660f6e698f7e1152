/**
 * The default float64 CPU backend: the plain TypeScript oracle (`../cpu.ts`) with its matrix
 * products routed through the WebAssembly SIMD GEMM (`gemm.ts`) when they are large enough to
 * gain, on all cores for the largest.
 *
 * Everything else (elementwise, reductions, movement) is inherited from the oracle unchanged, and
 * results are the same `Float64Array` storage, so tensors move between this backend and the
 * oracle (`setBackend('reference')`) by a copy at most. Products the kernel does not take, and
 * every product where WebAssembly SIMD is unavailable, run the oracle's own loops.
 *
 * @module
 */
import type { ConvOp, ConvPlan, Storage } from '../backend.ts';
import { CpuBackend } from '../cpu.ts';
import { defaultThreads, wasmGemmAvailable, wasmMatmul } from './gemm.ts';
import { wasmConv } from './conv.ts';
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
 * The smallest product the WebAssembly kernel takes: at least `WASM_MIN_COLUMNS` columns and
 * `WASM_MIN_MACS` multiply-adds per slice. Below that, and for matrix–vector and two- to
 * seven-column products (which stream A once and are bound by memory, not arithmetic), packing
 * the operands into the kernel's memory costs more than the SIMD kernel saves, and the oracle's
 * loops are as fast or faster. Few rows do not matter: the oracle's 4 × 4 tile falls back to
 * one element at a time below four rows, so even a 2 × 1000 · 1000 × 784 product gains 2×
 * (figures in bench/README.md).
 */
export const WASM_MIN_COLUMNS = 8;
/** See {@link WASM_MIN_COLUMNS}. */
export const WASM_MIN_MACS = 8192;

const cutoff = { minColumns: WASM_MIN_COLUMNS, minMacs: WASM_MIN_MACS };

/**
 * Moves the cutoff between the oracle's loops and the WebAssembly kernel; with no argument,
 * restores {@link WASM_MIN_COLUMNS} and {@link WASM_MIN_MACS}. For tests: `{ minColumns: 1,
 * minMacs: 0 }` sends every product to the kernel so that engine-level tests exercise it on
 * small shapes too.
 *
 * @example
 * ```ts
 * setWasmCutoff({ minColumns: 1, minMacs: 0 }); // every matmul on the kernel
 * setWasmCutoff();                              // back to the measured default
 * ```
 */
export function setWasmCutoff(
  c: { minColumns: number; minMacs: number } = { minColumns: WASM_MIN_COLUMNS, minMacs: WASM_MIN_MACS },
): void {
  cutoff.minColumns = c.minColumns;
  cutoff.minMacs = c.minMacs;
}

/**
 * Whether a product of these dimensions goes to the WebAssembly kernel.
 *
 * @example
 * ```ts
 * usesWasmKernel(512, 512, 512); // true where WebAssembly SIMD is available
 * usesWasmKernel(1000, 784, 2);  // false: a two-column product stays on the oracle's loop
 * ```
 */
export function usesWasmKernel(m: number, k: number, n: number): boolean {
  return n >= cutoff.minColumns && m * n * k >= cutoff.minMacs && wasmGemmAvailable();
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
    if (usesWasmKernel(m, k, n)) {
      const c = wasmMatmul(a as Float64Array, b as Float64Array, batch, m, k, n, transA, transB, { threads: this.threads });
      if (c) return c;
    }
    return super.matmul(a, b, batch, m, k, n, transA, transB);
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

/**
 * Narrow float64 products on the WebAssembly SIMD kernels of `narrow-module.ts`: a matrix times
 * one to seven columns (a matrix–vector product, an HVP's [w, v]) or, by transposing the product,
 * one to seven rows times a matrix (a vector–matrix product).
 *
 * These products read their large operand once and are bound by memory. The GEMM path packs that
 * operand into panels, a second pass over it; here it is copied into the kernel's memory as
 * stored, one cache-sized slice at a time with `TypedArray.set` (a memory copy), and the kernel
 * streams each slice in either storage order while it is still in cache. Only the thin operand is
 * rearranged. The kernels run
 * on the calling thread and share the GEMM engine's memory (`wasmScratch`), so a call reserves
 * nothing of its own and its result does not depend on the thread count.
 *
 * @module
 */
import { allocateF64 } from '../f64-pool.ts';
import { STAGING_SLICE, wasmKernelModule, wasmScratch } from './gemm.ts';
import { axpysRows, buildNarrowModule, dotsRows, NARROW_MAX_COLUMNS, narrowExport } from './narrow-module.ts';

type Kernel = (...args: number[]) => void;

let kernels: Record<string, Kernel> | null | undefined;
let calls = 0;

/** The instantiated narrow module, made on first use over the GEMM engine's memory; `null` where unavailable. */
function getKernels(): Record<string, Kernel> | null {
  if (kernels === undefined) kernels = wasmKernelModule(({ fma, memory }) => buildNarrowModule(fma, memory)) as Record<string, Kernel> | null;
  return kernels;
}

/**
 * Whether the narrow kernels can run here.
 *
 * @example
 * ```ts
 * if (wasmNarrowAvailable()) wasmNarrowMatmul(x, w, 1, 2000, 784, 1, false, false);
 * ```
 */
export function wasmNarrowAvailable(): boolean {
  return getKernels() !== null;
}

/**
 * Products the narrow kernels have computed in this process (a test's evidence that a product
 * really took this path).
 *
 * @example
 * ```ts
 * const before = wasmNarrowCalls();
 * matmul(randomNormal([1, 784]), randomNormal([784, 128]));
 * wasmNarrowCalls() - before; // 1 where the kernels are available
 * ```
 */
export function wasmNarrowCalls(): number {
  return calls;
}

/** Rounds a float64 count up to an even number (16-byte alignment). */
const even = (x: number) => x + (x & 1);

/**
 * A reusable ordinary array of at least `length` float64s (grown by doubling, never shrunk): the
 * thin operand is staged and a transposed result read back through it, so a call allocates only
 * its result.
 */
let stage = new Float64Array(1024);
function staging(length: number): Float64Array {
  if (stage.length < length) stage = new Float64Array(Math.max(length, 2 * stage.length));
  return stage;
}

/** Float64s of M per slice: `STAGING_SLICE` (gemm.ts) unless a test or benchmark sets it. */
let sliceFloats = STAGING_SLICE;

/**
 * Sets how many float64s of M each slice copies (`STAGING_SLICE` by default; `Infinity` copies M
 * whole, as before slicing) and returns the previous value: tests use small slices to cross slice
 * boundaries on small shapes, and the benchmark compares slicing against copying whole. Slicing
 * moves no rounding: a row-major slice holds whole rows of M, each a dot product of its own, and
 * the column-major kernel adds storage rows into Y one after another, in order, whatever the slice.
 *
 * @example
 * ```ts
 * const before = setNarrowSlice(64);
 * try { matmul(x, v); } finally { setNarrowSlice(before); }
 * ```
 */
export function setNarrowSlice(floats: number): number {
  if (!(floats >= 1)) throw new Error(`setNarrowSlice: floats must be at least 1, got ${floats}`);
  const before = sliceFloats;
  sliceFloats = floats;
  return before;
}

/** The largest multiple of `step` (at least `step`) that is at most `limit`. */
const multipleOf = (step: number, limit: number) => Math.max(step, limit - (limit % step));

/**
 * Y = M·V with M (R × K) stored row-major (`m[off + r·K + p]`) or column-major
 * (`m[off + p·R + r]`), V (K × J) given by `v(p, j)`; Y goes to `out` from `outOff`, row-major
 * ([R][J]) or, with `yTransposed`, as Yᵀ ([J][R]). M is copied and streamed one slice at a time
 * (`setNarrowSlice`). False when the memory cannot hold the operands.
 */
function narrowProduct(
  K: Record<string, Kernel>,
  m: Float64Array, off: number, R: number, Kdim: number, colMajor: boolean,
  J: number, v: (p: number, j: number) => number,
  out: Float64Array, outOff: number, yTransposed: boolean,
): boolean {
  // Whole rows of M per slice (row-major), or whole passes of storage rows (column-major), so the
  // narrower remainder kernel runs only at the end.
  const wide = colMajor ? axpysRows(J) : dotsRows(J);
  const perSlice = colMajor
    ? Math.min(Kdim, multipleOf(wide, Math.floor(Math.min(sliceFloats, R * Kdim) / R)))
    : Math.min(R, Math.max(1, Math.floor(Math.min(sliceFloats, R * Kdim) / Kdim)));
  // Layout (float64 indices from the scratch base): one slice of M plus two of slack (the axpys
  // kernel's last odd pair reads one past it), V, then Y; each region 16-byte aligned.
  const mLen = even(perSlice * (colMajor ? R : Kdim)) + 2;
  const vLen = colMajor ? even(Kdim * J) : J * even(Kdim);
  const ld = colMajor ? even(R) : 0;
  const yLen = colMajor ? J * ld : even(R * J);
  const s = wasmScratch(8 * (mLen + vLen + yLen));
  if (!s) return false;
  const { H, base } = s;
  const mAt = base, vAt = mAt + mLen, yAt = vAt + vLen;
  // The thin operand, staged in an ordinary array: element loops over a shared memory's view are slow.
  const vt = staging(vLen).fill(0, 0, vLen);
  if (colMajor) {
    for (let p = 0; p < Kdim; p++) for (let j = 0; j < J; j++) vt[p * J + j] = v(p, j);
  } else {
    const kp = even(Kdim);
    for (let j = 0; j < J; j++) for (let p = 0; p < Kdim; p++) vt[j * kp + p] = v(p, j);
  }
  H.set(vt.subarray(0, vLen), vAt);
  if (!colMajor) {
    const kp = even(Kdim);
    const dots = (width: number, r0: number, at: number, count: number) =>
      K[narrowExport('dots', J, width)]!(8 * at, 8 * Kdim, 8 * vAt, 8 * kp, 8 * (yAt + r0 * J), count, Kdim >> 1, Kdim & 1);
    for (let r0 = 0; r0 < R; r0 += perSlice) {
      const rows = Math.min(perSlice, R - r0), groups = Math.floor(rows / wide);
      H.set(m.subarray(off + r0 * Kdim, off + (r0 + rows) * Kdim), mAt);
      if (groups > 0) dots(wide, r0, mAt, groups);
      if (groups * wide < rows) dots(1, r0 + groups * wide, mAt + groups * wide * Kdim, rows - groups * wide);
    }
    if (!yTransposed || J === 1 || R === 1) out.set(H.subarray(yAt, yAt + R * J), outOff);
    else {
      const y = staging(R * J);
      y.set(H.subarray(yAt, yAt + R * J));
      for (let r = 0; r < R; r++) for (let j = 0; j < J; j++) out[outOff + j * R + r] = y[r * J + j]!;
    }
  } else {
    H.fill(0, yAt, yAt + yLen);
    const axpys = (width: number, p0: number, at: number, count: number) =>
      K[narrowExport('axpys', J, width)]!(8 * at, 8 * R, 8 * (vAt + p0 * J), 8 * yAt, 8 * ld, count, ld >> 1);
    // Each slice adds its storage rows into Y, in order, as the unsliced loop did.
    for (let p0 = 0; p0 < Kdim; p0 += perSlice) {
      const rows = Math.min(perSlice, Kdim - p0), passes = Math.floor(rows / wide);
      H.set(m.subarray(off + p0 * R, off + (p0 + rows) * R), mAt);
      if (passes > 0) axpys(wide, p0, mAt, passes);
      if (passes * wide < rows) axpys(1, p0 + passes * wide, mAt + passes * wide * R, rows - passes * wide);
    }
    if (yTransposed || J === 1) {
      for (let j = 0; j < J; j++) out.set(H.subarray(yAt + j * ld, yAt + j * ld + R), outOff + j * R);
    } else {
      const y = staging(yLen);
      y.set(H.subarray(yAt, yAt + yLen));
      for (let r = 0; r < R; r++) for (let j = 0; j < J; j++) out[outOff + r * J + j] = y[j * ld + r]!;
    }
  }
  return true;
}

/**
 * Batched float64 product with the `Backend.matmul` contract (A [batch, m, k] or [batch, k, m]
 * when `transA`, B [batch, k, n] or [batch, n, k] when `transB`, a fresh [batch, m, n] result)
 * for a narrow shape: n ≤ 7 columns, or else m ≤ 7 rows (computed as Cᵀ = op(B)ᵀ·op(A)ᵀ).
 * Returns `undefined` for other shapes, where the kernels are unavailable, or when the operands
 * do not fit in the kernel's memory. Each element is summed in one fixed order (two interleaved
 * partial sums along k for a row-major operand, k in order for a column-major one), so it differs
 * from the oracle's loops only by the rounding of a reassociated sum.
 *
 * @example
 * ```ts
 * const y = wasmNarrowMatmul(Float64Array.of(1, 2, 3, 4), Float64Array.of(1, 1), 1, 2, 2, 1, false, false);
 * // y = [3, 7]
 * ```
 */
export function wasmNarrowMatmul(
  a: Float64Array, b: Float64Array, batch: number, m: number, k: number, n: number, transA: boolean, transB: boolean,
): Float64Array | undefined {
  const K = getKernels();
  if (!K || (n > NARROW_MAX_COLUMNS && m > NARROW_MAX_COLUMNS)) return undefined;
  const out = allocateF64(batch * m * n, k === 0);
  if (out.length === 0 || k === 0) return out;
  for (let q = 0; q < batch; q++) {
    const aOff = q * m * k, bOff = q * k * n, cOff = q * m * n;
    const ok = n <= NARROW_MAX_COLUMNS
      // C = op(A)·op(B): M = op(A) (stored transposed when transA), V = op(B).
      ? narrowProduct(K, a, aOff, m, k, transA, n,
        transB ? (p, j) => b[bOff + j * k + p]! : (p, j) => b[bOff + p * n + j]!, out, cOff, false)
      // Cᵀ = op(B)ᵀ·op(A)ᵀ: M = op(B)ᵀ (row-major when B is stored [n, k]), V = op(A)ᵀ.
      : narrowProduct(K, b, bOff, n, k, !transB, m,
        transA ? (p, i) => a[aOff + p * m + i]! : (p, i) => a[aOff + i * k + p]!, out, cOff, true);
    if (!ok) return undefined;
  }
  calls++;
  return out;
}

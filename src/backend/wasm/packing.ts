/**
 * The host side of packing: how the GEMM engine (`gemm.ts`) moves op(A) and op(B) from the
 * caller's arrays into the kernel's panels. Stored rows are copied into the kernel's memory a
 * slice at a time (`TypedArray.set`) and dealt into panels by the generated WebAssembly packers
 * (`pack-module.ts`); small operands, partial panels, and everything when the packers are off
 * ({@link setWasmPacking}) are packed by the JavaScript loops here. A transpose flag only
 * changes which of the two layouts an operand is read in: `packSplit` reads stored rows that run
 * along a panel's width, `packGather` stored rows that run along k.
 *
 * @module
 */
import { packExport, PACK_WIDTHS } from './pack-module.ts';

/** The exported packers of `pack-module.ts`, by name (`packExport`). */
export type PackKernels = Record<string, (...args: number[]) => void>;

/**
 * Free space after a product's data where `packA`/`packB` copy stored rows of an operand (one
 * `TypedArray.set`) for a WebAssembly packer to deal into panels: `floats` float64s from index
 * `at` of the kernel's memory, at least one stored row or one panel's rows.
 */
export interface PackStaging {
  at: number;
  floats: number;
  /** The packers (`pack-module.ts`) instantiated over the memory `H` views. */
  kernels: PackKernels;
  /** Operands with fewer elements are packed by the JavaScript loops (the engine: 4096). */
  minElements: number;
}

let usePackers = true;

/**
 * Whether the WebAssembly packers are on ({@link setWasmPacking}).
 *
 * @example
 * ```ts
 * wasmPackingOn(); // true unless a test or the benchmark turned them off
 * ```
 */
export function wasmPackingOn(): boolean {
  return usePackers;
}

/**
 * Turns the WebAssembly packers on or off (on by default) and returns the previous setting: the
 * tests compare both ways of packing, and the benchmark times them against each other.
 *
 * @example
 * ```ts
 * const before = setWasmPacking(false);
 * try { matmul(a, b); } finally { setWasmPacking(before); }
 * ```
 */
export function setWasmPacking(on: boolean): boolean {
  const before = usePackers;
  usePackers = on;
  return before;
}

/**
 * Packs op(A) (m × k; stored [m, k], or [k, m] when `transA`) into panels of `mr` rows, p-major
 * within a panel (`H[dst + i0·k + p·mr + r] = op(A)[i0 + r, p]`), zero-padding the last panel.
 * With `staging`, whole panels are packed by the WebAssembly packers from rows staged there.
 */
export function packA(
  src: Float64Array, off: number, m: number, k: number, transA: boolean, mr: number, H: Float64Array, dst: number,
  staging?: PackStaging,
): void {
  if (transA) packSplit(src, off, m, k, mr, H, dst, staging);
  else packGather(src, off, m, k, mr, H, dst, staging);
}

/**
 * Packs op(B) (k × n; stored [k, n], or [n, k] when `transB`) into panels of `nr` columns,
 * p-major within a panel (`H[dst + j0·k + p·nr + c] = op(B)[p, j0 + c]`), zero-padding the last.
 */
export function packB(
  src: Float64Array, off: number, k: number, n: number, transB: boolean, nr: number, H: Float64Array, dst: number,
  staging?: PackStaging,
): void {
  if (transB) packGather(src, off, n, k, nr, H, dst, staging);
  else packSplit(src, off, n, k, nr, H, dst, staging);
}

/**
 * Packs stored rows [p0, p1) of B (k × n, not transposed) into their place in B's panels (the
 * k steps p0 … p1 − 1 of every panel): the engine packs B a k block at a time while threads
 * compute on the blocks already packed.
 */
export function packBSteps(
  src: Float64Array, k: number, n: number, nr: number, H: Float64Array, dst: number, p0: number, p1: number, staging?: PackStaging,
): void {
  packSplit(src, p0 * n, n, p1 - p0, nr, H, dst + p0 * nr, staging, nr * k);
}

/** The WebAssembly packer for this operand, or `undefined` when the JavaScript loops should pack it. */
function packerFor(kind: 'split' | 'gather', w: number, elements: number, staging?: PackStaging): ((...args: number[]) => void) | undefined {
  if (!staging || elements < staging.minElements || !(PACK_WIDTHS as readonly number[]).includes(w)) return undefined;
  return staging.kernels[packExport(kind, w)];
}

/**
 * Panels of width `w` over j of X[p, j] = src[off + p·len + j] (p < k, j < len): each stored row
 * is read front to back and dealt out across the whole panels; a last partial panel (len not a
 * multiple of w) is filled from the rows' tails afterwards, zero-padded. Panels start `step`
 * elements apart (`w·k`, unless these k rows are a block of a longer operand's).
 */
function packSplit(
  src: Float64Array, off: number, len: number, k: number, w: number, H: Float64Array, dst: number, staging?: PackStaging,
  step = w * k,
): void {
  const full = len - (len % w);
  const packer = full > 0 ? packerFor('split', w, len * k, staging) : undefined;
  if (packer) {
    // Whole panels: stored rows staged a slice at a time, dealt out by the packer.
    const { at, floats } = staging!;
    const per = Math.max(1, Math.floor(floats / len));
    for (let p0 = 0; p0 < k; p0 += per) {
      const rows = Math.min(per, k - p0);
      H.set(src.subarray(off + p0 * len, off + (p0 + rows) * len), at);
      packer(8 * at, 8 * len, 8 * (dst + p0 * w), 8 * step, full / w, rows);
    }
  } else {
    for (let p = 0; p < k; p++) {
      const s = off + p * len;
      let d = dst + p * w;
      for (let j0 = 0; j0 < full; j0 += w, d += step) for (let c = 0; c < w; c++) H[d + c] = src[s + j0 + c]!;
    }
  }
  // The last, partial panel (from element `full` of each stored row), zero-padded.
  if (full < len) {
    for (let p = 0, d = dst + (full / w) * step; p < k; p++, d += w) {
      const s = off + p * len;
      for (let c = 0; c < w; c++) H[d + c] = full + c < len ? src[s + full + c]! : 0;
    }
  }
}

/**
 * Panels of width `w` over j of X[p, j] = src[off + j·k + p] (p < k, j < len): each stored row
 * is one column of a panel, read front to back.
 */
function packGather(
  src: Float64Array, off: number, len: number, k: number, w: number, H: Float64Array, dst: number, staging?: PackStaging,
): void {
  const panels = Math.floor(len / w);
  const packer = panels > 0 ? packerFor('gather', w, len * k, staging) : undefined;
  let j0 = 0;
  if (packer) {
    // Whole panels: their stored rows staged a slice at a time, interleaved by the packer.
    const { at, floats } = staging!;
    const per = Math.max(1, Math.floor(floats / (w * k)));
    for (let j = 0; j < panels; j += per) {
      const count = Math.min(per, panels - j);
      H.set(src.subarray(off + j * w * k, off + (j + count) * w * k), at);
      packer(8 * at, 8 * k, 8 * (dst + j * w * k), count, k >> 1, k & 1);
    }
    j0 = panels * w;
  }
  for (; j0 < len; j0 += w) {
    const cols = Math.min(w, len - j0), base = dst + j0 * k;
    for (let c = 0; c < cols; c++) {
      const s = off + (j0 + c) * k;
      for (let p = 0, d = base + c; p < k; p++, d += w) H[d] = src[s + p]!;
    }
    for (let c = cols; c < w; c++) for (let p = 0, d = base + c; p < k; p++, d += w) H[d] = 0;
  }
}

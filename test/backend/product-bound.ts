/**
 * The rounding bound two float64 matrix products must agree within, for tests of the WebAssembly
 * kernels against the plain TypeScript oracle (`cpuBackend.matmul`).
 *
 * Every C[i, j] is an inner product of k terms. Summed in any order, with or without fused
 * multiply-adds, a float64 inner product satisfies |ĉ − c| ≤ γ_k · Σ_p |a_ip| |b_pj| with
 * γ_k = k·u / (1 − k·u), u = 2⁻⁵³ (Higham, Accuracy and Stability of Numerical Algorithms, §3.1;
 * a fused step rounds once instead of twice, which only tightens it). The oracle and a kernel
 * each satisfy it against the exact value, so they differ by at most 2·γ_k·Σ|a||b|, plus k times
 * the smallest subnormal for products that underflow. That is the bound checked, element by
 * element; it is tight enough that a dropped or doubled term (an error of order |a||b|) fails.
 */
import { expect } from 'vitest';
import { cpuBackend } from '../../src/backend/cpu.ts';

const U = 2 ** -53;

/** γ_k = k·u / (1 − k·u). */
export const gamma = (k: number) => (k * U) / (1 - k * U);

/** Stored sizes of A and B for the `Backend.matmul` contract. */
export const sizes = (batch: number, m: number, k: number, n: number) => [batch * m * k, batch * k * n] as const;

/** Σ_p |op(A)[i, p]| |op(B)[p, j]| for every (q, i, j): the scale of the rounding bound. */
export function absProducts(a: Float64Array, b: Float64Array, batch: number, m: number, k: number, n: number, tA: boolean, tB: boolean) {
  const abs = (x: Float64Array) => x.map(Math.abs);
  return cpuBackend.matmul(abs(a), abs(b), batch, m, k, n, tA, tB) as Float64Array;
}

/**
 * `got` (a kernel's C) equals the oracle's product within 2·γ_k·Σ|a||b| element by element, with
 * NaN where the oracle has NaN and the same infinities; `what` names the case in a failure.
 */
export function expectProductMatchesOracle(
  got: Float64Array | undefined, a: Float64Array, b: Float64Array,
  batch: number, m: number, k: number, n: number, tA: boolean, tB: boolean, what = '',
): Float64Array {
  const want = cpuBackend.matmul(a, b, batch, m, k, n, tA, tB) as Float64Array;
  expect(got).toBeInstanceOf(Float64Array);
  expect(got!.length).toBe(batch * m * n);
  const scale = absProducts(a, b, batch, m, k, n, tA, tB);
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!, g = got![i]!;
    if (!Number.isFinite(w)) {
      // Same kind: NaN for NaN, and the same signed infinity.
      if (Number.isNaN(w)) expect(g, `element ${i}`).toBeNaN();
      else expect(g, `element ${i}`).toBe(w);
      continue;
    }
    const bound = 2 * gamma(k) * scale[i]! + k * Number.MIN_VALUE;
    if (!(Math.abs(g - w) <= bound)) {
      throw new Error(`element ${i} of ${batch}×[${m},${k}]×[${k},${n}] tA=${tA} tB=${tB} ${what}: ${g} vs ${w}, bound ${bound}`);
    }
  }
  return got!;
}

/**
 * Runs one computation on the float64 CPU oracle and on the float32 gpu backend and compares them,
 * for the engine checks in test/gpu/*.test.ts.
 */
import { expect } from 'vitest';
import { type Tensor, setBackend } from '../../src/index.ts';
import { expectClose } from '../helpers.ts';

/**
 * Float32 against float64: ε ≈ 6e-8, and the chains of primitives these checks run accumulate at
 * most ~1e-5 relative; rtol 1e-4 with a matching atol is far above rounding and far below any wrong
 * rule (which errs at O(1)).
 */
export const F32 = { rtol: 1e-4, atol: 1e-5 };

/**
 * Runs `make()` on the CPU and on the gpu backend in `mode` (inputs rebuilt on each, so they live on
 * the backend that computes) and expects every output to agree within {@link F32}.
 *
 * @example
 * ```ts
 * compareOnGpu('webasm', 'tanh', () => tanh(seededTensor([3], 1)));
 * ```
 */
export function compareOnGpu(mode: 'cpu' | 'webasm', what: string, make: () => Tensor | Tensor[]): void {
  setBackend('cpu');
  const want = [make()].flat().map((t) => t.toFloat64Array());
  setBackend('gpu', { mode });
  const got = [make()].flat().map((t) => t.toFloat64Array());
  setBackend('cpu');
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => expectClose(g, want[i]!, { ...F32, what: `${what} [${mode}] output ${i}` }));
}

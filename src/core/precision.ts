/**
 * The precision of the backend that is computing, for the tolerances above the engine.
 *
 * Optimisers and solvers stop on tests such as ‖∇R‖ < tol or "the predicted decrease is below the
 * rounding of R". Those thresholds are multiples of the unit roundoff u of the arithmetic that
 * evaluates R and its derivatives: u = 2⁻⁵³ ≈ 1.1e-16 on the float64 CPU backend, u = 2⁻²⁴ ≈ 6e-8
 * on the float32 gpu backend. A threshold written for float64 (say ‖∇R‖ < 1e-10) lies below what
 * float32 can resolve, so the iteration never meets it and throws, or runs to its cap.
 *
 * @module
 */
import { getBackend } from '../backend/index.ts';

/** u = 2⁻⁵³ (float64). */
export const UNIT_ROUNDOFF_F64 = 2 ** -53;
/** u = 2⁻²⁴ (float32). */
export const UNIT_ROUNDOFF_F32 = 2 ** -24;

/**
 * The unit roundoff of the current backend: 2⁻⁵³ for float64, 2⁻²⁴ for float32.
 *
 * @example
 * ```ts
 * unitRoundoff(); // 1.1e-16 on the CPU backend
 * setBackend('gpu', { mode: 'webasm' });
 * unitRoundoff(); // 6.0e-8
 * ```
 */
export function unitRoundoff(): number {
  return isFloat32() ? UNIT_ROUNDOFF_F32 : UNIT_ROUNDOFF_F64;
}

/**
 * The default ‖∇R‖ target of the trainers (`newton`, `lbfgs`, leave-one-out retraining): 1e-10 on
 * a float64 backend, 1e-6 on a float32 one. A float32 gradient of R is only resolved to about
 * u·(the size of the summed per-example terms): measured ‖∇R(θ*)‖ at the exact optimum is 5e-9 to
 * 2e-7 on unit-scale data (logistic, softmax and linear regression, MNIST 1-vs-7 included), so
 * 1e-6 is reachable with a margin of 5 to 200 and, with H ⪰ λI, leaves ‖θ − θ*‖ ≤ 1e-6/λ.
 *
 * @example
 * ```ts
 * defaultGradTol(); // 1e-10 on the CPU backend
 * ```
 */
export function defaultGradTol(): number {
  return isFloat32() ? 1e-6 : 1e-10;
}

/**
 * Whether the current backend computes in float32 (so float64 tolerances must not be used as is).
 *
 * @example
 * ```ts
 * isFloat32(); // false on the CPU backend
 * ```
 */
export function isFloat32(): boolean {
  return getBackend().precision === 'float32';
}

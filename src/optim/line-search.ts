/**
 * The backtracking line search Newton's method and L-BFGS share.
 *
 * @module
 */
import { unitRoundoff, UNIT_ROUNDOFF_F64 } from '../core/precision.ts';
import { axpy, norm2 } from '../linalg/vector.ts';

/** A point a line search accepted: θ + t·dir, with R and ∇R there. */
export interface AcceptedStep {
  /** The new iterate. */
  theta: Float64Array;
  /** R at the new iterate. */
  value: number;
  /** ∇R at the new iterate. */
  gradient: Float64Array;
}

/**
 * Armijo backtracking from θ along the descent direction `dir` (slope ∇Rᵀdir < 0): tries t = 1,
 * ½, ¼, … (at most `maxTries` values) and accepts the first with R(θ + t·dir) ≤ R(θ) + 10⁻⁴ t·slope.
 * Near the optimum R is flat to rounding while ∇R is not, so there a step that shrinks ‖∇R‖ is
 * accepted too. Returns `null` when no step was accepted.
 *
 * @example
 * ```ts
 * const fg = (x: Float64Array): [number, Float64Array] => [x[0]! ** 2, Float64Array.of(2 * x[0]!)];
 * backtrack(fg, Float64Array.of(1), 1, 2, Float64Array.of(-1), -2, 40)?.theta; // [0]
 * ```
 */
export function backtrack(
  fg: (theta: Float64Array) => [number, Float64Array],
  theta: Float64Array,
  value: number,
  gradNorm: number,
  dir: Float64Array,
  slope: number,
  maxTries: number,
): AcceptedStep | null {
  // "Below rounding of R": 1e-13 (1 + |R|) in float64, about 900 units of R's last place; the same
  // multiple of float32's unit roundoff (5.4e-5) on the gpu backend, whose R is only resolved to
  // ~1e-7 relative, so there Armijo fails at random on steps that do reduce ‖∇R‖.
  const rounding = 1e-13 * (unitRoundoff() / UNIT_ROUNDOFF_F64) * (1 + Math.abs(value));
  let t = 1;
  for (let ls = 0; ls < maxTries; ls++) {
    const next = axpy(t, dir, Float64Array.from(theta));
    const [nv, ng] = fg(next);
    const roundingRegime = -t * slope < rounding;
    if (nv <= value + 1e-4 * t * slope || (roundingRegime && norm2(ng) < gradNorm)) return { theta: next, value: nv, gradient: ng };
    t *= 0.5;
  }
  return null;
}

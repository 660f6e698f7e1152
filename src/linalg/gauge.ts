/**
 * Gauge directions: directions u along which the objective is flat by construction (shifting every
 * softmax intercept by the same amount changes no prediction), so H u = 0 and every gradient is
 * ⊥ u. Newton's method and the inverse-HVP solvers add μ u uᵀ to H to make it invertible without
 * changing the answer on u's complement.
 *
 * @module
 */
import { axpy, innerProduct } from './vector.ts';

/**
 * H + μ Σ u uᵀ for the objective's gauge directions (μ = mean diagonal, to keep the scale), in
 * place. On vectors ⊥ every u the inverse of the result is H's pseudo-inverse.
 *
 * @example
 * ```ts
 * addGauge(new Float64Array([1, -1, -1, 1]), 2, [new Float64Array([1, 1])]); // [2, 0, 0, 2]
 * ```
 */
export function addGauge(H: Float64Array, p: number, gauge: Float64Array[] | undefined): Float64Array {
  if (!gauge?.length) return H;
  let tr = 0;
  for (let i = 0; i < p; i++) tr += H[i * p + i]!;
  const mu = tr / p || 1;
  for (const u of gauge) {
    for (let i = 0; i < p; i++) {
      if (u[i] === 0) continue;
      for (let j = 0; j < p; j++) H[i * p + j] += mu * u[i]! * u[j]!;
    }
  }
  return H;
}

/**
 * x ↦ A x + μ Σ u (uᵀx)/(uᵀu) for the gauge directions u: the matrix-free form of {@link addGauge},
 * for CG. Along a gauge direction H u = 0 exactly, but a right-hand side (a gradient) is ⊥ u only
 * to rounding: about 1e-17 relative in float64, 1e-8 in float32. CG on H alone then meets a
 * direction of curvature ≈ 0 carrying that leak and takes a step of size leak/curvature (seen: softmax
 * Newton-CG steps that moved the intercepts by 10⁷ on the float32 backend). With μ inside H's spectrum the system is
 * positive definite and the solution on the complement of the gauge is unchanged.
 *
 * @example
 * ```ts
 * const A = gaugeOperator((v) => obj.hvp(theta, v), obj.spec.gauge, mu);
 * conjugateGradient(A, g);
 * ```
 */
export function gaugeOperator(A: (v: Float64Array) => Float64Array, gauge: Float64Array[] | undefined, mu: number): (v: Float64Array) => Float64Array {
  if (!gauge?.length) return A;
  return (x) => {
    const out = A(x);
    for (const u of gauge) axpy((mu * innerProduct(u, x)) / innerProduct(u, u), u, out);
    return out;
  };
}

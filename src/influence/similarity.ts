/**
 * Gradient-similarity attribution at the final parameters θ̂ (the Grad-Dot and Grad-Cos of
 * dattri's benchmark; Charpiat et al. 2019, Hanawa et al. 2021):
 *
 *   Grad-Dot(z_test, zᵢ) = ∇ℓ(z_test, θ̂) · ∇ℓ(zᵢ, θ̂)
 *   Grad-Cos(z_test, zᵢ) = Grad-Dot / (‖∇ℓ(z_test)‖ ‖∇ℓ(zᵢ)‖)
 *
 * Per-example gradients exclude the regulariser (as everywhere in unequal). Orientation matches
 * the influence convention: a gradient step on zᵢ lowers ℓ(z_test) to first order by
 * η ∇ℓ(z_test)·∇ℓ(zᵢ), so positive = the point helps. Grad-Dot is influence with H replaced by the
 * identity and without the 1/n: the scale differs, not the sign.
 *
 * @module
 */
import { normalizeRowsInPlace } from '../linalg/vector.ts';
import type { Pytree } from '../core/pytree.ts';
import type { Objective } from '../nn/objective.ts';
import { gradientProducts, type ScoreMatrix, type TestSet, testGradients } from './scores.ts';

/**
 * Grad-Dot scores ∇ℓ(z_t, θ̂) · ∇ℓ(zᵢ, θ̂) for every test point t and training point i.
 *
 * @example
 * ```ts
 * const S = gradDot(obj, theta, { X: Xtest, Y: Ytest }); // tests × n, positive = the point helps
 * ```
 */
export function gradDot<P extends Pytree>(obj: Objective<P>, theta: Float64Array, test: TestSet): ScoreMatrix {
  const Gt = testGradients(obj, theta, test);
  const G = obj.perExampleGradients(theta);
  return gradientProducts(Gt, test.X.shape[0] ?? 0, G, obj.n, obj.dim);
}

/**
 * Grad-Cos scores: the cosine between ∇ℓ(z_t, θ̂) and ∇ℓ(zᵢ, θ̂). A zero gradient (a point fit
 * exactly) has no direction; its cosine is reported as 0.
 *
 * @example
 * ```ts
 * const S = gradCos(obj, theta, { X: Xtest, Y: Ytest }); // entries in [−1, 1]
 * ```
 */
export function gradCos<P extends Pytree>(obj: Objective<P>, theta: Float64Array, test: TestSet): ScoreMatrix {
  const p = obj.dim;
  const tests = test.X.shape[0] ?? 0;
  const Gt = normalizeRowsInPlace(testGradients(obj, theta, test), tests, p);
  const G = normalizeRowsInPlace(obj.perExampleGradients(theta), obj.n, p);
  return gradientProducts(Gt, tests, G, obj.n, p);
}


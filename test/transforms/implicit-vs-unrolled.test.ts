/**
 * Unrolled hypergradients against the implicit function theorem (proofs/implicit-vs-unrolled.md),
 * on L2-regularised logistic regression, where the Hessian changes along the path (unlike the
 * guide's ridge example). The hypergradient is grad through K steps of gradient descent that each
 * call grad: reverse over reverse through the whole optimiser.
 *
 * Tolerances: the warm-start identity is algebraic (same products, different association), so it
 * holds to rounding, ~1e-15 relative per step; 1e-11 allows for 40 steps and the 1e-14 residual
 * gradient at θ*. The cold-start limit is geometric: the expected error is ≈ C·K·ρ^K, below 1e-9 at
 * K = 150 for the contraction ρ ≈ 0.73 of this problem (asserted < 0.95).
 */
import { describe, expect, it } from 'vitest';
import {
  type Tensor, add, bceWithLogits, cholesky, choleskySolve, grad, hessian, jacobiEigen, jacrev, matmul, mean, metaGradientPerExample, mul,
  randomNormal, sub, sum, square, tensor, zeros,
} from '../../src/index.ts';

const n = 24;
const d = 3;
const lambda = 0.02;
const X = mul(randomNormal([n, d], 1), tensor([2, 1, 0.4])); // unequal scales: slower contraction
const y = tensor(Array.from({ length: n }, (_, i) => (X.toFloat64Array()[i * d]! / 2 + 0.3 * Math.sin(i) > 0 ? 1 : 0)));
const Xv = mul(randomNormal([8, d], 2), tensor([2, 1, 0.4]));
const yv = tensor([1, 0, 1, 1, 0, 0, 1, 0]);
const losses = (theta: Tensor, Xb: Tensor = X, yb: Tensor = y) => bceWithLogits(matmul(Xb, theta), yb); // per example, [rows]
const R = (theta: Tensor, w: Tensor) => add(mean(mul(w, losses(theta))), mul(tensor(lambda / 2), sum(square(theta))));
const f = (theta: Tensor) => mean(losses(theta, Xv, yv));
const w1 = tensor(new Float64Array(n).fill(1));

// θ* by Newton's method on R(·; 1) (strongly convex: converges quadratically).
let thetaStar: Tensor = zeros([d]);
for (let it = 0; it < 30; it++) {
  const g = grad((t: Tensor) => R(t, w1))(thetaStar).toFloat64Array();
  const H = hessian((t: Tensor) => R(t, w1))(thetaStar).toFloat64Array();
  thetaStar = sub(thetaStar, tensor(choleskySolve(cholesky(H, d), d, g)));
}
const Hs = hessian((t: Tensor) => R(t, w1))(thetaStar).toFloat64Array();
const gf = grad(f)(thetaStar).toFloat64Array();
const G = jacrev((t: Tensor) => losses(t))(thetaStar).toFloat64Array();
const row = (i: number) => G.subarray(i * d, i * d + d);
const dotv = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, v, k) => s + v * b[k]!, 0);
const u = choleskySolve(cholesky(Hs, d), d, gf);
const implicit = Float64Array.from({ length: n }, (_, i) => -dotv(row(i), u) / n);
const eig = jacobiEigen(Hs, d).values;
const alpha = 1 / eig[0]!;
const norm = (a: ArrayLike<number>) => Math.hypot(...Array.from(a));
const dist = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.hypot(...Array.from(a, (v, i) => v - b[i]!));

const unrolled = (K: number, start: Tensor) => (w: Tensor) => {
  let theta = start;
  for (let k = 0; k < K; k++) theta = sub(theta, mul(tensor(alpha), grad(R)(theta, w)));
  return f(theta);
};

describe('unrolled hypergradients vs the implicit function theorem (logistic regression)', () => {
  it('θ* is a minimiser to rounding (the theorem is applied at the right point)', () => {
    expect(norm(grad((t: Tensor) => R(t, w1))(thetaStar).toFloat64Array())).toBeLessThan(1e-14);
    expect(1 - eig[d - 1]! / eig[0]!).toBeLessThan(0.95);
  });

  it('cold-started K-step hypergradients approach −(1/n)∇fᵀH⁻¹∇ℓᵢ as K grows', () => {
    const errs = [3, 10, 30, 150].map((K) => dist((grad(unrolled(K, zeros([d])))(w1) as Tensor).toFloat64Array(), implicit) / norm(implicit));
    for (let i = 1; i < errs.length; i++) expect(errs[i]!).toBeLessThan(errs[i - 1]!);
    expect(errs[0]!).toBeGreaterThan(1e-2); // far off after 5 steps: the test can tell
    expect(errs[3]!).toBeLessThan(1e-9);
  });

  it('warm-started at θ*, K unrolled steps equal the K-term Neumann series −(α/n)Σⱼ∇fᵀ(I − αH)ʲ∇ℓᵢ', () => {
    for (const K of [1, 7, 40]) {
      const gK = (grad(unrolled(K, thetaStar))(w1) as Tensor).toFloat64Array();
      const series = new Float64Array(n);
      let v = Float64Array.from(gf);
      for (let j = 0; j < K; j++) {
        for (let i = 0; i < n; i++) series[i] = series[i]! - (alpha / n) * dotv(row(i), v);
        v = v.map((vk, r) => vk - alpha * dotv(Hs.subarray(r * d, r * d + d), v));
      }
      expect(dist(gK, series)).toBeLessThan(1e-11 * norm(implicit));
      // and its distance to the implicit answer is at most ρ^K ‖G‖_F ‖H⁻¹∇f‖ / n (‖u‖ = ‖H⁻¹∇f‖)
      const bound = ((1 - eig[d - 1]! / eig[0]!) ** K * norm(G) * norm(u)) / n;
      expect(dist(gK, implicit)).toBeLessThanOrEqual(bound * (1 + 1e-9));
      if (K === 40) expect(dist(gK, implicit)).toBeGreaterThan(bound * 1e-4); // and the bound is not vacuous
    }
  });

  it('L2RW: the ε-weighted step unrolled K times at ε = 0 has no Hessian term: g_K = K·(−α∇f·∇ℓᵢ)', () => {
    const g1 = metaGradientPerExample((t: Tensor, Xb: Tensor, yb: Tensor) => losses(t, Xb, yb), thetaStar, { X, y }, { X: Xv, y: yv }, alpha);
    for (const K of [1, 3]) {
      const gK = (grad((eps: Tensor) => {
        let theta = thetaStar;
        for (let k = 0; k < K; k++) theta = sub(theta, mul(tensor(alpha), grad((t: Tensor) => sum(mul(eps, losses(t))))(theta)));
        return f(theta);
      })(zeros([n])) as Tensor).toFloat64Array();
      expect(dist(gK, Array.from(g1, (v) => K * v))).toBeLessThan(1e-13 * K * norm(g1));
    }
    // and it is the one-step (K = 1) value of the plain unroll at θ*, times n
    const gR = (grad(unrolled(1, thetaStar))(w1) as Tensor).toFloat64Array();
    expect(dist(gR, Array.from(g1, (v) => v / n))).toBeLessThan(1e-12 * norm(g1) / n);
  });
});

import { describe, expect, it } from 'vitest';
import { jacobiEigen, symmetricEigen } from '../../src/linalg/dense.ts';
import { Rng } from '../../src/core/rng.ts';

/** A random orthogonal d × d matrix (Gram–Schmidt on Gaussian columns), row-major. */
function randomOrthogonal(d: number, rng: Rng): Float64Array {
  const Q = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    const v = Float64Array.from({ length: d }, () => rng.normal());
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < j; k++) {
        let dot = 0;
        for (let i = 0; i < d; i++) dot += Q[i * d + k]! * v[i]!;
        for (let i = 0; i < d; i++) v[i] -= dot * Q[i * d + k]!;
      }
    }
    const nv = Math.hypot(...v);
    for (let i = 0; i < d; i++) Q[i * d + j] = v[i]! / nv;
  }
  return Q;
}

/** Q diag(λ) Qᵀ. */
function compose(Q: Float64Array, lambda: ArrayLike<number>, d: number): Float64Array {
  const A = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += Q[i * d + k]! * lambda[k]! * Q[j * d + k]!;
      A[i * d + j] = A[j * d + i] = s;
    }
  }
  return A;
}

/** max |A − V Λ Vᵀ| and max |VᵀV − I|. */
function residuals(A: Float64Array, values: Float64Array, V: Float64Array, d: number): { reconstruction: number; orthogonality: number } {
  const R = compose(V, values, d);
  let reconstruction = 0;
  for (let i = 0; i < d * d; i++) reconstruction = Math.max(reconstruction, Math.abs(A[i]! - R[i]!));
  let orthogonality = 0;
  for (let a = 0; a < d; a++) {
    for (let b = 0; b < d; b++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += V[i * d + a]! * V[i * d + b]!;
      orthogonality = Math.max(orthogonality, Math.abs(s - (a === b ? 1 : 0)));
    }
  }
  return { reconstruction, orthogonality };
}

describe('symmetricEigen (Householder + implicit QL)', () => {
  // Backward stability of Householder + QL (Golub & Van Loan §8.3): ‖A − VΛVᵀ‖ ≤ c·d·ε·‖A‖ and
  // ‖VᵀV − I‖ ≤ c·d·ε with a modest c; we allow c = 10 on entrywise maxima (‖A‖ ≤ max|λ| here).
  it.each([1, 2, 3, 7, 40, 120])('recovers a known spectrum (d = %i): eigenvalues, reconstruction, orthogonality', (d) => {
    const rng = new Rng(100 + d);
    const Q = randomOrthogonal(d, rng);
    // A spread spectrum with a repeated eigenvalue and a zero one (the cases K-FAC factors have).
    const lambda = Float64Array.from({ length: d }, (_, i) => (i === 1 ? 0 : i % 5 === 3 ? 2.5 : Math.exp(rng.normal() * 2)));
    const A = compose(Q, lambda, d);
    const { values, vectors } = symmetricEigen(A, d);
    const want = Float64Array.from(lambda).sort((a, b) => b - a);
    const norm = Math.max(...want);
    const tol = 10 * d * Number.EPSILON * norm;
    for (let i = 0; i < d; i++) expect(Math.abs(values[i]! - want[i]!)).toBeLessThan(tol);
    const r = residuals(A, values, vectors, d);
    expect(r.reconstruction).toBeLessThan(tol);
    expect(r.orthogonality).toBeLessThan(10 * d * Number.EPSILON);
  });

  // A Gram matrix of 30 rows in 200 dimensions whose first 100 columns are the same constant and
  // whose last is a bias column of ones: 170 zero eigenvalues in one cluster, as K-FAC's activation
  // factors have (MNIST pixels that never light up are collinear with the bias).
  // The QL deflation test must be absolute (ε‖T‖), or the couplings inside the cluster never
  // count as negligible and the iteration stalls.
  it('converges on a rank-deficient Gram matrix with a large cluster of zero eigenvalues', () => {
    const d = 200;
    const rows = 30;
    const rng = new Rng(21);
    const X = Float64Array.from({ length: rows * d }, (_, q) => (q % d === d - 1 ? 1 : q % d < 100 ? -0.42 : rng.normal()));
    const A = new Float64Array(d * d);
    for (let r = 0; r < rows; r++) for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) A[i * d + j] += X[r * d + i]! * X[r * d + j]!;
    const { values, vectors } = symmetricEigen(A, d);
    const norm = values[0]!;
    const res = residuals(A, values, vectors, d);
    expect(res.reconstruction).toBeLessThan(10 * d * Number.EPSILON * norm);
    expect(res.orthogonality).toBeLessThan(10 * d * Number.EPSILON);
    // Rank ≤ 30: every eigenvalue after the 30th is rounding.
    for (let i = rows; i < d; i++) expect(Math.abs(values[i]!)).toBeLessThan(10 * d * Number.EPSILON * norm);
  });

  it('agrees with jacobiEigen on a random matrix, and reads only the lower triangle', () => {
    const d = 30;
    const rng = new Rng(7);
    const A = new Float64Array(d * d);
    for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++) A[i * d + j] = A[j * d + i] = rng.normal();
    const lower = Float64Array.from(A);
    for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++) lower[i * d + j] = 1e6; // garbage above the diagonal
    const ql = symmetricEigen(lower, d);
    const jac = jacobiEigen(A, d);
    for (let i = 0; i < d; i++) expect(Math.abs(ql.values[i]! - jac.values[i]!)).toBeLessThan(1e-12);
    const r = residuals(A, ql.values, ql.vectors, d);
    expect(r.reconstruction).toBeLessThan(1e-12);
    expect(r.orthogonality).toBeLessThan(1e-13);
  });

  it('handles an already diagonal and a tridiagonal matrix (no Householder work) and rejects non-finite entries', () => {
    const D = new Float64Array([3, 0, 0, 0, -1, 0, 0, 0, 2]);
    expect(Array.from(symmetricEigen(D, 3).values)).toEqual([3, 2, -1]);
    // The tridiagonal [2 −1; −1 2 −1; −1 2] has eigenvalues 2 − 2cos(kπ/4), k = 1..3.
    const T = new Float64Array([2, -1, 0, -1, 2, -1, 0, -1, 2]);
    const ev = symmetricEigen(T, 3).values;
    [3, 2, 1].forEach((k, i) => expect(ev[i]).toBeCloseTo(2 - 2 * Math.cos((k * Math.PI) / 4), 14));
    expect(() => symmetricEigen(new Float64Array([1, NaN, NaN, 1]), 2)).toThrow(/entry \[0, 1\].*NaN/);
  });

  it('is much faster than jacobiEigen at d = 200 (both measured in this run)', () => {
    const d = 200;
    const rng = new Rng(3);
    const A = new Float64Array(d * d);
    for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++) A[i * d + j] = A[j * d + i] = rng.normal();
    let t = performance.now();
    const ql = symmetricEigen(A, d);
    const tq = performance.now() - t;
    t = performance.now();
    jacobiEigen(A, d);
    const tj = performance.now() - t;
    expect(residuals(A, ql.values, ql.vectors, d).reconstruction).toBeLessThan(1e-11);
    // Jacobi needs several ~10d³ sweeps; QL ~9d³ once. A ratio of 2 leaves room for load noise.
    expect(tj / tq).toBeGreaterThan(2);
  });
});

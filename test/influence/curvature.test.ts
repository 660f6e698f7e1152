/**
 * src/influence/curvature.ts against closed forms.
 *
 * Hutchinson. For a probe v with independent entries, E vᵢ = 0, E vᵢ² = 1:
 *   vᵀAv = Σᵢ Aᵢᵢ vᵢ² + Σ_{i≠j} Aᵢⱼ vᵢ vⱼ, so E vᵀAv = tr A.
 *   Rademacher (vᵢ² = 1): vᵀAv − tr A = 2 Σ_{i<j} Aᵢⱼ vᵢvⱼ. The products vᵢvⱼ (i < j) are ±1, mean 0 and
 *   pairwise uncorrelated (E vᵢvⱼ vₖvₗ = 0 unless {i,j} = {k,l}), so
 *   Var = 4 Σ_{i<j} Aᵢⱼ² = 2(‖A‖_F² − Σᵢ Aᵢᵢ²): zero for a diagonal A.
 *   Gaussian: Var vᵀAv = 2‖A‖_F² (diagonalise A = QΛQᵀ; Qᵀv is again standard normal, and
 *   Var Σ λₖ wₖ² = 2 Σ λₖ²).
 *   Diagonal, Rademacher: vᵢ(Av)ᵢ = Aᵢᵢ + Σ_{j≠i} Aᵢⱼ vᵢvⱼ, mean Aᵢᵢ, variance Σ_{j≠i} Aᵢⱼ².
 * The tests assert the estimates within 5 standard errors of the theory's, and the reported standard
 * errors within 30% of it (the sample variance over 2000 probes is within ~5% at these kurtoses).
 *
 * GGN. G = Jᵀ ∇²ℓ J: equal to the Hessian when the outputs are linear in θ (the second-order term
 * Σ (∂ℓ/∂zₖ) ∇²zₖ vanishes); PSD for convex ℓ even where the Hessian of a tanh MLP is indefinite;
 * for softmax cross-entropy equal to the true Fisher (1/n) Σᵢ E_{y∼p(·|xᵢ,θ)} ∇ℓ(xᵢ,y) ∇ℓ(xᵢ,y)ᵀ,
 * the expectation taken exactly (a sum over the C labels weighted by the model's probabilities),
 * because ∇_z ℓ = p − e_y and E_y (p − e_y)(p − e_y)ᵀ = diag p − ppᵀ = ∇²_z ℓ.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Objective, add, bceWithLogits, extremeEigenvalues, ggnOperator, ggnVectorProduct, grad, hutchinsonDiagonal, hutchinsonTrace, lanczos,
  matmul, mlpForward, mlpInit, squaredError, reshape, slice, smallestEigenvalue, softmax, softmaxCrossEntropy, softmaxCrossEntropyOutputHessian,
  squaredErrorOutputHessian, bceWithLogitsOutputHessian, tensor, jacrev, type MlpParams, type Tensor,
} from '../../src/index.ts';
import { Rng } from '../../src/core/rng.ts';
import { expectClose, maxAbs, operatorMatrix } from '../helpers.ts';

/** A random symmetric matrix (entries ~ N(0, 1), some rows scaled to vary the spectrum). */
function randomSymmetric(dim: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const A = new Float64Array(dim * dim);
  const scale = Float64Array.from({ length: dim }, () => 0.2 + 2 * rng.uniform());
  for (let i = 0; i < dim; i++) for (let j = 0; j <= i; j++) A[i * dim + j] = A[j * dim + i] = rng.normal() * scale[i]! * scale[j]!;
  return A;
}

const operator = (A: Float64Array, dim: number) => (v: Float64Array) => {
  const w = new Float64Array(dim);
  for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) w[i] += A[i * dim + j]! * v[j]!;
  return w;
};

const trace = (A: Float64Array, dim: number) => Array.from({ length: dim }, (_, i) => A[i * dim + i]!).reduce((a, b) => a + b, 0);
const frob2 = (A: Float64Array) => A.reduce((a, x) => a + x * x, 0);
const diagSq = (A: Float64Array, dim: number) => Array.from({ length: dim }, (_, i) => A[i * dim + i]! ** 2).reduce((a, b) => a + b, 0);
const dotf = (a: Float64Array, b: Float64Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

describe('Hutchinson estimators', () => {
  const samples = 2000;

  it('the Rademacher trace estimate is unbiased with variance 2(‖A‖_F² − Σ Aᵢᵢ²)/samples', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 8 }), fc.integer({ min: 1, max: 1e6 }), (dim, seed) => {
        const A = randomSymmetric(dim, seed);
        const r = hutchinsonTrace(operator(A, dim), dim, { samples, seed });
        const variance = (2 * (frob2(A) - diagSq(A, dim))) / samples;
        expect(r.samples).toBe(samples);
        expect(r.draws.length).toBe(samples);
        expect(Math.abs(r.estimate - trace(A, dim))).toBeLessThanOrEqual(5 * Math.sqrt(variance) + 1e-12);
        const ratio = r.standardError ** 2 / variance;
        expect(ratio).toBeGreaterThan(0.7);
        expect(ratio).toBeLessThan(1.3);
      }),
      { numRuns: 25, seed: 20261129 },
    );
  });

  it('the Gaussian trace estimate is unbiased with variance 2‖A‖_F²/samples', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 8 }), fc.integer({ min: 1, max: 1e6 }), (dim, seed) => {
        const A = randomSymmetric(dim, seed);
        const r = hutchinsonTrace(operator(A, dim), dim, { samples, seed, distribution: 'gaussian' });
        const variance = (2 * frob2(A)) / samples;
        expect(Math.abs(r.estimate - trace(A, dim))).toBeLessThanOrEqual(5 * Math.sqrt(variance));
        const ratio = r.standardError ** 2 / variance;
        expect(ratio).toBeGreaterThan(0.7);
        expect(ratio).toBeLessThan(1.3);
      }),
      { numRuns: 15, seed: 7 },
    );
  });

  it('the Rademacher diagonal estimate is unbiased, entry i with variance Σ_{j≠i} Aᵢⱼ²/samples', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 8 }), fc.integer({ min: 1, max: 1e6 }), (dim, seed) => {
        const A = randomSymmetric(dim, seed);
        const r = hutchinsonDiagonal(operator(A, dim), dim, { samples, seed });
        for (let i = 0; i < dim; i++) {
          let off = 0;
          for (let j = 0; j < dim; j++) if (j !== i) off += A[i * dim + j]! ** 2;
          const variance = off / samples;
          expect(Math.abs(r.estimate[i]! - A[i * dim + i]!)).toBeLessThanOrEqual(5 * Math.sqrt(variance) + 1e-12);
          expect(r.standardError[i]! ** 2 / variance).toBeGreaterThan(0.7);
          expect(r.standardError[i]! ** 2 / variance).toBeLessThan(1.3);
        }
      }),
      { numRuns: 25, seed: 11 },
    );
  });

  it('Rademacher probes are exact on a diagonal matrix (zero variance); Gaussian ones are not', () => {
    const d = Float64Array.from([3, -1, 0.5, 2, 7]);
    const op = (v: Float64Array) => v.map((x, i) => d[i]! * x);
    for (const s of [1, 10]) {
      const t = hutchinsonTrace(op, 5, { samples: s, seed: 3 });
      expect(t.estimate).toBeCloseTo(11.5, 12);
      if (s > 1) expect(t.standardError).toBe(0);
      else expect(t.standardError).toBeNaN();
      expectClose(hutchinsonDiagonal(op, 5, { samples: s, seed: 3 }).estimate, d, { rtol: 0, atol: 1e-14, what: 'diagonal' });
    }
    expect(hutchinsonTrace(op, 5, { samples: 10, seed: 3, distribution: 'gaussian' }).standardError).toBeGreaterThan(0);
  });

  it('is reproducible by seed, and the diagonal entries sum to the trace estimate with the same probes', () => {
    const dim = 6;
    const A = randomSymmetric(dim, 5);
    const op = operator(A, dim);
    for (const distribution of ['rademacher', 'gaussian'] as const) {
      const a = hutchinsonTrace(op, dim, { samples: 50, seed: 9, distribution });
      const b = hutchinsonTrace(op, dim, { samples: 50, seed: 9, distribution });
      const c = hutchinsonTrace(op, dim, { samples: 50, seed: 10, distribution });
      expect(Array.from(b.draws)).toEqual(Array.from(a.draws));
      expect(c.estimate).not.toBe(a.estimate);
      const diag = hutchinsonDiagonal(op, dim, { samples: 50, seed: 9, distribution });
      expect(diag.estimate.reduce((s, x) => s + x, 0)).toBeCloseTo(a.estimate, 10);
    }
    expect(() => hutchinsonTrace(op, dim, { samples: 0 })).toThrow(/samples/);
    expect(() => hutchinsonTrace(op, dim + 1)).toThrow(/length/);
  });
});

describe('generalised Gauss–Newton', () => {
  const rng = new Rng(2026);
  const n = 7;
  const d = 3;
  const C = 3;
  const X = tensor(Float64Array.from({ length: n * d }, () => rng.normal()), [n, d]);
  const labels = Array.from({ length: n }, (_, i) => i % C);
  const Y = tensor(Float64Array.from({ length: n * C }, (_, k) => (labels[Math.floor(k / C)] === k % C ? 1 : 0)), [n, C]);
  const yReal = tensor(Float64Array.from({ length: n }, () => rng.normal()), [n]);

  it('equals the Hessian exactly for linear models (softmax regression, least squares)', () => {
    // softmax regression with intercepts: z = X W + b, θ = [W (d×C), b (C)]
    const p = d * C + C;
    const logits = (th: Tensor) => add(matmul(X, reshape(slice(th, [0], [d * C]), [d, C])), slice(th, [d * C], [C]));
    const obj = new Objective({ params: tensor(new Float64Array(p)), loss: (th: Tensor, Xb: Tensor, Yb: Tensor) => softmaxCrossEntropy(add(matmul(Xb, reshape(slice(th, [0], [d * C]), [d, C])), slice(th, [d * C], [C])), Yb), X, Y, l2: 0 });
    const theta = Float64Array.from({ length: p }, () => rng.normal());
    const G = operatorMatrix(ggnOperator(logits, softmaxCrossEntropyOutputHessian(), theta), p);
    const H = obj.hessian(theta);
    expectClose(G, H, { rtol: 0, atol: 1e-13 * maxAbs(H), what: 'softmax GGN vs Hessian' });
    // least squares: z = X w, ℓ = mse(z, y); G = H = (2/n) XᵀX, independent of θ
    const w = Float64Array.from({ length: d }, () => rng.normal());
    const lsq = new Objective({ params: tensor(new Float64Array(d)), loss: (th: Tensor, Xb: Tensor, Yb: Tensor) => squaredError(matmul(Xb, th), Yb), X, Y: yReal, l2: 0 });
    // R = (1/n) Σᵢ (zᵢ − yᵢ)² = mse(z, y): the ℓ of squaredErrorOutputHessian('mean').
    for (let k = 0; k < 3; k++) {
      const v = Float64Array.from({ length: d }, () => rng.normal());
      const Gv = ggnVectorProduct((th) => matmul(X, th), squaredErrorOutputHessian(), w, v);
      expectClose(Gv, lsq.hvp(w, v), { rtol: 1e-13, atol: 1e-14, what: 'least-squares GGN vs HVP' });
    }
  });

  describe('on a tanh MLP at a random point', () => {
    const init = mlpInit([d, 4, 1], 3, 'tanh');
    const yBin = tensor(Float64Array.from(labels, (c) => (c === 0 ? 1 : 0)), [n]);
    const loss = (params: MlpParams, Xb: Tensor, Yb: Tensor) => bceWithLogits(reshape(mlpForward(params, Xb, 'tanh'), [Xb.shape[0]!]), Yb);
    const obj = new Objective({ params: init, loss, X, Y: yBin, l2: 0 });
    const p = obj.dim;
    const theta = Float64Array.from(obj.layout.flatten(init), (x) => 2 * x + 0.5 * rng.normal());
    const outputs = (th: Tensor) => reshape(mlpForward(obj.layout.unflatten(th), X, 'tanh'), [n]);
    const G = ggnOperator(outputs, bceWithLogitsOutputHessian(), theta);

    it('G = Jᵀ diag(σ(1 − σ)/n) J, with J from jacrev', () => {
      const J = (jacrev(outputs)(tensor(theta)) as Tensor).toFloat64Array(); // [n, p]
      const z = outputs(tensor(theta)).toFloat64Array();
      const ref = new Float64Array(p * p);
      for (let i = 0; i < n; i++) {
        const s = 1 / (1 + Math.exp(-z[i]!));
        const h = (s * (1 - s)) / n;
        for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) ref[a * p + b] += J[i * p + a]! * h * J[i * p + b]!;
      }
      expectClose(operatorMatrix(G, p), ref, { rtol: 0, atol: 1e-14 * Math.max(1, maxAbs(ref)), what: 'GGN vs JᵀHJ' });
    });

    it('the Hessian is indefinite there (vᵀHv < 0 along its bottom eigenvector) while vᵀGv ≥ 0 for every v', () => {
      const H = obj.hessian(theta);
      const lambdaMin = smallestEigenvalue(H, p);
      expect(lambdaMin).toBeLessThan(-1e-3);
      // the bottom eigenvector, by Lanczos on the HVP operator: a direction of negative curvature
      const hv = (v: Float64Array) => obj.hvp(theta, v);
      const lz = lanczos(hv, p, { steps: p });
      const u = lz.vectors[lz.vectors.length - 1]!;
      expect(dotf(u, hv(u))).toBeLessThan(0);
      expect(dotf(u, G(u))).toBeGreaterThanOrEqual(0);
      expect(smallestEigenvalue(operatorMatrix(G, p), p)).toBeGreaterThan(-1e-12);
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 1e6 }), (seed) => {
          const r = new Rng(seed);
          const v = Float64Array.from({ length: p }, () => r.normal());
          expect(dotf(v, G(v))).toBeGreaterThanOrEqual(-1e-14 * dotf(v, v));
        }),
        { numRuns: 50, seed: 5 },
      );
    });

    it('extremeEigenvalues of the indefinite Hessian (HVP operator) match the dense eigenvalues', () => {
      const H = obj.hessian(theta);
      const hv = (v: Float64Array) => obj.hvp(theta, v);
      const e = extremeEigenvalues(hv, p, { steps: p });
      expect(e.min).toBeCloseTo(smallestEigenvalue(H, p), 8);
      expect(e.max).toBeCloseTo(smallestEigenvalue(H, p, p - 1), 8);
      expect(e.min).toBeLessThan(0);
      expect(e.max).toBeGreaterThan(0);
    });
  });

  it('equals the true Fisher for softmax cross-entropy on an MLP (labels drawn from the model, expectation exact)', () => {
    const init = mlpInit([d, 3, C], 4, 'tanh');
    const obj = new Objective({ params: init, loss: (pp: MlpParams, Xb: Tensor, Yb: Tensor) => softmaxCrossEntropy(mlpForward(pp, Xb, 'tanh'), Yb), X, Y, l2: 0 });
    const p = obj.dim;
    const theta = Float64Array.from(obj.layout.flatten(init), (x) => 2 * x + 0.3 * rng.normal());
    const logits = (th: Tensor) => mlpForward(obj.layout.unflatten(th), X, 'tanh');
    const G = operatorMatrix(ggnOperator(logits, softmaxCrossEntropyOutputHessian(), theta), p);
    // F = (1/n) Σᵢ Σ_c p_c(xᵢ) gᵢc gᵢcᵀ, gᵢc = ∇θ CE(zᵢ(θ), e_c)
    const probs = softmax(logits(tensor(theta)), -1).toFloat64Array();
    const F = new Float64Array(p * p);
    for (let i = 0; i < n; i++) {
      const Xi = slice(X, [i, 0], [1, d]);
      for (let c = 0; c < C; c++) {
        const e = tensor(Float64Array.from({ length: C }, (_, k) => (k === c ? 1 : 0)), [1, C]);
        const g = (grad((th: Tensor) => reshape(softmaxCrossEntropy(mlpForward(obj.layout.unflatten(th), Xi, 'tanh'), e), [])) as (t: Tensor) => Tensor)(tensor(theta)).toFloat64Array();
        const w = probs[i * C + c]! / n;
        for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) F[a * p + b] += w * g[a]! * g[b]!;
      }
    }
    expectClose(G, F, { rtol: 0, atol: 1e-14 * Math.max(1, maxAbs(F)), what: 'GGN vs true Fisher' });
    // and it is not the Hessian here (the MLP's outputs are not linear in θ)
    expect(maxAbs(obj.hessian(theta).map((h, k) => h - G[k]!))).toBeGreaterThan(1e-4);
  });
});

describe('Lanczos and extreme eigenvalues', () => {
  // A = Q diag(λ) Qᵀ with Q a random orthogonal matrix (a product of Householder reflections).
  function known(lambdas: number[], seed: number): Float64Array {
    const dim = lambdas.length;
    const rng = new Rng(seed);
    let A = new Float64Array(dim * dim);
    lambdas.forEach((l, i) => (A[i * dim + i] = l));
    for (let r = 0; r < 3; r++) {
      const u = Float64Array.from({ length: dim }, () => rng.normal());
      const uu = dotf(u, u);
      const P = new Float64Array(dim * dim);
      for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) P[i * dim + j] = (i === j ? 1 : 0) - (2 * u[i]! * u[j]!) / uu;
      const mm = (M: Float64Array, N: Float64Array) => {
        const out = new Float64Array(dim * dim);
        for (let i = 0; i < dim; i++) for (let k = 0; k < dim; k++) for (let j = 0; j < dim; j++) out[i * dim + j] += M[i * dim + k]! * N[k * dim + j]!;
        return out;
      };
      A = mm(mm(P, A), P);
    }
    return A;
  }
  const lambdas = [-3, -1.5, -0.2, 0.1, 0.4, 1, 1.7, 2.5, 4, -0.8, 0.9, 3.1];
  const dim = lambdas.length;
  const A = known(lambdas, 1);
  const op = operator(A, dim);

  it('lanczos with steps = dim returns every eigenvalue, decreasing, with eigenvectors', () => {
    const r = lanczos(op, dim, { steps: dim });
    expectClose(r.values, [...lambdas].sort((a, b) => b - a), { rtol: 0, atol: 1e-10, what: 'Ritz values' });
    r.vectors.forEach((u, j) => expectClose(op(u), u.map((x) => r.values[j]! * x), { rtol: 0, atol: 1e-9, what: `Ritz vector ${j}` }));
  });

  it('with fewer steps the extreme Ritz values lie inside [λ_min, λ_max]', () => {
    for (let seed = 0; seed < 5; seed++) {
      const r = lanczos(op, dim, { steps: 5, seed });
      expect(r.values.length).toBe(5);
      expect(r.values[0]!).toBeLessThanOrEqual(4 + 1e-12);
      expect(r.values[4]!).toBeGreaterThanOrEqual(-3 - 1e-12);
    }
  });

  it('extremeEigenvalues finds λ_min = −3 and λ_max = 4 of the indefinite matrix, by Lanczos and by power iteration', () => {
    const lz = extremeEigenvalues(op, dim);
    expect(lz.method).toBe('lanczos');
    expect(lz.min).toBeCloseTo(-3, 10);
    expect(lz.max).toBeCloseTo(4, 10);
    const pw = extremeEigenvalues(op, dim, { method: 'power' });
    expect(pw.method).toBe('power');
    expect(pw.min).toBeCloseTo(-3, 5);
    expect(pw.max).toBeCloseTo(4, 5);
    // the negative end dominating in magnitude: power finds it first, then the positive end
    const neg = extremeEigenvalues((v) => op(v).map((x) => -x), dim, { method: 'power' });
    expect(neg.min).toBeCloseTo(-4, 5);
    expect(neg.max).toBeCloseTo(3, 5);
  });
});

/**
 * Random convex problems shared by the influence tests: Gaussian features, labels from a noisy
 * linear rule (logistic or linear), drawn from a seeded Rng so a fast-check seed reproduces a case.
 */
import { fromFloat64 } from '../../src/core/create.ts';
import { Rng } from '../../src/core/rng.ts';
import { type Tensor, expandDims, matmul, mul, reshape, zeros } from '../../src/index.ts';
import { type Dataset, type LinearModelKind, Objective, linearObjective } from '../../src/index.ts';

/** n rows, d features, labels for the kind (softmax: 3 classes). */
export function randomData(kind: LinearModelKind, n: number, d: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const X = Float64Array.from({ length: n * d }, () => rng.normal());
  const w = Float64Array.from({ length: d }, () => rng.normal());
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let z = 0.3;
    for (let j = 0; j < d; j++) z += w[j]! * X[i * d + j]!;
    if (kind === 'linreg') y[i] = z + 0.5 * rng.normal();
    else if (kind === 'logreg') y[i] = rng.uniform() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
    else y[i] = z + rng.normal() < -0.5 ? 0 : z + rng.normal() < 0.5 ? 1 : 2;
  }
  // A softmax class with no row has no minimiser (its intercept runs to −∞; checkMinimiser refuses
  // it), so the first three rows carry the labels 0, 1, 2: every prefix of three or more rows (the
  // tests train on prefixes) has every class.
  if (kind === 'softmax' && n >= 3) y.set([0, 1, 2]);
  return { X, y, n, d };
}

/** The objective of a random problem. */
export function randomObjective(kind: LinearModelKind, n: number, d: number, l2: number, seed: number) {
  return linearObjective(kind, randomData(kind, n, d, seed), l2, kind === 'softmax' ? { classes: 3 } : {});
}

/**
 * R(w) = (1/n) Σᵢ ½ wᵀ Hᵢ w for given symmetric p × p matrices Hᵢ (row-major), one per "example":
 * a quadratic with Hessian mean(Hᵢ) whatever its signature, so a solver can be tried on indefinite
 * and singular Hessians. The loss is the real quadratic (ℓᵢ = xᵢ · vec(½ w wᵀ) with xᵢ = vec(Hᵢ));
 * `fastHvp` and `denseHessian` give the same numbers directly (mini-batch rows included).
 */
export function quadraticObjective(Hs: Float64Array[], p: number): Objective<{ w: Tensor }> {
  const n = Hs.length;
  const mean = (rows: ArrayLike<number>) => {
    const M = new Float64Array(p * p);
    for (let k = 0; k < rows.length; k++) Hs[rows[k]!]!.forEach((h, i) => (M[i] += h / rows.length));
    return M;
  };
  const all = Array.from({ length: n }, (_, i) => i);
  const Hbar = mean(all);
  const matvec = (M: Float64Array, v: Float64Array) => Float64Array.from({ length: p }, (_, i) => {
    let s = 0;
    for (let j = 0; j < p; j++) s += M[i * p + j]! * v[j]!;
    return s;
  });
  return new Objective<{ w: Tensor }>({
    params: { w: zeros([p]) },
    loss: (par, X) => mul(0.5, matmul(X, reshape(mul(expandDims(par.w, 1), expandDims(par.w, 0)), [p * p]))),
    X: fromFloat64(Float64Array.from(Hs.flatMap((H) => Array.from(H))), [n, p * p]),
    Y: zeros([n]),
    l2: 0,
    fastHvp: (_theta, v, _w, batch) => matvec(batch ? mean(batch) : Hbar, v),
    denseHessian: () => Float64Array.from(Hbar),
  });
}

/** diag(entries) as a row-major matrix. */
export function diag(...entries: number[]): Float64Array {
  const p = entries.length;
  const M = new Float64Array(p * p);
  entries.forEach((e, i) => (M[i * p + i] = e));
  return M;
}

/**
 * The shared shape of attribution scores: one score per (test point, training point) pair, in the
 * project's convention — the predicted change in the test point's loss when the training point is
 * removed, so positive = the point helps. Every estimator (exact influence, Grad-Dot, Grad-Cos,
 * TracIn, TRAK) returns a {@link ScoreMatrix}; the metrics (LDS, LOO correlation) consume one.
 *
 * Only exact/CG/LiSSA/Arnoldi influence has the units of a removal effect; the others agree in
 * sign and orientation but not in scale, which rank and correlation metrics do not see.
 *
 * @module
 */
import { fromFloat64 } from '../core/create.ts';
import type { Pytree } from '../core/pytree.ts';
import type { Tensor } from '../core/tensor.ts';
import { type Objective, perExampleGradients } from '../nn/objective.ts';
import type { Influence } from './influence.ts';
import { matvec } from '../linalg/vector.ts';

/** Scores for `tests` test points × `train` training points, row-major: `values[t · train + i]`. */
export interface ScoreMatrix {
  /** Number of test points (rows). */
  tests: number;
  /** Number of training points (columns). */
  train: number;
  /** Row-major `tests × train`. */
  values: Float64Array;
}

/** Test points for an estimator: inputs and targets in the training objective's format (axis 0 = points). */
export interface TestSet {
  /** Test inputs, points along axis 0. */
  X: Tensor;
  /** Test targets, points along axis 0 (the format of the objective's `Y`). */
  Y: Tensor;
}

/**
 * The row of scores of test point t (a view, not a copy).
 *
 * @example
 * ```ts
 * const s = { tests: 2, train: 3, values: new Float64Array([1, 2, 3, 4, 5, 6]) };
 * scoreRow(s, 1); // [4, 5, 6]
 * ```
 */
export function scoreRow(scores: ScoreMatrix, t: number): Float64Array {
  if (!(Number.isInteger(t) && t >= 0 && t < scores.tests)) throw new Error(`scoreRow: test ${t} is outside 0..${scores.tests - 1}`);
  return scores.values.subarray(t * scores.train, (t + 1) * scores.train);
}

/**
 * ∇θ ℓ(z_test, θ) of every test point under the objective's per-example loss (no regulariser),
 * row-major `tests × p`.
 *
 * @example
 * ```ts
 * const Gt = testGradients(obj, theta, { X: Xtest, Y: Ytest }); // [tests × p]
 * ```
 */
export function testGradients<P extends Pytree>(obj: Objective<P>, theta: Float64Array, test: TestSet): Float64Array {
  if (theta.length !== obj.dim) throw new Error(`testGradients: θ has length ${theta.length}, expected ${obj.dim}`);
  return perExampleGradients(obj.layout, obj.spec.loss, fromFloat64(theta, [obj.dim]), test.X, test.Y);
}

/**
 * The influence-function scores of every test point's own loss, through a prepared
 * {@link Influence} (so its solver — exact, CG, LiSSA or Arnoldi — and its damping are used):
 * values[t, i] = (1/n) ∇ℓ(z_t)ᵀ (H + δI)⁻¹ ∇ℓ(zᵢ), the predicted ℓ(z_t, θ̂₋ᵢ) − ℓ(z_t, θ̂).
 * One inverse-HVP solve per test point.
 *
 * @example
 * ```ts
 * const inf = new Influence(obj, theta);                  // exact: one Cholesky factor
 * const S = influenceScores(inf, { X: Xtest, Y: Ytest }); // tests × n; positive = the point helps
 * ```
 */
export function influenceScores<P extends Pytree>(inf: Influence<P>, test: TestSet): ScoreMatrix {
  const { obj, theta } = inf;
  const p = obj.dim;
  const n = obj.n;
  const Gt = testGradients(obj, theta, test);
  const G = inf.gradients();
  const tests = test.X.shape[0] ?? 0;
  const values = new Float64Array(tests * n);
  for (let t = 0; t < tests; t++) {
    const Gs = matvec(G, n, p, inf.inverse.solve(Gt.slice(t * p, (t + 1) * p)));
    for (let i = 0; i < n; i++) values[t * n + i] = Gs[i]! / n;
  }
  return { tests, train: n, values };
}

/** scale · Ga Gbᵀ for row-major `a × p` and `b × p` matrices, as an `a × b` score matrix (internal). */
export function gradientProducts(Ga: Float64Array, a: number, Gb: Float64Array, b: number, p: number, scale = 1): ScoreMatrix {
  const values = new Float64Array(a * b);
  for (let t = 0; t < a; t++) {
    const row = matvec(Gb, b, p, Ga.subarray(t * p, (t + 1) * p));
    for (let i = 0; i < b; i++) values[t * b + i] = scale * row[i]!;
  }
  return { tests: a, train: b, values };
}

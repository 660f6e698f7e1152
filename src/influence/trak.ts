/**
 * TRAK (Park et al. 2023, "TRAK: Attributing Model Behavior at Scale", Algorithm 1), for models
 * given as an {@link Objective} whose per-example loss is a cross-entropy ℓ = −log p(correct):
 *
 * - model output: the log-odds of the correct class f(z; θ) = log(p / (1 − p)) (the margin of
 *   TRAK's classification output; for logistic regression (2y − 1)·logit). Since ℓ = softplus(−f)
 *   for binary and multinomial cross-entropy alike, p = e^{−ℓ} and ∇θ f = −∇θ ℓ / (1 − p): both
 *   come from the objective's loss and per-example gradients, no second model function needed;
 * - features: φᵢ = Pᵀ ∇θ f(zᵢ; θ) with P a p × k matrix of independent N(0, 1) entries drawn
 *   from `new Rng(seed + m)` for model m, row by row (Box–Muller normals); Φ = [φ₁; …; φₙ];
 * - per model: τ_m(z)ᵢ = φ(z)ᵀ (ΦᵀΦ + ρ I)⁻¹ φᵢ (ρ = `ridge`, default 0 as in the paper);
 * - reweighting: Q = diag(1 − pᵢ), the "one minus probability" of TRAK's binary derivation, which
 *   it applies to softmax with p the correct-class probability;
 * - ensemble over M independently trained models: τ(z)ᵢ = (1/M Σ_m τ_m(z)ᵢ) · (1/M Σ_m Q_m,ii),
 *   the two averages taken separately as Algorithm 1 and the reference implementation
 *   (`TRAKer.finalize_scores`) do.
 *
 * What is left out of Algorithm 1: the soft-thresholding (sparsification) of the final scores,
 * which the reference implementation does not apply either, and its 1/√p scaling of the target
 * gradients (a constant factor). Scaling P by c leaves scores unchanged when ρ = 0 (φ ∝ c,
 * (ΦᵀΦ)⁻¹ ∝ c⁻²), so the N(0, 1) vs N(0, 1/k) choice does not matter.
 *
 * Orientation: τ > 0 when training on zᵢ raises the test point's correct-class log-odds, i.e. the
 * point helps — the influence convention's sign, not its units. With a custom `output` (e.g. the
 * prediction of a regression model) the reweighting is Q = I: the plain projected-gradient form.
 *
 * @module
 */
import { fromFloat64 } from '../core/create.ts';
import type { Pytree } from '../core/pytree.ts';
import { Rng } from '../core/rng.ts';
import { cholesky, choleskySolve } from '../linalg/dense.ts';
import { matvec } from '../linalg/vector.ts';
import { type Objective, type PerExampleLoss, perExampleGradients } from '../nn/objective.ts';
import { type ScoreMatrix, type TestSet, testGradients } from './scores.ts';

/** One trained model of a TRAK ensemble. */
export interface TrakModel<P extends Pytree = Pytree> {
  /** Its training objective (the loss and the training data attributed to). */
  obj: Objective<P>;
  /** Its trained parameters, flat in `obj.layout` order. */
  theta: Float64Array;
}

/** Options for {@link trak}. */
export interface TrakOptions<P extends Pytree = Pytree> {
  /** Projection dimension k. */
  k: number;
  /** Model m's projection is drawn from `new Rng(seed + m)`. Default 0. */
  seed?: number;
  /** A fixed projection per model instead (row-major `p × k`), e.g. an orthogonal one in tests. */
  projection?: (model: number, p: number, k: number) => Float64Array;
  /** ρ ≥ 0 added to ΦᵀΦ's diagonal. Default 0. */
  ridge?: number;
  /**
   * A model output f(params, X, Y) → `[m]` to use instead of the cross-entropy log-odds; with it
   * the reweighting is Q = I (the plain projected-gradient form).
   */
  output?: PerExampleLoss<P>;
}

/**
 * A p × k matrix with independent N(0, 1) entries, row-major, from `new Rng(seed)`.
 *
 * @example
 * ```ts
 * const P = gaussianProjection(7850, 512, 0); // the same matrix for the same seed, every run
 * ```
 */
export function gaussianProjection(p: number, k: number, seed: number): Float64Array {
  if (!(Number.isInteger(p) && p >= 1 && Number.isInteger(k) && k >= 1)) throw new Error(`gaussianProjection: p and k must be positive integers, got ${p} and ${k}`);
  const rng = new Rng(seed);
  return Float64Array.from({ length: p * k }, () => rng.normal());
}

/**
 * TRAK scores of an ensemble of trained models (see the module notes for the exact definition,
 * the projection and its seeds). All models must attribute to the same n training points.
 *
 * @example
 * ```ts
 * const models = seeds.map((s) => ({ obj, theta: trainSgdCheckpointed(obj, { lr: 0.1, epochs: 5, batchSize: 32, seed: s }).theta }));
 * const S = trak(models, { X: Xtest, Y: Ytest }, { k: 256, seed: 0 }); // TRAK-10 for 10 models
 * ```
 */
export function trak<P extends Pytree>(models: readonly TrakModel<P>[], test: TestSet, options: TrakOptions<P>): ScoreMatrix {
  if (models.length === 0) throw new Error('trak: no models');
  const { k, seed = 0, ridge = 0 } = options;
  if (!(Number.isInteger(k) && k >= 1)) throw new Error(`trak: k must be a positive integer, got ${k}`);
  if (!(ridge >= 0)) throw new Error(`trak: ridge must be ≥ 0, got ${ridge}`);
  const n = models[0]!.obj.n;
  const tests = test.X.shape[0] ?? 0;
  const kernelSum = new Float64Array(tests * n);
  const qSum = new Float64Array(n).fill(options.output ? models.length : 0);
  models.forEach(({ obj, theta }, m) => {
    if (obj.n !== n) throw new Error(`trak: model ${m} has ${obj.n} training points, model 0 has ${n}`);
    const p = obj.dim;
    const P = options.projection ? options.projection(m, p, k) : gaussianProjection(p, k, seed + m);
    if (P.length !== p * k) throw new Error(`trak: projection of model ${m} has ${P.length} entries, expected p·k = ${p}·${k}`);
    let Gf: Float64Array;
    let Gt: Float64Array;
    if (options.output) {
      const th = fromFloat64(theta, [p]);
      Gf = perExampleGradients(obj.layout, options.output, th, obj.spec.X, obj.spec.Y);
      Gt = perExampleGradients(obj.layout, options.output, th, test.X, test.Y);
    } else {
      const q = oneMinusP(obj.perExampleLosses(theta), 'training');
      Gf = marginGradients(obj.perExampleGradients(theta), q, p);
      for (let i = 0; i < n; i++) qSum[i] += q[i]!;
      const qt = oneMinusP(obj.spec.loss(obj.params(theta), test.X, test.Y).toFloat64Array(), 'test');
      Gt = marginGradients(testGradients(obj, theta, test), qt, p);
    }
    const Phi = project(Gf, n, p, P, k);
    const Psi = project(Gt, tests, p, P, k);
    const scores = trakKernelScores(Phi, Psi, n, tests, k, ridge, `TRAK model ${m}`);
    for (let x = 0; x < scores.length; x++) kernelSum[x] += scores[x]!;
  });
  return { tests, train: n, values: trakCombine(kernelSum, qSum, models.length, tests, n) };
}

/**
 * One model's TRAK kernel scores φ(z_t)ᵀ(ΦᵀΦ + ρI)⁻¹φᵢ (`tests × n`, row-major) from its projected
 * training features Φ (`n × k`) and test features Ψ (`tests × k`): the per-model step of
 * {@link trak}, exported for callers that project gradients their own way (a model too large for
 * an `n × p` gradient matrix, projected in chunks).
 *
 * @example
 * ```ts
 * const K = trakKernelScores(Phi, Psi, n, tests, 512, 0, 'model 0'); // tests × n
 * ```
 */
export function trakKernelScores(Phi: Float64Array, Psi: Float64Array, n: number, tests: number, k: number, ridge = 0, what = 'TRAK'): Float64Array {
  if (Phi.length !== n * k || Psi.length !== tests * k) throw new Error(`trakKernelScores: Φ has ${Phi.length} entries (n·k = ${n * k}), Ψ ${Psi.length} (tests·k = ${tests * k})`);
  // K = ΦᵀΦ + ρI (k × k).
  const K = new Float64Array(k * k);
  for (let i = 0; i < n; i++) {
    const o = i * k;
    for (let a = 0; a < k; a++) {
      const va = Phi[o + a]!;
      if (va === 0) continue;
      for (let b = a; b < k; b++) K[a * k + b] += va * Phi[o + b]!;
    }
  }
  for (let a = 0; a < k; a++) {
    K[a * k + a] += ridge;
    for (let b = 0; b < a; b++) K[a * k + b] = K[b * k + a]!;
  }
  const L = cholesky(K, k, `ΦᵀΦ of ${what} (k = ${k} must not exceed the rank of the n × p gradient matrix; pass ridge > 0 or a smaller k)`);
  const out = new Float64Array(tests * n);
  for (let t = 0; t < tests; t++) out.set(matvec(Phi, n, k, choleskySolve(L, k, Psi.slice(t * k, (t + 1) * k))), t * n);
  return out;
}

/**
 * TRAK's ensemble average (Algorithm 1): τ = (1/M Σ_m kernel scores) · (1/M Σ_m Q_m), the two
 * averages taken separately; `kernelSum` (`tests × n`) and `qSum` (n) are the sums over the M models.
 *
 * @example
 * ```ts
 * const S = trakCombine(kernelSum, qSum, 10, tests, n); // TRAK-10 scores, tests × n
 * ```
 */
export function trakCombine(kernelSum: Float64Array, qSum: Float64Array, M: number, tests: number, n: number): Float64Array {
  const values = new Float64Array(tests * n);
  for (let t = 0; t < tests; t++) for (let i = 0; i < n; i++) values[t * n + i] = (kernelSum[t * n + i]! / M) * (qSum[i]! / M);
  return values;
}
/** 1 − p = 1 − e^{−ℓ} for cross-entropy losses ℓ, stably. */
function oneMinusP(losses: Float64Array, what: string): Float64Array {
  return losses.map((l, i) => {
    const q = -Math.expm1(-l);
    if (!(q > 0)) throw new Error(`trak: ${what} point ${i} has loss ${l}; the log-odds gradient −∇ℓ/(1 − p) needs 1 − p = 1 − e^{−ℓ} > 0 (is the loss a cross-entropy?)`);
    return q;
  });
}

/** ∇f = −∇ℓ / (1 − p), row by row. */
function marginGradients(G: Float64Array, q: Float64Array, p: number): Float64Array {
  for (let i = 0; i < q.length; i++) {
    const s = -1 / q[i]!;
    for (let j = 0; j < p; j++) G[i * p + j] *= s;
  }
  return G;
}

/** G P for row-major `m × p` G and `p × k` P. */
function project(G: Float64Array, m: number, p: number, P: Float64Array, k: number): Float64Array {
  const out = new Float64Array(m * k);
  for (let i = 0; i < m; i++) {
    const o = i * k;
    for (let j = 0; j < p; j++) {
      const g = G[i * p + j]!;
      if (g === 0) continue;
      const r = j * k;
      for (let a = 0; a < k; a++) out[o + a] += g * P[r + a]!;
    }
  }
  return out;
}

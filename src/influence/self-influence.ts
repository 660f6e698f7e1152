/**
 * Self-scores: each estimator's score of a training point for its own loss, the diagonal of its
 * score matrix with the test set = the training set, computed directly (never the n × n matrix).
 * The standard use is finding mislabelled or atypical points (Koh & Liang 2017 §5.4, Pruthi et al.
 * 2020 §4.1): a flipped label makes a point's own gradient large and unlike the others, so the
 * model's prediction on it leans on that one point.
 *
 * Convention: sᵢ = S(zᵢ, zᵢ), the entry (i, i) of the same estimator's {@link ScoreMatrix} when
 * the test points are the training points, so every function here equals the diagonal of the
 * corresponding full score function (test/influence/self-influence.test.ts checks each). Higher =
 * more suspicious: for the influence family sᵢ = (1/n) gᵢᵀ M⁻¹ gᵢ ≥ 0 is the predicted rise of the
 * point's own loss when it is removed, for Grad-Dot ‖gᵢ‖², for TracIn Σ_c η_c ‖gᵢ(θ_c)‖²; a
 * detection AUC (`detectionAuc`) is invariant to a positive scale, so the 1/n or the η_c change
 * nothing there.
 *
 * - Influence (exact, CG, LiSSA, Arnoldi): {@link influenceSelfScores}, one inverse-HVP solve per
 *   point through the prepared {@link Influence} (so its solver and damping).
 * - K-FAC / EK-FAC: `KroneckerInfluence.selfScores` (in kfac.ts: it needs the fitted eigenbases),
 *   re-exported here as {@link kroneckerSelfScores}.
 * - Grad-Dot: {@link gradDotSelfScores}. Grad-Cos has no self-score worth the name: the cosine of
 *   a gradient with itself is 1 for every point with a non-zero gradient (0 for a zero gradient),
 *   so it ranks nothing and is left out.
 * - TracIn: {@link tracinSelfScores}.
 * - TRAK: {@link trakSelfScores}: per model φᵢᵀ(ΦᵀΦ + ρI)⁻¹φᵢ, averaged over the ensemble and
 *   multiplied by the averaged 1 − pᵢ, as `trak` combines them; {@link trakKernelSelfScores} is the
 *   per-model step for callers with their own features.
 * - RPS-L2: {@link representerSelfScores}: αᵢ[yᵢ] · k(fᵢ, fᵢ), the point's share of its own logit.
 *   Its orientation is the score's own (positive = the point pushes its own label up), which for
 *   RPS is not guaranteed to single out flipped labels: the result says how well it does.
 * - The naive baseline every method should beat: the training loss ℓ(zᵢ, θ̂) ({@link lossSelfScores}).
 *
 * @module
 */
import type { Pytree } from '../core/pytree.ts';
import type { Tensor } from '../core/tensor.ts';
import { fromFloat64 } from '../core/create.ts';
import { cholesky } from '../linalg/dense.ts';
import { normalizeRowsInPlace, rowSquaredNorms } from '../linalg/vector.ts';
import { gemm } from '../prims/index.ts';
import type { Objective } from '../nn/objective.ts';
import { take } from '../ops/shape-ops.ts';
import type { Influence } from './influence.ts';
import type { KroneckerInfluence } from './kfac.ts';
import type { Checkpoint } from './tracin.ts';
import { gaussianProjection, type TrakModel, type TrakOptions } from './trak.ts';
import { type LastLayer, type RepresenterOptions, type RepresenterResult, representerPoints } from './representer.ts';

/**
 * Influence self-scores (1/n) ∇ℓ(zᵢ)ᵀ (H + δI)⁻¹ ∇ℓ(zᵢ) through a prepared {@link Influence} (its
 * solver — exact, CG, LiSSA or Arnoldi — and damping): the diagonal of `influenceScores(inf,
 * training set)`, one solve per point. With a stochastic LiSSA the solves draw their mini-batches
 * in row order from the solver's generator, as `influenceScores` does for its test points in order.
 *
 * @param rows score only these training rows (default all), in this order.
 *
 * @example
 * ```ts
 * const inf = new Influence(obj, theta, { solver: 'cg', damping: 1e-3 });
 * const s = influenceSelfScores(inf);          // n numbers ≥ 0; large = suspicious
 * detectionAuc(s, flipped);                    // how well they find flipped labels
 * ```
 */
export function influenceSelfScores<P extends Pytree>(inf: Influence<P>, rows?: readonly number[]): Float64Array {
  const n = inf.obj.n;
  return inf.selfInfluence(rows).map((v) => v / n);
}

/**
 * K-FAC / EK-FAC self-scores (1/n) ∇ℓ(zᵢ)ᵀ (F̂ + ρ)⁻¹ ∇ℓ(zᵢ), the diagonal of `K.scores(training
 * set)`; see `KroneckerInfluence.selfScores`.
 *
 * @example
 * ```ts
 * const K = new KroneckerInfluence(linearKfacNetwork(obj, 'softmax-cross-entropy'), theta, { method: 'ekfac', damping: 1e-3 });
 * const s = kroneckerSelfScores(K); // n numbers ≥ 0
 * ```
 */
export function kroneckerSelfScores<P extends Pytree>(K: KroneckerInfluence<P>): Float64Array {
  return K.selfScores();
}

/**
 * Grad-Dot self-scores ‖∇ℓ(zᵢ, θ̂)‖² (per-example gradients without the regulariser), the diagonal
 * of `gradDot(obj, theta, training set)`.
 *
 * @example
 * ```ts
 * const s = gradDotSelfScores(obj, theta); // n squared gradient norms
 * ```
 */
export function gradDotSelfScores<P extends Pytree>(obj: Objective<P>, theta: Float64Array): Float64Array {
  return rowSquaredNorms(obj.perExampleGradients(theta), obj.n, obj.dim);
}

/**
 * TracIn self-scores Σ_c η_c ‖∇ℓ(zᵢ, θ_c)‖² over the checkpoints, the diagonal of `tracin(obj,
 * checkpoints, training set)`.
 *
 * @example
 * ```ts
 * const { checkpoints } = trainSgdCheckpointed(obj, { lr: 0.1, epochs: 10, batchSize: 32 });
 * const s = tracinSelfScores(obj, checkpoints);
 * ```
 */
export function tracinSelfScores<P extends Pytree>(obj: Objective<P>, checkpoints: readonly Checkpoint[]): Float64Array {
  if (checkpoints.length === 0) throw new Error('tracinSelfScores: no checkpoints');
  const out = new Float64Array(obj.n);
  for (const c of checkpoints) {
    const s = rowSquaredNorms(obj.perExampleGradients(c.theta), obj.n, obj.dim);
    for (let i = 0; i < out.length; i++) out[i] += c.lr * s[i]!;
  }
  return out;
}

/**
 * One TRAK model's kernel self-scores φᵢᵀ (ΦᵀΦ + ρI)⁻¹ φᵢ from its projected training features Φ
 * (`n × k`, row-major): the diagonal of `trakKernelScores(Φ, Φ, …)`, by one Cholesky factor L of
 * ΦᵀΦ + ρI and ‖L⁻¹φᵢ‖² per row (the leverage scores of Φ when ρ = 0).
 *
 * @example
 * ```ts
 * const lev = trakKernelSelfScores(Phi, n, 512); // n numbers in [0, 1] when ridge = 0
 * ```
 */
export function trakKernelSelfScores(Phi: Float64Array, n: number, k: number, ridge = 0, what = 'TRAK'): Float64Array {
  if (Phi.length !== n * k) throw new Error(`trakKernelSelfScores: Φ has ${Phi.length} entries, n·k = ${n}·${k} = ${n * k}`);
  if (!(ridge >= 0)) throw new Error(`trakKernelSelfScores: ridge must be ≥ 0, got ${ridge}`);
  const K = gemm(fromFloat64(Phi, [n, k]), fromFloat64(Phi, [n, k]), true, false).toFloat64Array();
  for (let a = 0; a < k; a++) K[a * k + a] += ridge;
  const L = cholesky(K, k, `ΦᵀΦ of ${what} (k = ${k} must not exceed the rank of the n × p gradient matrix; pass ridge > 0 or a smaller k)`);
  const out = new Float64Array(n);
  const z = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    // Forward substitution L z = φᵢ; the score is zᵀz = φᵢᵀ (L Lᵀ)⁻¹ φᵢ.
    let s = 0;
    for (let a = 0; a < k; a++) {
      let v = Phi[i * k + a]!;
      for (let b = 0; b < a; b++) v -= L[a * k + b]! * z[b]!;
      z[a] = v / L[a * k + a]!;
      s += z[a]! * z[a]!;
    }
    out[i] = s;
  }
  return out;
}

/**
 * TRAK self-scores of an ensemble (the definition of `trak`, module notes of trak.ts): sᵢ =
 * (1/M Σ_m φ_m,iᵀ(Φ_mᵀΦ_m + ρI)⁻¹φ_m,i) · (1/M Σ_m (1 − p_m,i)), the diagonal of `trak(models,
 * training set, options)`. Same projections (`new Rng(seed + m)` or `options.projection`).
 *
 * @example
 * ```ts
 * const s = trakSelfScores([{ obj, theta }], { k: 256, seed: 0 }); // TRAK-1 self-scores
 * ```
 */
export function trakSelfScores<P extends Pytree>(models: readonly TrakModel<P>[], options: Omit<TrakOptions<P>, 'output'>): Float64Array {
  if (models.length === 0) throw new Error('trakSelfScores: no models');
  if ((options as TrakOptions<P>).output) throw new Error('trakSelfScores: a custom output is not supported (the self-score is defined for the cross-entropy log-odds)');
  const { k, seed = 0, ridge = 0 } = options;
  if (!(Number.isInteger(k) && k >= 1)) throw new Error(`trakSelfScores: k must be a positive integer, got ${k}`);
  const n = models[0]!.obj.n;
  const kernel = new Float64Array(n);
  const qSum = new Float64Array(n);
  models.forEach(({ obj, theta }, m) => {
    if (obj.n !== n) throw new Error(`trakSelfScores: model ${m} has ${obj.n} training points, model 0 has ${n}`);
    const p = obj.dim;
    const P = options.projection ? options.projection(m, p, k) : gaussianProjection(p, k, seed + m);
    if (P.length !== p * k) throw new Error(`trakSelfScores: projection of model ${m} has ${P.length} entries, expected p·k = ${p}·${k}`);
    const losses = obj.perExampleLosses(theta);
    const G = obj.perExampleGradients(theta);
    for (let i = 0; i < n; i++) {
      // TRAK's output is the log-odds f = log(p/(1 − p)) with p = e^{−ℓ}: ∇f = −∇ℓ / (1 − p).
      const q = -Math.expm1(-losses[i]!);
      if (!(q > 0)) throw new Error(`trakSelfScores: training point ${i} of model ${m} has loss ${losses[i]}; the log-odds gradient needs 1 − p = 1 − e^{−ℓ} > 0 (is the loss a cross-entropy?)`);
      qSum[i] += q;
      for (let j = 0; j < p; j++) G[i * p + j] *= -1 / q;
    }
    const Phi = gemm(fromFloat64(G, [n, p]), fromFloat64(P, [p, k]), false, false).toFloat64Array();
    const s = trakKernelSelfScores(Phi, n, k, ridge, `TRAK model ${m}`);
    for (let i = 0; i < n; i++) kernel[i] += s[i]!;
  });
  const M = models.length;
  return kernel.map((v, i) => (v / M) * (qSum[i]! / M));
}

/** What {@link representerSelfScores} returns. */
export interface RepresenterSelfScores {
  /** One self-score per training row. */
  scores: Float64Array;
  /** ‖∇R(Θ)‖₂ of the fitted surrogate (as in {@link RepresenterResult}): how far the decomposition is off. */
  gradNorm: number;
  /** Whether the surrogate's fit reached the tolerance (as in {@link RepresenterResult}). */
  converged: boolean;
}

/**
 * RPS-L2 self-scores: αᵢ[yᵢ] · k(fᵢ, fᵢ) (binary: (2yᵢ − 1) αᵢ k(fᵢ, fᵢ)), the diagonal of
 * `representerPoints(last, train, train, options).scores`, with k(fᵢ, fᵢ) = ‖fᵢ‖² (1, or 0 for a
 * zero feature, with `normalize`). The surrogate is fitted once, as `representerPoints` fits it.
 *
 * @example
 * ```ts
 * const { scores } = representerSelfScores(linearLastLayer(obj, theta), obj.spec, { l2: 0.01, normalize: true });
 * ```
 */
export function representerSelfScores(last: LastLayer, train: { X: Tensor; Y: Tensor }, options: RepresenterOptions = {}): RepresenterSelfScores {
  const n = train.X.shape[0] ?? 0;
  if (n === 0) throw new Error('representerSelfScores: no training rows');
  // The surrogate and α do not depend on the test set: one test row keeps the kernel 1 × n.
  const r = representerPoints(last, train, { X: take(train.X, [0], 0), Y: take(train.Y, [0], 0) }, options);
  const f = last(train.X);
  const { d, outputs: K } = f;
  const F = options.normalize ? normalizeRowsInPlace(Float64Array.from(f.features), n, d) : f.features;
  const y = train.Y.toFloat64Array();
  const scores = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let kii = 0;
    for (let j = 0; j < d; j++) kii += F[i * d + j]! ** 2;
    let a: number;
    if (K === 1) a = (2 * y[i]! - 1) * r.alpha[i]!;
    else {
      let c = 0;
      for (let k = 1; k < K; k++) if (y[i * K + k]! > y[i * K + c]!) c = k;
      a = r.alpha[i * K + c]!;
    }
    scores[i] = a * kii;
  }
  return { scores, gradNorm: r.gradNorm, converged: r.converged };
}

/**
 * The naive baseline: each point's training loss ℓ(zᵢ, θ̂) (a flipped label is usually fitted
 * badly). Every attribution self-score should find flipped labels at least as well as this.
 *
 * @example
 * ```ts
 * detectionAuc(lossSelfScores(obj, theta), flipped); // the bar the other self-scores must clear
 * ```
 */
export function lossSelfScores<P extends Pytree>(obj: Objective<P>, theta: Float64Array): Float64Array {
  return obj.perExampleLosses(theta);
}


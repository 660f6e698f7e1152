/**
 * Curvature in practice: what to do with a Hessian you can only multiply by.
 *
 * Everything here takes an operator — a matvec `(v) => A v` on flat float64 vectors and its
 * dimension, as {@link powerIteration} and {@link arnoldi} do — so it applies equally to
 * `(v) => obj.hvp(theta, v)`, to a Gauss–Newton operator from {@link ggnOperator}, or to a dense
 * matrix in a test.
 *
 * - **Hutchinson estimators** ({@link hutchinsonTrace}, {@link hutchinsonDiagonal}): for probes v
 *   with E[v vᵀ] = I, vᵀAv is an unbiased estimate of tr A and v ⊙ Av of diag A. With Rademacher
 *   probes (±1) the single-probe variance of the trace estimate is 2(‖A‖_F² − Σᵢ Aᵢᵢ²) (only the
 *   off-diagonal entries contribute, so a diagonal A is estimated exactly by one probe); with
 *   Gaussian probes it is 2‖A‖_F². Entry i of the diagonal estimate has Rademacher variance
 *   Σ_{j≠i} Aᵢⱼ². The derivations are in the tests' comments (test/influence/curvature.test.ts).
 * - **Gauss–Newton / GGN** ({@link ggnVectorProduct}, {@link ggnOperator}): for a loss L(θ) =
 *   ℓ(f(θ)) with ℓ convex in the model outputs z = f(θ), ∇²L = Jᵀ ∇²ℓ J + Σₖ (∂ℓ/∂zₖ) ∇²fₖ. The
 *   generalised Gauss–Newton matrix G = Jᵀ ∇²ℓ J drops the second term: it is positive
 *   semi-definite wherever ∇²ℓ is (vᵀGv = (Jv)ᵀ ∇²ℓ (Jv) ≥ 0), so it is a safe surrogate for an
 *   indefinite Hessian (damped Newton, CG, influence functions on non-convex models). It equals the
 *   Hessian when f is linear in θ (the linear models), and for softmax cross-entropy (and every
 *   exponential-family loss in its natural parameters) it equals the Fisher information
 *   E_{y∼p(y|x,θ)}[∇ℓ ∇ℓᵀ] — the "true" Fisher, with labels drawn from the model, not the
 *   "empirical" Fisher, which uses the data's labels and is a different matrix. Gv is computed as
 *   jvp (J v), the loss's output-Hessian product, then vjp (Jᵀ u): about the cost of two gradients.
 *   Output Hessians for the library's losses: {@link softmaxCrossEntropyOutputHessian},
 *   {@link squaredErrorOutputHessian}, {@link bceWithLogitsOutputHessian}.
 * - **Lanczos and extreme eigenvalues** ({@link lanczos}, {@link extremeEigenvalues}): `arnoldi` in
 *   solvers.ts already is the Lanczos process with full re-orthogonalisation (for a symmetric
 *   operator Arnoldi's Hessenberg matrix is tridiagonal); {@link lanczos} runs it and keeps every
 *   Ritz value, both ends of the spectrum, instead of the top k. {@link extremeEigenvalues} returns
 *   λ_min and λ_max of an indefinite operator, by Lanczos (default) or by power iteration on A and
 *   then on the shifted A − σI.
 *
 * @module
 */
import { fromFloat64 } from '../core/create.ts';
import { Rng } from '../core/rng.ts';
import type { Tensor } from '../core/tensor.ts';
import { mul, sub } from '../ops/arith.ts';
import { sigmoid, softmax } from '../ops/nn.ts';
import { sum } from '../ops/reduce.ts';
import { jvp } from '../transforms/jvp.ts';
import { vjp } from '../transforms/reverse.ts';
import { axpy } from '../linalg/vector.ts';
import { type ArnoldiResult, arnoldi, powerIteration } from './solvers.ts';

/** A symmetric linear operator on ℝ^dim given by its matrix-vector product. */
export type LinearOperator = (v: Float64Array) => Float64Array;

// ─── Hutchinson ────────────────────────────────────────────────────────────────────────────────

/** Options for {@link hutchinsonTrace} and {@link hutchinsonDiagonal}. */
export interface HutchinsonOptions {
  /** Number of probes (operator applications). Default 100. */
  samples?: number;
  /** Seed of the probes: equal seeds give equal probes, so the trace and diagonal estimates agree. Default 0. */
  seed?: number;
  /**
   * `'rademacher'` (default): entries ±1, the smaller variance (2(‖A‖_F² − Σ Aᵢᵢ²) per probe for the
   * trace). `'gaussian'`: standard normal entries (variance 2‖A‖_F² per probe).
   */
  distribution?: 'rademacher' | 'gaussian';
}

/** What {@link hutchinsonTrace} returns. */
export interface HutchinsonTraceResult {
  /** The mean of the per-probe estimates vᵀAv: an unbiased estimate of tr A. */
  estimate: number;
  /** The standard error of `estimate`: the sample standard deviation of `draws` over √samples (NaN for one probe). */
  standardError: number;
  /** Number of probes. */
  samples: number;
  /** The per-probe estimates vᵀAv. */
  draws: Float64Array;
}

/** What {@link hutchinsonDiagonal} returns. */
export interface HutchinsonDiagonalResult {
  /** The mean of v ⊙ Av over the probes: an unbiased estimate of diag A. */
  estimate: Float64Array;
  /** Entrywise standard error of `estimate` (sample standard deviation over √samples; NaN for one probe). */
  standardError: Float64Array;
  /** Number of probes. */
  samples: number;
}

function probes(dim: number, opts: HutchinsonOptions, what: string): { samples: number; next: () => Float64Array } {
  const samples = opts.samples ?? 100;
  if (!(Number.isInteger(samples) && samples >= 1)) throw new Error(`${what}: samples must be a positive integer, got ${samples}`);
  if (!(Number.isInteger(dim) && dim >= 1)) throw new Error(`${what}: dim must be a positive integer, got ${dim}`);
  const distribution = opts.distribution ?? 'rademacher';
  if (distribution !== 'rademacher' && distribution !== 'gaussian') {
    throw new Error(`${what}: distribution must be 'rademacher' or 'gaussian', got '${distribution as string}'`);
  }
  const rng = new Rng(opts.seed ?? 0);
  const next =
    distribution === 'rademacher'
      ? () => Float64Array.from({ length: dim }, () => (rng.nextUint32() & 1 ? 1 : -1))
      : () => Float64Array.from({ length: dim }, () => rng.normal());
  return { samples, next };
}

function checkedApply(matvec: LinearOperator, v: Float64Array, dim: number, what: string): Float64Array {
  const w = matvec(v);
  if (w.length !== dim) throw new Error(`${what}: the operator returned length ${w.length}, expected ${dim}`);
  return w;
}

/**
 * Hutchinson's estimate of tr A: the mean of vᵀAv over random probes v with E[v vᵀ] = I (see the
 * module notes for the variances). With Rademacher probes a diagonal A is estimated exactly.
 *
 * @param matvec v ↦ A v (A symmetric; e.g. `(v) => obj.hvp(theta, v)`).
 * @param dim the dimension of v.
 * @param opts probe count, seed and distribution.
 *
 * @example
 * ```ts
 * const A = (v: Float64Array) => new Float64Array([2 * v[0] + v[1], v[0] + 3 * v[1]]);
 * const { estimate, standardError } = hutchinsonTrace(A, 2, { samples: 1000, seed: 1 });
 * // estimate ≈ 5 (= tr A), within a few standardError; standardError ≈ √(2·2/1000)
 * ```
 */
export function hutchinsonTrace(matvec: LinearOperator, dim: number, opts: HutchinsonOptions = {}): HutchinsonTraceResult {
  const { samples, next } = probes(dim, opts, 'hutchinsonTrace');
  const draws = new Float64Array(samples);
  for (let s = 0; s < samples; s++) {
    const v = next();
    const w = checkedApply(matvec, v, dim, 'hutchinsonTrace');
    let q = 0;
    for (let i = 0; i < dim; i++) q += v[i]! * w[i]!;
    draws[s] = q;
  }
  let mean = 0;
  for (const d of draws) mean += d;
  mean /= samples;
  let ss = 0;
  for (const d of draws) ss += (d - mean) ** 2;
  const standardError = samples > 1 ? Math.sqrt(ss / (samples - 1) / samples) : NaN;
  return { estimate: mean, standardError, samples, draws };
}

/**
 * Hutchinson's estimate of diag A: the mean of v ⊙ Av over random probes (Bekas, Kokiopoulou & Saad
 * 2007). With Rademacher probes entry i has per-probe variance Σ_{j≠i} Aᵢⱼ², so a diagonal A is
 * estimated exactly; with the same seed, the entries sum to {@link hutchinsonTrace}'s estimate.
 *
 * @param matvec v ↦ A v (A symmetric).
 * @param dim the dimension of v.
 * @param opts probe count, seed and distribution.
 *
 * @example
 * ```ts
 * const A = (v: Float64Array) => new Float64Array([2 * v[0], 3 * v[1]]);
 * hutchinsonDiagonal(A, 2, { samples: 1 }).estimate; // [2, 3] exactly (Rademacher, A diagonal)
 * ```
 */
export function hutchinsonDiagonal(matvec: LinearOperator, dim: number, opts: HutchinsonOptions = {}): HutchinsonDiagonalResult {
  const { samples, next } = probes(dim, opts, 'hutchinsonDiagonal');
  // Welford's running mean and sum of squared deviations, entrywise.
  const mean = new Float64Array(dim);
  const m2 = new Float64Array(dim);
  for (let s = 0; s < samples; s++) {
    const v = next();
    const w = checkedApply(matvec, v, dim, 'hutchinsonDiagonal');
    for (let i = 0; i < dim; i++) {
      const x = v[i]! * w[i]!;
      const delta = x - mean[i]!;
      mean[i] = mean[i]! + delta / (s + 1);
      m2[i] = m2[i]! + delta * (x - mean[i]!);
    }
  }
  const standardError = m2.map((q) => (samples > 1 ? Math.sqrt(q / (samples - 1) / samples) : NaN));
  return { estimate: mean, standardError, samples };
}

// ─── Gauss–Newton ──────────────────────────────────────────────────────────────────────────────

/**
 * u ↦ ∇²ℓ(z) u: the Hessian of a loss ℓ with respect to the model outputs z, applied to a tangent u
 * of z's shape. Convex ℓ (a PSD ∇²ℓ) makes the GGN positive semi-definite.
 */
export type OutputHessianVector = (z: Tensor, u: Tensor) => Tensor;

/** How per-row (or per-element) losses are combined into ℓ. */
export type Reduction = 'mean' | 'sum';

function reductionScale(reduction: Reduction, count: number, what: string): number {
  if (reduction === 'sum') return 1;
  if (reduction === 'mean') return count > 0 ? 1 / count : 0;
  throw new Error(`${what}: reduction must be 'mean' or 'sum', got '${reduction as string}'`);
}

/**
 * The output Hessian of softmax cross-entropy over logits z `[n, C]`:
 * ℓ(z) = (1/n) Σᵢ softmaxCrossEntropy(zᵢ, yᵢ) (reduction `'mean'`, the default; `'sum'` drops 1/n).
 * Row i of the product is (diag pᵢ − pᵢpᵢᵀ) uᵢ with pᵢ = softmax(zᵢ): independent of the labels,
 * which is why the GGN here equals the Fisher of the model's own label distribution.
 *
 * @example
 * ```ts
 * const Gv = ggnVectorProduct((th) => matmul(X, reshape(th, [d, C])), softmaxCrossEntropyOutputHessian(), theta, v);
 * ```
 */
export function softmaxCrossEntropyOutputHessian(reduction: Reduction = 'mean'): OutputHessianVector {
  reductionScale(reduction, 1, 'softmaxCrossEntropyOutputHessian');
  return (z, u) => {
    const p = softmax(z, -1);
    const pu = mul(p, u);
    const out = sub(pu, mul(p, sum(pu, -1, true)));
    const rows = z.shape.length > 1 ? z.shape.slice(0, -1).reduce((a, b) => a * b, 1) : 1;
    const scale = reductionScale(reduction, rows, 'softmaxCrossEntropyOutputHessian');
    return scale === 1 ? out : mul(out, scale);
  };
}

/**
 * The output Hessian of the squared error: ℓ(z) = mse(z, y) = mean of (z − y)² over all elements
 * (reduction `'mean'`, the default) or their sum (`'sum'`). The product is 2u/N (or 2u).
 *
 * @example
 * ```ts
 * const Gv = ggnVectorProduct((th) => mlpForward(layout.unflatten(th), X, 'tanh'), squaredErrorOutputHessian(), theta, v);
 * ```
 */
export function squaredErrorOutputHessian(reduction: Reduction = 'mean'): OutputHessianVector {
  reductionScale(reduction, 1, 'squaredErrorOutputHessian');
  return (z, u) => mul(u, 2 * reductionScale(reduction, z.size, 'squaredErrorOutputHessian'));
}

/**
 * The output Hessian of binary cross-entropy from logits: ℓ(z) = mean (or sum) of bceWithLogits(z, y)
 * over all elements. The product is σ(z)(1 − σ(z)) ⊙ u (over N for `'mean'`).
 *
 * @example
 * ```ts
 * const outputs = (th: Tensor) => reshape(mlpForward(layout.unflatten(th), X, 'tanh'), [n]);
 * const G = ggnOperator(outputs, bceWithLogitsOutputHessian(), theta);
 * ```
 */
export function bceWithLogitsOutputHessian(reduction: Reduction = 'mean'): OutputHessianVector {
  reductionScale(reduction, 1, 'bceWithLogitsOutputHessian');
  return (z, u) => {
    const s = sigmoid(z);
    return mul(mul(u, mul(s, sub(1, s))), reductionScale(reduction, z.size, 'bceWithLogitsOutputHessian'));
  };
}

/**
 * The generalised Gauss–Newton operator G = Jᵀ ∇²ℓ(f(θ)) J at θ, for a model `outputs` (flat θ ↦
 * outputs z) and a loss ℓ convex in z given by its output-Hessian product. The reverse pass is
 * recorded once; each application is one jvp (J v), the output-Hessian product, and one pullback
 * (Jᵀ u). A regulariser (λ/2)‖θ‖² adds λ v, which the caller adds (it is its own Hessian).
 *
 * @param outputs θ ↦ z, built from differentiable ops (θ is a tensor of shape `[p]`, possibly traced).
 * @param outputHessianVector (z, u) ↦ ∇²ℓ(z) u, e.g. {@link softmaxCrossEntropyOutputHessian}.
 * @param theta the point θ, length p.
 *
 * @example
 * ```ts
 * const layout = paramLayout(mlpInit([2, 4, 3], 0));
 * const G = ggnOperator((th) => mlpForward(layout.unflatten(th), X, 'tanh'), softmaxCrossEntropyOutputHessian(), theta);
 * const { estimate } = hutchinsonTrace(G, layout.size, { samples: 200 }); // tr G
 * ```
 */
export function ggnOperator(outputs: (theta: Tensor) => Tensor, outputHessianVector: OutputHessianVector, theta: Float64Array): LinearOperator {
  const p = theta.length;
  const t = fromFloat64(theta, [p]);
  const [z, pullback] = vjp(outputs, t);
  return (v: Float64Array) => {
    if (v.length !== p) throw new Error(`ggnOperator: v has length ${v.length}, θ has ${p}`);
    const [, Jv] = jvp(outputs, [t], [fromFloat64(v, [p])]);
    const u = outputHessianVector(z, Jv);
    if (u.size !== z.size) throw new Error(`ggnOperator: the output-Hessian product has ${u.size} entries, the outputs ${z.size}`);
    const [g] = pullback(u) as [Tensor];
    return g.toFloat64Array();
  };
}

/**
 * One generalised Gauss–Newton vector product G v = Jᵀ ∇²ℓ(f(θ)) J v (see {@link ggnOperator}, which
 * reuses the reverse pass across many v).
 *
 * @param outputs θ ↦ z (differentiable in θ, a tensor of shape `[p]`).
 * @param outputHessianVector (z, u) ↦ ∇²ℓ(z) u.
 * @param theta the point θ.
 * @param v the direction, length p.
 *
 * @example
 * ```ts
 * // least squares on a linear model: G = (2/n) XᵀX, the Hessian itself
 * const Gv = ggnVectorProduct((th) => matmul(X, th), squaredErrorOutputHessian(), theta, v);
 * ```
 */
export function ggnVectorProduct(
  outputs: (theta: Tensor) => Tensor,
  outputHessianVector: OutputHessianVector,
  theta: Float64Array,
  v: Float64Array,
): Float64Array {
  return ggnOperator(outputs, outputHessianVector, theta)(v);
}

// ─── Lanczos and extreme eigenvalues ──────────────────────────────────────────────────────────

/** Options for {@link lanczos}. */
export interface LanczosOptions {
  /** Krylov dimension m (operator applications). Default min(dim, 30). */
  steps?: number;
  /** Seed of the random start vector. Default 0. */
  seed?: number;
}

/**
 * The Lanczos process with full re-orthogonalisation on a symmetric operator: all m Ritz values
 * (decreasing) and vectors of the m-step Krylov space. This is {@link arnoldi} (which, for a
 * symmetric operator, is Lanczos) keeping every Ritz pair rather than the top k, so that both ends
 * of an indefinite spectrum are there: `values[0]` ≤ λ_max and `values[m − 1]` ≥ λ_min, and the
 * extreme ones converge first. With m = dim the values are the eigenvalues to rounding.
 *
 * @param matvec v ↦ A v (A symmetric).
 * @param dim the dimension of v.
 * @param opts Krylov dimension and seed.
 *
 * @example
 * ```ts
 * const A = (v: Float64Array) => new Float64Array([3 * v[0], -2 * v[1], 0.5 * v[2]]);
 * lanczos(A, 3, { steps: 3 }).values; // ≈ [3, 0.5, −2]
 * ```
 */
export function lanczos(matvec: LinearOperator, dim: number, opts: LanczosOptions = {}): ArnoldiResult {
  const steps = opts.steps ?? Math.min(dim, 30);
  if (!(Number.isInteger(steps) && steps >= 1)) throw new Error(`lanczos: steps must be a positive integer, got ${steps}`);
  const m = Math.min(steps, dim);
  return arnoldi(matvec, dim, { k: m, iterations: m, seed: opts.seed ?? 0 });
}

/** Options for {@link extremeEigenvalues}. */
export interface ExtremeEigenvaluesOptions {
  /**
   * `'lanczos'` (default): the extreme Ritz values of {@link lanczos} with `steps` steps.
   * `'power'`: power iteration on A gives the eigenvalue σ of largest magnitude, then power iteration
   * on A − σI gives the eigenvalue farthest from σ, the other end. Power iteration converges slowly
   * when the two ends have nearly equal magnitude; Lanczos does not care.
   */
  method?: 'lanczos' | 'power';
  /** Lanczos: Krylov dimension. Default min(dim, 30). */
  steps?: number;
  /** Power: iteration cap for each of the two runs. Default 500. */
  iterations?: number;
  /** Power: relative-change tolerance of each run. Default 1e-10. */
  tol?: number;
  /** Seed of the start vectors. Default 0. */
  seed?: number;
}

/** What {@link extremeEigenvalues} returns. */
export interface ExtremeEigenvalues {
  /** The estimate of λ_min (from above, for Lanczos: a Ritz value is never below λ_min). */
  min: number;
  /** The estimate of λ_max (from below, for Lanczos). */
  max: number;
  /** Operator applications used. */
  matvecs: number;
  /** The method that ran. */
  method: 'lanczos' | 'power';
}

/**
 * Estimates of the smallest and largest eigenvalues of a symmetric, possibly indefinite operator
 * (a Hessian away from a minimum): min < 0 says the point is not a local minimum (or H is not PSD
 * there); the ratio and the signs say how much damping a solver needs (δ > −λ_min).
 *
 * @param matvec v ↦ A v (A symmetric).
 * @param dim the dimension of v.
 * @param opts method and its settings.
 *
 * @example
 * ```ts
 * const A = (v: Float64Array) => new Float64Array([3 * v[0], -2 * v[1], 0.5 * v[2]]);
 * extremeEigenvalues(A, 3);                     // { min ≈ −2, max ≈ 3, … }
 * extremeEigenvalues(A, 3, { method: 'power' }); // the same, by two power iterations
 * ```
 */
export function extremeEigenvalues(matvec: LinearOperator, dim: number, opts: ExtremeEigenvaluesOptions = {}): ExtremeEigenvalues {
  const method = opts.method ?? 'lanczos';
  if (method === 'lanczos') {
    const { values, hvps } = lanczos(matvec, dim, { steps: opts.steps, seed: opts.seed });
    return { min: values[values.length - 1]!, max: values[0]!, matvecs: hvps, method };
  }
  if (method !== 'power') throw new Error(`extremeEigenvalues: method must be 'lanczos' or 'power', got '${method as string}'`);
  const settings = { iterations: opts.iterations ?? 500, tol: opts.tol ?? 1e-10 };
  const seed = opts.seed ?? 0;
  const first = powerIteration(matvec, dim, { ...settings, seed });
  const sigma = first.value;
  const second = powerIteration((v) => axpy(-sigma, v, Float64Array.from(matvec(v))), dim, { ...settings, seed: seed + 1 });
  const other = sigma + second.value;
  return { min: Math.min(sigma, other), max: Math.max(sigma, other), matvecs: first.iterations + second.iterations, method };
}

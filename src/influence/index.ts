/**
 * Influence functions: the public entry points of this module (the models, trainers and dense
 * linear algebra they use are exported from their own modules, and all of it from the package root).
 *
 * The generic call, for any params pytree and per-example loss (Data Dropout uses this):
 *
 * ```ts
 * import { removalEffects, totalLoss } from './influence/index.ts';
 * const { effects } = removalEffects(
 *   { params, loss, X, Y, l2: 1e-3 },              // the trained model and its training data
 *   totalLoss(loss, Xval, Yval),                    // f(params): here the total validation loss
 *   { solver: 'cg', damping: 0.01 },                // damping for non-convex models
 * );
 * // effects[i] ≈ f(θ̂₋ᵢ) − f(θ̂): positive = point i helps, negative = removing it would help
 * ```
 *
 * Definitions: R(θ) = (1/n) Σᵢ ℓ(zᵢ, θ) + (λ/2)‖w‖², leaves under key `b`
 * unregularised; H = ∇²R(θ̂) includes the regulariser, per-point gradients do not; the removal
 * effect is (1/n) ∇f(θ̂)ᵀ (H + δI)⁻¹ ∇ℓ(zᵢ, θ̂) = −(1/n) I_up,loss.
 *
 * @module
 */
import type { Pytree } from '../core/pytree.ts';
import type { Tensor } from '../core/tensor.ts';
import { Objective, type PerExampleLoss } from '../nn/objective.ts';
import { Influence, type TestObjective } from './influence.ts';
import type { SolveInfo, SolverOptions } from './solvers.ts';
import { matvec } from '../linalg/vector.ts';

export { Influence, topK, totalLoss, type ScoredIndex, type TestObjective, type TopK } from './influence.ts';
export {
  inverseHvp,
  arnoldi,
  powerIteration,
  LissaDivergenceError,
  IndefiniteHessianError,
  type InverseHvp,
  type SolverName,
  type SolverOptions,
  type SolveInfo,
  type LissaOptions,
  type CgSolverOptions,
  type ArnoldiOptions,
  type ArnoldiResult,
  type PowerIterationOptions,
  type PowerIterationResult,
} from './solvers.ts';
export {
  KroneckerInfluence,
  kfac,
  ekfac,
  linearKfacNetwork,
  mlpKfacNetwork,
  sequentialKfacNetwork,
  type KfacNetwork,
  type KfacLayer,
  type KfacLayerSignals,
  type KfacCapture,
  type KfacOutputLoss,
  type KfacOptions,
  type KroneckerBlock,
} from './kfac.ts';
export {
  representerPoints,
  linearLastLayer,
  mlpLastLayer,
  type LastLayer,
  type LastLayerOutputs,
  type RepresenterOptions,
  type RepresenterResult,
} from './representer.ts';
export { exactLoo, retrainWeighted, type LooOptions, type LooResult, type RetrainOptions } from './loo.ts';
export { influenceSelfScores, kroneckerSelfScores, gradDotSelfScores, tracinSelfScores, trakSelfScores, trakKernelSelfScores, representerSelfScores, lossSelfScores } from './self-influence.ts';
export type { RepresenterSelfScores } from './self-influence.ts';

/** A trained model and its training data, for {@link removalEffects}. */
export interface InfluenceProblem<P extends Pytree = Pytree> {
  /** The trained params pytree θ̂ (leaves under key `b` are not regularised). */
  params: P;
  /** Per-example loss ℓ: `loss(params, X, Y)` → shape `[m]`, no regulariser. */
  loss: PerExampleLoss<P>;
  /** Training inputs (examples along axis 0). */
  X: Tensor;
  /** Training targets (examples along axis 0). */
  Y: Tensor;
  /** λ ≥ 0 of (λ/2)‖w‖² in the training objective. */
  l2: number;
}

/** Options for {@link removalEffects}: the solver, damping, and which rows to score. */
export interface RemovalOptions extends SolverOptions {
  /** Score only these training rows (default all). */
  rows?: readonly number[];
}

/** What {@link removalEffects} returns. */
export interface RemovalEffects {
  /** effects[k] = (1/n) ∇f(θ̂)ᵀ (H + δI)⁻¹ ∇ℓ(z_rows[k]): the predicted f(θ̂₋ᵢ) − f(θ̂). */
  effects: Float64Array;
  /** (H + δI)⁻¹ ∇f(θ̂), flat in the params' `treeFlatten` order. */
  sTest: Float64Array;
  /** f(θ̂). */
  value: number;
  /** Solver details (iterations, residuals, LiSSA scale and effective damping, …). */
  info: SolveInfo;
}

/**
 * Predicted removal effects of training points on a scalar objective f(params), for any params
 * pytree and per-example loss: effects[i] ≈ f(θ̂₋ᵢ) − f(θ̂), positive when point i helps.
 *
 * Assumes `params` minimises R (train to ‖∇R‖ ≈ 0 first); for non-convex models H may be
 * indefinite at the solution found, so pass `damping` (≈ the magnitude of the most negative
 * eigenvalue) and use `cg` or `lissa`: the result is then the influence of the damped
 * quadratic model, a standard but biased approximation.
 *
 * @example
 * ```ts
 * const { effects } = removalEffects({ params, loss, X, Y, l2: 0.01 }, totalLoss(loss, Xv, Yv));
 * topK(effects, 10).harmful; // the points whose removal is predicted to lower the validation loss most
 * ```
 */
export function removalEffects<P extends Pytree>(problem: InfluenceProblem<P>, f: TestObjective<P>, options: RemovalOptions = {}): RemovalEffects {
  const obj = new Objective<P>({ params: problem.params, loss: problem.loss, X: problem.X, Y: problem.Y, l2: problem.l2 });
  const theta = obj.layout.flatten(problem.params);
  const inf = new Influence(obj, theta, options);
  const sTest = inf.sTest(f);
  const p = obj.dim;
  const rows = options.rows ? [...options.rows] : undefined;
  const G = rows ? obj.perExampleGradients(theta, rows) : inf.gradients();
  const m = rows ? rows.length : obj.n;
  const effects = matvec(G, m, p, sTest).map((v) => v / obj.n);
  return { effects, sTest, value: f(problem.params).item(), info: inf.inverse.info };
}

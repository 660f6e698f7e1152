/**
 * Influence functions (Koh & Liang 2017) for any params pytree and per-example loss, with the
 * project's definitions, stated exactly:
 *
 * - Objective: R(θ) = (1/n) Σᵢ ℓ(zᵢ, θ) + (λ/2)‖w‖² (the intercept is not regularised).
 * - I_up,params(z) = −H⁻¹ ∇ℓ(z, θ̂);  I_up,loss(z, z_test) = −∇ℓ(z_test)ᵀ H⁻¹ ∇ℓ(z);  H = ∇²R(θ̂).
 *   Per-point gradients exclude the regulariser; H includes it.
 * - The default score is the predicted change in the test loss when training point i is removed:
 *   (1/n) ∇ℓ(z_test)ᵀ H⁻¹ ∇ℓ(zᵢ) = −(1/n) I_up,loss. Positive: the point helps (removing it would
 *   raise the test loss).
 * - I_pert,loss(z, z_test) = −∇ℓ(z_test)ᵀ H⁻¹ ∇ₓ∇θ ℓ(z, θ̂), the gradient of I_up,loss with respect
 *   to the training input x (with θ̂ and H held fixed).
 *
 * "Test loss" generalises to any scalar f(params) (a single test point's loss, the total
 * validation loss, …): ∇ℓ(z_test) above becomes ∇f(θ̂).
 *
 * @module
 */
import { fromFloat64 } from '../core/create.ts';
import type { Pytree } from '../core/pytree.ts';
import type { Tensor } from '../core/tensor.ts';
import { grad } from '../transforms/api.ts';
import { vmap } from '../transforms/vmap.ts';
import { vdot } from '../ops/products.ts';
import { sum } from '../ops/reduce.ts';
import { expandDims, take } from '../ops/shape-ops.ts';
import { Objective, type PerExampleLoss } from '../nn/objective.ts';
import { inverseHvp, type InverseHvp, type SolverOptions } from './solvers.ts';

/** A scalar function of the params pytree: the "test loss" influence is measured on. */
export type TestObjective<P extends Pytree = Pytree> = (params: P) => Tensor;

/**
 * The total loss Σⱼ ℓ(zⱼ, θ) over a set of points (e.g. one test point, or a validation set), as a
 * {@link TestObjective}.
 *
 * @example
 * ```ts
 * const f = totalLoss(model.loss, Xtest, Ytest);   // Σ over the test rows
 * const one = totalLoss(model.loss, Xtest, Ytest, [3]); // only test row 3
 * ```
 */
export function totalLoss<P extends Pytree>(loss: PerExampleLoss<P>, X: Tensor, Y: Tensor, rows?: readonly number[]): TestObjective<P> {
  const Xs = rows ? take(X, rows, 0) : X;
  const Ys = rows ? take(Y, rows, 0) : Y;
  return (params: P) => sum(loss(params, Xs, Ys));
}

/** Indices with the largest positive and most negative scores. */
export interface TopK {
  /** The k largest scores, descending (for removal effects: the most helpful points). */
  helpful: ScoredIndex[];
  /** The k smallest scores, ascending (for removal effects: the most harmful points). */
  harmful: ScoredIndex[];
}

/** One entry of a {@link TopK} list. */
export interface ScoredIndex {
  /** Position in the score array (a training row). */
  index: number;
  /** The score at that position. */
  score: number;
}

/**
 * The k most helpful (largest score) and most harmful (smallest score) points.
 *
 * @example
 * ```ts
 * topK(new Float64Array([0.3, -0.2, 0.1]), 1); // helpful [{index 0, score 0.3}], harmful [{index 1, score −0.2}]
 * ```
 */
export function topK(scores: ArrayLike<number>, k: number): TopK {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  const pick = (is: number[]) => is.map((index) => ({ index, score: scores[index]! }));
  return { helpful: pick(order.slice(0, k)), harmful: pick(order.slice(-k).reverse()) };
}

/**
 * Influence functions for a model trained to θ̂ on the objective `obj`.
 *
 * The inverse-HVP solver is prepared once (for `exact`: one Hessian and one Cholesky factor) and
 * reused for every query; per-example gradients are computed once by `vmap(grad(ℓ))` and cached.
 *
 * @example
 * ```ts
 * const obj = linearObjective('logreg', train, 0.01);
 * const { theta } = newton(obj);
 * const inf = new Influence(obj, theta);
 * const f = totalLoss(obj.spec.loss, Xtest, Ytest, [0]);
 * const scores = inf.removalEffects(f);   // n numbers; positive = the point helps
 * topK(scores, 5).harmful;
 * ```
 */
export class Influence<P extends Pytree = Pytree> {
  private inv: InverseHvp | null = null;
  private G: Float64Array | null = null;

  constructor(
    /** The training objective R (model, training data, L2 penalty). */
    readonly obj: Objective<P>,
    /** The trained parameters θ̂, flat in `obj.layout` order (should minimise R). */
    readonly theta: Float64Array,
    /** How to solve (H + δI) x = v: the solver, damping and their settings. */
    readonly options: SolverOptions = {},
  ) {}

  /** The prepared inverse-HVP operator (created on first use). */
  get inverse(): InverseHvp {
    this.inv ??= inverseHvp(this.obj, this.theta, this.options);
    return this.inv;
  }

  /** The trained params pytree. */
  get params(): P {
    return this.obj.params(this.theta);
  }

  /** ∇θ f(θ̂), flat. */
  testGradient(f: TestObjective<P>): Float64Array {
    const layout = this.obj.layout;
    return (grad((th: Tensor) => f(layout.unflatten(th)))(fromFloat64(this.theta, [this.obj.dim])) as Tensor).toFloat64Array();
  }

  /** ∇θ ℓ(zᵢ, θ̂) for all training points, row-major n × p (cached). */
  gradients(): Float64Array {
    this.G ??= this.obj.perExampleGradients(this.theta);
    return this.G;
  }

  /** H⁻¹ ∇f(θ̂) (the "s_test" of Koh & Liang's code). */
  sTest(f: TestObjective<P>): Float64Array {
    return this.inverse.solve(this.testGradient(f));
  }

  /**
   * I_up,loss(zᵢ, f) = −∇f(θ̂)ᵀ H⁻¹ ∇ℓ(zᵢ, θ̂) for every training point (or the given rows):
   * d f(θ̂_{ε,zᵢ}) / dε at ε = 0 when zᵢ is upweighted by ε.
   */
  upLoss(f: TestObjective<P>, rows?: readonly number[]): Float64Array {
    const s = this.sTest(f);
    return this.dotRows(s, rows, -1);
  }

  /**
   * The default score: (1/n) ∇f(θ̂)ᵀ H⁻¹ ∇ℓ(zᵢ) = −(1/n) I_up,loss, the predicted change
   * f(θ̂₋ᵢ) − f(θ̂) when training point i is removed. Positive: the point helps.
   */
  removalEffects(f: TestObjective<P>, rows?: readonly number[]): Float64Array {
    const s = this.sTest(f);
    return this.dotRows(s, rows, 1 / this.obj.n);
  }

  /** I_up,params(zᵢ) = −H⁻¹ ∇ℓ(zᵢ, θ̂): dθ̂_{ε,zᵢ}/dε at ε = 0 (flat, length p). */
  upParams(row: number): Float64Array {
    const p = this.obj.dim;
    const g = this.obj.perExampleGradients(this.theta, [row]).subarray(0, p);
    return this.inverse.solve(g).map((v) => -v);
  }

  /**
   * Self-influence ∇ℓ(zᵢ)ᵀ H⁻¹ ∇ℓ(zᵢ) = −I_up,loss(zᵢ, zᵢ) (≥ 0 when H is PD): n times the predicted
   * rise in a point's own loss when it is removed. Large values flag atypical or mislabelled points.
   */
  selfInfluence(rows?: readonly number[]): Float64Array {
    const p = this.obj.dim;
    const G = this.gradients();
    const idx = rows ?? Array.from({ length: this.obj.n }, (_, i) => i);
    return Float64Array.from(idx, (i) => {
      const g = G.subarray(i * p, (i + 1) * p);
      const x = this.inverse.solve(Float64Array.from(g));
      let s = 0;
      for (let j = 0; j < p; j++) s += g[j]! * x[j]!;
      return s;
    });
  }

  /**
   * I_pert,loss(zᵢ, f) = −∇f(θ̂)ᵀ H⁻¹ ∇ₓ∇θ ℓ(zᵢ, θ̂) for each given training row: one gradient per
   * row with the shape of an input row (row-major, m × the input size). Computed by differentiating
   * x ↦ ⟨H⁻¹∇f, ∇θ ℓ(x, yᵢ, θ̂)⟩ with respect to x (reverse over reverse), vmapped over rows.
   */
  pertLoss(f: TestObjective<P>, rows: readonly number[]): Float64Array {
    const s = fromFloat64(this.sTest(f), [this.obj.dim]);
    const { X, Y, loss } = this.obj.spec;
    const layout = this.obj.layout;
    const thetaT = fromFloat64(this.theta, [this.obj.dim]);
    const single = (th: Tensor, x: Tensor, y: Tensor) => sum(loss(layout.unflatten(th), expandDims(x, 0), expandDims(y, 0)));
    const mixed = (x: Tensor, y: Tensor) => vdot(s, grad(single)(thetaT, x, y) as Tensor);
    const out = vmap(grad(mixed), [0, 0])(take(X, rows, 0), take(Y, rows, 0)) as Tensor;
    return out.toFloat64Array().map((v) => -v);
  }

  private dotRows(s: Float64Array, rows: readonly number[] | undefined, factor: number): Float64Array {
    const p = this.obj.dim;
    const G = this.gradients();
    const idx = rows ?? Array.from({ length: this.obj.n }, (_, i) => i);
    return Float64Array.from(idx, (i) => {
      let acc = 0;
      const off = i * p;
      for (let j = 0; j < p; j++) acc += G[off + j]! * s[j]!;
      return factor * acc;
    });
  }
}

/**
 * The regularised empirical risk every influence computation is about, over any params pytree:
 *
 *   R(θ) = (1/n) Σᵢ wᵢ ℓ(zᵢ, θ) + (λ/2) ‖w‖²
 *
 * with per-example weights wᵢ (all 1 by default; 0 removes a point, 1 + nε upweights it by ε) and
 * the penalty on the regularised leaves only: by the project-wide convention a leaf stored under a
 * key `b` is an intercept and is not penalised; every other leaf (keys `W`, `w`, or anything else)
 * is. The 1/n is always the full training-set size, also when some weights are 0, so that dropping
 * a point means exactly R(θ) − (1/n) ℓ(zᵢ, θ): drop its term, keep the 1/n.
 *
 * Parameters are handled as one flat float64 vector θ (the leaves in `treeFlatten` order, each
 * row-major), which is what optimisers and inverse-HVP solvers work on; the loss sees the pytree,
 * rebuilt from θ with differentiable `slice`/`reshape`, so every derivative comes from the engine.
 *
 * @module
 */
import { fromFloat64 } from '../core/create.ts';
import { type Pytree, type TreeDef, treeFlatten, treeUnflatten } from '../core/pytree.ts';
import { Tensor } from '../core/tensor.ts';
import { grad, hvp as engineHvp, valueAndGrad } from '../transforms/api.ts';
import { vmap } from '../transforms/vmap.ts';
import { add, mul } from '../ops/arith.ts';
import { mean, sum } from '../ops/reduce.ts';
import { expandDims, reshape, slice, take } from '../ops/shape-ops.ts';
import { fmt } from '../base/shape.ts';

/**
 * A per-example loss over a batch: `loss(params, X, Y)` returns shape `[m]` for the `m` rows of `X`
 * and `Y` (axis 0 indexes examples). It must not include the regulariser.
 */
export type PerExampleLoss<P extends Pytree = Pytree> = (params: P, X: Tensor, Y: Tensor) => Tensor;

/** How a params pytree maps to a flat vector θ. */
export interface ParamLayout<P extends Pytree = Pytree> {
  /** Length of θ. */
  size: number;
  /** The pytree structure. */
  def: TreeDef;
  /** Shape of each leaf, in `treeFlatten` order. */
  shapes: number[][];
  /** Offset of each leaf in θ. */
  offsets: number[];
  /** The key each leaf is stored under (`''` for a leaf that is not an object property). */
  keys: string[];
  /** 1 where θ's entry is regularised (not under a key `b`), else 0. */
  regularized: Float64Array;
  /** θ of a concrete params pytree. */
  flatten(params: P): Float64Array;
  /** The pytree for θ, built with differentiable ops (θ may be a tracer). */
  unflatten(theta: Tensor): P;
}

/**
 * The flat layout of a params pytree (see the module notes for the regularisation rule).
 *
 * @example
 * ```ts
 * const layout = paramLayout({ w: tensor([1, 2]), b: tensor(0) });
 * layout.size;        // 3
 * layout.regularized; // [1, 1, 0]
 * layout.flatten({ w: tensor([3, 4]), b: tensor(5) }); // [3, 4, 5]
 * ```
 */
export function paramLayout<P extends Pytree>(params: P): ParamLayout<P> {
  const { leaves, def } = treeFlatten(params, 'params');
  const keys: string[] = [];
  const walk = (t: Pytree, key: string): void => {
    if (t instanceof Tensor || typeof t === 'number') keys.push(key);
    else if (t === null || t === undefined) return;
    else if (Array.isArray(t)) t.forEach((c) => walk(c, ''));
    else for (const k of Object.keys(t as object)) walk((t as Record<string, Pytree>)[k], k);
  };
  walk(params, '');
  const shapes = leaves.map((l) => (typeof l === 'number' ? [] : [...l.shape]));
  const offsets: number[] = [];
  let size = 0;
  for (const s of shapes) {
    offsets.push(size);
    size += s.reduce((a, b) => a * b, 1);
  }
  const regularized = new Float64Array(size);
  shapes.forEach((s, i) => {
    if (keys[i] !== 'b') regularized.fill(1, offsets[i]!, offsets[i]! + s.reduce((a, b) => a * b, 1));
  });
  return {
    size,
    def,
    shapes,
    offsets,
    keys,
    regularized,
    flatten(p: P): Float64Array {
      const { leaves: ls } = treeFlatten(p, 'params');
      if (ls.length !== shapes.length) throw new Error(`paramLayout.flatten: ${ls.length} leaves, the layout has ${shapes.length}`);
      const out = new Float64Array(size);
      ls.forEach((l, i) => {
        const v = typeof l === 'number' ? new Float64Array([l]) : l.toFloat64Array();
        const want = shapes[i]!.reduce((a, b) => a * b, 1);
        if (v.length !== want) throw new Error(`paramLayout.flatten: leaf ${i} has ${v.length} entries, the layout expects ${want} (shape ${fmt(shapes[i]!)})`);
        out.set(v, offsets[i]!);
      });
      return out;
    },
    unflatten(theta: Tensor): P {
      return treeUnflatten<P>(
        def,
        shapes.map((s, i) => reshape(slice(theta, [offsets[i]!], [s.reduce((a, b) => a * b, 1)]), s)),
      );
    },
  };
}

/** Everything that defines R(θ). */
export interface ObjectiveSpec<P extends Pytree = Pytree> {
  /** A params pytree: its structure and shapes define θ's layout (its values are not used). */
  params: P;
  /** The per-example loss ℓ (no regulariser). */
  loss: PerExampleLoss<P>;
  /** Training inputs, examples along axis 0. */
  X: Tensor;
  /** Training targets, examples along axis 0. */
  Y: Tensor;
  /** λ ≥ 0 in (λ/2)‖w‖². */
  l2: number;
  /** Per-example weights wᵢ (default all 1). */
  weights?: Float64Array;
  /**
   * An optional fast dense Hessian ∇²R(θ) (row-major `p × p`) for models with structure the
   * generic route cannot see (the linear models' Xᵀ D X); tests check it against the engine.
   */
  denseHessian?: (theta: Float64Array, weights: Float64Array | undefined) => Float64Array;
  /**
   * An optional fast Hessian-vector product ∇²R(θ) v with the same meaning as {@link Objective.hvp}
   * (mini-batch rows included); the linear models give one that is ~50× faster than the engine's
   * generic HVP on MNIST, and the tests check it against `engineHvp`.
   */
  fastHvp?: (theta: Float64Array, v: Float64Array, weights: Float64Array | undefined, batch?: ArrayLike<number>) => Float64Array;
  /**
   * Unit directions u in θ-space along which R is exactly constant (softmax intercepts: adding c to
   * every bᵢ changes no probability). H u = 0 there, and every per-example gradient is ⊥ u, so
   * solvers invert H on the complement (the pseudo-inverse); see `src/influence/solvers.ts`.
   */
  gauge?: Float64Array[];
}

const ROWS_PER_CHUNK = 1024;

/**
 * R(θ) and its derivatives on flat float64 vectors (see the module notes).
 *
 * @example
 * ```ts
 * const obj = new Objective({ params: { w: zeros([2]), b: zeros([]) }, loss, X, Y, l2: 0.1 });
 * const g = obj.gradient(new Float64Array(3));   // ∇R at θ = 0
 * const Hv = obj.hvp(new Float64Array(3), g);    // ∇²R · g
 * ```
 */
export class Objective<P extends Pytree = Pytree> {
  /** How θ maps to the params pytree and back, and which entries of θ are regularised. */
  readonly layout: ParamLayout<P>;
  /** Number of training examples (the n in 1/n). */
  readonly n: number;
  /** Length of θ. */
  readonly dim: number;
  private readonly mask: Tensor;
  private readonly weightTensor: Tensor | null;
  private readonly R: (theta: Tensor) => Tensor;

  constructor(
    /** What R is built from: the params' structure, the loss, the data, λ and any example weights. */
    readonly spec: ObjectiveSpec<P>,
  ) {
    this.layout = paramLayout(spec.params);
    this.n = spec.X.shape[0] ?? 0;
    if (spec.Y.shape[0] !== this.n) {
      throw new Error(`Objective: X has ${this.n} rows (shape ${fmt(spec.X.shape)}) but Y has ${spec.Y.shape[0]} (shape ${fmt(spec.Y.shape)})`);
    }
    if (!(spec.l2 >= 0)) throw new Error(`Objective: l2 must be ≥ 0, got ${spec.l2}`);
    if (spec.weights && spec.weights.length !== this.n) {
      throw new Error(`Objective: ${spec.weights.length} weights for ${this.n} examples`);
    }
    this.dim = this.layout.size;
    this.mask = fromFloat64(this.layout.regularized, [this.dim]);
    this.weightTensor = spec.weights ? fromFloat64(spec.weights, [this.n]) : null;
    this.R = (theta: Tensor) => this.objectiveOn(theta, spec.X, spec.Y, this.weightTensor, this.n);
  }

  /** (1/count) Σ wᵢ ℓᵢ + (λ/2) Σ mask θ², traced. */
  private objectiveOn(theta: Tensor, X: Tensor, Y: Tensor, w: Tensor | null, count: number): Tensor {
    const losses = this.spec.loss(this.layout.unflatten(theta), X, Y);
    const data = w ? mul(sum(mul(w, losses)), 1 / count) : count === X.shape[0] ? mean(losses) : mul(sum(losses), 1 / count);
    if (this.spec.l2 === 0) return data;
    return add(data, mul(this.spec.l2 / 2, sum(mul(this.mask, mul(theta, theta)))));
  }

  private check(theta: Float64Array, what = 'θ'): Tensor {
    if (theta.length !== this.dim) throw new Error(`Objective: ${what} has length ${theta.length}, expected ${this.dim}`);
    return fromFloat64(theta, [this.dim]);
  }

  /** The same objective with other per-example weights (data shared). */
  withWeights(weights: Float64Array | undefined): Objective<P> {
    return new Objective({ ...this.spec, weights });
  }

  /** The params pytree for θ (concrete tensors). */
  params(theta: Float64Array): P {
    return this.layout.unflatten(this.check(theta));
  }

  /** R(θ). */
  value(theta: Float64Array): number {
    return this.R(this.check(theta)).item();
  }

  /** [R(θ), ∇R(θ)]. */
  valueAndGradient(theta: Float64Array): [number, Float64Array] {
    const [v, g] = valueAndGrad(this.R)(this.check(theta)) as [Tensor, Tensor];
    return [v.item(), g.toFloat64Array()];
  }

  /** ∇R(θ). */
  gradient(theta: Float64Array): Float64Array {
    return (grad(this.R)(this.check(theta)) as Tensor).toFloat64Array();
  }

  /**
   * ∇²R(θ) v: the model's `fastHvp` when it has one, else the engine's forward-over-reverse HVP. With `batch` (row indices), the data term
   * is the unbiased mini-batch estimate (1/|B|) Σ_{i∈B} wᵢ ∇²ℓᵢ v; the regulariser is always exact.
   */
  hvp(theta: Float64Array, v: Float64Array, batch?: ArrayLike<number>): Float64Array {
    if (this.spec.fastHvp) {
      this.check(theta);
      this.check(v, 'v');
      return this.spec.fastHvp(theta, v, this.spec.weights, batch);
    }
    return this.engineHvp(theta, v, batch);
  }

  /** {@link Objective.hvp} always through the engine (forward-over-reverse), ignoring `fastHvp`. */
  engineHvp(theta: Float64Array, v: Float64Array, batch?: ArrayLike<number>): Float64Array {
    const t = this.check(theta);
    const vt = this.check(v, 'v');
    if (!batch) return engineHvp(this.R, t, vt).toFloat64Array();
    const idx = Array.from(batch);
    const Xb = take(this.spec.X, idx, 0);
    const Yb = take(this.spec.Y, idx, 0);
    const wb = this.spec.weights ? fromFloat64(Float64Array.from(idx, (i) => this.spec.weights![i]!), [idx.length]) : null;
    return engineHvp((th: Tensor) => this.objectiveOn(th, Xb, Yb, wb, idx.length), t, vt).toFloat64Array();
  }

  /**
   * The dense Hessian ∇²R(θ), row-major `p × p`: the model's fast route when it has one, otherwise
   * one engine HVP per basis vector (p HVPs; fine for a few thousand parameters).
   */
  hessian(theta: Float64Array): Float64Array {
    if (this.spec.denseHessian) return this.spec.denseHessian(this.check(theta).toFloat64Array(), this.spec.weights);
    const p = this.dim;
    const H = new Float64Array(p * p);
    const e = new Float64Array(p);
    for (let j = 0; j < p; j++) {
      e.fill(0);
      e[j] = 1;
      H.set(this.hvp(theta, e), j * p);
    }
    // Symmetrise: the HVP columns agree with the rows only to rounding.
    for (let i = 0; i < p; i++) for (let j = 0; j < i; j++) H[i * p + j] = H[j * p + i] = 0.5 * (H[i * p + j]! + H[j * p + i]!);
    return H;
  }

  /** ℓ(zᵢ, θ) for every training example (or the given rows), unweighted. */
  perExampleLosses(theta: Float64Array, rows?: ArrayLike<number>): Float64Array {
    const X = rows ? take(this.spec.X, Array.from(rows), 0) : this.spec.X;
    const Y = rows ? take(this.spec.Y, Array.from(rows), 0) : this.spec.Y;
    return this.spec.loss(this.params(theta), X, Y).toFloat64Array();
  }

  /**
   * ∇θ ℓ(zᵢ, θ) for the given rows (default all), unweighted and without the regulariser
   * (per-point gradients exclude it; H includes it), as a row-major `m × p` matrix. Computed as
   * `vmap(grad(ℓ))` in chunks of 1024 rows.
   */
  perExampleGradients(theta: Float64Array, rows?: ArrayLike<number>): Float64Array {
    return perExampleGradients(this.layout, this.spec.loss, this.check(theta), this.spec.X, this.spec.Y, rows);
  }
}

/**
 * Per-example gradients ∇θ ℓ(zᵢ, θ) of a batched loss, by `vmap(grad(ℓ))` over rows, in chunks.
 * Returns a row-major `m × p` matrix (p = layout.size).
 *
 * @example
 * ```ts
 * const G = perExampleGradients(layout, loss, tensor(theta), X, Y); // [n × p]
 * ```
 */
export function perExampleGradients<P extends Pytree>(
  layout: ParamLayout<P>,
  loss: PerExampleLoss<P>,
  theta: Tensor,
  X: Tensor,
  Y: Tensor,
  rows?: ArrayLike<number>,
): Float64Array {
  const all = rows ? Array.from(rows) : Array.from({ length: X.shape[0]! }, (_, i) => i);
  const p = layout.size;
  const out = new Float64Array(all.length * p);
  const single = (th: Tensor, x: Tensor, y: Tensor) => sum(loss(layout.unflatten(th), expandDims(x, 0), expandDims(y, 0)));
  const g = vmap(grad(single), [null, 0, 0]);
  for (let start = 0; start < all.length; start += ROWS_PER_CHUNK) {
    const idx = all.slice(start, start + ROWS_PER_CHUNK);
    const whole = !rows && idx.length === X.shape[0];
    const Xb = whole ? X : take(X, idx, 0);
    const Yb = whole ? Y : take(Y, idx, 0);
    out.set((g(theta, Xb, Yb) as Tensor).toFloat64Array(), start * p);
  }
  return out;
}

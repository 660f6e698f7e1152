/**
 * First-order optimisers over pytrees of parameters: plain SGD, heavy-ball momentum (optionally
 * Nesterov) and Adam, in the init/update style of optax, so one training loop drives any of them.
 *
 * Updates are written with tensor ops, never raw arrays, so a step is itself differentiable: the
 * Learning-to-Reweight look-ahead differentiates through exactly such a step.
 *
 * Convention shared across unequal: leaves under the keys `W`/`w` are L2-regularised, `b` (and
 * everything else) are not. `weightDecay` λ adds λ·w to those leaves' gradients, i.e. it is the
 * gradient of (λ/2)‖w‖² — the same penalty {@link l2Penalty} returns.
 *
 * @module
 */
import { asTensor, zeros } from '../core/create.ts';
import { type Pytree, treeFlatten, treeUnflatten } from '../core/pytree.ts';
import { Tensor } from '../core/tensor.ts';
import { add, div, mul, sqrt, sub } from '../ops/arith.ts';
import { vdot } from '../ops/products.ts';

/** A fixed learning rate, or one per step (step counts from 0). */
export type LearningRate = number | ((step: number) => number);

/** An optimiser: `init` builds its state for some parameters, `update` takes one step. */
export interface Optimizer<S = unknown> {
  /** A short name for logs, e.g. `momentum(lr=0.1, β=0.9)`. */
  readonly name: string;
  /** The state before the first step (e.g. zero velocities). */
  init(params: Pytree): S;
  /** One step: new parameters (same structure as `params`) and the new state. */
  update<P extends Pytree>(params: P, grads: P, state: S): OptimizerStep<P, S>;
}

/** What {@link Optimizer.update} returns. */
export interface OptimizerStep<P extends Pytree, S> {
  /** The parameters after the step, same structure as before. */
  params: P;
  /** The optimiser state after the step. */
  state: S;
}

/**
 * Which leaves of a pytree are L2-regularised: those whose nearest enclosing object key is `W` or
 * `w`. The order is `treeFlatten`'s (depth-first, object keys in insertion order).
 *
 * @example
 * ```ts
 * l2Mask([{ W: tensor([[1]]), b: tensor([0]) }]); // [true, false]
 * ```
 */
export function l2Mask(tree: Pytree): boolean[] {
  const mask: boolean[] = [];
  const walk = (t: Pytree, key: string | null): void => {
    if (t instanceof Tensor || typeof t === 'number') mask.push(key === 'W' || key === 'w');
    else if (t === null || t === undefined) return;
    else if (Array.isArray(t)) t.forEach((c) => walk(c, key));
    else for (const [k, v] of Object.entries(t as Record<string, Pytree>)) walk(v, k);
  };
  walk(tree, null);
  return mask;
}

/**
 * The L2 penalty (λ/2) Σ ‖w‖² over the regularised leaves (keys `W`/`w`), a scalar tensor.
 * Differentiable, so it can be added to any loss.
 *
 * @example
 * ```ts
 * l2Penalty({ w: tensor([3, 4]), b: tensor([10]) }, 0.1).item(); // 0.05 · 25 = 1.25
 * ```
 */
export function l2Penalty(params: Pytree, lambda: number): Tensor {
  const { leaves } = treeFlatten(params);
  const mask = l2Mask(params);
  let total: Tensor = zeros([]);
  leaves.forEach((leaf, i) => {
    if (!mask[i]) return;
    const x = asTensor(leaf);
    total = add(total, vdot(x, x));
  });
  return mul(total, lambda / 2);
}

function leavesOf(op: string, params: Pytree, grads: Pytree) {
  const p = treeFlatten(params);
  const g = treeFlatten(grads).leaves;
  if (g.length !== p.leaves.length) {
    throw new Error(`${op}: gradients have ${g.length} leaves but the parameters have ${p.leaves.length}`);
  }
  return { def: p.def, ps: p.leaves.map(asTensor), gs: g.map(asTensor) };
}

function rateAt(lr: LearningRate, step: number): number {
  const r = typeof lr === 'number' ? lr : lr(step);
  if (!Number.isFinite(r)) throw new Error(`learning rate at step ${step} is ${r}`);
  return r;
}

/** Gradients with λ·w added on the regularised leaves. */
function decayed(ps: Tensor[], gs: Tensor[], mask: boolean[], weightDecay: number): Tensor[] {
  if (weightDecay === 0) return gs;
  return gs.map((g, i) => (mask[i] ? add(g, mul(ps[i]!, weightDecay)) : g));
}

/**
 * One plain gradient step θ − α g over a pytree, as a pure function (differentiable in both).
 *
 * @example
 * ```ts
 * sgdStep({ w: tensor([1, 2]) }, { w: tensor([1, 1]) }, 0.5).w.toArray(); // [0.5, 1.5]
 * ```
 */
export function sgdStep<P extends Pytree>(params: P, grads: P, lr: number | Tensor): P {
  const { def, ps, gs } = leavesOf('sgdStep', params, grads);
  return treeUnflatten<P>(def, ps.map((p, i) => sub(p, mul(gs[i]!, lr))));
}

/** Options for {@link sgd}. */
export interface SgdOptions {
  /** The learning rate α: a number, or a schedule called with the step count (from 0). */
  lr: LearningRate;
  /** λ for (λ/2)‖w‖² on `W`/`w` leaves. Default 0. */
  weightDecay?: number;
}

/** SGD state: only the step count, for learning-rate schedules. */
export interface SgdState {
  /** Steps taken so far. */
  step: number;
}

/**
 * Plain stochastic gradient descent: θ ← θ − α (g + λ w).
 *
 * @example
 * ```ts
 * const opt = sgd({ lr: 0.1 });
 * let params = { w: tensor([1]) };
 * let state = opt.init(params);
 * ({ params, state } = opt.update(params, { w: tensor([2]) }, state));
 * params.w.toArray(); // [0.8]
 * ```
 */
export function sgd(options: SgdOptions): Optimizer<SgdState> {
  const { lr, weightDecay = 0 } = options;
  return {
    name: `sgd(lr=${typeof lr === 'number' ? lr : 'schedule'}${weightDecay ? `, λ=${weightDecay}` : ''})`,
    init: () => ({ step: 0 }),
    update(params, grads, state) {
      const { def, ps, gs } = leavesOf('sgd', params, grads);
      const a = rateAt(lr, state.step);
      const g = decayed(ps, gs, l2Mask(params), weightDecay);
      return { params: treeUnflatten(def, ps.map((p, i) => sub(p, mul(g[i]!, a)))), state: { step: state.step + 1 } };
    },
  };
}

/** Options for {@link momentum}. */
export interface MomentumOptions {
  /** The learning rate α: a number, or a schedule called with the step count (from 0). */
  lr: LearningRate;
  /** Momentum coefficient β in [0, 1). Default 0.9. */
  beta?: number;
  /** Nesterov's variant: step along g + β v instead of v. Default false. */
  nesterov?: boolean;
  /** λ for (λ/2)‖w‖² on `W`/`w` leaves. Default 0. */
  weightDecay?: number;
}

/** Momentum state: the velocity (same structure as the parameters) and the step count. */
export interface MomentumState {
  /** The velocity v, one tensor per parameter leaf in `treeFlatten` order. */
  velocity: Tensor[];
  /** Steps taken so far. */
  step: number;
}

/**
 * SGD with heavy-ball momentum, PyTorch's form: v ← β v + g, θ ← θ − α v (Nesterov: θ ← θ − α (g + β v)).
 * This is the optimiser of the L2RW paper's experiments.
 *
 * @example
 * ```ts
 * const opt = momentum({ lr: 0.1, beta: 0.5 });
 * let params = { w: tensor([0]) };
 * let state = opt.init(params);
 * ({ params, state } = opt.update(params, { w: tensor([1]) }, state)); // v = 1,   w = −0.1
 * ({ params, state } = opt.update(params, { w: tensor([1]) }, state)); // v = 1.5, w = −0.25
 * params.w.toArray(); // [-0.25]
 * ```
 */
export function momentum(options: MomentumOptions): Optimizer<MomentumState> {
  const { lr, beta = 0.9, nesterov = false, weightDecay = 0 } = options;
  if (!(beta >= 0 && beta < 1)) throw new Error(`momentum: beta must be in [0, 1), got ${beta}`);
  return {
    name: `${nesterov ? 'nesterov' : 'momentum'}(lr=${typeof lr === 'number' ? lr : 'schedule'}, β=${beta}${weightDecay ? `, λ=${weightDecay}` : ''})`,
    init: (params) => ({ velocity: treeFlatten(params).leaves.map((p) => zeros(asTensor(p).shape)), step: 0 }),
    update(params, grads, state) {
      const { def, ps, gs } = leavesOf('momentum', params, grads);
      const a = rateAt(lr, state.step);
      const g = decayed(ps, gs, l2Mask(params), weightDecay);
      const velocity = g.map((gi, i) => add(mul(state.velocity[i]!, beta), gi));
      const direction = nesterov ? g.map((gi, i) => add(gi, mul(velocity[i]!, beta))) : velocity;
      return {
        params: treeUnflatten(def, ps.map((p, i) => sub(p, mul(direction[i]!, a)))),
        state: { velocity, step: state.step + 1 },
      };
    },
  };
}

/** Options for {@link adam}. */
export interface AdamOptions {
  /** The learning rate α: a number, or a schedule called with the step count (from 0). */
  lr: LearningRate;
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-8. */
  eps?: number;
  /** λ for (λ/2)‖w‖² on `W`/`w` leaves, added to the gradient (Adam with L2, not AdamW). Default 0. */
  weightDecay?: number;
}

/** Adam state: first and second moment estimates and the step count. */
export interface AdamState {
  /** The first-moment estimate m (not bias-corrected), one tensor per leaf in `treeFlatten` order. */
  m: Tensor[];
  /** The second-moment estimate v (not bias-corrected), one tensor per leaf in `treeFlatten` order. */
  v: Tensor[];
  /** Steps taken so far (t in the bias corrections 1 − βᵗ). */
  step: number;
}

/**
 * Adam (Kingma & Ba 2015) with bias correction:
 * m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − α m̂ / (√v̂ + ε).
 *
 * @example
 * ```ts
 * const opt = adam({ lr: 0.1 });
 * let params = { w: tensor([1]) };
 * let state = opt.init(params);
 * ({ params, state } = opt.update(params, { w: tensor([5]) }, state));
 * params.w.toArray(); // ≈ [0.9]: the first step has size ≈ lr whatever the gradient's scale
 * ```
 */
export function adam(options: AdamOptions): Optimizer<AdamState> {
  const { lr, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0 } = options;
  return {
    name: `adam(lr=${typeof lr === 'number' ? lr : 'schedule'}, β₁=${beta1}, β₂=${beta2})`,
    init(params) {
      const shapes = treeFlatten(params).leaves.map((p) => asTensor(p).shape);
      return { m: shapes.map((s) => zeros(s)), v: shapes.map((s) => zeros(s)), step: 0 };
    },
    update(params, grads, state) {
      const { def, ps, gs } = leavesOf('adam', params, grads);
      const a = rateAt(lr, state.step);
      const g = decayed(ps, gs, l2Mask(params), weightDecay);
      const t = state.step + 1;
      const m = g.map((gi, i) => add(mul(state.m[i]!, beta1), mul(gi, 1 - beta1)));
      const v = g.map((gi, i) => add(mul(state.v[i]!, beta2), mul(mul(gi, gi), 1 - beta2)));
      const c1 = 1 - beta1 ** t;
      const c2 = 1 - beta2 ** t;
      const next = ps.map((p, i) => sub(p, mul(div(div(m[i]!, c1), add(sqrt(div(v[i]!, c2)), eps)), a)));
      return { params: treeUnflatten(def, next), state: { m, v, step: t } };
    },
  };
}

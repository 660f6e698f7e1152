/**
 * The second-order sanity panel: on a trained L2-regularised logistic regression, the
 * Hessian-vector product by forward-over-reverse and by reverse-over-reverse, each against
 *   - the closed form H v = (1/n) X̃ᵀ D X̃ v + λ [v_w; 0], D = diag(σᵢ(1 − σᵢ)), computed in plain
 *     float64 loops that share no code with the autodiff engine, and
 *   - a central finite difference of the gradient, (∇R(θ + h v) − ∇R(θ − h v)) / 2h, over a sweep
 *     of h that shows the truncation (∝ h²) and rounding (∝ ε/h) regimes,
 * with the timings of a gradient and of each HVP.
 *
 * @module
 */
import { type Tensor, add, bceWithLogits, grad, hvp, matmul, mean, mul, sum, tensor } from '../../index.ts';

/** A trained binary logistic-regression model and its training data. */
export interface LogregProblem {
  /** Row-major n × d inputs. */
  X: Float64Array;
  /** Labels in {0, 1}. */
  y: Float64Array;
  n: number;
  d: number;
  /** Trained weights (length d) and intercept. */
  w: Float64Array;
  b: number;
  /** λ of (λ/2)‖w‖²; the intercept is not regularised. */
  l2: number;
}

/** One HVP route compared with the references. */
export interface RouteResult {
  route: string;
  /** ‖Hv − closed form‖ / ‖closed form‖. */
  relErrClosedForm: number;
  /** Median time of one call, ms. */
  ms: number;
}

/** What the panel measured. */
export interface SanityResult {
  n: number;
  d: number;
  gradientMs: number;
  routes: RouteResult[];
  /** ‖fwd-rev − rev-rev‖ / ‖fwd-rev‖. */
  relErrBetweenRoutes: number;
  /** The finite-difference sweep: step h and ‖FD − closed form‖ / ‖closed form‖. */
  fdSweep: { h: number; relErr: number }[];
  /** The best finite difference in the sweep. */
  bestFd: { h: number; relErr: number };
}

interface Params {
  [key: string]: Tensor;
  w: Tensor;
  b: Tensor;
}

function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return Math.sqrt(s);
}
function relErr(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  const diff = Float64Array.from({ length: ref.length }, (_, i) => a[i]! - ref[i]!);
  return norm(diff) / norm(ref);
}
const flat = (p: Params): Float64Array => {
  const w = p.w.toFloat64Array();
  const out = new Float64Array(w.length + 1);
  out.set(w);
  out[w.length] = p.b.item();
  return out;
};

/** H v by the GLM formula, in plain loops (no tensors, no autodiff). */
export function closedFormHvp(pr: LogregProblem, vw: Float64Array, vb: number): Float64Array {
  const { X, n, d, w, b, l2 } = pr;
  const out = new Float64Array(d + 1);
  for (let i = 0; i < n; i++) {
    const row = i * d;
    let z = b;
    let xv = vb;
    for (let j = 0; j < d; j++) {
      z += X[row + j]! * w[j]!;
      xv += X[row + j]! * vw[j]!;
    }
    const s = 1 / (1 + Math.exp(-z));
    const c = (s * (1 - s) * xv) / n;
    for (let j = 0; j < d; j++) out[j] += c * X[row + j]!;
    out[d] += c;
  }
  for (let j = 0; j < d; j++) out[j] += l2 * vw[j]!;
  return out;
}

/**
 * Median times (ms) of several computations, measured round-robin (one call of each per round, after
 * a warm-up round) so that a change in machine load affects all of them alike.
 */
function medianTimes(runs: (() => unknown)[], rounds: number): number[] {
  for (const run of runs) run();
  const times = runs.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    runs.forEach((run, k) => {
      const t0 = performance.now();
      run();
      times[k]!.push(performance.now() - t0);
    });
  }
  return times.map((t) => t.sort((a, c) => a - c)[Math.floor(t.length / 2)]!);
}

/** Runs the panel. `seed` picks the direction v (a fixed pseudo-random unit vector). */
export function secondOrderSanity(pr: LogregProblem, seed = 1, reps = 9): SanityResult {
  const { n, d } = pr;
  const X = tensor(pr.X, [n, d]);
  const y = tensor(pr.y, [n]);
  const objective = (p: Params): Tensor =>
    add(mean(bceWithLogits(add(matmul(X, p.w), p.b), y)), mul(pr.l2 / 2, sum(mul(p.w, p.w))));
  const theta: Params = { w: tensor(pr.w, [d]), b: tensor(pr.b) };

  // A reproducible direction: a deterministic LCG, normalised.
  let state = seed >>> 0 || 1;
  const next = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  const vFlat = Float64Array.from({ length: d + 1 }, next);
  const vn = norm(vFlat);
  vFlat.forEach((_, i) => (vFlat[i]! /= vn));
  const v: Params = { w: tensor(vFlat.slice(0, d), [d]), b: tensor(vFlat[d]!) };

  const reference = closedFormHvp(pr, vFlat.subarray(0, d), vFlat[d]!);
  const gradient = (p: Params) => grad(objective)(p) as Params;

  const fwdRev = flat(hvp(objective, theta, v));
  const revRev = flat(hvp(objective, theta, v, { mode: 'rev-rev' }));

  const [gradientMs, fwdMs, revMs] = medianTimes(
    [
      () => gradient(theta).w.toFloat64Array(),
      () => hvp(objective, theta, v).w.toFloat64Array(),
      () => hvp(objective, theta, v, { mode: 'rev-rev' }).w.toFloat64Array(),
    ],
    reps,
  );
  const routes: RouteResult[] = [
    { route: 'forward-over-reverse (jvp of grad)', relErrClosedForm: relErr(fwdRev, reference), ms: fwdMs! },
    { route: 'reverse-over-reverse (grad of ⟨grad, v⟩)', relErrClosedForm: relErr(revRev, reference), ms: revMs! },
  ];

  const fdSweep: { h: number; relErr: number }[] = [];
  for (let k = 1; k <= 9; k++) {
    const h = Number(`1e-${k}`);
    const shifted = (s: number): Params => ({ w: add(theta.w, mul(s * h, v.w)), b: add(theta.b, mul(s * h, v.b)) });
    const gp = flat(gradient(shifted(1)));
    const gm = flat(gradient(shifted(-1)));
    const fd = gp.map((g, i) => (g - gm[i]!) / (2 * h));
    fdSweep.push({ h, relErr: relErr(fd, reference) });
  }
  const bestFd = fdSweep.reduce((a, c) => (c.relErr < a.relErr ? c : a));
  return { n, d, gradientMs: gradientMs!, routes, relErrBetweenRoutes: relErr(revRev, fwdRev), fdSweep, bestFd };
}

/** Re-exported for the report: the objective's definition in words. */
export const SANITY_OBJECTIVE = 'R(w, b) = (1/n) Σᵢ bce(xᵢ·w + b, yᵢ) + (λ/2)‖w‖²';

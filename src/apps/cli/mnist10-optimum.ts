/**
 * The exact-optimum variant of dattri's MNIST-10 logistic regression (`unequal lds --model logreg
 * --fit optimum`): the same 7,850 parameters and θ layout as mnist10.ts ([W (10 × 784, class-major),
 * b (10)]), trained not by SGD but to the minimiser of a weighted, L2-regularised objective
 *
 *   R_c(θ) = Σᵢ cᵢ ℓᵢ(θ) + (λ/2)‖θ‖²,
 *
 * with row weights c: 1/n on every row (the full model), 1/|S| on a subset S (an LDS subset or a TRAK
 * member's half, each its own dataset as dattri's protocol treats it), and 1/n on all rows but the
 * removed one (leave-one-out: R − (1/n)ℓᵣ, the project's definition). λ regularises all 7,850
 * parameters, biases included: softmax is unchanged when one constant is added to all ten biases, so
 * unregularised biases would leave the Hessian singular along that direction; with every parameter
 * regularised, H = ∇²(mean cross-entropy) + λI, which is what the scoring methods invert at δ = λ.
 *
 * Every fit is Newton's method with a backtracking step, each Newton system solved by conjugate
 * gradients preconditioned by the dense inverse Hessian of the full model (softmax-regression.ts's
 * blocked Cholesky and inverse, the Figure 2 machinery), many fits in lockstep so that one pass over
 * the data and one product with H⁻¹ serve a whole batch as matrix products. For a leave-one-out fit
 * the preconditioned matrix is I minus a rank-10 term of size ~1/n, so CG needs one or two
 * iterations; for a half subset it is near I (both Hessians average the same distribution). The rows
 * are dense (the normalisation maps background pixels to −0.42), so the passes are GEMMs rather than
 * the sparse-row loops of softmax-regression.ts. Fits stop at ‖∇R_c(θ)‖ ≤ gradTol; R_c is λ-strongly
 * convex, so ‖θ − θ*‖ ≤ gradTol/λ.
 *
 * @module
 */
import { minimizeLbfgs } from '../../optim/lbfgs.ts';
import type { DattriSplit } from '../../data/dattri.ts';
import { blockedCholeskyInPlace, denseMatvecs, inverseFromCholesky } from '../experiments/softmax-regression.ts';
import { mm, testLosses } from './mnist10.ts';
import { logregHessian } from './mnist10-methods.ts';

const K = 10;
const D = 784;
const P = K * D + K;

/** A weighted objective's row weights cᵢ (length n) with its starting point. */
export interface OptimumJob {
  weights: Float64Array;
  theta0: Float64Array;
}

/** A finished fit. */
export interface OptimumFit {
  theta: Float64Array;
  /** ‖∇R_c(θ)‖ at the returned θ. */
  gradNorm: number;
  newtonSteps: number;
  cgIterations: number;
}

/** Row weights: `scale` on the listed rows (all when undefined), 0 elsewhere, except `skip`. */
export function rowWeights(n: number, rows?: readonly number[], skip = -1): Float64Array {
  const c = new Float64Array(n);
  if (rows === undefined) {
    c.fill(1 / n);
    if (skip >= 0) c[skip] = 0;
    return c;
  }
  for (const i of rows) c[i] = 1 / rows.length;
  return c;
}

/**
 * Values, gradients and softmax probabilities of R_{c_b} at θ_b for B pairs at once: the logits of
 * every row for all B models come from one GEMM X·[W₁ … W_B]ᵀ (n × 10B), the weight gradients from
 * one GEMM Rᵀ X with R = cᵢ (pᵢ − e_{yᵢ}).
 * Returns `probs` as n × 10B (column block b = model b), for {@link weightedHvps}.
 */
export function weightedValuesAndGradients(train: DattriSplit, thetas: readonly Float64Array[], weights: readonly Float64Array[], l2: number): { values: number[]; grads: Float64Array[]; probs: Float64Array } {
  const { n, X, y } = train;
  const B = thetas.length;
  const W = new Float64Array(B * K * D);
  thetas.forEach((th, b) => W.set(th.subarray(0, K * D), b * K * D));
  const Z = mm(X, n, D, W, B * K, true); // n × 10B logits
  const R = new Float64Array(n * B * K);
  const loss = new Float64Array(B);
  for (let i = 0; i < n; i++) {
    const yi = y[i]!;
    for (let b = 0; b < B; b++) {
      const o = i * B * K + b * K;
      const th = thetas[b]!;
      let m = -Infinity;
      for (let c = 0; c < K; c++) {
        Z[o + c] += th[K * D + c]!;
        m = Math.max(m, Z[o + c]!);
      }
      let s = 0;
      for (let c = 0; c < K; c++) s += Math.exp(Z[o + c]! - m);
      const lse = m + Math.log(s);
      const ci = weights[b]![i]!;
      if (ci !== 0) loss[b] += ci * (lse - Z[o + yi]!);
      for (let c = 0; c < K; c++) {
        const pc = Math.exp(Z[o + c]! - lse);
        Z[o + c] = pc;
        R[o + c] = ci * (pc - (c === yi ? 1 : 0));
      }
    }
  }
  const GW = mm(R, B * K, n, X, D, false, true); // (10B) × 784
  const values: number[] = [];
  const grads = thetas.map((th, b) => {
    const g = new Float64Array(P);
    g.set(GW.subarray(b * K * D, (b + 1) * K * D));
    for (let i = 0; i < n; i++) for (let c = 0; c < K; c++) g[K * D + c] += R[i * B * K + b * K + c]!;
    let w = 0;
    for (let j = 0; j < P; j++) {
      g[j] += l2 * th[j]!;
      w += th[j]! * th[j]!;
    }
    values.push(loss[b]! + (l2 / 2) * w);
    return g;
  });
  return { values, grads, probs: Z };
}

/**
 * ∇²R_{c_b}(θ_b) v_b for the models `cols` of a probability matrix from
 * {@link weightedValuesAndGradients} (n × 10B): Σᵢ cᵢ x̃ᵢ ⊗ (diag pᵢ − pᵢpᵢᵀ)(x̃ᵢᵀ V) + λ v, two GEMMs.
 */
export function weightedHvps(train: DattriSplit, probs: Float64Array, B: number, cols: readonly number[], weights: readonly Float64Array[], vs: readonly Float64Array[], l2: number): Float64Array[] {
  const { n, X } = train;
  const C = cols.length;
  const V = new Float64Array(C * K * D);
  vs.forEach((v, k) => V.set(v.subarray(0, K * D), k * K * D));
  const A = mm(X, n, D, V, C * K, true); // n × 10C
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < C; k++) {
      const o = i * C * K + k * K;
      const po = i * B * K + cols[k]! * K;
      const v = vs[k]!;
      const ci = weights[k]![i]!;
      let s = 0;
      for (let c = 0; c < K; c++) {
        A[o + c] += v[K * D + c]!;
        s += probs[po + c]! * A[o + c]!;
      }
      for (let c = 0; c < K; c++) A[o + c] = ci * probs[po + c]! * (A[o + c]! - s);
    }
  }
  const OW = mm(A, C * K, n, X, D, false, true);
  return vs.map((v, k) => {
    const out = new Float64Array(P);
    out.set(OW.subarray(k * K * D, (k + 1) * K * D));
    for (let i = 0; i < n; i++) for (let c = 0; c < K; c++) out[K * D + c] += A[i * C * K + k * K + c]!;
    for (let j = 0; j < P; j++) out[j] += l2 * v[j]!;
    return out;
  });
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j]! * b[j]!;
  return s;
}

/** Below this bound on the rank of H − λI (9n), {@link OptimumSolver.atTheta} skips the dense preconditioner. */
const SMALL_RANK = 2000;

/** Options of {@link OptimumSolver.solve}. */
export interface SolveOptions {
  /** Stop at ‖∇R_c‖ ≤ gradTol (default 1e-11). */
  gradTol?: number;
  /** Newton steps allowed per fit (default 40). */
  maxNewton?: number;
  /** CG iterations allowed per Newton step (default 300). */
  maxCg?: number;
}

/**
 * Fits weighted objectives of one training set to their optima, preconditioned by a fixed dense
 * inverse Hessian (see the module notes).
 */
export class OptimumSolver {
  /** Passes over the data made so far (each serving a batch of fits). */
  passes = 0;

  constructor(
    /** The training rows. */
    readonly train: DattriSplit,
    /** λ of (λ/2)‖θ‖². */
    readonly l2: number,
    /** The preconditioner: M⁻¹ r for each residual r (M a Hessian near the optima). */
    readonly precondition: (rs: Float64Array[]) => Float64Array[],
  ) {}

  /** A solver whose preconditioner is a dense row-major 7,850 × 7,850 M⁻¹ (one GEMM per batch). */
  static dense(train: DattriSplit, l2: number, Minv: Float64Array): OptimumSolver {
    if (Minv.length !== P * P) throw new Error(`OptimumSolver.dense: Minv has ${Minv.length} entries, expected ${P}² = ${P * P}`);
    return new OptimumSolver(train, l2, (rs) => denseMatvecs(Minv, P, rs));
  }

  /**
   * Builds the preconditioner from the full model's Hessian at θ: ∇²(mean cross-entropy) + λI by one
   * GEMM per class pair (mnist10-methods.ts), its blocked Cholesky factor and L⁻ᵀL⁻¹.
   */
  static atTheta(train: DattriSplit, l2: number, theta: Float64Array, log?: (line: string) => void): OptimumSolver {
    // H = λI + a term of rank ≤ 9n (each row's softmax curvature has rank 9), and CG on λI + rank r
    // ends in r + 1 iterations at most; for small n that costs far less than the P³ factorisation
    // (about a minute at P = 7,850), so the identity preconditions (quick looks and tests).
    if (9 * train.n < SMALL_RANK) {
      log?.(`  preconditioner: none (n = ${train.n}: H is λI plus a rank ≤ ${9 * train.n} term, which CG resolves directly)`);
      return new OptimumSolver(train, l2, (rs) => rs.map((r) => Float64Array.from(r)));
    }
    const { probs } = weightedValuesAndGradients(train, [theta], [rowWeights(train.n)], l2);
    const H = logregHessian(theta, train, probs);
    for (let j = 0; j < P; j++) H[j * P + j] += l2;
    log?.('  preconditioner: Cholesky factor of the 7,850² Hessian');
    const L = blockedCholeskyInPlace(H, P);
    return OptimumSolver.dense(train, l2, inverseFromCholesky(L, P, log));
  }

  /** Fits every job in lockstep (one batch: memory n × 10 × jobs doubles). */
  solve(jobs: readonly OptimumJob[], opts: SolveOptions = {}): OptimumFit[] {
    const gradTol = opts.gradTol ?? 1e-11;
    const maxNewton = opts.maxNewton ?? 40;
    const maxCg = opts.maxCg ?? 300;
    const B = jobs.length;
    const weights = jobs.map((j) => j.weights);
    // Per fit: the accepted point, its value and gradient; the Newton direction and step length.
    const theta = jobs.map((j) => Float64Array.from(j.theta0));
    const trial = theta.map((t) => Float64Array.from(t));
    const value = new Float64Array(B).fill(Infinity);
    const gnorm = new Float64Array(B).fill(Infinity);
    const grad: Float64Array[] = new Array(B);
    const dir: (Float64Array | null)[] = new Array(B).fill(null);
    const step = new Float64Array(B).fill(1);
    const slope = new Float64Array(B);
    const done = new Array<boolean>(B).fill(false);
    const newton = new Int32Array(B);
    const cgIts = new Int32Array(B);
    for (;;) {
      // 1. Evaluate every unfinished fit at its trial point (one pass over the data for all).
      const act = Array.from({ length: B }, (_, b) => b).filter((b) => !done[b]);
      const ev = weightedValuesAndGradients(this.train, act.map((b) => trial[b]!), act.map((b) => weights[b]!), this.l2);
      this.passes++;
      const needDir: number[] = [];
      for (let a = 0; a < act.length; a++) {
        const b = act[a]!;
        const gn = Math.sqrt(dot(ev.grads[a]!, ev.grads[a]!));
        if (!Number.isFinite(ev.values[a]!) || !Number.isFinite(gn)) throw new Error(`optimum fit ${b}: the objective is not finite at a trial point (value ${ev.values[a]}, ‖∇R‖ ${gn}); λ = ${this.l2} may be too small`);
        // Accept a sufficient decrease (Armijo), or, where values differ only by rounding near the
        // optimum, a smaller gradient: both are descent for a strongly convex R.
        const accept = dir[b] === null || ev.values[a]! <= value[b]! - 1e-4 * step[b]! * slope[b]! || gn < 0.5 * gnorm[b]!;
        if (!accept) {
          step[b] /= 2;
          if (step[b]! < 1e-12) throw new Error(`optimum fit ${b}: the line search failed at ‖∇R‖ = ${gnorm[b]!.toExponential(2)} (step below 1e-12)`);
          const d = dir[b]!;
          for (let j = 0; j < P; j++) trial[b]![j] = theta[b]![j]! - step[b]! * d[j]!;
          continue;
        }
        theta[b]!.set(trial[b]!);
        value[b] = ev.values[a]!;
        grad[b] = ev.grads[a]!;
        gnorm[b] = gn;
        if (gn <= gradTol) {
          done[b] = true;
          continue;
        }
        if (newton[b]! >= maxNewton) throw new Error(`optimum fit ${b}: ‖∇R‖ = ${gn.toExponential(2)} after ${maxNewton} Newton steps (gradTol ${gradTol})`);
        needDir.push(a);
      }
      if (done.every(Boolean)) break;
      if (needDir.length === 0) continue;
      // 2. Newton directions H_b d_b = g_b by preconditioned CG, all unfinished fits together. The
      // forcing term ties the solve's accuracy to ‖g‖ (superlinear steps) without solving below what
      // gradTol needs.
      const fits = needDir.map((a) => act[a]!);
      const dirs = this.pcg(ev.probs, act.length, needDir, fits.map((b) => weights[b]!), fits.map((b) => grad[b]!), fits.map((b) => Math.max((0.1 * gradTol) / gnorm[b]!, Math.min(1e-2, gnorm[b]!))), maxCg);
      fits.forEach((b, k) => {
        dir[b] = dirs.x[k]!;
        cgIts[b] += dirs.iterations[k]!;
        newton[b]++;
        step[b] = 1;
        slope[b] = dot(grad[b]!, dir[b]!);
        for (let j = 0; j < P; j++) trial[b]![j] = theta[b]![j]! - dir[b]![j]!;
      });
    }
    return theta.map((t, b) => ({ theta: t, gradNorm: gnorm[b]!, newtonSteps: newton[b]!, cgIterations: cgIts[b]! }));
  }

  /** Preconditioned CG on H_k x = g_k for the probability columns `cols` (weights[k] with cols[k]), each to ‖r‖ ≤ tol_k ‖g_k‖. */
  private pcg(probs: Float64Array, B: number, cols: readonly number[], weights: readonly Float64Array[], gs: readonly Float64Array[], tols: readonly number[], maxIter: number): { x: Float64Array[]; iterations: number[] } {
    const C = cols.length;
    const x = gs.map(() => new Float64Array(P));
    const r = gs.map((g) => Float64Array.from(g));
    let z = this.precondition(r);
    const p = z.map((v) => Float64Array.from(v));
    const rz = z.map((v, k) => dot(r[k]!, v));
    const target = gs.map((g, k) => tols[k]! * Math.sqrt(dot(g, g)));
    const iterations = new Array<number>(C).fill(0);
    let active = Array.from({ length: C }, (_, k) => k);
    for (let it = 0; it < maxIter && active.length; it++) {
      const q = weightedHvps(this.train, probs, B, active.map((k) => cols[k]!), active.map((k) => weights[k]!), active.map((k) => p[k]!), this.l2);
      const still: number[] = [];
      active.forEach((k, a) => {
        const alpha = rz[k]! / dot(p[k]!, q[a]!);
        const xk = x[k]!;
        const rk = r[k]!;
        const pk = p[k]!;
        const qa = q[a]!;
        for (let j = 0; j < P; j++) {
          xk[j] += alpha * pk[j]!;
          rk[j] -= alpha * qa[j]!;
        }
        iterations[k]++;
        if (Math.sqrt(dot(rk, rk)) > target[k]!) still.push(k);
      });
      active = still;
      if (!active.length) break;
      z = this.precondition(active.map((k) => r[k]!));
      active.forEach((k, a) => {
        const zk = z[a]!;
        const rzNew = dot(r[k]!, zk);
        const beta = rzNew / rz[k]!;
        rz[k] = rzNew;
        const pk = p[k]!;
        for (let j = 0; j < P; j++) pk[j] = zk[j]! + beta * pk[j]!;
      });
    }
    return { x, iterations };
  }
}

/** What {@link fitFullModel} returns. */
export interface FullFit {
  theta: Float64Array;
  gradNorm: number;
  lbfgsIterations: number;
  newtonSteps: number;
  solver: OptimumSolver;
}

/**
 * The full model at its optimum: L-BFGS from θ = 0 to ‖∇R‖ ≤ 1e-5, the solver (by default with the
 * dense inverse Hessian there as its preconditioner) at that point, then Newton to gradTol.
 */
export function fitFullModel(train: DattriSplit, l2: number, gradTol: number, log?: (line: string) => void, solverAt: (theta: Float64Array) => OptimumSolver = (th) => OptimumSolver.atTheta(train, l2, th, log)): FullFit {
  const c = rowWeights(train.n);
  const lb = minimizeLbfgs(
    (th) => {
      const r = weightedValuesAndGradients(train, [th], [c], l2);
      return [r.values[0]!, r.grads[0]!];
    },
    new Float64Array(P),
    { tol: 1e-5, maxIter: 5000, allowUnconverged: true },
  );
  log?.(`  L-BFGS: ${lb.iterations} iterations`);
  const solver = solverAt(lb.theta);
  const [fit] = solver.solve([{ weights: c, theta0: lb.theta }], { gradTol });
  log?.(`  Newton: ${fit!.newtonSteps} steps, ‖∇R(θ̂)‖ = ${fit!.gradNorm.toExponential(2)}`);
  return { theta: fit!.theta, gradNorm: fit!.gradNorm, lbfgsIterations: lb.iterations, newtonSteps: fit!.newtonSteps, solver };
}

/** How the optimum variant trains (recorded in the result's config as `training`). */
export interface OptimumTraining {
  optimizer: 'newton';
  l2: number;
  gradTol: number;
  /** Fits solved together (one pass over the data serves them). */
  batch: number;
  method: string;
}

/** The retraining of the optimum variant for one shard's share (the jobs of mnist10-jobs.ts, fitted to their optima). */
export interface OptimumRetraining {
  theta: Float64Array;
  baseLosses: Float64Array;
  /** Per subset in the range: the retrained model's test losses. */
  subsetLosses: Float64Array[];
  /** Per LOO row in the range: the retrained model's test losses. */
  looLosses: Float64Array[];
  ensemble: Float64Array[];
  stats: { fullGradNorm: number; lbfgsIterations: number; fullNewtonSteps: number; maxGradNorm: number; meanNewtonSteps: number; meanCgIterations: number; fits: number; seconds: { full: number; subsets: number; loo: number; ensemble: number } };
}

/**
 * Fits the full model, then the TRAK members, the subsets and the LOO rows given (each warm-started
 * at θ̂, in batches of `batch` fits), and evaluates the first `tests` test losses of each.
 */
export function retrainAtOptimum(
  data: { train: DattriSplit; test: DattriSplit },
  opts: { l2: number; gradTol: number; batch: number; tests: number; subsets: number[][]; looRows: number[]; ensembleRows: number[][]; log: (line: string) => void },
): OptimumRetraining {
  const { train, test } = data;
  const { l2, gradTol, batch, tests, log } = opts;
  const n = train.n;
  const losses = (th: Float64Array) => testLosses('logreg', th, test, tests);
  let t = performance.now();
  const lap = () => {
    const s = (performance.now() - t) / 1000;
    t = performance.now();
    return s;
  };
  log('fitting the full model to its optimum');
  const full = fitFullModel(train, l2, gradTol, log);
  const seconds = { full: lap(), subsets: 0, loo: 0, ensemble: 0 };
  let maxG = full.gradNorm;
  let newtonSum = 0;
  let cgSum = 0;
  let fits = 0;
  const run = (label: string, weights: Float64Array[]): Float64Array[] => {
    const out: Float64Array[] = [];
    const t0 = performance.now();
    for (let s = 0; s < weights.length; s += batch) {
      const chunk = weights.slice(s, s + batch).map((w) => ({ weights: w, theta0: full.theta }));
      for (const f of full.solver.solve(chunk, { gradTol })) {
        out.push(f.theta);
        maxG = Math.max(maxG, f.gradNorm);
        newtonSum += f.newtonSteps;
        cgSum += f.cgIterations;
        fits++;
      }
      const done = Math.min(weights.length, s + batch);
      const el = (performance.now() - t0) / 1000;
      log(`  ${label}: ${done}/${weights.length} at their optima, ${el.toFixed(0)} s, about ${((el / done) * (weights.length - done)).toFixed(0)} s left`);
    }
    return out;
  };
  const ensemble = run('TRAK members', opts.ensembleRows.map((rows) => rowWeights(n, rows)));
  seconds.ensemble = lap();
  const subsetLosses = run('subsets', opts.subsets.map((rows) => rowWeights(n, rows))).map(losses);
  seconds.subsets = lap();
  const looLosses = run('LOO rows', opts.looRows.map((r) => rowWeights(n, undefined, r))).map(losses);
  seconds.loo = lap();
  return {
    theta: full.theta,
    baseLosses: losses(full.theta),
    subsetLosses,
    looLosses,
    ensemble,
    stats: { fullGradNorm: full.gradNorm, lbfgsIterations: full.lbfgsIterations, fullNewtonSteps: full.newtonSteps, maxGradNorm: maxG, meanNewtonSteps: fits ? newtonSum / fits : 0, meanCgIterations: fits ? cgSum / fits : 0, fits, seconds },
  };
}
